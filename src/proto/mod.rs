//! The WireGuard protocol, sans-IO: no sockets, files, threads, clock or OS randomness.

pub mod allowedips;
pub mod constants;
pub mod cookie;
pub mod crypto;
pub mod handshake;
pub mod keys;
pub mod limiter;
pub mod messages;
pub mod replay;
pub mod tai64n;
pub mod time;
