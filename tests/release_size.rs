//! The release profile ships a small binary: no debug info (the `profiling` profile keeps it
//! for perf work) and at most 8 MiB. Checked on the binary this test run built; skipped, with a
//! note, in unoptimised builds, whose binaries keep debug info on purpose.

/// Section names of a little-endian ELF64 file (the only kind this test runs on).
fn elf_sections(elf: &[u8]) -> Vec<String> {
    let num = |at: usize, len: usize| -> usize {
        let bytes = elf.get(at..at + len).expect("ELF field in range");
        bytes
            .iter()
            .rev()
            .fold(0, |acc, &b| acc << 8 | usize::from(b))
    };
    assert_eq!(elf.get(..5), Some(&b"\x7fELF\x02"[..]), "not ELF64");
    let (shoff, shentsize, shnum, shstrndx) =
        (num(0x28, 8), num(0x3a, 2), num(0x3c, 2), num(0x3e, 2));
    let header = |i: usize| shoff + i * shentsize;
    let strtab = num(header(shstrndx) + 0x18, 8);
    (0..shnum)
        .map(|i| {
            let start = strtab + num(header(i), 4);
            let name = elf.get(start..).expect("name in range");
            let end = name.iter().position(|&b| b == 0).expect("NUL-terminated");
            String::from_utf8_lossy(&name[..end]).into_owned()
        })
        .collect()
}

#[test]
fn release_binary_has_no_debug_info_and_fits_in_8_mib() {
    if cfg!(debug_assertions) {
        eprintln!("skipping: not a release build (run with cargo test --release)");
        return;
    }
    let path = env!("CARGO_BIN_EXE_wgrs");
    let bytes = std::fs::read(path).expect("read the wgrs binary");
    let sections = elf_sections(&bytes);
    assert!(sections.iter().any(|s| s == ".text"), "{sections:?}");
    let debug: Vec<&String> = sections
        .iter()
        .filter(|s| s.starts_with(".debug"))
        .collect();
    assert!(debug.is_empty(), "{path} carries debug sections {debug:?}");
    assert!(
        bytes.len() <= 8 << 20,
        "{path} is {} bytes, over 8 MiB",
        bytes.len()
    );
}
