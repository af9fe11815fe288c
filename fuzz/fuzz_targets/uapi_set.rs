//! cargo-fuzz target `uapi_set`: the body is `wgrs::fuzzing::uapi_set::run` (replayed on stable by
//! tests/fuzz_replay.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgrs::fuzzing::uapi_set::run(data));
