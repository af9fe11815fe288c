//! End to end against Debian's wireguard-go in network namespaces (DESIGN.md §3 tiers 3–4, §5):
//! side A runs the implementation under test (the wgrs binary, or `$WGRS_UNDER_TEST`, e.g.
//! `/usr/bin/wireguard-go` to validate the harness), side B runs `/usr/bin/wireguard-go`; a veth
//! pair is the underlay; `wg`, `wg-quick`, `ping`, TCP and raw UAPI are what a user would use.
//! Needs root; skips with a message otherwise.

#![allow(clippy::unwrap_used)] // a panic is the failure report
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
    let conf = format!("[Interface]\nPrivateKey = {}\nListenPort = {}\n", c.keys.private, c.port);
    ns.wg_setconf(ifname, &conf).ok();
    let dir = TempDir::new("psk");
    let psk = dir.file("psk", &format!("{}\n", c.psk));
    let mut set = vec!["set", ifname, "peer", c.peer, "preshared-key", psk.to_str().unwrap()];
    set.extend(["allowed-ips", c.allowed_ips]);
    if let Some(e) = &c.endpoint {
        set.extend(["endpoint", e]);
    }
    ns.wg(&set).ok();
    ns.ip(&["addr", "add", c.addrs[0], "dev", ifname]).ok();
    ns.ip(&["-6", "addr", "add", c.addrs[1], "dev", ifname, "nodad"]).ok();
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
        let t = Tunnel { da, db, a, b, veth, ka, kb, psk, v6_underlay };
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
        let (ns, d) = if side_a { (&self.a, &self.da) } else { (&self.b, &self.db) };
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
    assert_eq!(t.endpoint_seen_by(false), format!("{}:{A_PORT}", t.underlay(true)));
    assert_eq!(t.endpoint_seen_by(true), format!("{}:{B_PORT}", t.underlay(false)));
    let hs = t.a.wg(&["show", &t.da.ifname, "latest-handshakes"]).ok().stdout;
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
        conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
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
        conn.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
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
    eprintln!("{} -> {to_addr}: {received} bytes in {secs:.1} s", from.name);
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
