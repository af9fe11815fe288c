//! Operating-system code: the only place that reads OS randomness or may use `unsafe`.
//!
//! `Tun` and `Bind` are the two batch-shaped traits the driver does its packet I/O through,
//! each with a kernel implementation and an in-memory one for tests without root.

#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod buf;
mod memq;
#[cfg(unix)]
pub mod resolve;
pub mod rng;
#[cfg(unix)]
pub mod signals;
#[cfg(unix)]
pub mod spawn;
pub mod tun;
#[cfg(unix)]
pub mod uapi_socket;
pub mod udp;
mod wake;
pub mod wiped;

pub use buf::PacketBuf;
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub use tun::OsTun;
pub use tun::{MemTun, MemTunHandle, Tun};
#[cfg(unix)]
pub use udp::OsBind;
pub use udp::{Bind, MemBind, MemDatagram, MemNetwork, Outgoing, RecvMeta};
pub use wake::{wait_any, Doorbell, WaitSet};
