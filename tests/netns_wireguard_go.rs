//! End to end against Debian's wireguard-go in network namespaces (ARCHITECTURE.md tiers 3–4):
//! side A runs the implementation under test (the wgrs binary, or `$WGRS_UNDER_TEST`, e.g.
//! `/usr/bin/wireguard-go` to validate the harness), side B runs `/usr/bin/wireguard-go`; a veth
//! pair is the underlay; `wg`, `wg-quick`, `ping`, TCP and raw UAPI are what a user would use.
//! Needs root; skips with a message otherwise. Missing tools fail the tests unless
//! `WGRS_SKIP_INTEROP=1`; `WGRS_TEST_SEED=<u64>` replays the random datagrams of a failed run.

// A panic is the failure report. Short waits let a daemon read what was just sent; every wait
// is bounded.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;
use common::netns::*;
use common::tunnel::*;
use common::wg_daemon::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::thread;
use std::time::Duration;

/// Lengths of handshake initiation, response, cookie reply, keepalive (message types 1..4).
const MESSAGE_LENS: [usize; 4] = [148, 92, 64, 32];
/// Bytes sent each way by the TCP test.
const TRANSFER: u64 = 256 << 20;

fn ping_test(v6_underlay: bool) {
    if skip_unless_root(&[]) {
        return;
    }
    let t = Tunnel::new(v6_underlay);
    t.ping_all();
    // Each side saw the other at its underlay address, and a handshake completed.
    assert_eq!(
        t.endpoint_seen_by(false),
        format!("{}:{A_PORT}", t.underlay(true))
    );
    assert_eq!(
        t.endpoint_seen_by(true),
        format!("{}:{B_PORT}", t.underlay(false))
    );
    let hs =
        t.a.wg(&["show", &t.da.ifname, "latest-handshakes"])
            .ok()
            .stdout;
    let when: u64 = hs.split('\t').nth(1).unwrap().trim().parse().unwrap();
    assert_ne!(when, 0, "no handshake time on side A: {hs:?}");
}

#[test]
fn ping_inner_v4_and_v6_over_ipv4_underlay() {
    ping_test(false);
}

#[test]
fn ping_inner_v4_and_v6_over_ipv6_underlay() {
    ping_test(true);
}

#[test]
fn tcp_256_mib_each_way_with_matching_sha256() {
    if skip_unless_root(&[]) {
        return;
    }
    let t = Tunnel::new(false);
    t.wait_up();
    tcp_transfer(&t.a, &t.b, B4, 5001, TRANSFER);
    tcp_transfer(&t.b, &t.a, A6, 5002, TRANSFER);
    assert!(t.da.alive() && t.db.alive());
}

/// What the kernel hands wgrs's TUN as super-packets, cut by wgrs (`platform::tun::tso`):
/// TCP over inner IPv6 (TSO) and UDP sent with `UDP_SEGMENT` (USO, where the kernel offers it
/// to a TUN; otherwise the kernel cuts it first). wireguard-go must get every byte intact.
#[test]
fn offloaded_sends_from_wgrs_arrive_intact_tcp6_and_udp_gso() {
    if skip_unless_root(&[]) {
        return;
    }
    let t = Tunnel::new(false);
    t.wait_up();
    tcp_transfer(&t.a, &t.b, B6, 5005, 64 << 20);
    for (dst, port) in [(B4, 5006), (B6, 5007)] {
        udp_gso_transfer(&t, dst, port);
    }
    assert!(t.da.alive() && t.db.alive());
}

/// Send 3 × 20 datagrams of 1,200 bytes from A with `UDP_SEGMENT`, each send one 24,000-byte
/// buffer; B must receive each datagram once, whole, with its own stamp (resending a round
/// that lost datagrams, at most 5 times: UDP may drop).
fn udp_gso_transfer(t: &Tunnel, dst: &str, port: u16) {
    use nix::sys::socket::{setsockopt, sockopt::UdpGsoSegment};
    const SEG: usize = 1200;
    const PER_SEND: usize = 20;
    let stamp = |round: usize, i: usize| -> Vec<u8> {
        (0..SEG).map(|k| (round * 31 + i * 7 + k) as u8).collect()
    };
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let receiver = t.b.spawn_in(move || {
        let sock = UdpSocket::bind(("::", port)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut got = std::collections::BTreeMap::new();
        let mut buf = vec![0u8; 65536];
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while got.len() < 3 * PER_SEND && std::time::Instant::now() < deadline {
            if let Ok(n) = sock.recv(&mut buf) {
                assert_eq!(n, SEG, "a datagram of another size arrived");
                let (round, i) = (buf[0] as usize, buf[1] as usize);
                let prev = got.insert((round, i), buf[..n].to_vec());
                assert!(prev.is_none() || prev.as_deref() == Some(&buf[..n]));
            }
        }
        got
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let to = SocketAddr::new(dst.parse().unwrap(), port);
    let sender = t.a.spawn_in(move || {
        let sock = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).unwrap();
        setsockopt(&sock, UdpGsoSegment, &(SEG as i32)).unwrap();
        for _ in 0..5 {
            for round in 0..3 {
                let mut buf = Vec::with_capacity(SEG * PER_SEND);
                for i in 0..PER_SEND {
                    let mut d = stamp(round, i);
                    d[0] = round as u8;
                    d[1] = i as u8;
                    buf.extend_from_slice(&d);
                }
                assert_eq!(sock.send_to(&buf, to).unwrap(), buf.len());
            }
            thread::sleep(Duration::from_millis(500));
        }
    });
    sender.join().unwrap();
    let got = receiver.join().unwrap();
    assert_eq!(got.len(), 3 * PER_SEND, "datagrams to {dst} missing");
    for ((round, i), d) in got {
        let mut want = stamp(round, i);
        want[0] = round as u8;
        want[1] = i as u8;
        assert_eq!(d, want, "datagram {round}/{i} to {dst} damaged");
    }
}

/// Both directions busy at once: wgrs moves its UDP direction to a second thread and back
/// (`driver::duty`); every byte must still arrive, in order, both ways.
#[test]
fn tcp_both_ways_at_once_with_matching_sha256() {
    if skip_unless_root(&[]) {
        return;
    }
    let t = Tunnel::new(false);
    t.wait_up();
    std::thread::scope(|s| {
        s.spawn(|| tcp_transfer(&t.a, &t.b, B4, 5003, TRANSFER / 2));
        tcp_transfer(&t.b, &t.a, A6, 5004, TRANSFER / 2);
    });
    assert!(t.da.alive() && t.db.alive());
}

#[test]
fn wg_show_dump_showconf_and_get_match_wireguard_go() {
    if skip_unless_root(&[]) {
        return;
    }
    let (x, y) = (Netns::new("show-x"), Netns::new("show-y"));
    let ix = Daemon::start(&x, &under_test(), &unique_ifname());
    let iy = Daemon::start(&y, Path::new(WIREGUARD_GO), &unique_ifname());
    let [k, p1, p2, p3, p4] = [(); 5].map(|_| Keys::generate());
    let psk = genpsk();
    let conf = format!(
        "[Interface]\nPrivateKey = {}\nListenPort = 51820\nFwMark = 0x4d2\n\n\
         [Peer]\nPublicKey = {}\nPresharedKey = {psk}\n\
         AllowedIPs = 10.77.0.2/32, fd77::2/128, 10.78.0.0/16\n\
         Endpoint = 172.31.0.2:51821\nPersistentKeepalive = 25\n\n\
         [Peer]\nPublicKey = {}\nAllowedIPs = 10.79.0.0/24\nEndpoint = [fd00:31::2]:51822\n\n\
         [Peer]\nPublicKey = {}\nAllowedIPs = 0.0.0.0/0, ::/0\n",
        k.private, p1.public, p2.public, p3.public
    );
    let mut dumps = Vec::new();
    for (ns, d) in [(&x, &ix), (&y, &iy)] {
        // An underlay that routes the endpoints' subnets, with nobody there (no `dummy`
        // module everywhere: a veth pair with both ends here).
        ns.ip(&["link", "add", "u0", "type", "veth", "peer", "name", "u1"])
            .ok();
        ns.ip(&["addr", "add", "172.31.0.1/24", "dev", "u0"]).ok();
        ns.ip(&["-6", "addr", "add", "fd00:31::1/64", "dev", "u0", "nodad"])
            .ok();
        ns.ip(&["link", "set", "u0", "up"]).ok();
        ns.ip(&["link", "set", "u1", "up"]).ok();
        let f = &d.ifname;
        ns.wg_setconf(f, &conf).ok();
        // Then edits: move a port and mark, replace allowed IPs, take a prefix from another
        // peer, add a peer, remove one.
        ns.wg(&["set", f, "listen-port", "51830", "fwmark", "0x1234"])
            .ok();
        ns.wg(&[
            "set",
            f,
            "peer",
            &p2.public,
            "allowed-ips",
            "10.79.1.0/24,fd79::/64",
        ])
        .ok();
        ns.wg(&[
            "set",
            f,
            "peer",
            &p4.public,
            "allowed-ips",
            "10.78.0.0/16,10.80.0.1/32",
        ])
        .ok();
        ns.wg(&["set", f, "peer", &p4.public, "persistent-keepalive", "7"])
            .ok();
        ns.wg(&["set", f, "peer", &p3.public, "remove"]).ok();
        let dump = ns.wg(&["show", f, "dump"]).ok().stdout;
        let showconf = ns.showconf(f);
        let get = d.uapi(b"get=1\n\n");
        dumps.push((dump, showconf, get));
    }
    let [(dx, cx, gx), (dy, cy, gy)] = <[_; 2]>::try_from(dumps).ok().unwrap();
    assert_eq!(
        normalize_dump(&dx),
        normalize_dump(&dy),
        "wg show dump:\n{dx}\nwireguard-go:\n{dy}"
    );
    assert_eq!(
        normalize_showconf(&cx),
        normalize_showconf(&cy),
        "wg showconf"
    );
    assert_eq!(normalize_get(&gx), normalize_get(&gy), "UAPI get=1");
    // The harness itself: the edits took effect on wireguard-go.
    assert!(
        cy.contains("FwMark = 0x1234") && cy.contains("ListenPort = 51830"),
        "{cy}"
    );
    assert!(
        !cy.contains(&p3.public) && cy.contains("AllowedIPs = 10.78.0.0/16, 10.80.0.1/32"),
        "{cy}"
    );
    assert_eq!(dy.lines().count(), 4, "{dy}");
}

/// `wg-quick up` on side A with the implementation under test as the userspace implementation,
/// a wireguard-go peer on side B; pings; then `wg-quick down` must make the daemon exit and
/// take its socket with it. `full`: AllowedIPs 0.0.0.0/0, ::/0 on A (fwmark + policy routing),
/// checked by reaching addresses that exist only behind B.
fn wg_quick_test(full: bool) {
    if skip_unless_root(&["wg-quick", "nft", "sysctl"]) {
        return;
    }
    let WireguardGoPeer {
        a,
        b,
        veth,
        ka,
        kb,
        psk,
        db: _db,
    } = WireguardGoPeer::new("quick");
    let a_if = unique_ifname();
    let allowed = if full {
        "0.0.0.0/0, ::/0"
    } else {
        "10.77.0.2/32, fd77::2/128"
    };
    let conf = format!(
        "[Interface]\nPrivateKey = {}\nAddress = 10.77.0.1/24, fd77::1/64\nListenPort = {A_PORT}\n\n\
         [Peer]\nPublicKey = {}\nPresharedKey = {psk}\nAllowedIPs = {allowed}\nEndpoint = {}:{B_PORT}\n",
        ka.private, kb.public, veth.b4
    );
    let dir = TempDir::new("wg-quick");
    let path = dir.file(&format!("{a_if}.conf"), &conf);
    let log = dir.path.join("wg-quick.log");
    let imp = under_test();
    let env = [
        ("WG_QUICK_USERSPACE_IMPLEMENTATION", imp.to_str().unwrap()),
        ("LOG_LEVEL", "verbose"),
    ];
    let quick = |cmd: &str| {
        let args = [
            "ip",
            "netns",
            "exec",
            &a.name,
            "wg-quick",
            cmd,
            path.to_str().unwrap(),
        ];
        let code = run_logged(30, &args, &env, &log);
        assert_eq!(code, Some(0), "wg-quick {cmd}; output:\n{}", tail(&log, 60));
    };
    quick("up");
    let da = Daemon::adopt(&a, &imp, &a_if);
    let report = |what: &str| format!("{what}; wg-quick and daemon output:\n{}", tail(&log, 60));
    for (ns, dst) in [(&a, B4), (&a, B6), (&b, A4), (&b, A6)] {
        let r = ns.ping(dst);
        assert!(
            r.success(),
            "{}",
            report(&format!("ping {dst} from {}:\n{r}", ns.name))
        );
    }
    if full {
        let fwmark = a.wg(&["show", &a_if, "fwmark"]).ok().stdout;
        assert_eq!(
            fwmark.trim(),
            "0xca6c",
            "wg-quick sets fwmark 51820 for a full tunnel"
        );
        for dst in ["192.0.2.77", "2001:db8::77"] {
            let r = a.ping(dst);
            assert!(
                r.success(),
                "{}",
                report(&format!("full tunnel: ping {dst}:\n{r}"))
            );
        }
    } else {
        let r = a.ping("192.0.2.77");
        assert!(
            !r.success(),
            "without a full tunnel 192.0.2.77 must be unreachable:\n{r}"
        );
    }

    quick("down");
    assert!(
        wait_gone(da.pid, Duration::from_secs(2)),
        "{}",
        report("daemon alive 2 s after wg-quick down")
    );
    assert!(
        !da.socket().exists(),
        "{} left behind",
        da.socket().display()
    );
    assert!(
        !a.ip(&["link", "show", &a_if]).success(),
        "{a_if} still exists"
    );
    let rules = a.ip(&["rule", "show"]).ok().stdout;
    assert!(
        !rules.contains("51820"),
        "policy rules left behind:\n{rules}"
    );
    let tables = a.exec(&["nft", "list", "tables"]).ok().stdout;
    assert!(
        !tables.contains("wg-quick"),
        "nft tables left behind:\n{tables}"
    );
}

#[test]
fn wg_quick_up_ping_down() {
    wg_quick_test(false);
}

#[test]
fn wg_quick_full_tunnel_up_ping_down() {
    wg_quick_test(true);
}

#[test]
fn restart_under_test_side_and_traffic_resumes() {
    if skip_unless_root(&[]) {
        return;
    }
    let mut t = Tunnel::new(false);
    t.ping_all();
    let ifname = t.da.ifname.clone();
    // SIGTERM: a clean exit takes the TUN and the UAPI socket with it.
    assert!(
        t.da.terminate(Duration::from_secs(3)),
        "no exit within 3 s of SIGTERM"
    );
    assert!(!t.da.socket().exists(), "socket left after SIGTERM");
    assert!(
        !t.a.ip(&["link", "show", &ifname]).success(),
        "{ifname} left after SIGTERM"
    );
    t.da.restart(&t.a);
    t.configure_a();
    // Side B is untouched: it still holds the old session and accepts the new handshake.
    t.ping_all();
    // A crash (SIGKILL) leaves the socket file behind; the next daemon must replace it.
    t.da.crash();
    assert!(t.da.socket().exists(), "SIGKILL cannot remove the socket");
    t.da.restart(&t.a);
    t.configure_a();
    t.ping_all();
    assert!(t.db.alive());
}

#[test]
fn roaming_follows_a_new_underlay_address_on_either_side() {
    if skip_unless_root(&[]) {
        return;
    }
    let t = Tunnel::new(false);
    t.ping_all();
    // B (wireguard-go) moves and speaks first: A must learn B's new endpoint.
    move_address(
        &t.b,
        &t.veth.b_dev,
        "172.31.0.2",
        "172.31.0.12",
        &t.db.ifname,
        B_PORT,
    );
    assert_ping(&t.b, A4);
    assert_eq!(t.endpoint_seen_by(true), format!("172.31.0.12:{B_PORT}"));
    if std::env::var_os("WGRS_UNDER_TEST").is_none() {
        // wgrs also says so in its verbose log (wireguard-go logs no endpoint change).
        let roamed = format!(
            "{} - Endpoint changed to 172.31.0.12:{B_PORT}",
            peer_log_name(&t.kb.public)
        );
        let log = t.da.log_tail(2000);
        assert!(
            log.lines().any(|l| l.ends_with(&roamed)),
            "no {roamed:?} in:\n{log}"
        );
    }
    assert_ping(&t.a, B4);
    assert_ping(&t.a, B6);
    // A (implementation under test) moves and speaks first: it must send from its new address.
    move_address(
        &t.a,
        &t.veth.a_dev,
        "172.31.0.1",
        "172.31.0.11",
        &t.da.ifname,
        A_PORT,
    );
    assert_ping(&t.a, B4);
    assert_eq!(t.endpoint_seen_by(false), format!("172.31.0.11:{A_PORT}"));
    assert_ping(&t.b, A4);
    assert_ping(&t.b, A6);
}

/// A listen-port change replaces the side's sockets while its packet thread sleeps on the old
/// ones: traffic to the new port must be read at once, each time (a later change may give the
/// new sockets the numbers earlier ones had), and the old port must be free again at once.
#[test]
fn a_new_listen_port_carries_traffic_at_once() {
    if skip_unless_root(&[]) {
        return;
    }
    let t = Tunnel::new(false);
    t.ping_all();
    // Two changes back to back, the second back to the first port, with no traffic between
    // them: the sockets the first change replaced must have let go of their port.
    for port in [A_PORT + 20, A_PORT] {
        t.a.wg(&["set", &t.da.ifname, "listen-port", &port.to_string()])
            .ok();
    }
    for port in [A_PORT + 10, A_PORT, A_PORT + 10] {
        t.a.wg(&["set", &t.da.ifname, "listen-port", &port.to_string()])
            .ok();
        let shown = t.a.wg(&["show", &t.da.ifname, "listen-port"]).ok().stdout;
        assert_eq!(shown.trim(), port.to_string());
        t.b.wg(&[
            "set",
            &t.db.ifname,
            "peer",
            &t.ka.public,
            "endpoint",
            &format!("{}:{port}", t.underlay(true)),
        ])
        .ok();
        // B speaks first, to the new port; then A answers from it.
        assert_ping(&t.b, A4);
        assert_ping(&t.a, B4);
        assert_eq!(
            t.endpoint_seen_by(false),
            format!("{}:{port}", t.underlay(true))
        );
    }
}

#[test]
fn bad_uapi_input_gets_the_errno_wireguard_go_gives() {
    if skip_unless_root(&[]) {
        return;
    }
    let ns = Netns::new("uapi");
    let under = Daemon::start(&ns, &under_test(), &unique_ifname());
    let go = Daemon::start(&ns, Path::new(WIREGUARD_GO), &unique_ifname());
    let (k, peer, psk) = (Keys::generate(), Keys::generate(), genpsk());
    for (d, port) in [(&under, 51820), (&go, 51821)] {
        let conf = format!(
            "[Interface]\nPrivateKey = {}\nListenPort = {port}\n\n[Peer]\nPublicKey = {}\n\
             PresharedKey = {psk}\nAllowedIPs = 10.77.0.2/32, fd77::2/128\nEndpoint = 172.31.0.2:51821\n",
            k.private, peer.public
        );
        ns.wg_setconf(&d.ifname, &conf).ok();
    }
    // Requests that name the existing peer change nothing even if applied line by line.
    let p = key_hex(&peer.public);
    let long = format!("set=1\nprivate_key={}\n\n", "a".repeat(1 << 20));
    let cases: Vec<(&str, String)> = vec![
        ("unknown key", "set=1\nno_such_key=1\n\n".into()),
        (
            "unknown peer key",
            format!("set=1\npublic_key={p}\nno_such_key=1\n\n"),
        ),
        (
            "bad hex in public_key",
            format!("set=1\npublic_key={}\n\n", "zz".repeat(32)),
        ),
        ("short public_key", "set=1\npublic_key=abcd\n\n".into()),
        (
            "bad endpoint",
            format!("set=1\npublic_key={p}\nendpoint=not-an-endpoint\n\n"),
        ),
        (
            "endpoint without port",
            format!("set=1\npublic_key={p}\nendpoint=172.31.0.9\n\n"),
        ),
        (
            "allowed_ip /33",
            format!("set=1\npublic_key={p}\nallowed_ip=10.0.0.1/33\n\n"),
        ),
        (
            "allowed_ip /129",
            format!("set=1\npublic_key={p}\nallowed_ip=fd77::2/129\n\n"),
        ),
        (
            "listen_port out of range",
            "set=1\nlisten_port=65536\n\n".into(),
        ),
        ("1 MB line", long),
        ("unknown operation", "bogus=1\n\n".into()),
    ];
    for (what, request) in &cases {
        let before = [ns.showconf(&under.ifname), ns.showconf(&go.ifname)];
        let want = go.uapi(request.as_bytes());
        let got = under.uapi(request.as_bytes());
        assert_eq!(
            got, want,
            "{what}: answer of the implementation under test vs wireguard-go"
        );
        if *what != "unknown operation" {
            assert!(
                want.starts_with("errno=-"),
                "{what}: wireguard-go accepted it: {want:?}"
            );
        }
        let after = [ns.showconf(&under.ifname), ns.showconf(&go.ifname)];
        assert_eq!(after, before, "{what}: configuration changed");
    }
    assert!(under.alive(), "the implementation under test died");
    assert!(
        under.uapi(b"get=1\n\n").ends_with("errno=0\n\n"),
        "get=1 after bad input"
    );
}

#[test]
fn ten_thousand_random_datagrams_change_nothing() {
    if skip_unless_root(&[]) {
        return;
    }
    let t = Tunnel::new(false);
    t.ping_all();
    let before = t.a.showconf(&t.da.ifname);
    let seed: u64 = match std::env::var("WGRS_TEST_SEED") {
        Ok(s) => s.parse().expect("WGRS_TEST_SEED must be a u64"),
        Err(_) => StdRng::from_entropy().gen(),
    };
    eprintln!("random datagrams: WGRS_TEST_SEED={seed}");
    let targets = [
        SocketAddr::new(t.veth.a4.into(), A_PORT),
        SocketAddr::new(t.veth.a6.into(), A_PORT),
    ];
    let sent = t.a.spawn_in(move || {
        let mut rng = StdRng::seed_from_u64(seed);
        let v4 = UdpSocket::bind("0.0.0.0:0").unwrap();
        let v6 = UdpSocket::bind("[::]:0").unwrap();
        let (mut sent, mut buf) = (0, [0u8; 2000]);
        for i in 0..10_000 {
            // Every fourth datagram looks like a message: type 1..4 and three zero bytes; every
            // eighth also has that message's exact length (keepalive length for transport).
            let kind = rng.gen_range(0..4);
            let len = if i % 8 == 0 {
                MESSAGE_LENS[kind]
            } else {
                rng.gen_range(0..2000)
            };
            let msg = &mut buf[..len];
            rng.fill(&mut msg[..]);
            if i % 4 == 0 && len >= 4 {
                msg[0] = kind as u8 + 1;
                msg[1..4].fill(0);
            }
            let (sock, to) = if i % 5 == 4 {
                (&v6, targets[1])
            } else {
                (&v4, targets[0])
            };
            sent += usize::from(sock.send_to(msg, to).is_ok());
            if i % 100 == 99 {
                thread::sleep(Duration::from_millis(1)); // let the daemon keep up
            }
        }
        sent
    });
    let sent = sent.join().expect("sender failed");
    assert!(sent > 9_000, "only {sent} datagrams could be sent");
    thread::sleep(Duration::from_millis(300));
    assert!(t.da.alive(), "the implementation under test died");
    assert_eq!(
        t.a.showconf(&t.da.ifname),
        before,
        "random datagrams changed the configuration"
    );
    t.ping_all();
}

/// A peer behind an endpoint the kernel refuses to send to: wireguard-go counts nothing as
/// sent and logs the failure at error level; so must the implementation under test. The
/// namespace has no link but loopback, and a `prohibit` route makes the kernel refuse the
/// endpoint at once: nothing leaves the namespace.
#[test]
fn refused_sends_count_no_bytes_and_are_logged_as_errors() {
    if skip_unless_root(&[]) {
        return;
    }
    let ns = Netns::new("refused");
    ns.ip(&["route", "add", "prohibit", "10.250.0.0/16"]).ok();
    let d = Daemon::start(&ns, &under_test(), &unique_ifname());
    let (k, peer) = (Keys::generate(), Keys::generate());
    let conf = format!(
        "[Interface]\nPrivateKey = {}\n\n[Peer]\nPublicKey = {}\nAllowedIPs = 10.77.0.2/32\n\
         Endpoint = 10.250.0.1:51820\nPersistentKeepalive = 25\n",
        k.private, peer.public
    );
    ns.wg_setconf(&d.ifname, &conf).ok();
    let logged = wait_until(Duration::from_secs(8), || {
        d.log_tail(200)
            .contains("Failed to send handshake initiation")
    });
    assert!(
        logged,
        "no error for the refused send; log:\n{}",
        d.log_tail(40)
    );
    let line = d
        .log_tail(200)
        .lines()
        .find(|l| l.contains("Failed to send handshake initiation"))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("ERROR"), "not at error level: {line}");
    let transfer = ns.wg(&["show", &d.ifname, "transfer"]).ok().stdout;
    assert_eq!(
        transfer.trim(),
        format!("{}\t0\t0", peer.public),
        "{transfer}"
    );
    // No answer: the initiation is retried after REKEY_TIMEOUT, and the log says so.
    let retry = format!(
        "{} - Handshake did not complete after 5 seconds, retrying (try 2)",
        peer_log_name(&peer.public)
    );
    let retried = wait_until(Duration::from_secs(8), || {
        d.log_tail(400).lines().any(|l| l.ends_with(&retry))
    });
    assert!(retried, "no {retry:?}; log:\n{}", d.log_tail(40));
    // Turning persistent keepalive on sent one at once (staged behind the handshake).
    let keepalive = format!("{} - Sending keepalive packet", peer_log_name(&peer.public));
    assert!(
        d.log_tail(400).lines().any(|l| l.ends_with(&keepalive)),
        "no {keepalive:?}; log:\n{}",
        d.log_tail(40)
    );
}

/// The name wireguard-go gives a peer in its logs: `peer(AbCd…WxYz)`.
fn peer_log_name(public_b64: &str) -> String {
    format!("peer({}…{})", &public_b64[..4], &public_b64[39..43])
}

/// `LEVEL: (IFNAME) YYYY/MM/DD HH:MM:SS message`, wireguard-go's line shape.
fn assert_wireguard_go_shape(line: &str, ifname: &str) {
    let rest = line
        .strip_prefix("DEBUG: ")
        .or_else(|| line.strip_prefix("ERROR: "))
        .unwrap_or_else(|| panic!("no level prefix: {line:?}"));
    let rest = rest
        .strip_prefix(&format!("({ifname}) "))
        .unwrap_or_else(|| panic!("no interface: {line:?}"));
    let stamp: Vec<char> = rest.chars().take(20).collect();
    let shape: String = stamp
        .iter()
        .map(|c| if c.is_ascii_digit() { 'd' } else { *c })
        .collect();
    assert_eq!(shape, "dddd/dd/dd dd:dd:dd ", "no date and time: {line:?}");
}

#[test]
fn verbose_log_tells_handshakes_keypairs_and_uapi_changes_in_wireguard_go_shape() {
    if skip_unless_root(&[]) {
        return;
    }
    let t = Tunnel::new(false);
    t.ping_all();
    let log = t.da.log_tail(1000);
    assert!(!log.contains('\x1b'), "colour codes in a log file:\n{log}");
    // wireguard-go (as the implementation under test, to validate this test) opens with a
    // boxed warning about the kernel module; every other line has the shape.
    let boxed = |l: &str| l.starts_with(['┌', '│', '└']);
    for line in log.lines().filter(|l| !l.trim().is_empty() && !boxed(l)) {
        assert_wireguard_go_shape(line, &t.da.ifname);
        for debug_text in ["Handshake(", "BadMac1", "Some(", "{ "] {
            assert!(!line.contains(debug_text), "Rust Debug text: {line:?}");
        }
    }
    let peer = peer_log_name(&t.kb.public);
    let has = |what: &str| log.lines().any(|l| l.ends_with(what));
    for what in [
        "UAPI: Updating private key".to_string(),
        "UAPI: Updating listen port".to_string(),
        format!("{peer} - UAPI: Created"),
        format!("{peer} - UAPI: Updating endpoint"),
        format!("{peer} - UAPI: Adding allowedip"),
    ] {
        assert!(has(&what), "no {what:?} in:\n{log}");
    }
    // Whichever side started it, one handshake completed in each direction's terms.
    let initiated = has(&format!("{peer} - Sending handshake initiation"))
        && has(&format!("{peer} - Received handshake response"));
    let answered = has(&format!("{peer} - Received handshake initiation"))
        && has(&format!("{peer} - Sending handshake response"));
    assert!(initiated || answered, "no completed handshake in:\n{log}");

    if std::env::var_os("WGRS_UNDER_TEST").is_none() {
        let created = format!("{peer} - Keypair ");
        assert!(
            log.lines()
                .any(|l| l.contains(&created) && l.ends_with(" created")),
            "no keypair creation in:\n{log}"
        );
    }
}
