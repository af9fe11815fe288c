//! The daemon under a flood of handshake initiations with a valid mac1 from unknown keys, on
//! in-memory TUN and UDP (no root): the flooding address earns cookie replies, and a new client
//! on another address completes its first handshake at once instead of after a cookie round
//! trip (REKEY_TIMEOUT, 5 s) or a dropped initiation (issue 13, item 2).
#![allow(clippy::unwrap_used)]

mod common;
use common::mem_daemon::{node, tmpdir, uapi};
use common::sim::ipv4;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use wgrs::platform::udp::MAX_RECV_LEN;
use wgrs::platform::{Bind, MemNetwork, Outgoing, PacketBuf, RecvMeta};
use wgrs::proto::constants::{MESSAGE_INITIATION, MESSAGE_INITIATION_SIZE};
use wgrs::proto::cookie::CookieGenerator;
use wgrs::proto::keys::PrivateKey;

/// `count` initiations from random unknown keys, each with a valid mac1 for `server`.
fn flood(server: &PrivateKey, count: usize) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(0xf100d);
    let mut gen = CookieGenerator::new(&server.public_key());
    (0..count)
        .map(|_| {
            let mut m = vec![0u8; MESSAGE_INITIATION_SIZE];
            rng.fill_bytes(&mut m);
            m[..4].copy_from_slice(&[MESSAGE_INITIATION, 0, 0, 0]);
            gen.add_macs(&mut m, Duration::from_secs(1));
            m
        })
        .collect()
}

/// Datagrams of type 3 (cookie replies) waiting at `bind`.
fn cookie_replies(bind: &dyn Bind) -> usize {
    let mut bufs: Vec<PacketBuf> = (0..32).map(|_| PacketBuf::new(0, MAX_RECV_LEN)).collect();
    let mut meta = vec![RecvMeta::default(); 32];
    let mut replies = 0;
    loop {
        let n = bind
            .recv_batch(&mut bufs, &mut meta, Some(Duration::from_millis(200)))
            .unwrap_or(0);
        if n == 0 {
            return replies;
        }
        for (b, m) in bufs.iter().zip(&meta).take(n) {
            let d = &b.packet()[..m.len];
            if d.len() == 64 && d[0] == 3 {
                replies += 1;
            }
        }
    }
}

#[test]
fn a_new_client_completes_its_handshake_at_once_during_a_valid_mac1_flood() {
    let dir = tmpdir("gate");
    let net = MemNetwork::new();
    let server = node(&net, [192, 0, 2, 1], &dir, "gates", 1);
    let client = node(&net, [192, 0, 2, 2], &dir, "gatec", 2);
    let (ks, kc) = (
        PrivateKey::from_bytes([41; 32]),
        PrivateKey::from_bytes([42; 32]),
    );
    let set_s = format!(
        "set=1\nprivate_key={}\nlisten_port=51820\npublic_key={}\nallowed_ip=10.9.0.2/32\n\n",
        ks.to_hex().as_str(),
        kc.public_key().to_hex()
    );
    let set_c = format!(
        "set=1\nprivate_key={}\npublic_key={}\nendpoint=192.0.2.1:51820\nallowed_ip=10.9.0.1/32\n\n",
        kc.to_hex().as_str(),
        ks.public_key().to_hex()
    );
    assert_eq!(uapi(&server, &set_s), "errno=0\n");
    assert_eq!(uapi(&client, &set_c), "errno=0\n");

    // 3,000 initiations land in the server's socket at once, from one address: three times
    // the handshake queue, each worth an X25519 if it were processed.
    let flooder = net.bind(&[IpAddr::from([198, 51, 100, 9])], 0).unwrap();
    let to: SocketAddr = "192.0.2.1:51820".parse().unwrap();
    let msgs = flood(&ks, 3_000);
    for chunk in msgs.chunks(64) {
        let out: Vec<Outgoing<'_>> = chunk.iter().map(|m| Outgoing::one(to, m)).collect();
        flooder.send_batch(&out).unwrap();
    }

    #[allow(clippy::disallowed_methods)] // the test's own stopwatch, not the core's clock
    let t0 = Instant::now();
    let hello = ipv4(
        [10, 9, 0, 2],
        [10, 9, 0, 1],
        b"first packet of a new client",
    );
    assert!(client.tun.inject(&hello));
    let got = server.tun.collect(1, Some(Duration::from_secs(3))).unwrap();
    let took = t0.elapsed();
    assert_eq!(
        got,
        vec![hello],
        "the new client's first packet arrives within 3 s (took {took:?}): its first \
         initiation was answered, not refused with a cookie or dropped at a full queue"
    );
    // Beyond its budget of 5 the flood earns cookie replies (written by the control thread),
    // and only its share of those: about REPLIES_BURST (refilled at 1 a millisecond), not one
    // per packet.
    let replies = cookie_replies(&flooder);
    let burst = wgrs::proto::gate::REPLIES_BURST as usize;
    assert!(
        (burst..=burst + 200).contains(&replies),
        "the flooding address got {replies} cookie replies for 3,000 initiations, \
         instead of X25519 work or a reply each"
    );
    let _ = std::fs::remove_dir_all(dir);
}
