//! A two-sided tunnel fixture for namespace tests (ARCHITECTURE.md tiers 3–4): side A runs the
//! implementation under test, side B Debian's wireguard-go, peers over a veth pair; plus ping,
//! TCP-with-checksum and `wg` output normalisation helpers.

// Test support: a panic is the failure report. Waiting for a TCP connection polls with short
// sleeps; transfers have deadlines.
#![allow(dead_code, clippy::unwrap_used, clippy::disallowed_methods)]

use super::netns::*;
use super::wg_daemon::*;
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Inner (tunnel) addresses of side A and side B.
pub const A4: &str = "10.77.0.1";
pub const B4: &str = "10.77.0.2";
pub const A6: &str = "fd77::1";
pub const B6: &str = "fd77::2";
/// Listen ports of side A and side B.
pub const A_PORT: u16 = 51820;
pub const B_PORT: u16 = 51821;

/// How one side configures its interface: keys, port, its peer, and its inner addresses.
pub struct SideConf<'a> {
    pub keys: &'a Keys,
    pub port: u16,
    pub peer: &'a str,
    /// Preshared key (base64); empty: none.
    pub psk: &'a str,
    pub endpoint: Option<String>,
    pub allowed_ips: &'a str,
    pub addrs: [&'a str; 2],
}

/// `wg setconf` for the interface, `wg set … peer` for the peer (preshared key from a file, as
/// `wg` wants it), then inner addresses and link up with `ip`.
pub fn configure(ns: &Netns, ifname: &str, c: &SideConf) {
    let conf = format!(
        "[Interface]\nPrivateKey = {}\nListenPort = {}\n",
        c.keys.private, c.port
    );
    ns.wg_setconf(ifname, &conf).ok();
    let dir = TempDir::new("psk");
    let psk = dir.file("psk", &format!("{}\n", c.psk));
    let mut set = vec!["set", ifname, "peer", c.peer];
    if !c.psk.is_empty() {
        set.extend(["preshared-key", psk.to_str().unwrap()]);
    }
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
pub struct Tunnel {
    pub da: Daemon,
    pub db: Daemon,
    pub a: Netns,
    pub b: Netns,
    pub veth: Veth,
    pub ka: Keys,
    pub kb: Keys,
    pub psk: String,
    pub v6_underlay: bool,
}

impl Tunnel {
    /// Side B is Debian's wireguard-go; the peers share a preshared key.
    pub fn new(v6_underlay: bool) -> Tunnel {
        Tunnel::with_b(v6_underlay, true, |ns, ifname| {
            Daemon::start(ns, Path::new(WIREGUARD_GO), ifname)
        })
    }

    /// Side B is whatever `start_b(namespace, ifname)` starts there (another real peer);
    /// `psk`: whether the peers share a preshared key.
    pub fn with_b(
        v6_underlay: bool,
        psk: bool,
        start_b: impl FnOnce(&Netns, &str) -> Daemon,
    ) -> Tunnel {
        let (a, b) = (Netns::new("a"), Netns::new("b"));
        let veth = veth_pair(&a, &b, UNDERLAY_V4, UNDERLAY_V6);
        let da = Daemon::start(&a, &under_test(), &unique_ifname());
        let db = start_b(&b, &unique_ifname());
        let psk = if psk { genpsk() } else { String::new() };
        let (ka, kb) = (Keys::generate(), Keys::generate());
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

    pub fn underlay(&self, side_a: bool) -> String {
        match (self.v6_underlay, side_a) {
            (false, true) => self.veth.a4.to_string(),
            (false, false) => self.veth.b4.to_string(),
            (true, true) => format!("[{}]", self.veth.a6),
            (true, false) => format!("[{}]", self.veth.b6),
        }
    }

    pub fn configure_a(&self) {
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

    pub fn configure_b(&self) {
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

    /// Pings over inner IPv4 and IPv6, A to B first (A initiates the handshake; see `wait_up`),
    /// then B to A.
    pub fn ping_all(&self) {
        self.wait_up();
        assert_ping(&self.a, B4);
        assert_ping(&self.a, B6);
        assert_ping(&self.b, A4);
        assert_ping(&self.b, A6);
    }

    /// Wait (at most 30 s) until a ping from A to B gets through. The first handshake can take
    /// several REKEY_TIMEOUT rounds: CI once saw initiations from both sides cross twice (each
    /// side's pending initiation is replaced when it answers the other's, as in the kernel and
    /// wireguard-go), which outlasted a 10 s TCP connect. Tests about bulk data wait here first;
    /// tests about the handshake itself do not.
    pub fn wait_up(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.a.exec_for(5, &["ping", "-c", "1", "-W", "1", B4]);
            if r.success() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no ping through the tunnel within 30 s:\n{r}"
            );
        }
    }

    /// What `wg show IF endpoints` says on side A (`a`) or B about its one peer.
    pub fn endpoint_seen_by(&self, side_a: bool) -> String {
        let (ns, d) = if side_a {
            (&self.a, &self.da)
        } else {
            (&self.b, &self.db)
        };
        let out = ns.wg(&["show", &d.ifname, "endpoints"]).ok().stdout;
        out.split('\t').nth(1).unwrap_or("").trim().to_string()
    }
}

pub fn assert_ping(ns: &Netns, dst: &str) {
    let r = ns.ping(dst);
    assert!(r.success(), "ping {dst} from {}:\n{r}", ns.name);
}

/// Sends `bytes` bytes from /dev/urandom over TCP from `from` to `to_addr` (an inner address
/// of `to`) and checks the receiver's byte count and SHA-256 against the sender's.
pub fn tcp_transfer(from: &Netns, to: &Netns, to_addr: &str, port: u16, bytes: u64) {
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
        for _ in 0..bytes / buf.len() as u64 {
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
    assert_eq!(received, bytes, "byte count at {to_addr}");
    assert_eq!(hex(&got), hex(&sent), "sha256 of the stream at {to_addr}");
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `wg show IF dump` with peer lines sorted and the one live counter (tx bytes: a keepalive
/// peer sends handshake initiations into the void at its own pace) masked.
pub fn normalize_dump(dump: &str) -> String {
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
pub fn normalize_showconf(conf: &str) -> String {
    let mut blocks: Vec<&str> = conf.trim_end().split("\n\n").collect();
    blocks[1..].sort();
    blocks.join("\n\n")
}

/// A UAPI `get=1` answer with the peer blocks sorted and `tx_bytes` masked (see normalize_dump).
pub fn normalize_get(get: &str) -> String {
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

/// Moves the IPv4 underlay address of one end of the veth, then re-sets the daemon's listen
/// port to the same value. That rebind is what a roaming client does on a network change, and
/// wireguard-go 0.0.20220316 needs it: it keeps a sticky source address per peer and drops it
/// only when sending fails with EINVAL, while a vanished source address fails with ENETUNREACH.
pub fn move_address(ns: &Netns, dev: &str, from: &str, to: &str, ifname: &str, port: u16) {
    ns.ip(&["addr", "del", &format!("{from}/24"), "dev", dev])
        .ok();
    ns.ip(&["addr", "add", &format!("{to}/24"), "dev", dev])
        .ok();
    ns.wg(&["set", ifname, "listen-port", &port.to_string()])
        .ok();
}

/// Two namespaces over a veth, with Debian's wireguard-go as side B (10.77.0.2, fd77::2)
/// already configured for a peer A (10.77.0.1, fd77::1) listening at `A_PORT`; B's `lo` also
/// holds 192.0.2.77 and 2001:db8::77, reachable from A only through a full tunnel.
pub struct WireguardGoPeer {
    pub a: Netns,
    pub b: Netns,
    pub veth: Veth,
    pub ka: super::wg_daemon::Keys,
    pub kb: super::wg_daemon::Keys,
    pub psk: String,
    pub db: super::wg_daemon::Daemon,
}

impl WireguardGoPeer {
    pub fn new(tag: &str) -> WireguardGoPeer {
        use super::wg_daemon::{genpsk, Daemon, Keys};
        let (a, b) = (
            Netns::new(&format!("{tag}-a")),
            Netns::new(&format!("{tag}-b")),
        );
        let veth = veth_pair(&a, &b, UNDERLAY_V4, UNDERLAY_V6);
        let (ka, kb, psk) = (Keys::generate(), Keys::generate(), genpsk());
        let db = Daemon::start(&b, std::path::Path::new(WIREGUARD_GO), &unique_ifname());
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
        b.ip(&["addr", "add", "192.0.2.77/32", "dev", "lo"]).ok();
        b.ip(&["-6", "addr", "add", "2001:db8::77/128", "dev", "lo"])
            .ok();
        WireguardGoPeer {
            a,
            b,
            veth,
            ka,
            kb,
            psk,
            db,
        }
    }
}
