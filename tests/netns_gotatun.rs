//! End to end against GotaTun 0.10.2 (Mullvad's Rust userspace WireGuard, a boringtun fork) in
//! network namespaces (DESIGN.md §3 tier 3, §6): side A runs wgrs, side B runs
//! `gotatun -f --disable-drop-privileges IFNAME`, configured with Debian's `wg` over the same
//! UAPI; a veth pair is the underlay. Handshake, pings, and a hashed TCP transfer each way,
//! with and without a preshared key. A second real peer, written by other people, so that a
//! shared misreading of wireguard-go cannot hide.
//!
//! Needs root; skips with a message otherwise. GotaTun is looked for at `$WGRS_GOTATUN`, else
//! at /opt/gotatun/bin/gotatun, where `.ci/run` installs it (`../shared/tools/install-gotatun.sh`);
//! missing, it fails the tests unless `WGRS_SKIP_INTEROP=1`.

// A panic is the failure report.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;
use common::netns::*;
use common::tunnel::*;
use common::wg_daemon::*;
use std::path::PathBuf;

/// Where `.ci/run` installs GotaTun.
const GOTATUN_DEFAULT: &str = "/opt/gotatun/bin/gotatun";
/// Bytes sent each way by a TCP transfer (GotaTun moves about half of wireguard-go's rate).
const TRANSFER: u64 = 32 << 20;

fn gotatun() -> PathBuf {
    match std::env::var_os("WGRS_GOTATUN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(GOTATUN_DEFAULT),
    }
}

/// True (after printing why) when the test must be skipped; a missing GotaTun fails it, as a
/// missing wireguard-go does, unless `WGRS_SKIP_INTEROP=1`.
fn skip() -> bool {
    if skip_unless_root(&[]) {
        return true;
    }
    let bin = gotatun();
    if bin.exists() {
        return false;
    }
    if std::env::var("WGRS_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!(
            "skipping: no GotaTun at {} and WGRS_SKIP_INTEROP=1",
            bin.display()
        );
        return true;
    }
    panic!(
        "no GotaTun at {}: install it with ../shared/tools/install-gotatun.sh (as .ci/run does: \
         cargo install --locked gotatun-cli --version 0.10.2 --root /opt/gotatun), point \
         WGRS_GOTATUN at it, or set WGRS_SKIP_INTEROP=1 to skip",
        bin.display()
    );
}

fn start_gotatun(ns: &Netns, ifname: &str) -> Daemon {
    let args = ["-f", "--disable-drop-privileges"];
    Daemon::start_foreground(ns, &gotatun(), &args, ifname)
}

/// What `wg show IF FIELD` says about side A's one peer (the values after the key).
fn peer_field(t: &Tunnel, field: &str) -> String {
    let out = t.a.wg(&["show", &t.da.ifname, field]).ok().stdout;
    let values: Vec<&str> = out.trim().split('\t').skip(1).collect();
    values.join(" ")
}

fn interop(v6_underlay: bool, psk: bool) {
    if skip() {
        return;
    }
    let t = Tunnel::with_b(v6_underlay, psk, start_gotatun);
    // A initiates (wait_up), then pings both ways over inner IPv4 and IPv6.
    t.ping_all();
    let when: u64 = peer_field(&t, "latest-handshakes").parse().unwrap();
    assert_ne!(when, 0, "no handshake time on the wgrs side");
    let want_psk = if psk { t.psk.as_str() } else { "(none)" };
    assert_eq!(peer_field(&t, "preshared-keys"), want_psk);
    assert_eq!(
        t.endpoint_seen_by(true),
        format!("{}:{B_PORT}", t.underlay(false))
    );
    // Bulk data both ways: wgrs's offloads (TSO in, GRO out) against GotaTun's plain path.
    tcp_transfer(&t.a, &t.b, B4, 5101, TRANSFER);
    tcp_transfer(&t.b, &t.a, A6, 5102, TRANSFER);
    // wgrs counted what went through, both ways (received, sent).
    let transfer: Vec<u64> = peer_field(&t, "transfer")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        transfer.len() == 2 && transfer.iter().all(|&b| b > TRANSFER),
        "wgrs transfer counters {transfer:?}"
    );
    let dump = t.b.wg(&["show", &t.db.ifname, "dump"]).ok().stdout;
    assert!(
        dump.contains(&t.ka.public),
        "GotaTun knows its peer:\n{dump}"
    );
    assert!(t.da.alive() && t.db.alive(), "both daemons still run");
}

#[test]
fn gotatun_handshake_ping_and_tcp_both_ways_with_psk() {
    interop(false, true);
}

#[test]
fn gotatun_handshake_ping_and_tcp_both_ways_without_psk_over_ipv6() {
    interop(true, false);
}
