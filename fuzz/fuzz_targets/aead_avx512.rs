//! cargo-fuzz target `aead_avx512`: the body is `wgrs::fuzzing::aead::run` (replayed on stable by
//! tests/fuzz_replay.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgrs::fuzzing::aead::run(data));
