//! Replays every committed fuzz input — the seed corpora in `fuzz/corpus/TARGET/` and every
//! crash found, kept in `fuzz/artifacts/TARGET/` — through the target bodies in
//! `wgrs::fuzzing`, on stable: what a fuzzer once found stays fixed without nightly.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of `name`; fails naming each input that panics.
fn replay(name: &str) {
    let (_, run) = wgrs::fuzzing::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    let corpus = files(&fuzz_dir().join("corpus").join(name));
    let crashes = files(&fuzz_dir().join("artifacts").join(name));
    assert!(!corpus.is_empty(), "no seed corpus for {name}");
    let mut failed = Vec::new();
    for path in corpus.iter().chain(&crashes) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{name}: inputs that fail:\n{}",
        failed.join("\n")
    );
    eprintln!(
        "{name}: {} corpus inputs, {} crash inputs",
        corpus.len(),
        crashes.len()
    );
}

#[test]
fn uapi_set() {
    replay("uapi_set");
}

#[test]
fn conf_roundtrip() {
    replay("conf_roundtrip");
}

#[test]
fn datagrams() {
    replay("datagrams");
}

#[test]
fn tso_split() {
    replay("tso_split");
}

#[test]
fn gro_coalesce() {
    replay("gro_coalesce");
}

#[test]
fn allowedips() {
    replay("allowedips");
}

#[test]
fn aead_avx512() {
    // .ci/run sets WGRS_REQUIRE_AVX512=1 on a CPU with AVX-512F and IFMA: then the target
    // must really compare our cipher with RustCrypto's, not skip.
    #[cfg(target_arch = "x86_64")]
    if std::env::var("WGRS_REQUIRE_AVX512").as_deref() == Ok("1") {
        assert!(wgrs::platform::avx512::available(), "AVX-512 required");
    }
    replay("aead_avx512");
}

/// Every target in the library has a replay test above, a cargo-fuzz target, and a corpus.
#[test]
fn every_target_is_wired() {
    let tests = [
        "uapi_set",
        "conf_roundtrip",
        "datagrams",
        "tso_split",
        "gro_coalesce",
        "allowedips",
        "aead_avx512",
    ];
    let mut names: Vec<&str> = wgrs::fuzzing::TARGETS.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    let mut want = tests.to_vec();
    want.sort_unstable();
    assert_eq!(names, want);
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for name in names {
        let target = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        assert!(target.is_file(), "missing {}", target.display());
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} not in fuzz/Cargo.toml"
        );
    }
}
