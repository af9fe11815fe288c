//! The key commands as a user sees them: `wgrs genkey|genpsk|pubkey` against Debian's `wg`
//! (bytes on stdout, stderr text, exit codes), plus argument handling and `--version`.
//!
//! Tests that need `wg` fail when it is missing, unless `WGRS_SKIP_INTEROP=1` is set.
//! `WGRS_TEST_SEED=<u64>` replays the random keys of a failed run.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

const WGRS: &str = env!("CARGO_BIN_EXE_wgrs");
const WARNING: &str =
    "Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n";
const FORMAT_ERROR: &str = "Key is not the correct length or format";
const TRAILING_ERROR: &str = "Trailing characters found after key";

/// What a finished process showed: exit code, stdout bytes, stderr text.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

/// Run `prog args` with `input` on stdin.
fn run(prog: &str, args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {prog}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        // A process that refuses its arguments may exit without reading: ignore EPIPE.
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output().expect("wait for child");
    Run {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `wg` binary, or `None` when it is missing and the user opted out of interop tests.
fn wg() -> Option<&'static str> {
    let found = Command::new("wg")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some("wg");
    }
    if std::env::var("WGRS_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!("skipping: `wg` (wireguard-tools) not installed and WGRS_SKIP_INTEROP=1");
        return None;
    }
    panic!(
        "`wg` (wireguard-tools) is not installed; this test compares wgrs against it. \
         Install it (apt-get install wireguard-tools) or set WGRS_SKIP_INTEROP=1 to skip."
    );
}

/// A seeded RNG for test inputs; the seed is printed so a failure can be replayed.
fn test_rng() -> StdRng {
    let seed = match std::env::var("WGRS_TEST_SEED") {
        Ok(s) => s.parse().expect("WGRS_TEST_SEED must be a u64"),
        Err(_) => wgrs::platform::rng::os_rng().next_u64(),
    };
    eprintln!("WGRS_TEST_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

/// Decode one base64 key line (`44 chars + "\n"`) to its 32 bytes, asserting the shape.
fn decode_key_line(stdout: &[u8]) -> [u8; 32] {
    assert_eq!(
        stdout.len(),
        45,
        "key line {:?}",
        String::from_utf8_lossy(stdout)
    );
    assert_eq!(stdout[44], b'\n');
    let bytes = STANDARD.decode(&stdout[..44]).expect("valid base64");
    bytes.try_into().expect("32 bytes")
}

fn is_clamped(k: &[u8; 32]) -> bool {
    k[0] & 7 == 0 && k[31] & 0xc0 == 0x40
}

/// The message of a failed run, after checking stderr is exactly `{argv0}: {message}\n`.
fn error_message<'a>(run: &'a Run, argv0: &str) -> &'a str {
    run.stderr
        .strip_prefix(argv0)
        .and_then(|s| s.strip_prefix(": "))
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("stderr not `{argv0}: message`: {:?}", run.stderr))
}

/// `wgrs pubkey` and `wg pubkey` agree on `input`: same stdout, exit code and message.
fn assert_pubkey_matches_wg(wg: &str, input: &[u8]) -> Run {
    let ours = run(WGRS, &["pubkey"], input);
    let theirs = run(wg, &["pubkey"], input);
    let shown = String::from_utf8_lossy(input);
    assert_eq!(ours.code, theirs.code, "exit code for input {shown:?}");
    assert_eq!(ours.stdout, theirs.stdout, "stdout for input {shown:?}");
    if theirs.stderr.is_empty() {
        assert_eq!(ours.stderr, "", "stderr for input {shown:?}");
    } else {
        assert_eq!(
            error_message(&ours, WGRS),
            error_message(&theirs, wg),
            "message for input {shown:?}"
        );
    }
    ours
}

#[test]
fn pubkey_matches_wg_on_generated_and_raw_keys() {
    let Some(wg) = wg() else { return };
    let mut rng = test_rng();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for _ in 0..100 {
        let out = run(WGRS, &["genkey"], b"");
        assert_eq!(out.code, Some(0));
        inputs.push(out.stdout);
    }
    // Raw random bytes, not clamped: pubkey must clamp them the way wg does.
    let mut raw = vec![[0u8; 32], [0xff; 32]];
    for _ in 0..100 {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        raw.push(k);
    }
    let unclamped = raw.iter().filter(|k| !is_clamped(k)).count();
    assert!(unclamped > 90, "raw keys should mostly be unclamped");
    inputs.extend(
        raw.iter()
            .map(|k| format!("{}\n", STANDARD.encode(k)).into_bytes()),
    );
    for input in &inputs {
        let ours = assert_pubkey_matches_wg(wg, input);
        assert_eq!(
            ours.code,
            Some(0),
            "input {:?}",
            String::from_utf8_lossy(input)
        );
        decode_key_line(&ours.stdout);
    }
}

#[test]
fn genkey_output_is_a_clamped_key_and_feeds_wg_pubkey() {
    let Some(wg) = wg() else { return };
    let mut gen = Command::new(WGRS)
        .arg("genkey")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start wgrs genkey");
    let pipe = gen.stdout.take().expect("genkey stdout");
    let public = Command::new(wg)
        .arg("pubkey")
        .stdin(Stdio::from(pipe))
        .output()
        .expect("run wg pubkey");
    assert!(gen.wait().expect("wait genkey").success());
    assert_eq!(public.status.code(), Some(0), "{public:?}");
    assert!(public.stderr.is_empty(), "{public:?}");
    decode_key_line(&public.stdout);

    for _ in 0..20 {
        let out = run(WGRS, &["genkey"], b"");
        assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""));
        assert!(is_clamped(&decode_key_line(&out.stdout)));
    }
}

#[test]
fn wg_genkey_into_wgrs_pubkey_equals_wg_pubkey() {
    let Some(wg) = wg() else { return };
    for _ in 0..20 {
        let key = run(wg, &["genkey"], b"");
        assert_eq!(key.code, Some(0));
        let ours = run(WGRS, &["pubkey"], &key.stdout);
        let theirs = run(wg, &["pubkey"], &key.stdout);
        assert_eq!(ours, theirs);
        assert_eq!(ours.code, Some(0));
    }
}

#[test]
fn pubkey_bad_and_odd_inputs_match_wg() {
    let Some(wg) = wg() else { return };
    let key = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
    let k = key.as_bytes();
    let with = |tail: &[u8]| [k, tail].concat();
    let replace = |i: usize, b: u8| {
        let mut v = k.to_vec();
        v[i] = b;
        v
    };
    // (input, expected outcome): None = success, Some(message) = error.
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (b"".to_vec(), Some(FORMAT_ERROR)),
        (b"\n".to_vec(), Some(FORMAT_ERROR)),
        (k[..43].to_vec(), Some(FORMAT_ERROR)),
        (
            with(b"")[..43].iter().chain(b"\n").copied().collect(),
            Some(FORMAT_ERROR),
        ),
        (replace(10, b'!'), Some(FORMAT_ERROR)),
        (replace(0, b'-'), Some(FORMAT_ERROR)),
        (replace(43, b'A'), Some(FORMAT_ERROR)),
        (replace(42, b'p'), Some(FORMAT_ERROR)), // non-canonical last character
        (replace(42, b'r'), Some(FORMAT_ERROR)),
        (replace(5, 0), Some(FORMAT_ERROR)),
        (replace(5, 0xff), Some(FORMAT_ERROR)),
        ("A".repeat(44).into_bytes(), Some(FORMAT_ERROR)),
        (with(b"x"), Some(TRAILING_ERROR)),
        (with(b"\n\nx"), Some(TRAILING_ERROR)),
        (with(b"\n"), None),
        (with(k), Some(TRAILING_ERROR)),
        (with(b"\xa0"), Some(TRAILING_ERROR)),
        ([b" ", k].concat(), Some(TRAILING_ERROR)),
        (
            replace(10, b'!').into_iter().chain(*b"x").collect(),
            Some(TRAILING_ERROR),
        ),
        (with(b""), None),
        (with(b"\r\n"), None),
        (with(b" \t\n\x0b\x0c\r"), None),
        (with(b"\0\0\n\0"), None),
        (with(&[b'\n'; 10_000]), None),
    ];
    for (input, expected) in &cases {
        let ours = assert_pubkey_matches_wg(wg, input);
        let shown = String::from_utf8_lossy(input);
        match expected {
            None => {
                assert_eq!(ours.code, Some(0), "input {shown:?}");
                assert_eq!(
                    ours.stdout,
                    b"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n"
                );
            }
            Some(message) => {
                assert_eq!(ours.code, Some(1), "input {shown:?}");
                assert!(ours.stdout.is_empty());
                assert_eq!(error_message(&ours, WGRS), *message, "input {shown:?}");
            }
        }
    }
}

#[test]
fn key_commands_with_arguments_print_wg_usage() {
    let wg = wg();
    for args in [
        &["genkey", "x"][..],
        &["genpsk", "--help"],
        &["pubkey", "a", "b"],
        &["pubkey", "-x"],
    ] {
        let ours = run(WGRS, args, b"");
        assert_eq!(ours.code, Some(1), "{args:?}");
        assert!(ours.stdout.is_empty(), "{args:?}");
        assert_eq!(ours.stderr, format!("Usage: {WGRS} {}\n", args[0]));
        if let Some(wg) = wg {
            let theirs = run(wg, args, b"");
            assert_eq!(theirs.code, ours.code, "{args:?}");
            assert_eq!(theirs.stderr, format!("Usage: {wg} {}\n", args[0]));
        }
    }
}

#[test]
fn unknown_arguments_are_named_and_exit_1() {
    for (args, named) in [
        (&["--bogus"][..], "--bogus"),
        (&["-Z"], "-Z"),
        (&["-f", "wg0", "extra"], "extra"),
    ] {
        let out = run(WGRS, args, b"");
        assert_eq!(out.code, Some(1), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(
            out.stderr.contains(&format!("'{named}'")),
            "{args:?}: {}",
            out.stderr
        );
    }
    // A bare word is an interface name (wireguard-go's contract); a bad one is refused before
    // anything is created.
    for (name, why) in [
        ("abcdefghijklmnop", "1 to 15 bytes"),
        ("a/b", "characters"),
        ("a b", "characters"),
    ] {
        let out = run(WGRS, &["-f", name], b"");
        assert_eq!(out.code, Some(1), "{name}: {out:?}");
        assert!(
            out.stderr.contains(&format!("'{name}'")) && out.stderr.contains(why),
            "{}",
            out.stderr
        );
    }
    let bare = run(WGRS, &[], b"");
    assert_eq!(bare.code, Some(1));
    assert!(bare.stderr.contains("Usage:"), "{}", bare.stderr);
}

#[test]
fn version_and_help() {
    let version = run(WGRS, &["--version"], b"");
    assert_eq!(version.code, Some(0));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("wgrs v{}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(version.stderr, "");
    let help = run(WGRS, &["--help"], b"");
    assert_eq!(help.code, Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for sub in ["genkey", "genpsk", "pubkey"] {
        assert!(text.contains(sub), "{text}");
    }
}

/// A fresh file with exactly `mode`, in cargo's per-target scratch directory.
fn file_with_mode(mode: u32) -> (PathBuf, File) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("keys_cli-{}-{n}-{mode:o}", std::process::id()));
    let _ = fs::remove_file(&path);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&path)
        .expect("create scratch file");
    // The umask may have cleared bits: set the mode exactly.
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    (path, file)
}

/// Run `prog sub` with stdout redirected into a new file of `mode`; return (stderr, file).
fn run_into_file(prog: &str, sub: &str, mode: u32) -> (Run, Vec<u8>) {
    let (path, file) = file_with_mode(mode);
    let out = Command::new(prog)
        .arg(sub)
        .stdout(Stdio::from(file))
        .stderr(Stdio::piped())
        .output()
        .expect("run key command");
    let written = fs::read(&path).expect("read back");
    let _ = fs::remove_file(&path);
    let run = Run {
        code: out.status.code(),
        stdout: Vec::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, written)
}

#[test]
fn genkey_and_genpsk_warn_when_stdout_is_world_accessible() {
    let wg = wg();
    for sub in ["genkey", "genpsk"] {
        for (mode, warns) in [
            (0o644, true),
            (0o604, true),
            (0o601, true),
            (0o600, false),
            (0o640, false),
        ] {
            let (out, written) = run_into_file(WGRS, sub, mode);
            assert_eq!(out.code, Some(0), "{sub} {mode:o}");
            let expected = if warns { WARNING } else { "" };
            assert_eq!(out.stderr, expected, "{sub} into a file of mode {mode:o}");
            let key = decode_key_line(&written);
            if sub == "genkey" {
                assert!(is_clamped(&key));
            }
            if let Some(wg) = wg {
                let (theirs, _) = run_into_file(wg, sub, mode);
                assert_eq!(theirs, out, "wg {sub} into a file of mode {mode:o}");
            }
        }
    }
}

#[test]
fn genpsk_is_32_random_unclamped_bytes() {
    let keys: Vec<[u8; 32]> = (0..20)
        .map(|_| {
            let out = run(WGRS, &["genpsk"], b"");
            assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""));
            decode_key_line(&out.stdout)
        })
        .collect();
    assert_ne!(keys[0], keys[1], "two runs gave the same key");
    let mut distinct = keys.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), keys.len());
    // A random key looks clamped with probability 1/32; twenty in a row means clamping.
    assert!(
        keys.iter().any(|k| !is_clamped(k)),
        "genpsk output is clamped"
    );
}
