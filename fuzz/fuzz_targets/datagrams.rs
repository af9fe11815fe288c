//! cargo-fuzz target `datagrams`: the body is `wgrs::fuzzing::datagrams::run` (replayed on stable by
//! tests/fuzz_replay.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgrs::fuzzing::datagrams::run(data));
