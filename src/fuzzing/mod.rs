//! Fuzz target bodies (issue 13 item 3): each `run(&[u8])` checks one property and panics when
//! it fails. `fuzz/` (cargo-fuzz, nightly) calls them from libFuzzer; `tests/fuzz_replay.rs`
//! (stable `cargo test`) replays every committed corpus file and crash through the same
//! functions, so a regression fails CI without nightly. Not an API: hidden from the docs.

pub mod aead;
pub mod allowedips;
pub mod conf;
pub mod datagrams;
#[cfg(target_os = "linux")]
pub mod offload;
#[cfg(target_os = "linux")]
mod packets;
mod rng;
pub mod uapi_set;

/// The offload code is Linux-only (IFF_VNET_HDR); elsewhere its targets check nothing.
#[cfg(not(target_os = "linux"))]
pub mod offload {
    /// Nothing to check on this OS.
    pub fn run_split(_: &[u8]) {}
    /// Nothing to check on this OS.
    pub fn run_coalesce(_: &[u8]) {}
}

/// A target: its name (the file in `fuzz/fuzz_targets/`, the directory under `fuzz/corpus/`
/// and `fuzz/artifacts/`) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("uapi_set", uapi_set::run),
    ("conf_roundtrip", conf::run),
    ("datagrams", datagrams::run),
    ("tso_split", offload::run_split),
    ("gro_coalesce", offload::run_coalesce),
    ("allowedips", allowedips::run),
    ("aead_avx512", aead::run),
];
