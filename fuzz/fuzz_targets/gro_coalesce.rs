//! cargo-fuzz target `gro_coalesce`: the body is `wgrs::fuzzing::offload::run_coalesce` (replayed on stable by
//! tests/fuzz_replay.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgrs::fuzzing::offload::run_coalesce(data));
