//! A mistyped command is refused before anything exists: in a fresh network namespace,
//! `wgrs shwo` and the other typos exit 1 with "did you mean …" and leave no TUN, no
//! UAPI socket and no process behind. Interface names (`wg…0`) and the explicit forms
//! (`wgrs -- NAME`, `wgrs -f NAME`) still start the daemon, even for a name that looks like a
//! typo. Needs root (it must be able to create what it checks is not created); skips otherwise.

// A panic is the failure report; waits are bounded.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;
use common::netns::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const WGRS: &str = env!("CARGO_BIN_EXE_wgrs");

fn sock(ifname: &str) -> PathBuf {
    PathBuf::from(format!("/var/run/wireguard/{ifname}.sock"))
}

/// Whether the namespace has a link called `ifname`.
fn has_link(ns: &Netns, ifname: &str) -> bool {
    ns.ip(&["-o", "link", "show"])
        .ok()
        .stdout
        .lines()
        .any(|l| l.split(": ").nth(1).is_some_and(|n| n == ifname))
}

#[test]
fn typos_exit_1_with_did_you_mean_and_create_nothing() {
    if skip_unless_root(&[]) {
        return;
    }
    let ns = Netns::new("typo");
    for (args, want) in [
        (
            &["shwo"][..],
            "`shwo' is not a command; did you mean `show'?",
        ),
        (
            &["stauts"],
            "`stauts' is not a command; did you mean `show'?",
        ),
        (
            &["sh"],
            "`sh' is not a command; did you mean `show' or `showconf'?",
        ),
        (&["dwon"], "`dwon' is not a command; did you mean `down'?"),
        (
            &["genky"],
            "`genky' is not a command; did you mean `genkey'?",
        ),
        (
            &["shwo", "wg0"],
            "`shwo' is not a command; did you mean `show'?",
        ),
    ] {
        let typo = args[0];
        let left_before = sock(typo).exists();
        let mut argv = vec![WGRS];
        argv.extend_from_slice(args);
        let run = ns.exec_for(10, &argv);
        assert_eq!(run.code, Some(1), "{run}");
        assert!(
            run.stderr.starts_with(&format!("{WGRS}: {want}\n")),
            "{run}"
        );
        assert!(
            run.stderr.contains(&format!("run: wgrs -- {typo})")),
            "{run}"
        );
        assert!(run.stdout.is_empty(), "{run}");
        assert!(!has_link(&ns, typo), "a TUN named {typo} was created");
        assert!(
            left_before || !sock(typo).exists(),
            "a socket for {typo} was created"
        );
        assert!(ns.pids().is_empty(), "a process was left: {:?}", ns.pids());
    }
}

/// Starts `wgrs ARGS` in `ns` (the background form returns once the daemon serves), checks
/// that `ifname`'s TUN and socket exist, then stops it by deleting its socket.
fn starts_and_stops(ns: &Netns, args: &[&str], ifname: &str) {
    let mut argv = vec![WGRS];
    argv.extend_from_slice(args);
    ns.exec_for(20, &argv).ok();
    assert!(has_link(ns, ifname), "no TUN {ifname} after {args:?}");
    assert!(sock(ifname).exists(), "no socket after {args:?}");
    std::fs::remove_file(sock(ifname)).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || ns.pids().is_empty()),
        "daemon for {ifname} did not exit when its socket was deleted"
    );
}

#[test]
fn interface_names_and_explicit_forms_start_the_daemon() {
    if skip_unless_root(&[]) {
        return;
    }
    let ns = Netns::new("notypo");
    let ifname = unique_ifname();
    starts_and_stops(&ns, &[&ifname], &ifname);
    // A name near a command, asked for explicitly. Fixed names: a socket left by a crashed run
    // would make the daemon refuse, so clear it first.
    let _ = std::fs::remove_file(sock("donw"));
    starts_and_stops(&ns, &["--", "donw"], "donw");

    let _ = std::fs::remove_file(sock("sohw"));
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.name, WGRS, "-f", "sohw"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let up = wait_until(Duration::from_secs(10), || sock("sohw").exists());
    if !up {
        let _ = child.kill();
    }
    assert!(up, "wgrs -f sohw did not start serving");
    assert!(has_link(&ns, "sohw"));
    std::fs::remove_file(sock("sohw")).unwrap();
    let exited = wait_until(Duration::from_secs(10), || {
        child.try_wait().unwrap().is_some()
    });
    if !exited {
        let _ = child.kill();
    }
    assert!(
        exited,
        "foreground daemon did not exit when its socket was deleted"
    );
    assert!(child.wait().unwrap().success());
}

#[test]
fn help_states_the_rule() {
    let out = Command::new(WGRS).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(help.contains("Typos are refused"), "{help}");
    assert!(
        help.contains("`wgrs -- NAME` (background) or `wgrs -f NAME`"),
        "{help}"
    );
}
