//! cargo-fuzz target `tso_split`: the body is `wgrs::fuzzing::offload::run_split` (replayed on stable by
//! tests/fuzz_replay.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgrs::fuzzing::offload::run_split(data));
