//! Device unit tests; the protocol flows are in tests/simulation.rs (two devices on a virtual
//! clock).

use super::*;
use crate::proto::allowedips::trie_walks;

fn device() -> Device {
    Device::new(Box::new(rand_chacha_like()))
}

/// A seeded RNG from the crate's dev-dependencies.
fn rand_chacha_like() -> impl CryptoRngCore + Send {
    use rand::SeedableRng;
    rand::rngs::StdRng::seed_from_u64(7)
}

#[test]
fn removing_an_allowed_ip_walks_no_table() {
    let mut dev = device();
    let id = dev.add_peer(PublicKey([9; 32])).expect("peer");
    for i in 0..2000u32 {
        let net = format!("10.{}.{}.0/24", i >> 8, i & 0xff);
        dev.add_allowed_ip(id, net.parse().expect("net"))
            .expect("add");
    }
    let before = trie_walks();
    dev.remove_allowed_ip(id, "10.3.4.0/24".parse().expect("net"))
        .expect("remove");
    assert_eq!(trie_walks(), before, "allowed_ip=-PREFIX walked the table");
    assert_eq!(dev.allowed_ips.len(), 1999);
    dev.publish();
    let view = dev.plane().view();
    assert!(view.route(&v4_to([10, 3, 4, 1])).is_none());
    assert_eq!(view.route(&v4_to([10, 3, 5, 1])).map(|l| l.id), Some(id));
}

fn v4_to(dst: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    p[3] = 20;
    p[16..20].copy_from_slice(&dst);
    p
}

#[test]
fn the_routing_snapshot_follows_peers_and_prefixes() {
    let mut dev = device();
    let a = dev.add_peer(PublicKey([1; 32])).expect("peer a");
    let b = dev.add_peer(PublicKey([2; 32])).expect("peer b");
    dev.add_allowed_ip(a, "10.1.0.0/16".parse().expect("net"))
        .expect("add");
    dev.add_allowed_ip(b, "10.2.0.0/16".parse().expect("net"))
        .expect("add");
    dev.add_allowed_ip(b, "10.1.9.0/24".parse().expect("net"))
        .expect("add");
    // Nothing is visible to the data plane before the control plane publishes.
    assert!(dev.plane().view().route(&v4_to([10, 1, 0, 1])).is_none());
    dev.publish();
    let view = dev.plane().view();
    let to = |dst| view.route(&v4_to(dst)).map(|l| l.id);
    assert_eq!(to([10, 1, 0, 1]), Some(a));
    assert_eq!(to([10, 1, 9, 1]), Some(b), "the longer prefix wins");
    assert_eq!(to([10, 2, 3, 4]), Some(b));
    assert_eq!(to([10, 3, 0, 1]), None);
    // Cryptokey routing inbound: the source must route back to the sender.
    assert!(view.allows(a, &v4_from([10, 1, 0, 1])));
    assert!(!view.allows(a, &v4_from([10, 1, 9, 1])));
    assert!(view.allows(b, &v4_from([10, 1, 9, 1])));
    drop(view);

    // Removing a peer takes its prefixes out; the other's keep routing to it.
    assert!(dev.remove_peer(&PublicKey([1; 32])));
    dev.publish();
    let view = dev.plane().view();
    assert_eq!(view.route(&v4_to([10, 1, 0, 1])).map(|l| l.id), None);
    assert_eq!(view.route(&v4_to([10, 1, 9, 1])).map(|l| l.id), Some(b));
    assert!(!view.allows(a, &v4_from([10, 1, 0, 1])));
}

fn v4_from(src: [u8; 4]) -> Vec<u8> {
    let mut p = v4_to([10, 9, 9, 9]);
    p[12..16].copy_from_slice(&src);
    p
}
