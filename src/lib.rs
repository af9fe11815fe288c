//! wgrs: a WireGuard-compatible userspace tunnel.
//!
//! Rings (see DESIGN.md): `proto` is the pure protocol core; `platform` holds OS code.

pub mod platform;
pub mod proto;
