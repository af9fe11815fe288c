//! The whole daemon (driver threads, UAPI server, pure core) on in-memory TUN and UDP, without
//! root: two daemons configured through their real UAPI sockets exchange packets, answer
//! `get` with live state, refuse bad `set` requests without change, and stop when their TUN
//! is deleted; bursts under two sessions, sealed and opened by a crypto pool, arrive complete
//! and in order, a forged datagram among them dropped alone.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;
use common::mem_daemon::{node, uapi, Node};
use common::sim::ipv4;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::IpAddr;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wgrs::driver::{self, Shared, StopReason};
use wgrs::platform::{Bind, MemNetwork, MemTun};
use wgrs::proto::device::Device;
use wgrs::proto::keys::{PresharedKey, PrivateKey};

fn get(n: &Node) -> String {
    uapi(n, "get=1\n\n")
}

fn pair() -> (Node, Node, PathBuf) {
    let dir = common::mem_daemon::tmpdir("drv");
    let net = MemNetwork::new();
    let a = node(&net, [192, 0, 2, 1], &dir, "mema", 1);
    let b = node(&net, [192, 0, 2, 2], &dir, "memb", 2);
    let (ka, kb) = (
        PrivateKey::from_bytes([11; 32]),
        PrivateKey::from_bytes([22; 32]),
    );
    let psk = PresharedKey::from_bytes([33; 32]).to_hex();
    let psk = psk.as_str();
    let set_a = format!(
        "set=1\nprivate_key={}\nlisten_port=51820\npublic_key={}\npreshared_key={psk}\nendpoint=192.0.2.2:51821\nallowed_ip=10.0.0.2/32\n\n",
        ka.to_hex().as_str(),
        kb.public_key().to_hex()
    );
    let set_b = format!(
        "set=1\nprivate_key={}\nlisten_port=51821\npublic_key={}\npreshared_key={psk}\nallowed_ip=10.0.0.1/32\n\n",
        kb.to_hex().as_str(),
        ka.public_key().to_hex()
    );
    assert_eq!(uapi(&a, &set_a), "errno=0\n");
    assert_eq!(uapi(&b, &set_b), "errno=0\n");
    (a, b, dir)
}

fn recv(n: &Node, count: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    while got.len() < count {
        let batch = n
            .tun
            .collect(count - got.len(), Some(Duration::from_secs(5)))
            .unwrap();
        assert!(
            !batch.is_empty(),
            "timed out after {} of {count} packets",
            got.len()
        );
        got.extend(batch);
    }
    got
}

#[test]
fn two_daemons_exchange_packets_configured_over_uapi() {
    let (a, b, dir) = pair();
    let hello = ipv4([10, 0, 0, 1], [10, 0, 0, 2], b"hello through the daemon");
    assert!(a.tun.inject(&hello));
    assert_eq!(recv(&b, 1), vec![hello]);
    let mut rng = StdRng::seed_from_u64(9);
    let packets: Vec<Vec<u8>> = (0..300u32)
        .map(|i| {
            ipv4(
                [10, 0, 0, 2],
                [10, 0, 0, 1],
                &vec![i as u8; rng.gen_range(0..1400)],
            )
        })
        .collect();
    for p in &packets {
        assert!(b.tun.inject(p));
        if rng.gen_bool(0.2) {
            std::thread::yield_now();
        }
    }
    assert_eq!(
        recv(&a, packets.len()),
        packets,
        "all 300 arrive intact and in order"
    );

    let state = get(&a);
    assert!(
        state.starts_with(&format!(
            "private_key={}\nlisten_port=51820\n",
            PrivateKey::from_bytes([11; 32]).to_hex().as_str()
        )),
        "{state}"
    );
    assert!(state.contains("endpoint=192.0.2.2:51821\n"), "{state}");
    assert!(state.contains("allowed_ip=10.0.0.2/32\n"), "{state}");
    assert!(
        !state.contains("last_handshake_time_sec=0\n"),
        "a handshake happened: {state}"
    );
    assert!(state.ends_with("errno=0\n"), "{state}");
    let b_state = get(&b);
    assert!(
        b_state.contains("endpoint=192.0.2.1:51820\n"),
        "b learned a's endpoint: {b_state}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn refused_set_changes_nothing_and_tun_deletion_stops_the_daemon() {
    let (a, b, dir) = pair();
    let before = get(&a);
    for bad in [
        "set=1\nlisten_port=1\nbogus_key=1\n\n",
        "set=1\npublic_key=zz\n\n",
        "set=1\nreplace_peers=true\npublic_key=0000000000000000000000000000000000000000000000000000000000000001\nallowed_ip=10.0.0.0/33\n\n",
        "set=1\nfwmark=7\npublic_key=0000000000000000000000000000000000000000000000000000000000000001\nendpoint=nohost:1\n\n",
    ] {
        assert_eq!(uapi(&a, bad), "errno=-22\n", "{bad:?}");
    }
    assert_eq!(
        get(&a),
        before,
        "a refused set leaves the device exactly as it was"
    );
    let long = format!("set=1\nprivate_key={}\n\n", "a".repeat(1 << 20));
    assert_eq!(uapi(&a, &long), "errno=-5\n");
    assert_eq!(get(&a), before);

    a.tun.delete();
    let (tx, rx) = std::sync::mpsc::channel();
    let sh = Arc::clone(&a.sh);
    std::thread::spawn(move || tx.send(sh.stop.wait()).unwrap());
    let reason = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("daemon noticed the TUN deletion");
    assert!(matches!(reason, StopReason::TunGone(_)), "{reason:?}");
    drop(b);
    let _ = std::fs::remove_dir_all(dir);
}

#[path = "driver_mem/gates.rs"]
mod gates;
use gates::{BurstTun, Gate, GateBind, GatePlan};
use wgrs::driver::pool::CryptoPool;
use wgrs::platform::Tun;

/// A server daemon with a pool of three crypto threads, whose TUN and UDP reads come in bursts.
struct Server {
    node: Node,
    burst: Arc<BurstTun>,
    gate: Arc<Gate>,
}

fn server(net: &MemNetwork, dir: &std::path::Path) -> Server {
    let ip = IpAddr::from([192, 0, 2, 3]);
    let (tun, handle) = MemTun::new("memc", 1420);
    let burst = BurstTun::new(tun);
    let gate = Arc::new(Gate::default());
    let (n2, g2) = (net.clone(), Arc::clone(&gate));
    let factory: driver::shared::BindFactory = Box::new(move |port| {
        let inner = n2.bind(&[ip], port)?;
        Ok(Arc::new(GateBind::new(inner, Arc::clone(&g2))) as Arc<dyn Bind>)
    });
    let bind = factory(0).unwrap();
    let dev = Device::new(Box::new(StdRng::seed_from_u64(3)));
    let tun = Arc::clone(&burst) as Arc<dyn Tun>;
    let sh = Shared::with_crypto(dev, tun, bind, factory, CryptoPool::new(3));
    let sock = dir.join("memc.sock");
    driver::start(&sh, UnixListener::bind(&sock).unwrap()).unwrap();
    let node = Node {
        sh,
        tun: handle,
        sock,
    };
    Server { node, burst, gate }
}

/// Packet `i` of a burst from `src` to `dst`: 1,300 bytes that say who sent it and its place.
fn numbered(src: [u8; 4], dst: [u8; 4], i: usize) -> Vec<u8> {
    let mut payload = vec![src[3]; 1300];
    payload[..8].copy_from_slice(&(i as u64).to_le_bytes());
    ipv4(src, dst, &payload)
}

#[test]
fn bursts_through_a_crypto_pool_arrive_complete_and_in_order() {
    let dir = common::mem_daemon::tmpdir("drv");
    let net = MemNetwork::new();
    let c = server(&net, &dir);
    let a = node(&net, [192, 0, 2, 1], &dir, "mema", 1);
    let b = node(&net, [192, 0, 2, 2], &dir, "memb", 2);
    let keys: Vec<PrivateKey> = (1..=3)
        .map(|k| PrivateKey::from_bytes([k * 11; 32]))
        .collect();
    let (ka, kb, kc) = (&keys[0], &keys[1], &keys[2]);
    let client = |own: &PrivateKey, port: u16| {
        format!(
            "set=1\nprivate_key={}\nlisten_port={port}\npublic_key={}\nendpoint=192.0.2.3:51830\nallowed_ip=10.0.0.3/32\n\n",
            own.to_hex().as_str(),
            kc.public_key().to_hex()
        )
    };
    assert_eq!(uapi(&a, &client(ka, 51820)), "errno=0\n");
    assert_eq!(uapi(&b, &client(kb, 51821)), "errno=0\n");
    let set_c = format!(
        "set=1\nprivate_key={}\nlisten_port=51830\npublic_key={}\nendpoint=192.0.2.1:51820\nallowed_ip=10.0.0.1/32\npublic_key={}\nendpoint=192.0.2.2:51821\nallowed_ip=10.0.0.2/32\n\n",
        kc.to_hex().as_str(),
        ka.public_key().to_hex(),
        kb.public_key().to_hex()
    );
    assert_eq!(uapi(&c.node, &set_c), "errno=0\n");
    let (ipa, ipb, ipc) = ([10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 3]);
    // Sessions first: each client greets the server, which answers.
    for (n, ip) in [(&a, ipa), (&b, ipb)] {
        let hello = numbered(ip, ipc, 0);
        assert!(n.tun.inject(&hello));
        assert_eq!(recv(&c.node, 1), vec![hello]);
        let back = numbered(ipc, ip, 0);
        assert!(c.node.tun.inject(&back));
        assert_eq!(recv(n, 1), vec![back]);
    }

    // Outbound: one TUN read of 210 packets, to a and b in turns of 5 and 7, sealed by the
    // pool (uneven turns: a chunk never spans a whole number of turns).
    c.burst.hold(210);
    let out: Vec<Vec<u8>> = (0..210)
        .map(|i| numbered(ipc, if i % 12 < 5 { ipa } else { ipb }, i))
        .collect();
    for p in &out {
        assert!(c.node.tun.inject(p));
    }
    let to =
        |ip: [u8; 4]| -> Vec<Vec<u8>> { out.iter().filter(|p| p[16..20] == ip).cloned().collect() };
    assert_eq!(recv(&a, 90), to(ipa), "a gets its 90, in order");
    assert_eq!(recv(&b, 120), to(ipb), "b gets its 120, in order");

    // Inbound: 40 from each client, released to the server as one burst in turns of 6, the
    // 21st datagram forged: it alone is dropped, the others are opened by the pool in order.
    c.gate.arm(GatePlan {
        want: 80,
        block: 6,
        forge: Some(20),
    });
    let sent_a: Vec<Vec<u8>> = (1..=40).map(|i| numbered(ipa, ipc, i)).collect();
    let sent_b: Vec<Vec<u8>> = (1..=40).map(|i| numbered(ipb, ipc, i)).collect();
    for (pa, pb) in sent_a.iter().zip(&sent_b) {
        assert!(a.tun.inject(pa));
        assert!(b.tun.inject(pb));
    }
    let got = recv(&c.node, 79);
    let (forged_src, forged_nth) = c.gate.forged().expect("the gate forged a datagram");
    assert_eq!(
        forged_src.ip(),
        IpAddr::from([192, 0, 2, 2]),
        "turns: a 0-5, b 6-11, ..."
    );
    assert_eq!(forged_nth, 8, "the 21st datagram is b's 9th");
    let mut want_b = sent_b.clone();
    want_b.remove(forged_nth);
    let from =
        |ip: [u8; 4]| -> Vec<Vec<u8>> { got.iter().filter(|p| p[12..16] == ip).cloned().collect() };
    assert_eq!(from(ipa), sent_a, "all of a's, in order");
    assert_eq!(from(ipb), want_b, "b's but the forged one, in order");
    assert!(
        c.node
            .tun
            .collect(1, Some(Duration::from_millis(200)))
            .unwrap()
            .is_empty(),
        "nothing else arrives"
    );
    let _ = std::fs::remove_dir_all(dir);
}
