//! The UAPI ring (cross-platform configuration protocol, wireguard.com/xplatform): `get=1` /
//! `set=1` text to and from typed values, pure.
//!
//! Parse, then apply (house rule 7): [`parse_set`] turns the body of a `set=1` request into a
//! [`SetRequest`] and rejects it whole, with wireguard-go's errno, before anything changes;
//! [`apply_set`] then applies it to the pure [`Device`](crate::proto::device::Device) and cannot
//! fail halfway. [`format_get`] prints a [`DeviceView`] exactly as wireguard-go answers `get=1`.
//! The socket server only moves bytes; what it must know (line limit, `\r\n`, when a request
//! ends) is on [`parse_set`] and in `src/uapi/NOTES.md`.
//!
//! Every wireguard-go behaviour mirrored here, with its source, is listed in `NOTES.md`.

mod apply;
mod get;
mod netip;
mod set;

pub use apply::{apply_set, AppliedSet, MAX_PEERS};
pub use get::{format_errno, format_get, DeviceView, PeerView};
pub use set::{parse_set, parse_set_bytes, AllowedIpChange, PeerSet, SetRequest, MAX_LINE_LEN};

use std::fmt;

/// `errno` for a read failure, incl. a `set` line too long for wireguard-go's scanner (`-EIO`).
pub const ERRNO_IO: i32 = -5;
/// `errno` for a line without `=` (`-EPROTO`; the number differs per OS, as in Go's `unix`).
#[cfg(any(target_os = "macos", target_os = "ios"))]
pub const ERRNO_PROTOCOL: i32 = -100;
/// `errno` for a line without `=` (`-EPROTO`; the number differs per OS, as in Go's `unix`).
#[cfg(target_os = "freebsd")]
pub const ERRNO_PROTOCOL: i32 = -92;
/// `errno` for a line without `=` (`-EPROTO`; the number differs per OS, as in Go's `unix`).
#[cfg(target_os = "openbsd")]
pub const ERRNO_PROTOCOL: i32 = -95;
/// `errno` for a line without `=` (`-EPROTO`; the number differs per OS, as in Go's `unix`).
#[cfg(not(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd"
)))]
pub const ERRNO_PROTOCOL: i32 = -71;
/// `errno` for an invalid key or value (`-EINVAL`).
pub const ERRNO_INVALID: i32 = -22;
/// `errno` when rebinding the port or setting the fwmark fails (`-EADDRINUSE`); the driver's.
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd"
))]
pub const ERRNO_PORT_IN_USE: i32 = -48;
/// `errno` when rebinding the port or setting the fwmark fails (`-EADDRINUSE`); the driver's.
#[cfg(not(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd"
)))]
pub const ERRNO_PORT_IN_USE: i32 = -98;
/// `errno` for any other failure (wireguard-go's `IpcErrorUnknown`, a literal `-55`).
pub const ERRNO_UNKNOWN: i32 = -55;

/// A refused UAPI request: the negative errno to answer with, and a log message naming the
/// line and key. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UapiError {
    /// Negative errno, e.g. [`ERRNO_INVALID`] (-22).
    pub errno: i32,
    /// What was wrong, for the log (`line 3: invalid UAPI peer key "foo"`).
    pub message: String,
}

impl UapiError {
    pub(crate) fn new(errno: i32, message: impl Into<String>) -> Self {
        Self {
            errno,
            message: message.into(),
        }
    }
}

impl fmt::Display for UapiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IPC error {}: {}", self.errno, self.message)
    }
}

impl std::error::Error for UapiError {}
