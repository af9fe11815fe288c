//! The UAPI ring in the daemon (cross-platform configuration protocol, wireguard.com/xplatform):
//! the codec itself (text <-> typed requests and answers) is the `wgrs-uapi` crate, shared with
//! `show`/`set`/`setconf` and wg-quick-rs; this module applies parsed requests to the pure
//! [`Device`](crate::proto::device::Device) and views a device for `get=1`.
//!
//! Parse, then apply (house rule 7): [`parse_set`] turns the body of a `set=1` request into a
//! [`SetRequest`] and rejects it whole, with wireguard-go's errno, before anything changes;
//! [`apply_set`] then applies it to the pure device and cannot fail halfway. [`format_get`]
//! prints a [`DeviceView`] (see [`device_view`]) exactly as wireguard-go answers `get=1`.
//! The socket server only moves bytes; what it must know (line limit, `\r\n`, when a request
//! ends) is on [`parse_set`] and in `wgrs-uapi/NOTES.md`.

mod apply;
mod view;

pub use apply::{apply_set, AppliedSet, MAX_PEERS};
pub use view::device_view;
pub use wgrs_uapi::{
    format_errno, format_get, parse_set, parse_set_bytes, AllowedIpChange, DeviceView, PeerSet,
    PeerView, SetRequest, UapiError, ERRNO_INVALID, ERRNO_IO, ERRNO_PORT_IN_USE, ERRNO_PROTOCOL,
    ERRNO_UNKNOWN, MAX_LINE_LEN,
};
