//! The I/O shell: threads that move packets between the TUN device, the UDP sockets and the
//! pure protocol core, the UAPI server, timers, and the wireguard-go process contract. The
//! only ring besides `platform` that reads clocks and OS randomness.

#[cfg(test)]
pub(crate) mod batch_tests;
pub mod clock;
pub mod daemon;
pub mod duty;
pub mod inbound;
pub mod log;
#[doc(hidden)]
pub mod node;
pub mod outbound;
pub mod pool;
pub mod shared;
pub mod uapi_server;
pub mod workers;

use std::io;
use std::os::unix::net::UnixListener;
use std::sync::Arc;

pub use shared::{Shared, StopReason};

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
}

/// Start the packet threads, the control thread and the UAPI thread for a configured device.
pub fn start(sh: &Arc<Shared>, listener: UnixListener) -> io::Result<()> {
    let Some(parked) = sh.take_parked() else {
        return Err(io::Error::other("the device was already started"));
    };
    let (tx, rx) = crossbeam_channel::bounded(workers::HANDSHAKE_QUEUE);
    let s = Arc::clone(sh);
    spawn("wgrs-control", move || {
        workers::run_control(
            s,
            parked.device,
            rx,
            parked.jobs,
            parked.kicks,
            parked.cookies,
        )
    })?;
    if duty::pollable(sh) {
        // One I/O thread for both directions, a helper for UDP when both are busy.
        let (io_thread, helper) = duty::threads(sh, inbound::Inbound::new(tx));
        spawn("wgrs-udp-rx", helper)?;
        spawn("wgrs-io", io_thread)?;
    } else {
        // In-memory endpoints cannot be waited on together: one thread per direction.
        let s = Arc::clone(sh);
        spawn("wgrs-udp-rx", move || inbound::run(s, tx))?;
        let s = Arc::clone(sh);
        spawn("wgrs-tun-rx", move || outbound::run(s))?;
    }
    let s = Arc::clone(sh);
    spawn("wgrs-uapi", move || uapi_server::serve(s, listener))?;
    Ok(())
}
