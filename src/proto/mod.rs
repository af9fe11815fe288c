//! The WireGuard protocol, sans-IO: no sockets, files, threads, clock or OS randomness.

pub mod allowedips;
pub mod constants;
pub mod cookie;
pub mod crypto;
pub mod device;
pub mod gate;
pub mod handshake;
pub mod index;
pub mod keypair;
pub mod keys;
pub mod limiter;
pub mod link;
pub mod messages;
pub mod peer;
pub mod plane;
pub mod replay;
pub mod tai64n;
pub mod time;
pub mod timers;
