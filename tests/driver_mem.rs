//! The whole daemon (driver threads, UAPI server, pure core) on in-memory TUN and UDP, without
//! root: two daemons configured through their real UAPI sockets exchange packets, answer
//! `get` with live state, refuse bad `set` requests without change, and stop when their TUN
//! is deleted.
#![allow(clippy::unwrap_used)]

mod common;
use common::sim::ipv4;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wgrs::driver::{self, Shared, StopReason};
use wgrs::platform::{Bind, MemNetwork, MemTun, MemTunHandle};
use wgrs::proto::device::Device;
use wgrs::proto::keys::{PresharedKey, PrivateKey};

struct Node {
    sh: Arc<Shared>,
    tun: MemTunHandle,
    sock: PathBuf,
}

fn tmpdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "wgrs-drv-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn node(net: &MemNetwork, ip: [u8; 4], dir: &std::path::Path, name: &str, seed: u64) -> Node {
    let ip = IpAddr::from(ip);
    let (tun, handle) = MemTun::new(name, 1420);
    let bind = net.bind(&[ip], 0).unwrap();
    let n2 = net.clone();
    let factory: driver::shared::BindFactory =
        Box::new(move |port| Ok(Arc::new(n2.bind(&[ip], port)?) as Arc<dyn Bind>));
    let dev = Device::new(Box::new(StdRng::seed_from_u64(seed)));
    let sh = Shared::new(dev, Arc::new(tun), Arc::new(bind), factory);
    let sock = dir.join(format!("{name}.sock"));
    driver::start(&sh, UnixListener::bind(&sock).unwrap()).unwrap();
    Node {
        sh,
        tun: handle,
        sock,
    }
}

/// One UAPI exchange: send `req`, read the answer up to its blank line.
fn uapi(n: &Node, req: &str) -> String {
    let mut s = UnixStream::connect(&n.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut out = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 || line == "\n" {
            return out;
        }
        out.push_str(&line);
    }
}

fn get(n: &Node) -> String {
    uapi(n, "get=1\n\n")
}

fn pair() -> (Node, Node, PathBuf) {
    let dir = tmpdir();
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
