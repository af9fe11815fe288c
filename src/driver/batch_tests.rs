//! The outbound and inbound batch steps that hand runs of packets to the cipher: packets under
//! different keypairs interleaved in one batch, each sealed or opened with its own keypair and
//! counter; a forged message dropped without disturbing the others in its run; the same with
//! the batch split over crypto workers.

use crate::driver::pool::CryptoPool;
use crate::proto::handshake::SessionKeys;
use crate::proto::keypair::{Keypair, Session};
use crate::proto::keys::PublicKey;
use crate::proto::link::Link;
use crate::proto::peer::PeerId;
use std::sync::Arc;
use std::time::Duration;

/// A session whose keypair opens what it seals (the same key both ways).
pub(crate) fn keypair(byte: u8) -> Arc<Session> {
    let keys = SessionKeys {
        send: [byte; 32],
        recv: [byte; 32],
        local_index: u32::from(byte),
        remote_index: u32::from(byte),
        is_initiator: true,
    };
    let link = Arc::new(Link::new(PeerId(u32::from(byte)), &PublicKey([byte; 32])));
    Arc::new(Session::new(Keypair::new(&keys, Duration::ZERO), link))
}

/// Plaintext number `i`: 1408 bytes (no padding at MTU 1420), or `len` if given.
fn plain(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
}

/// Which keypair packet `i` of a 40-packet batch goes under: runs of 12 (k1), 12 (k2), 2
/// (k1), 14 (k2), so both the sixteen-at-a-time path and the one-at-a-time path run.
fn key_of(i: usize) -> usize {
    match i {
        0..12 | 24..26 => 0,
        _ => 1,
    }
}

mod outbound {
    use super::*;
    use crate::driver::outbound::test_access::{seal_arena, Packet};

    #[test]
    fn interleaved_keypairs_each_seal_their_own_packets() {
        let keys = [keypair(1), keypair(2)];
        let packets: Vec<Packet> = (0..40)
            .map(|i| Packet {
                plain: plain(i, if i == 39 { 300 } else { 1408 }),
                keypair: Arc::clone(&keys[key_of(i)]),
                counter: 1000 + i as u64,
            })
            .collect();
        // The owner alone, then with two pool workers (40 full packets: the batch forks).
        for pool in [CryptoPool::new(1), CryptoPool::new(3)] {
            check_sealed(&keys, &packets, &seal_arena(&pool, &packets));
        }
    }

    fn check_sealed(keys: &[Arc<Session>; 2], packets: &[Packet], datagrams: &[Vec<u8>]) {
        assert_eq!(datagrams.len(), packets.len());
        for (i, (p, d)) in packets.iter().zip(datagrams).enumerate() {
            let counter = u64::from_le_bytes(d[8..16].try_into().unwrap());
            assert_eq!(counter, p.counter, "packet {i}: header counter");
            let mut payload = d[16..].to_vec();
            let n = p.keypair.open(p.counter, &mut payload).expect("opens");
            assert_eq!(&payload[..p.plain.len()], &p.plain[..], "packet {i}");
            assert!(payload[p.plain.len()..n].iter().all(|&b| b == 0), "padding");
            let other = &keys[1 - key_of(i)];
            assert!(other.open(p.counter, &mut d[16..].to_vec()).is_err());
        }
    }
}

mod inbound {
    use super::*;
    use crate::driver::inbound::test_access::{open_buffers, Message};

    fn sealed(kp: &Keypair, counter: u64, plain: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 16 + plain.len() + 15 + 16];
        buf[16..16 + plain.len()].copy_from_slice(plain);
        let n = kp.seal(counter, &mut buf, plain.len(), 1420).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn interleaved_keypairs_open_with_their_own_and_a_forgery_is_dropped() {
        let keys = [keypair(3), keypair(4)];
        // Two receive buffers of 20 datagrams each; #17 is forged, #30 has no keypair.
        let messages: Vec<Message> = (0..40)
            .map(|i| {
                let p = plain(i, 1408);
                let mut bytes = sealed(&keys[key_of(i)], 50 + i as u64, &p);
                if i == 17 {
                    bytes[100] ^= 1;
                }
                Message {
                    buf: i / 20,
                    bytes,
                    keypair: (i != 30).then(|| Arc::clone(&keys[key_of(i)])),
                    counter: 50 + i as u64,
                }
            })
            .collect();
        for pool in [CryptoPool::new(1), CryptoPool::new(3)] {
            let opened = open_buffers(&pool, &messages);
            assert_eq!(opened.len(), messages.len());
            for (i, got) in opened.iter().enumerate() {
                match i {
                    17 | 30 => assert_eq!(got, &None, "message {i} must not be delivered"),
                    _ => assert_eq!(got.as_deref(), Some(&plain(i, 1408)[..]), "message {i}"),
                }
            }
        }
    }
}
