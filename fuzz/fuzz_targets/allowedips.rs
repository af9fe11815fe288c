//! cargo-fuzz target `allowedips`: the body is `wgrs::fuzzing::allowedips::run` (replayed on stable by
//! tests/fuzz_replay.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgrs::fuzzing::allowedips::run(data));
