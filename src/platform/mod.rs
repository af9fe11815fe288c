//! Operating-system code: the only place that reads OS randomness or may use `unsafe`.

pub mod rng;
#[cfg(unix)]
pub mod signals;
#[cfg(unix)]
pub mod spawn;
#[cfg(unix)]
pub mod uapi_socket;
