//! Shutdown signals: SIGINT and SIGTERM are blocked in every thread and taken synchronously by
//! one waiting thread, so no handler runs in an arbitrary context.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

fn shutdown_set() -> SigSet {
    let mut s = SigSet::empty();
    s.add(Signal::SIGINT);
    s.add(Signal::SIGTERM);
    s.add(Signal::SIGHUP);
    s
}

/// Block the shutdown signals in the calling thread; threads spawned later inherit the mask.
/// Call first thing in `main`'s daemon path, before any thread starts.
pub fn block_shutdown_signals() -> nix::Result<()> {
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&shutdown_set()), None)
}

/// Wait for a shutdown signal; returns its name.
pub fn wait_for_shutdown_signal() -> nix::Result<&'static str> {
    shutdown_set().wait().map(|s| s.as_str())
}
