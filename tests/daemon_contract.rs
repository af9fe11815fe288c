//! The wireguard-go process contract, end to end as root in a private network namespace:
//! the parent exits 0 once the child serves, the socket is 0600-style, `WG_TUN_NAME_FILE` is
//! written, and the child exits on SIGTERM (removing its socket), on deletion of its socket
//! file, and on deletion of its TUN. Skips with a message when not root.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test: panics report, sleeps poll

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const WGRS: &str = env!("CARGO_BIN_EXE_wgrs");

/// A network namespace removed on drop (which also deletes the TUNs inside).
struct Ns(String);

impl Ns {
    fn new(tag: &str) -> Option<Self> {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("SKIPPED: needs root (creates a network namespace and a TUN device)");
            return None;
        }
        let name = format!("wgrsc{}{tag}", std::process::id());
        assert!(Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap()
            .success());
        Some(Self(name))
    }
    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, prog]);
        c
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        // Processes inside keep a namespace alive after `ip netns del`: stop them first, so a
        // failed test leaves no daemon behind.
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.0]).output() {
            for pid in String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn sock(ifname: &str) -> PathBuf {
    PathBuf::from(format!("/var/run/wireguard/{ifname}.sock"))
}

/// The daemon's pid, found through its socket's owner (fuser-free: scan /proc for the name).
fn daemon_pid(ifname: &str) -> Option<i32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
        if args.first().is_some_and(|a| a.ends_with(b"wgrs")) && args.contains(&ifname.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start(ns: &Ns, ifname: &str) -> i32 {
    let st = ns.cmd(WGRS).arg(ifname).status().unwrap();
    assert!(st.success(), "parent exits 0 once the child serves");
    assert!(
        sock(ifname).exists(),
        "socket exists when the parent returns"
    );
    daemon_pid(ifname).expect("child running")
}

#[test]
fn parent_returns_when_child_serves_and_sigterm_removes_socket() {
    let Some(ns) = Ns::new("a") else { return };
    let ifname = format!("wgc{}a", std::process::id() % 100_000);
    let name_file = std::env::temp_dir().join(format!("{ifname}.name"));
    let st = ns
        .cmd(WGRS)
        .arg(&ifname)
        .env("WG_TUN_NAME_FILE", &name_file)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        std::fs::read_to_string(&name_file).unwrap(),
        format!("{ifname}\n")
    );
    let _ = std::fs::remove_file(&name_file);
    let mode = std::fs::metadata(sock(&ifname))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "socket is private to root");
    let link = ns
        .cmd("ip")
        .args(["-o", "link", "show", &ifname])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&link.stdout).contains("mtu 1420"),
        "TUN exists with MTU 1420"
    );
    let pid = daemon_pid(&ifname).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    wait_until("daemon exits on SIGTERM", || daemon_pid(&ifname).is_none());
    assert!(!sock(&ifname).exists(), "socket removed on SIGTERM");
    // The kernel unregisters the TUN just after the last descriptor closes.
    wait_until("TUN gone with the process", || {
        !ns.cmd("ip")
            .args(["link", "show", &ifname])
            .output()
            .unwrap()
            .status
            .success()
    });
}

#[test]
fn deleting_the_socket_or_the_tun_stops_the_daemon() {
    let Some(ns) = Ns::new("b") else { return };
    let a = format!("wgc{}b", std::process::id() % 100_000);
    start(&ns, &a);
    std::fs::remove_file(sock(&a)).unwrap();
    wait_until("daemon exits when its socket is deleted", || {
        daemon_pid(&a).is_none()
    });

    let b = format!("wgc{}c", std::process::id() % 100_000);
    start(&ns, &b);
    assert!(ns
        .cmd("ip")
        .args(["link", "del", &b])
        .status()
        .unwrap()
        .success());
    wait_until("daemon exits when its TUN is deleted", || {
        daemon_pid(&b).is_none()
    });
    assert!(!sock(&b).exists(), "socket removed when the TUN goes");
}

#[test]
fn failures_exit_1_with_the_reason() {
    let Some(ns) = Ns::new("c") else { return };
    let a = format!("wgc{}d", std::process::id() % 100_000);
    start(&ns, &a);
    // A second daemon for the same interface, in another namespace (so its TUN is free): the
    // socket directory is shared, and the error names the socket in use.
    let other = Ns::new("c2").unwrap();
    let out = other.cmd(WGRS).arg(&a).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let want =
        format!("wgrs: UAPI listen error: /var/run/wireguard/{a}.sock: unix socket in use\n");
    assert!(err.ends_with(&want), "{err}");
    let v = Command::new(WGRS).arg("--version").output().unwrap();
    assert!(v.status.success() && String::from_utf8_lossy(&v.stdout).starts_with("wgrs v"));
    std::fs::remove_file(sock(&a)).unwrap();
    wait_until("cleanup", || daemon_pid(&a).is_none());
}
