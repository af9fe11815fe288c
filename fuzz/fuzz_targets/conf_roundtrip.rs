//! cargo-fuzz target `conf_roundtrip`: the body is `wgrs::fuzzing::conf::run` (replayed on stable by
//! tests/fuzz_replay.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgrs::fuzzing::conf::run(data));
