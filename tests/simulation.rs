//! Virtual-clock simulations of wgrs nodes (docs/ARCHITECTURE.md, tier 2) — each the daemon's
//! own batch steps on in-memory TUN and UDP (`tests/common/sim.rs`): handshake, rekey, expiry,
//! keepalives, retries, zeroing, roaming, replay and cryptokey routing. No root, no real time.

mod common;
use common::sim::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wgrs::proto::constants::*;

const INIT: u8 = 1;
const RESP: u8 = 2;
const DATA: u8 = 4;

fn pair() -> (Net, usize, usize) {
    let mut net = Net::new();
    let a = net.add_node(1);
    let b = net.add_node(2);
    net.link(a, b, Some([7; 32]), false);
    (net, a, b)
}

fn a_to_b(tag: &[u8]) -> Vec<u8> {
    ipv4([10, 0, 0, 1], [10, 0, 0, 2], tag)
}

fn b_to_a(tag: &[u8]) -> Vec<u8> {
    ipv4([10, 0, 0, 2], [10, 0, 0, 1], tag)
}

#[test]
fn handshake_then_data_both_ways() {
    let (mut net, a, b) = pair();
    let p = a_to_b(b"hello");
    net.send(a, &p);
    assert_eq!(net.nodes[b].tun_rx, vec![p]);
    let q = b_to_a(b"world");
    net.send(b, &q);
    assert_eq!(net.nodes[a].tun_rx, vec![q]);
    let pa = net.nodes[a].dev.peers().next().unwrap();
    assert!(pa.last_handshake_wall.is_some());
    assert_eq!(count_type(&net.log, net.nodes[a].addr, INIT), 1);
}

/// After a step that read one packet, the next reads once, and, if the TUN was quiet for a
/// while (an idle tunnel), seals and sends that packet before it reads again; otherwise it
/// reads the rest first. Either way a burst that arrives after light traffic leaves in full in
/// one step, in order.
#[test]
fn a_burst_after_light_traffic_leaves_in_one_step_in_order() {
    for quiet in [Duration::ZERO, Duration::from_millis(5)] {
        let (mut net, a, b) = pair();
        net.send(a, &a_to_b(b"hello"));
        net.send(b, &b_to_a(b"back"));
        // One packet alone: the next step starts light.
        net.send(a, &a_to_b(b"alone"));
        assert_eq!(net.nodes[b].tun_rx.len(), 2);
        net.advance(quiet);
        let burst: Vec<Vec<u8>> = (0..5u8).map(|i| a_to_b(&[i; 40])).collect();
        for p in &burst {
            assert!(net.nodes[a].node.tun.inject(p), "TUN queue full");
        }
        let read = net.nodes[a].node.outbound_step();
        assert_eq!(
            read, 5,
            "after {quiet:?} quiet, one step reads the whole burst"
        );
        assert_eq!(net.nodes[a].node.outbound_step(), 0);
        net.run();
        assert_eq!(net.nodes[b].tun_rx[2..], burst[..], "after {quiet:?} quiet");
    }
}

#[test]
fn rekey_after_rekey_after_time_under_traffic_loses_nothing() {
    let (mut net, a, b) = pair();
    let mut sent_ab = Vec::new();
    let mut sent_ba = Vec::new();
    for i in 0..450u32 {
        let p = a_to_b(&i.to_be_bytes());
        net.send(a, &p);
        sent_ab.push(p);
        let q = b_to_a(&i.to_be_bytes());
        net.send(b, &q);
        sent_ba.push(q);
        net.advance(Duration::from_secs(1));
    }
    assert_eq!(
        net.nodes[b].tun_rx, sent_ab,
        "every a->b packet arrived, in order"
    );
    assert_eq!(
        net.nodes[a].tun_rx, sent_ba,
        "every b->a packet arrived, in order"
    );
    let inits = count_type(&net.log, net.nodes[a].addr, INIT)
        + count_type(&net.log, net.nodes[b].addr, INIT);
    // 450 s of traffic: a handshake at start, then one per REKEY_AFTER_TIME (120 s).
    assert!((4..=5).contains(&inits), "{inits} handshakes in 450 s");
}

#[test]
fn no_data_sent_or_accepted_past_reject_after_time() {
    let (mut net, a, b) = pair();
    net.send(a, &a_to_b(b"first"));
    // From now on every handshake message is lost, so the session cannot be renewed.
    net.drop_filter = Some(Box::new(|w| matches!(msg_type(w), INIT | RESP)));
    net.advance(Duration::from_secs(170));
    // A transport message sealed at 170 s but delivered late, after REJECT_AFTER_TIME.
    net.inject(a, &a_to_b(b"late"));
    net.collect();
    let late = net
        .in_flight
        .drain(..)
        .find(|w| msg_type(w) == DATA)
        .expect("sealed at 170 s");
    net.advance(Duration::from_secs(9)); // 179 s: still valid
    net.send(a, &a_to_b(b"at-179"));
    assert_eq!(net.nodes[b].tun_rx.last().unwrap(), &a_to_b(b"at-179"));
    net.advance(Duration::from_secs(2)); // 181 s
    let before = net.log.len();
    net.send(a, &a_to_b(b"at-181"));
    assert!(
        net.log[before..].iter().all(|w| msg_type(w) != DATA),
        "no transport message is sealed on an expired keypair"
    );
    net.nodes[b].record_logs();
    net.deliver(&late);
    net.collect();
    let expired = format!("dropped transport packet from {}: Expired", late.from);
    assert_eq!(net.nodes[b].take_logs(), [expired]);
    assert_eq!(net.nodes[b].tun_rx.len(), 2);
}

#[test]
fn passive_keepalive_after_keepalive_timeout() {
    let (mut net, a, b) = pair();
    net.send(a, &a_to_b(b"ping"));
    let t0 = net.now().mono;
    let b_addr = net.nodes[b].addr;
    net.advance(KEEPALIVE_TIMEOUT - Duration::from_millis(1));
    let ka = |net: &Net| {
        net.log
            .iter()
            .filter(|w| w.from == b_addr && msg_type(w) == DATA && w.bytes.len() == 32)
            .count()
    };
    assert_eq!(ka(&net), 0, "no keepalive before KEEPALIVE_TIMEOUT");
    net.advance(Duration::from_millis(1));
    assert_eq!(
        ka(&net),
        1,
        "b answers a's data with a keepalive exactly at KEEPALIVE_TIMEOUT"
    );
    assert_eq!(net.now().mono - t0, KEEPALIVE_TIMEOUT);
    net.advance(Duration::from_secs(60));
    assert_eq!(ka(&net), 1, "and only one");
}

#[test]
fn handshake_retries_with_jitter_then_gives_up() {
    let (mut net, a, b) = pair();
    let b_addr = net.nodes[b].addr;
    net.drop_filter = Some(Box::new(move |w| w.to == b_addr));
    let times = Rc::new(RefCell::new(Vec::new()));
    let start = net.now().mono;
    net.send(a, &a_to_b(b"lost"));
    times.borrow_mut().push(Duration::ZERO);
    let mut seen = 1;
    for _ in 0..3000 {
        net.advance(Duration::from_millis(50));
        let n = count_type(&net.log, net.nodes[a].addr, INIT);
        if n > seen {
            times.borrow_mut().push(net.now().mono - start);
            seen = n;
        }
    }
    let t = times.borrow();
    // One initiation, then a retry per REKEY_TIMEOUT + jitter until attempts exceed 18.
    assert_eq!(t.len(), 20, "initiations sent: {t:?}");
    for w in t.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= REKEY_TIMEOUT && gap < REKEY_TIMEOUT + Duration::from_millis(400),
            "gap {gap:?}"
        );
    }
    assert!(
        t.iter()
            .map(|d| d.as_millis())
            .collect::<std::collections::HashSet<_>>()
            .len()
            == 20
    );
    let jittered = t
        .windows(2)
        .filter(|w| w[1] - w[0] != REKEY_TIMEOUT)
        .count();
    assert!(jittered > 10, "retries carry jitter");
    assert!(
        *t.last().unwrap() >= REKEY_ATTEMPT_TIME,
        "gave up only after REKEY_ATTEMPT_TIME"
    );
    assert!(
        net.nodes[a].dev.peers().next().unwrap().link.staged_len() == 0,
        "staged packets dropped on give-up"
    );
}

#[test]
fn persistent_keepalive_every_interval() {
    let (mut net, a, b) = pair();
    net.send(a, &a_to_b(b"x"));
    // Let b's passive keepalive (at 10 s) pass so only a's persistent ones remain, and stay
    // clear of the rekey at 120 s (which ends with a keepalive of its own).
    net.advance(Duration::from_secs(11));
    let id = net.nodes[a].dev.peer_id(&net.nodes[b].public).unwrap();
    let now = net.now();
    let before = net.log.len();
    net.nodes[a]
        .dev
        .set_persistent_keepalive(id, 25, now)
        .unwrap();
    net.run();
    let a_addr = net.nodes[a].addr;
    let ka = |net: &Net, from: usize| {
        net.log[from..]
            .iter()
            .filter(|w| w.from == a_addr && msg_type(w) == DATA && w.bytes.len() == 32)
            .count()
    };
    assert_eq!(
        ka(&net, before),
        1,
        "turning it on sends one keepalive at once"
    );
    net.advance(Duration::from_secs(100));
    assert_eq!(ka(&net, before), 5, "then one every 25 s");
}

#[test]
fn key_material_zeroed_540s_after_last_handshake() {
    let (mut net, a, b) = pair();
    net.send(a, &a_to_b(b"x"));
    net.send(b, &b_to_a(b"y"));
    net.advance(REJECT_AFTER_TIME_X3 - Duration::from_secs(1));
    for n in [a, b] {
        let p = net.nodes[n].dev.peers().next().unwrap();
        assert!(!p.keypairs.is_empty(), "keys still held just before 540 s");
    }
    net.advance(Duration::from_secs(1));
    for n in [a, b] {
        let p = net.nodes[n].dev.peers().next().unwrap();
        assert!(p.keypairs.is_empty(), "node {n}: keypairs erased");
        assert!(p.handshake.is_zeroed(), "node {n}: handshake erased");
    }
    assert_eq!(
        net.next_deadline(),
        None,
        "an idle tunnel has no deadline at all"
    );
}

#[test]
fn endpoint_follows_newest_authenticated_packet() {
    let (mut net, a, b) = pair();
    net.send(a, &a_to_b(b"x"));
    let a_old = net.nodes[a].addr;
    let peer_of_a = |net: &Net| net.nodes[b].dev.peers().next().unwrap().endpoint();
    assert_eq!(
        peer_of_a(&net),
        Some(a_old),
        "b learned a's endpoint from the handshake"
    );
    // a moves to a new address and port.
    net.nodes[a].addr = sock(99, 40000);
    net.send(a, &a_to_b(b"from new home"));
    assert_eq!(peer_of_a(&net), Some(sock(99, 40000)));
    net.send(b, &b_to_a(b"reply"));
    assert_eq!(
        net.nodes[a].tun_rx,
        vec![b_to_a(b"reply")],
        "b's reply reached the new address"
    );
    // Forged packets from elsewhere do not move the endpoint: one naming no session, one
    // naming b's current session (it fails to authenticate).
    let current = net.nodes[b].dev.peers().next().unwrap().keypairs.current();
    let index = current.unwrap().local_index;
    for receiver in [0x0403_0201, index] {
        let mut forged = vec![4, 0, 0, 0];
        forged.extend(u32::to_le_bytes(receiver));
        forged.resize(32, 0);
        let to = net.nodes[b].addr;
        net.deliver(&Wire {
            from: sock(66, 1),
            to,
            bytes: forged,
        });
        assert_eq!(peer_of_a(&net), Some(sock(99, 40000)));
    }
    net.collect();
    assert!(net.in_flight.is_empty(), "nothing answers a forgery");
}

#[test]
fn replayed_transport_packets_are_dropped() {
    let (mut net, a, b) = pair();
    net.send(a, &a_to_b(b"once"));
    let data = net
        .log
        .iter()
        .find(|w| msg_type(w) == DATA && w.bytes.len() > 32)
        .unwrap()
        .clone();
    net.nodes[b].record_logs();
    net.deliver(&data);
    net.collect();
    let replayed = format!("dropped a replayed transport packet from {}", data.from);
    assert_eq!(net.nodes[b].take_logs(), [replayed]);
    assert_eq!(
        net.nodes[b].tun_rx,
        vec![a_to_b(b"once")],
        "delivered exactly once"
    );
}

#[test]
fn cryptokey_routing_rejects_spoofed_inner_source() {
    let mut net = Net::new();
    let c = net.add_node(3);
    let wide = net.add_node(1);
    let narrow = net.add_node(2);
    let (c_wide, _) = net.link(c, wide, None, true);
    net.link(c, narrow, None, true);
    // On c: `wide` owns 10.0.0.0/8, `narrow` owns 10.0.0.2/32.
    net.nodes[c]
        .dev
        .add_allowed_ip(c_wide, "10.0.0.0/8".parse().unwrap())
        .unwrap();
    // wide routes 10.0.0.3 (c) and pretends to be 10.0.0.2.
    let spoof = ipv4([10, 0, 0, 2], [10, 0, 0, 3], b"spoof");
    net.send(wide, &spoof);
    assert!(
        net.nodes[c].tun_rx.is_empty(),
        "packet with narrow's source from wide is dropped"
    );
    let honest = ipv4([10, 0, 0, 1], [10, 0, 0, 3], b"honest");
    net.send(wide, &honest);
    let other = ipv4([10, 0, 0, 77], [10, 0, 0, 3], b"in /8");
    net.send(wide, &other);
    assert_eq!(net.nodes[c].tun_rx, vec![honest, other]);
    let from_narrow = ipv4([10, 0, 0, 2], [10, 0, 0, 3], b"real");
    net.send(narrow, &from_narrow);
    assert_eq!(net.nodes[c].tun_rx.last().unwrap(), &from_narrow);
}

/// Indices a device should hold: one per handshake in flight and one per keypair.
fn live_indices(dev: &wgrs::proto::device::Device) -> usize {
    dev.peers()
        .map(|p| {
            let kps = [&p.keypairs.previous, &p.keypairs.current, &p.keypairs.next];
            usize::from(p.handshake.local_index().is_some())
                + kps.iter().filter(|k| k.is_some()).count()
        })
        .sum()
}

#[test]
fn simultaneous_initiations_leak_no_index() {
    let mut net = Net::new();
    let a = net.add_node(1);
    let b = net.add_node(2);
    net.link(a, b, None, true);
    for round in 0..5 {
        // Both sides start a handshake before either hears from the other.
        net.inject(a, &a_to_b(b"x"));
        net.inject(b, &b_to_a(b"y"));
        net.run();
        for n in [a, b] {
            let dev = &net.nodes[n].dev;
            assert_eq!(
                dev.table_sizes().indices,
                live_indices(dev),
                "round {round}, node {n}: an index outlived its handshake"
            );
        }
        // Let the sessions expire so the next round races from scratch again.
        net.advance(Duration::from_secs(600));
    }
    assert!(net.nodes[a].tun_rx.len() + net.nodes[b].tun_rx.len() > 0);
}
