//! The README's first command, `bash conf/quickstart.sh`, works as root on a machine without
//! sudo (a `sudo` that fails is put first on PATH: the root run must not call it), and as a
//! user it hands the namespace part to sudo with an absolute path to itself and to the built
//! binary (a recording `sudo` stands in, run as `nobody`), or says what to do when there is no
//! sudo. Uses this build's binary (`--wgrs`) instead of building; the user runs copies of the
//! script and binary, since a CI checkout may sit where `nobody` cannot enter. Needs root;
//! skips otherwise.

// A panic is the failure report.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;
use common::netns::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const WGRS: &str = env!("CARGO_BIN_EXE_wgrs");

fn script() -> String {
    format!("{}/conf/quickstart.sh", env!("CARGO_MANIFEST_DIR"))
}

/// A directory everyone may use, holding an executable `sudo` with body `body`.
fn fake_sudo(dir: &TempDir, body: &str) -> String {
    std::fs::set_permissions(&dir.path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = dir.path.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let sudo = bin.join("sudo");
    std::fs::write(&sudo, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&sudo, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin.display().to_string()
}

#[test]
fn as_root_without_sudo_the_tunnel_comes_up_and_is_cleaned_away() {
    if skip_unless_root(&[]) {
        return;
    }
    let namespaces = || run(10, &["ip", "netns", "list"]).ok().stdout;
    let before = namespaces();
    let dir = TempDir::new("qs-root");
    let bin = fake_sudo(&dir, "echo 'sudo must not be called as root' >&2; exit 99");
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
    let out = Command::new("timeout")
        .args(["120", "bash", &script(), "--wgrs", WGRS])
        .env("PATH", path)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("== ping across the tunnel"), "{stdout}");
    assert!(stdout.contains("latest handshake:"), "{stdout}");
    assert!(
        stdout.contains("== done: tunnel worked and everything was removed"),
        "{stdout}"
    );
    let new_qs = |l: &&str| l.starts_with("wgrs-qs-") && !before.contains(*l);
    let after = namespaces();
    let left: Vec<&str> = after.lines().filter(new_qs).collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}

/// Copies of the script and of this build's binary in a directory `nobody` can reach (the
/// checkout may sit under a directory only root may enter, as a CI clone in `mktemp -d` does);
/// returns (script, binary).
fn reachable_copies(dir: &TempDir) -> (String, String) {
    std::fs::set_permissions(&dir.path, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The script finds itself as conf/quickstart.sh of its checkout.
    let conf = dir.path.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (script_copy, wgrs_copy) = (conf.join("quickstart.sh"), dir.path.join("wgrs"));
    std::fs::copy(script(), &script_copy).unwrap();
    std::fs::copy(WGRS, &wgrs_copy).unwrap();
    for (file, mode) in [(&script_copy, 0o644), (&wgrs_copy, 0o755)] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    (
        script_copy.display().to_string(),
        wgrs_copy.display().to_string(),
    )
}

/// Runs the script as `nobody` with PATH = `bin` and a directory of the few tools the script
/// needs before it calls sudo (so a real sudo on this machine is out of reach); returns
/// (exit code, stderr).
fn as_nobody(bin: &str, tools: &TempDir) -> (Option<i32>, String) {
    let (script, wgrs) = reachable_copies(tools);
    for tool in ["bash", "realpath", "dirname", "id"] {
        let real = run(5, &["bash", "-c", &format!("command -v {tool}")])
            .ok()
            .stdout;
        let _ = std::os::unix::fs::symlink(real.trim(), tools.path.join(tool));
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "env"])
        .arg(format!("PATH={bin}:{}", tools.path.display()))
        .args(["bash", &script, "--wgrs", &wgrs])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn as_a_user_it_hands_over_to_sudo_or_says_what_is_missing() {
    if skip_unless_root(&["setpriv"]) {
        return;
    }
    let dir = TempDir::new("qs-user");
    let record = dir.path.join("sudo-args");
    let bin = fake_sudo(
        &dir,
        &format!("printf '%s\\n' \"$@\" > {}", record.display()),
    );
    let tools = TempDir::new("qs-tools");
    let (code, stderr) = as_nobody(&bin, &tools);
    assert_eq!(code, Some(0), "{stderr}");
    let args = std::fs::read_to_string(&record).expect("sudo was called");
    let (script, wgrs) = (
        tools.path.join("conf/quickstart.sh"),
        tools.path.join("wgrs"),
    );
    let expected = format!("bash\n{}\n--wgrs\n{}\n", script.display(), wgrs.display());
    assert_eq!(args, expected);
    assert!(script.is_absolute());

    let empty = TempDir::new("qs-nosudo");
    std::fs::set_permissions(&empty.path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, stderr) = as_nobody(&empty.path.display().to_string(), &tools);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("needs root: run it as root, or install sudo"),
        "{stderr}"
    );
}
