//! `wgrs show` and `wgrs showconf` against Debian's `wg` on the same live devices (ARCHITECTURE.md,
//! tier 3): two Debian `wireguard-go` daemons in a fresh network namespace, configured with
//! `wg setconf` (preshared key, endpoints, keepalive, fwmark, IPv4 and IPv6 allowed IPs) and
//! handshaking with each other over loopback; then every `show` form must print what `wg`
//! prints, byte for byte, with the same stderr and exit status.
//!
//! wireguard-go answers `get=1` with its peers in Go map order, which changes from one call to
//! the next, and `wg` keeps that order except where it sorts (pretty output: by latest
//! handshake). So peers whose order is the daemon's are compared as a set; everything else,
//! including the handshake-sorted part, must be identical. A `wg` run before and after each
//! `wgrs` run must agree (the clock or a counter may tick in between); otherwise the trio is
//! retried. Needs root; skips with a message otherwise.

// A panic is the failure report; waits are bounded.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;
use common::netns::*;
use common::wg_daemon::*;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

const WGRS: &str = env!("CARGO_BIN_EXE_wgrs");

/// How a command's output may legitimately differ between two runs of `wg`.
#[derive(Clone, Copy, Debug)]
enum Order {
    /// Fully determined (interface-level fields, names).
    Exact,
    /// Pretty output: runs of peers without a handshake are in the daemon's order.
    Pretty,
    /// `showconf`: peers after `[Interface]` are in the daemon's order.
    Conf,
    /// Line per peer after one interface line (`dump`, single interface).
    DumpLines,
    /// Line per peer (per-peer parameters, or `all` forms whose lines carry the interface).
    Lines,
}

/// Blocks separated by blank lines; maximal runs of blocks for which `movable` holds sorted.
fn sort_block_runs(text: &str, movable: impl Fn(&str) -> bool) -> String {
    let mut blocks: Vec<String> = text
        .trim_end_matches('\n')
        .split("\n\n")
        .map(str::to_owned)
        .collect();
    let mut i = 0;
    while i < blocks.len() {
        let start = i;
        while i < blocks.len() && movable(&blocks[i]) {
            i += 1;
        }
        blocks[start..i].sort();
        i = i.max(start + 1);
    }
    blocks.join("\n\n")
}

fn normalize(text: &str, order: Order) -> String {
    match order {
        Order::Exact => text.to_owned(),
        Order::Pretty => sort_block_runs(text, |b| {
            let b = plain(b);
            b.starts_with("peer: ") && !b.contains("latest handshake")
        }),
        Order::Conf => sort_block_runs(text, |b| b.starts_with("[Peer]")),
        Order::DumpLines => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                lines[1..].sort_unstable();
            }
            lines.join("\n")
        }
        Order::Lines => {
            let mut lines: Vec<&str> = text.lines().collect();
            lines.sort_unstable();
            lines.join("\n")
        }
    }
}

/// What a user sees: status, stdout, stderr (with the program name as `wg` calls itself).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn seen(run: Run, order: Order) -> Seen {
    Seen {
        code: run.code,
        stdout: normalize(&run.stdout, order),
        stderr: run.stderr.replace(WGRS, "wg"),
    }
}

/// Runs `wg ARGS`, `wgrs ARGS`, `wg ARGS` (with `env` settings) in `ns` until both `wg` runs
/// agree, then requires `wgrs` to agree too. `keep` filters what is compared (e.g. only this
/// test's interfaces, when other daemons on the host change under us).
fn compare(ns: &Netns, env: &[&str], args: &[&str], order: Order, keep: &dyn Fn(&str) -> String) {
    let invoke = |prog: &str| {
        let mut full = vec!["env"];
        full.extend_from_slice(env);
        full.push(prog);
        full.extend_from_slice(args);
        let mut run = ns.exec(&full);
        run.stdout = keep(&run.stdout);
        seen(run, order)
    };
    for _ in 0..8 {
        let before = invoke("wg");
        let ours = invoke(WGRS);
        let after = invoke("wg");
        if before == after {
            assert_eq!(ours, before, "wgrs {args:?} (env {env:?}) differs from wg");
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("wg {args:?} never gave the same answer twice in a row");
}

fn all(text: &str) -> String {
    text.to_owned()
}

/// Only the sections of `wg show all` about interfaces in `names` (other daemons on the host
/// may be busy), and the order of all interface names.
fn sections_of<'a>(names: &'a [&'a str]) -> impl Fn(&str) -> String + 'a {
    move |text: &str| {
        let mut order = String::new();
        let mut kept = String::new();
        let mut keep = false;
        for line in text.split_inclusive('\n') {
            if let Some(name) = line.strip_prefix("interface: ") {
                let name = name.trim_end();
                order.push_str(name);
                order.push(' ');
                keep = names.contains(&name);
            }
            if keep {
                kept.push_str(line);
            }
        }
        format!("{kept}\n--- order: {order}")
    }
}

/// Only lines of `wg show all PARAM` that start with one of `names`.
fn lines_of<'a>(names: &'a [&'a str]) -> impl Fn(&str) -> String + 'a {
    move |text: &str| {
        text.split_inclusive('\n')
            .filter(|l| names.iter().any(|n| l.starts_with(&format!("{n}\t"))))
            .collect()
    }
}

const PARAMS: [&str; 12] = [
    "public-key",
    "private-key",
    "listen-port",
    "fwmark",
    "peers",
    "preshared-keys",
    "endpoints",
    "allowed-ips",
    "latest-handshakes",
    "transfer",
    "persistent-keepalive",
    "dump",
];

#[test]
fn show_and_showconf_match_wg_on_live_wireguard_go() {
    if skip_unless_root(&[]) {
        return;
    }
    let ns = Netns::new("show");
    let (a, b) = (unique_ifname(), unique_ifname());
    let _da = Daemon::start(&ns, Path::new(WIREGUARD_GO), &a);
    let _db = Daemon::start(&ns, Path::new(WIREGUARD_GO), &b);
    let (ka, kb, kc, kd) = (
        Keys::generate(),
        Keys::generate(),
        Keys::generate(),
        Keys::generate(),
    );
    let psk = genpsk();
    let conf_a = format!(
        "[Interface]\nPrivateKey = {}\nListenPort = 51820\nFwMark = 0x1234\n\n\
         [Peer]\nPublicKey = {}\nPresharedKey = {psk}\nAllowedIPs = 10.77.0.2/32, fd77::2/128\n\
         Endpoint = 127.0.0.1:51821\nPersistentKeepalive = 25\n\n\
         [Peer]\nPublicKey = {}\nAllowedIPs = 10.78.0.0/16, ::1.2.3.4/128, ::ffff:10.0.0.0/104\n\
         Endpoint = [2001:db8::1]:51820\n\n\
         [Peer]\nPublicKey = {}\n",
        ka.private, kb.public, kc.public, kd.public
    );
    let conf_b = format!(
        "[Interface]\nPrivateKey = {}\nListenPort = 51821\n\n\
         [Peer]\nPublicKey = {}\nPresharedKey = {psk}\nAllowedIPs = 10.77.0.1/32\n\
         Endpoint = 127.0.0.1:51820\n",
        kb.private, ka.public
    );
    ns.wg_setconf(&a, &conf_a).ok();
    ns.wg_setconf(&b, &conf_b).ok();
    for ifname in [&a, &b] {
        ns.ip(&["link", "set", ifname, "up"]).ok();
    }
    // The keepalive makes A handshake with B over loopback: handshake times and transfer.
    let handshook = wait_until(Duration::from_secs(15), || {
        let out = ns.wg(&["show", &a, "latest-handshakes"]).stdout;
        out.lines()
            .any(|l| l.starts_with(&kb.public) && !l.ends_with("\t0"))
    });
    assert!(handshook, "no handshake between {a} and {b}");

    for ifname in [a.as_str(), b.as_str()] {
        compare(&ns, &[], &["show", ifname], Order::Pretty, &all);
        compare(&ns, &[], &["showconf", ifname], Order::Conf, &all);
        for param in PARAMS {
            compare(&ns, &[], &["show", ifname, param], param_order(param), &all);
        }
        let env = ["WG_COLOR_MODE=always", "WG_HIDE_KEYS=never"];
        compare(&ns, &env, &["show", ifname], Order::Pretty, &all);
    }
    let ours = [a.as_str(), b.as_str()];
    compare(&ns, &[], &["show"], Order::Pretty, &sections_of(&ours));
    compare(
        &ns,
        &[],
        &["show", "all"],
        Order::Pretty,
        &sections_of(&ours),
    );
    compare(&ns, &[], &["show", "interfaces"], Order::Exact, &all);
    for param in PARAMS {
        if param != "endpoints" {
            compare(
                &ns,
                &[],
                &["show", "all", param],
                Order::Lines,
                &lines_of(&ours),
            );
        }
    }
}

/// How the output of `wg show IFACE PARAM` may vary between runs.
fn param_order(param: &str) -> Order {
    match param {
        "public-key" | "private-key" | "listen-port" | "fwmark" => Order::Exact,
        "dump" => Order::DumpLines,
        _ => Order::Lines,
    }
}

/// Text without ANSI colour sequences.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn usage_and_errors_match_wg() {
    if skip_unless_root(&[]) {
        return;
    }
    let ns = Netns::new("showerr");
    let a = unique_ifname();
    let _da = Daemon::start(&ns, Path::new(WIREGUARD_GO), &a);
    let cases: [&[&str]; 9] = [
        &["show", &a, "bogus"],
        &["show", "all", "bogus"],
        &["show", &a, "dump", "extra"],
        &["show", "interfaces", "x"],
        &["show", "help"],
        &["show", "--help"],
        &["showconf"],
        &["showconf", &a, "x"],
        &["show", &a, "private-key"],
    ];
    for args in cases {
        compare(&ns, &[], args, Order::Exact, &all);
    }
}

#[test]
fn a_stale_socket_is_not_listed_and_is_removed() {
    if skip_unless_root(&["wg"]) {
        return;
    }
    let name = unique_ifname();
    let path = uapi_socket(&name);
    std::fs::create_dir_all(UAPI_DIR).unwrap();
    // A socket file nobody listens on any more: what a crashed daemon leaves behind.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let out = run(10, &[WGRS, "show", "interfaces"]).ok();
    let listed = out.stdout.split_whitespace().any(|n| n == name);
    let removed = !path.exists();
    let _ = std::fs::remove_file(&path);
    assert!(!listed, "stale {name} listed: {}", out.stdout);
    assert!(removed, "stale socket {} left in place", path.display());
    // wg asks the kernel next ("No such device", or "Protocol not supported" without kernel
    // WireGuard); wgrs only knows daemons with a socket but says what wg says.
    let ours = run(10, &[WGRS, "show", &name]);
    let theirs = run(10, &["wg", "show", &name]);
    assert_eq!(ours.code, Some(1));
    assert_eq!((ours.code, ours.stderr), (theirs.code, theirs.stderr));
}
