//! wgrs-uapi: the UAPI protocol (wireguard.com/xplatform) as one codec and one client, shared by
//! the wgrs daemon, its `show`/`set`/`setconf` commands and wg-quick-rs.
//!
//! - [`keys`]: the key types (zeroized, constant-time equality, `(hidden)` in `Debug`) and their
//!   base64/hex forms.
//! - [`parse_set`] / [`SetRequest::to_uapi`]: `set=1` text <-> [`SetRequest`], as wireguard-go
//!   reads it and as `wg` writes it.
//! - [`format_get`] / [`reply::Parser`]: `get=1` answers, as wireguard-go writes them and as `wg`
//!   reads them.
//! - [`client`]: the socket in [`SOCKET_DIR`], `get`, `set`, the listing of interfaces.
//!
//! Pure except for [`client`]. Every wireguard-go behaviour mirrored here is listed, with its
//! source, in `NOTES.md`.

pub mod client;
mod get;
pub mod keys;
mod netip;
pub mod reply;
mod set;
mod set_write;

pub use get::{format_errno, format_get, DeviceView, PeerView};
pub use set::{parse_set, parse_set_bytes, AllowedIpChange, PeerSet, SetRequest, MAX_LINE_LEN};

/// Where wg, wireguard-go and wgrs keep UAPI sockets: `SOCKET_DIR/IFNAME.sock`.
pub const SOCKET_DIR: &str = "/var/run/wireguard";

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
    /// A refusal with `errno` and a log message.
    pub fn new(errno: i32, message: impl Into<String>) -> Self {
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
