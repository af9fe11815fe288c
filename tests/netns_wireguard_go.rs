//! End to end against Debian's wireguard-go in network namespaces (DESIGN.md §3 tiers 3–4, §5):
//! side A runs the implementation under test (the wgrs binary, or `$WGRS_UNDER_TEST`, e.g.
//! `/usr/bin/wireguard-go` to validate the harness), side B runs `/usr/bin/wireguard-go`; a veth
//! pair is the underlay; `wg`, `wg-quick`, `ping`, TCP and raw UAPI are what a user would use.
//! Needs root; skips with a message otherwise.

#![allow(clippy::unwrap_used)]
// a panic is the failure report
// Short waits for a daemon to read what was just sent; every wait is bounded.
#![allow(clippy::disallowed_methods)]

#[path = "common/netns.rs"]
mod netns;
use netns::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Inner (tunnel) addresses of side A and side B.
const A4: &str = "10.77.0.1";
const B4: &str = "10.77.0.2";
const A6: &str = "fd77::1";
const B6: &str = "fd77::2";
/// Listen ports of side A and side B.
const A_PORT: u16 = 51820;
const B_PORT: u16 = 51821;
/// Lengths of handshake initiation, response, cookie reply, keepalive (message types 1..4).
const MESSAGE_LENS: [usize; 4] = [148, 92, 64, 32];
/// Bytes sent each way by the TCP test.
const TRANSFER: u64 = 256 << 20;

/// How one side configures its interface: keys, port, its peer, and its inner addresses.
struct SideConf<'a> {
    keys: &'a Keys,
    port: u16,
    peer: &'a str,
    psk: &'a str,
    endpoint: Option<String>,
    allowed_ips: &'a str,
    addrs: [&'a str; 2],
}

/// `wg setconf` for the interface, `wg set … peer` for the peer (preshared key from a file, as
/// `wg` wants it), then inner addresses and link up with `ip`.
fn configure(ns: &Netns, ifname: &str, c: &SideConf) {
    let conf = format!(
        "[Interface]\nPrivateKey = {}\nListenPort = {}\n",
        c.keys.private, c.port
    );
    ns.wg_setconf(ifname, &conf).ok();
    let dir = TempDir::new("psk");
    let psk = dir.file("psk", &format!("{}\n", c.psk));
    let mut set = vec![
        "set",
        ifname,
        "peer",
        c.peer,
        "preshared-key",
        psk.to_str().unwrap(),
    ];
    set.extend(["allowed-ips", c.allowed_ips]);
    if let Some(e) = &c.endpoint {
        set.extend(["endpoint", e]);
    }
    ns.wg(&set).ok();
    ns.ip(&["addr", "add", c.addrs[0], "dev", ifname]).ok();
    ns.ip(&["-6", "addr", "add", c.addrs[1], "dev", ifname, "nodad"])
        .ok();
    ns.ip(&["link", "set", ifname, "up"]).ok();
}

/// Side A (implementation under test) and side B (wireguard-go), each the other's peer over a
/// veth pair. Fields drop in order: daemons first, then namespaces.
struct Tunnel {
    da: Daemon,
    db: Daemon,
    a: Netns,
    b: Netns,
    veth: Veth,
    ka: Keys,
    kb: Keys,
    psk: String,
    v6_underlay: bool,
}

impl Tunnel {
    fn new(v6_underlay: bool) -> Tunnel {
        let (a, b) = (Netns::new("a"), Netns::new("b"));
        let veth = veth_pair(&a, &b, UNDERLAY_V4, UNDERLAY_V6);
        let da = Daemon::start(&a, &under_test(), &unique_ifname());
        let db = Daemon::start(&b, Path::new(WIREGUARD_GO), &unique_ifname());
        let (ka, kb, psk) = (Keys::generate(), Keys::generate(), genpsk());
        let t = Tunnel {
            da,
            db,
            a,
            b,
            veth,
            ka,
            kb,
            psk,
            v6_underlay,
        };
        t.configure_a();
        t.configure_b();
        t
    }

    fn underlay(&self, side_a: bool) -> String {
        match (self.v6_underlay, side_a) {
            (false, true) => self.veth.a4.to_string(),
            (false, false) => self.veth.b4.to_string(),
            (true, true) => format!("[{}]", self.veth.a6),
            (true, false) => format!("[{}]", self.veth.b6),
        }
    }

    fn configure_a(&self) {
        let c = SideConf {
            keys: &self.ka,
            port: A_PORT,
            peer: &self.kb.public,
            psk: &self.psk,
            endpoint: Some(format!("{}:{B_PORT}", self.underlay(false))),
            allowed_ips: "10.77.0.2/32,fd77::2/128",
            addrs: ["10.77.0.1/24", "fd77::1/64"],
        };
        configure(&self.a, &self.da.ifname, &c);
    }

    fn configure_b(&self) {
        let c = SideConf {
            keys: &self.kb,
            port: B_PORT,
            peer: &self.ka.public,
            psk: &self.psk,
            endpoint: Some(format!("{}:{A_PORT}", self.underlay(true))),
            allowed_ips: "10.77.0.1/32,fd77::1/128",
            addrs: ["10.77.0.2/24", "fd77::2/64"],
        };
        configure(&self.b, &self.db.ifname, &c);
    }

    /// Pings over inner IPv4 and IPv6, A to B first (A initiates the handshake), then B to A.
    fn ping_all(&self) {
        assert_ping(&self.a, B4);
        assert_ping(&self.a, B6);
        assert_ping(&self.b, A4);
        assert_ping(&self.b, A6);
    }

    /// What `wg show IF endpoints` says on side A (`a`) or B about its one peer.
    fn endpoint_seen_by(&self, side_a: bool) -> String {
        let (ns, d) = if side_a {
            (&self.a, &self.da)
        } else {
            (&self.b, &self.db)
        };
        let out = ns.wg(&["show", &d.ifname, "endpoints"]).ok().stdout;
        out.split('\t').nth(1).unwrap_or("").trim().to_string()
    }
}

fn assert_ping(ns: &Netns, dst: &str) {
    let r = ns.ping(dst);
    assert!(r.success(), "ping {dst} from {}:\n{r}", ns.name);
}

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

/// Sends TRANSFER bytes from /dev/urandom over TCP from `from` to `to_addr` (an inner address
/// of `to`) and checks the receiver's byte count and SHA-256 against the sender's.
fn tcp_transfer(from: &Netns, to: &Netns, to_addr: &str, port: u16) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let receiver = to.spawn_in(move || {
        let listener = TcpListener::bind(("::", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        ready_tx.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut conn = loop {
            match listener.accept() {
                Ok((c, _)) => break c,
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("no connection on port {port}: {e}"),
            }
        };
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(150);
        let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
        let (mut buf, mut total) = (vec![0u8; 1 << 16], 0u64);
        loop {
            let n = conn.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            total += n as u64;
            assert!(Instant::now() < deadline, "receiving took too long");
        }
        (total, hash.finish().as_ref().to_vec())
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let dst = SocketAddr::new(to_addr.parse::<IpAddr>().unwrap(), port);
    let sender = from.spawn_in(move || {
        let mut conn = TcpStream::connect_timeout(&dst, Duration::from_secs(10)).unwrap();
        conn.set_write_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut random = std::fs::File::open("/dev/urandom").unwrap();
        let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buf = vec![0u8; 1 << 16];
        for _ in 0..TRANSFER / buf.len() as u64 {
            random.read_exact(&mut buf).unwrap();
            hash.update(&buf);
            conn.write_all(&buf).unwrap();
        }
        conn.shutdown(Shutdown::Write).unwrap();
        hash.finish().as_ref().to_vec()
    });
    let started = Instant::now();
    let sent = sender.join().expect("sender failed");
    let (received, got) = receiver.join().expect("receiver failed");
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} -> {to_addr}: {received} bytes in {secs:.1} s",
        from.name
    );
    assert_eq!(received, TRANSFER, "byte count at {to_addr}");
    assert_eq!(hex(&got), hex(&sent), "sha256 of the stream at {to_addr}");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn tcp_256_mib_each_way_with_matching_sha256() {
    if skip_unless_root(&[]) {
        return;
    }
    let t = Tunnel::new(false);
    tcp_transfer(&t.a, &t.b, B4, 5001);
    tcp_transfer(&t.b, &t.a, A6, 5002);
    assert!(t.da.alive() && t.db.alive());
}

/// `wg show IF dump` with peer lines sorted and the one live counter (tx bytes: a keepalive
/// peer sends handshake initiations into the void at its own pace) masked.
fn normalize_dump(dump: &str) -> String {
    let mut lines = dump.lines();
    let iface = lines.next().unwrap_or("").to_string();
    let mut peers: Vec<String> = lines
        .map(|l| {
            let mut f: Vec<&str> = l.split('\t').collect();
            if f.len() == 8 {
                f[6] = "(tx)";
            }
            f.join("\t")
        })
        .collect();
    peers.sort();
    format!("{iface}\n{}\n", peers.join("\n"))
}

/// `wg showconf IF` with the [Peer] blocks sorted.
fn normalize_showconf(conf: &str) -> String {
    let mut blocks: Vec<&str> = conf.trim_end().split("\n\n").collect();
    blocks[1..].sort();
    blocks.join("\n\n")
}

/// A UAPI `get=1` answer with the peer blocks sorted and `tx_bytes` masked (see normalize_dump).
fn normalize_get(get: &str) -> String {
    let (body, errno) = get.rsplit_once("errno=").unwrap_or((get, ""));
    let mut blocks: Vec<String> = body.split("public_key=").map(str::to_string).collect();
    for b in &mut blocks {
        let lines: Vec<&str> = b.split_inclusive('\n').collect();
        *b = lines
            .iter()
            .map(|l| {
                if l.starts_with("tx_bytes=") {
                    "tx_bytes=(tx)\n"
                } else {
                    l
                }
            })
            .collect();
    }
    blocks[1..].sort();
    format!("{}errno={errno}", blocks.join("public_key="))
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
    let (a, b) = (Netns::new("quick-a"), Netns::new("quick-b"));
    let veth = veth_pair(&a, &b, UNDERLAY_V4, UNDERLAY_V6);
    let (ka, kb, psk) = (Keys::generate(), Keys::generate(), genpsk());
    let db = Daemon::start(&b, Path::new(WIREGUARD_GO), &unique_ifname());
    let side_b = SideConf {
        keys: &kb,
        port: B_PORT,
        peer: &ka.public,
        psk: &psk,
        endpoint: Some(format!("{}:{A_PORT}", veth.a4)),
        allowed_ips: "10.77.0.1/32,fd77::1/128",
        addrs: ["10.77.0.2/24", "fd77::2/64"],
    };
    configure(&b, &db.ifname, &side_b);
    // Addresses only B has: reachable from A only through a full tunnel.
    b.ip(&["addr", "add", "192.0.2.77/32", "dev", "lo"]).ok();
    b.ip(&["-6", "addr", "add", "2001:db8::77/128", "dev", "lo"])
        .ok();

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
    assert!(t.db.alive());
}

/// Moves the IPv4 underlay address of one end of the veth, then re-sets the daemon's listen
/// port to the same value. That rebind is what a roaming client does on a network change, and
/// wireguard-go 0.0.20220316 needs it: it keeps a sticky source address per peer and drops it
/// only when sending fails with EINVAL, while a vanished source address fails with ENETUNREACH.
fn move_address(ns: &Netns, dev: &str, from: &str, to: &str, ifname: &str, port: u16) {
    ns.ip(&["addr", "del", &format!("{from}/24"), "dev", dev])
        .ok();
    ns.ip(&["addr", "add", &format!("{to}/24"), "dev", dev])
        .ok();
    ns.wg(&["set", ifname, "listen-port", &port.to_string()])
        .ok();
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
    let seed: u64 = match std::env::var("WGRS_FUZZ_SEED") {
        Ok(s) => s.parse().unwrap(),
        Err(_) => StdRng::from_entropy().gen(),
    };
    eprintln!("random datagrams: WGRS_FUZZ_SEED={seed}");
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
