//! wgrs: a WireGuard-compatible userspace tunnel.
//!
//! Rings (docs/ARCHITECTURE.md): `proto` is the pure protocol core (no clock, no OS randomness,
//! no I/O); `platform` holds OS code (the only place allowed `unsafe`).

// House rule 1: only the I/O shell and the OS ring read clocks and OS randomness or sleep.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod driver;
/// Fuzz target bodies shared by `fuzz/` and `tests/fuzz_replay.rs`; not an API.
#[doc(hidden)]
pub mod fuzzing;
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod platform;
pub mod proto;
pub mod uapi;
