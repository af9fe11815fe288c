//! Tests for mac1/mac2 and cookie replies, including a cross-check against boringtun.

use super::*;
use crate::proto::constants::{MESSAGE_INITIATION, MESSAGE_INITIATION_SIZE, MESSAGE_RESPONSE_SIZE};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

const T0: Duration = Duration::from_secs(5_000);

fn rng() -> StdRng {
    StdRng::seed_from_u64(0x636f6f6b6965)
}

fn responder_public() -> PublicKey {
    PublicKey(crate::proto::crypto::dh_pubkey(&[0x42; 32]))
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test socket address")
}

/// A 148-byte initiation-shaped message with random contents and zeroed MACs.
fn initiation(rng: &mut StdRng, sender: u32) -> [u8; MESSAGE_INITIATION_SIZE] {
    let mut m = [0u8; MESSAGE_INITIATION_SIZE];
    rng.fill_bytes(&mut m);
    m[..4].copy_from_slice(&[MESSAGE_INITIATION, 0, 0, 0]);
    m[4..8].copy_from_slice(&sender.to_le_bytes());
    m[MESSAGE_INITIATION_SIZE - 32..].fill(0);
    m
}

/// Generator and checker for one responder key, plus a message carrying MACs.
fn pair(
    rng: &mut StdRng,
) -> (
    CookieGenerator,
    CookieChecker,
    [u8; MESSAGE_INITIATION_SIZE],
) {
    let pk = responder_public();
    let mut gen = CookieGenerator::new(&pk);
    let checker = CookieChecker::new(&pk);
    let mut msg = initiation(rng, 0x1122_3344);
    gen.add_macs(&mut msg, T0);
    (gen, checker, msg)
}

/// Run one cookie exchange for `src` at `now`; return the message re-sent with mac2.
fn with_cookie(
    gen: &mut CookieGenerator,
    checker: &mut CookieChecker,
    msg: &mut [u8],
    src: SocketAddr,
    now: Duration,
    rng: &mut StdRng,
) {
    let reply = checker
        .create_reply(msg, 0x1122_3344, src, now, rng)
        .expect("reply");
    assert_eq!(gen.consume_reply(&reply, now), Ok(()));
    gen.add_macs(msg, now);
}

#[test]
fn mac1_round_trip_and_tamper() {
    let mut rng = rng();
    let (_, checker, msg) = pair(&mut rng);
    assert!(checker.check_mac1(&msg));
    // Any flipped bit before mac2 breaks mac1; bits in mac2 do not.
    for i in 0..MESSAGE_INITIATION_SIZE {
        let mut bad = msg;
        bad[i] ^= 0x01;
        assert_eq!(
            checker.check_mac1(&bad),
            i >= MESSAGE_INITIATION_SIZE - 16,
            "byte {i}"
        );
    }
    let other = CookieChecker::new(&PublicKey([7; 32]));
    assert!(!other.check_mac1(&msg));
}

#[test]
fn mac1_known_layout() {
    // mac1 is MAC(HASH(LABEL_MAC1 || Spub), msg[..len-32]) placed at len-32..len-16.
    let pk = responder_public();
    let mut gen = CookieGenerator::new(&pk);
    let mut msg = [9u8; MESSAGE_RESPONSE_SIZE];
    gen.add_macs(&mut msg, T0);
    let key = hash(&[LABEL_MAC1, pk.as_bytes()]);
    let want = mac(&key, &[&[9u8; MESSAGE_RESPONSE_SIZE - 32]]);
    assert_eq!(
        msg[MESSAGE_RESPONSE_SIZE - 32..MESSAGE_RESPONSE_SIZE - 16],
        want
    );
    assert_eq!(
        msg[MESSAGE_RESPONSE_SIZE - 16..],
        [0u8; 16],
        "no cookie: mac2 is zero"
    );
}

#[test]
fn set_local_public_changes_mac1_key() {
    let mut rng = rng();
    let (_, mut checker, msg) = pair(&mut rng);
    checker.set_local_public(&PublicKey([1; 32]));
    assert!(!checker.check_mac1(&msg));
    checker.set_local_public(&responder_public());
    assert!(checker.check_mac1(&msg));
}

#[test]
fn mac2_needs_a_cookie_for_the_same_source() {
    let mut rng = rng();
    let (mut gen, mut checker, mut msg) = pair(&mut rng);
    let src = addr("192.0.2.10:51820");
    assert!(
        !checker.check_mac2(&msg, src, T0, &mut rng),
        "zero mac2 before any cookie"
    );
    with_cookie(&mut gen, &mut checker, &mut msg, src, T0, &mut rng);
    assert!(checker.check_mac1(&msg));
    assert!(checker.check_mac2(&msg, src, T0, &mut rng));
    assert!(
        !checker.check_mac2(&msg, addr("192.0.2.11:51820"), T0, &mut rng),
        "other IP"
    );
    assert!(
        !checker.check_mac2(&msg, addr("192.0.2.10:51821"), T0, &mut rng),
        "other port"
    );
    assert!(!checker.check_mac2(&msg, addr("[::ffff:192.0.2.11]:51820"), T0, &mut rng));
    // A mapped address is the same source as the plain IPv4 one.
    assert!(checker.check_mac2(&msg, addr("[::ffff:192.0.2.10]:51820"), T0, &mut rng));
    // mac2 covers the message and mac1.
    for i in [
        0,
        8,
        MESSAGE_INITIATION_SIZE - 32,
        MESSAGE_INITIATION_SIZE - 1,
    ] {
        let mut bad = msg;
        bad[i] ^= 0x80;
        assert!(!checker.check_mac2(&bad, src, T0, &mut rng), "byte {i}");
    }
}

#[test]
fn mac2_over_ipv6() {
    let mut rng = rng();
    let (mut gen, mut checker, mut msg) = pair(&mut rng);
    let src = addr("[2001:db8::1]:443");
    with_cookie(&mut gen, &mut checker, &mut msg, src, T0, &mut rng);
    assert!(checker.check_mac2(&msg, src, T0, &mut rng));
    assert!(!checker.check_mac2(&msg, addr("[2001:db8::2]:443"), T0, &mut rng));
}

#[test]
fn mac2_fails_once_the_secret_rotates() {
    let mut rng = rng();
    let (mut gen, mut checker, mut msg) = pair(&mut rng);
    let src = addr("198.51.100.1:9");
    with_cookie(&mut gen, &mut checker, &mut msg, src, T0, &mut rng);
    let max = COOKIE_SECRET_MAX_AGE;
    assert!(
        checker.check_mac2(&msg, src, T0 + max, &mut rng),
        "exactly 120 s: still valid"
    );
    assert!(!checker.check_mac2(&msg, src, T0 + max + Duration::from_nanos(1), &mut rng));
    // The new secret is in place: the old cookie stays invalid, a new exchange works.
    let later = T0 + max + Duration::from_secs(1);
    assert!(!checker.check_mac2(&msg, src, later, &mut rng));
    with_cookie(&mut gen, &mut checker, &mut msg, src, later, &mut rng);
    assert!(checker.check_mac2(&msg, src, later, &mut rng));
}

#[test]
fn generator_stops_using_a_cookie_after_115_s() {
    let mut rng = rng();
    let (mut gen, mut checker, mut msg) = pair(&mut rng);
    let src = addr("198.51.100.1:9");
    with_cookie(&mut gen, &mut checker, &mut msg, src, T0, &mut rng);
    let just_before = T0 + COOKIE_MAX_AGE - Duration::from_millis(1);
    gen.add_macs(&mut msg, just_before);
    assert_ne!(msg[MESSAGE_INITIATION_SIZE - 16..], [0u8; 16]);
    gen.add_macs(&mut msg, T0 + COOKIE_MAX_AGE);
    assert_eq!(msg[MESSAGE_INITIATION_SIZE - 16..], [0u8; 16]);
}

#[test]
fn reply_wire_format() {
    let mut rng = rng();
    let (_, mut checker, msg) = pair(&mut rng);
    let reply = checker
        .create_reply(&msg, 0xdead_beef, addr("192.0.2.1:1"), T0, &mut rng)
        .expect("reply");
    assert_eq!(reply.len(), 64);
    assert_eq!(reply[..4], [3, 0, 0, 0]);
    assert_eq!(reply[4..8], 0xdead_beef_u32.to_le_bytes());
    assert_eq!(reply_receiver_index(&reply), Some(0xdead_beef));
    assert_eq!(reply_receiver_index(&reply[..63]), None);
    let mut bad = reply;
    bad[2] = 1;
    assert_eq!(reply_receiver_index(&bad), None);
    // Random nonces: two replies to the same message differ.
    let again = checker.create_reply(&msg, 0xdead_beef, addr("192.0.2.1:1"), T0, &mut rng);
    assert_ne!(again.map(|r| r[8..32].to_vec()), Ok(reply[8..32].to_vec()));
}

#[test]
fn reply_is_consumed_once() {
    let mut rng = rng();
    let (mut gen, mut checker, msg) = pair(&mut rng);
    let reply = checker
        .create_reply(&msg, 1, addr("192.0.2.1:1"), T0, &mut rng)
        .expect("reply");
    assert_eq!(gen.consume_reply(&reply, T0), Ok(()));
    assert_eq!(gen.consume_reply(&reply, T0), Err(CookieError::NoMac1Sent));
}

#[test]
fn reply_errors() {
    let mut rng = rng();
    let pk = responder_public();
    let mut gen = CookieGenerator::new(&pk);
    let mut checker = CookieChecker::new(&pk);
    let mut msg = initiation(&mut rng, 1);
    let src = addr("192.0.2.1:1");
    let reply = checker
        .create_reply(&msg, 1, src, T0, &mut rng)
        .expect("reply");
    assert_eq!(
        gen.consume_reply(&reply, T0),
        Err(CookieError::NoMac1Sent),
        "nothing sent"
    );
    gen.add_macs(&mut msg, T0);
    // That reply answered the mac1-less message: wrong aad.
    assert_eq!(gen.consume_reply(&reply, T0), Err(CookieError::Decrypt));
    for len in [0, 1, 63, 65, 128] {
        let long = [0u8; 128];
        assert_eq!(
            gen.consume_reply(&long[..len], T0),
            Err(CookieError::Length)
        );
    }
    let good = checker
        .create_reply(&msg, 1, src, T0, &mut rng)
        .expect("reply");
    for i in 8..64 {
        let mut bad = good;
        bad[i] ^= 1;
        assert_eq!(
            gen.consume_reply(&bad, T0),
            Err(CookieError::Decrypt),
            "byte {i}"
        );
    }
    // A reply sealed for another responder key does not open.
    let mut stranger = CookieChecker::new(&PublicKey([5; 32]));
    let foreign = stranger
        .create_reply(&msg, 1, src, T0, &mut rng)
        .expect("reply");
    assert_eq!(gen.consume_reply(&foreign, T0), Err(CookieError::Decrypt));
    // Failed attempts did not use up the remembered mac1.
    assert_eq!(gen.consume_reply(&good, T0), Ok(()));
}

#[test]
fn short_inputs_are_refused_without_panic() {
    let mut rng = rng();
    let pk = responder_public();
    let mut gen = CookieGenerator::new(&pk);
    let mut checker = CookieChecker::new(&pk);
    let src = addr("192.0.2.1:1");
    for len in 0..32 {
        let mut buf = vec![0xabu8; len];
        assert!(!checker.check_mac1(&buf));
        assert!(!checker.check_mac2(&buf, src, T0, &mut rng));
        assert_eq!(
            checker.create_reply(&buf, 0, src, T0, &mut rng),
            Err(CookieError::Length)
        );
        gen.add_macs(&mut buf, T0);
        assert!(
            buf.iter().all(|&b| b == 0xab),
            "short message left untouched"
        );
    }
    assert_eq!(gen.consume_reply(&[], T0), Err(CookieError::Length));
    // 32 bytes is the smallest message: empty body, then the two MACs.
    let mut tiny = [0u8; 32];
    gen.add_macs(&mut tiny, T0);
    assert!(checker.check_mac1(&tiny));
}

#[test]
fn debug_hides_secrets_and_errors_display() {
    let pk = responder_public();
    assert_eq!(
        format!("{:?}", CookieChecker::new(&pk)),
        "CookieChecker(hidden)"
    );
    assert_eq!(
        format!("{:?}", CookieGenerator::new(&pk)),
        "CookieGenerator(hidden)"
    );
    for e in [
        CookieError::Length,
        CookieError::NoMac1Sent,
        CookieError::Decrypt,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut rng = rng();
        let pk = responder_public();
        let mut checker = CookieChecker::new(&pk);
        let mut gen = CookieGenerator::new(&pk);
        let src = addr("[2001:db8::9]:1");
        let _ = checker.check_mac1(&bytes);
        let _ = checker.check_mac2(&bytes, src, T0, &mut rng);
        let _ = checker.create_reply(&bytes, 0, src, T0, &mut rng);
        let _ = reply_receiver_index(&bytes);
        prop_assert!(gen.consume_reply(&bytes, T0).is_err());
        let mut copy = bytes.clone();
        gen.add_macs(&mut copy, T0);
        prop_assert!(gen.consume_reply(&bytes, T0).is_err());
    }
}

mod boringtun_interop {
    //! boringtun 0.7 as an independent implementation of the same formulas.
    use super::*;
    use boringtun::noise::rate_limiter::RateLimiter;
    use boringtun::noise::{Tunn, TunnResult};
    use boringtun::x25519::{PublicKey as BtPublic, StaticSecret};

    /// Our generator against boringtun's responder (limit 0: always under load).
    #[test]
    fn our_initiator_their_responder() {
        let mut rng = rng();
        let secret = StaticSecret::from([0x33; 32]);
        let public = BtPublic::from(&secret);
        let limiter = RateLimiter::new(&public, 0);
        let mut gen = CookieGenerator::new(&PublicKey(public.to_bytes()));
        let mut msg = initiation(&mut rng, 77);
        gen.add_macs(&mut msg, T0);
        let ip: IpAddr = "203.0.113.5".parse().expect("ip");
        let mut out = [0u8; 64];
        let reply = match limiter.verify_packet(Some(ip), &msg, &mut out) {
            Err(TunnResult::WriteToNetwork(r)) => r.to_vec(),
            _ => panic!("boringtun accepted mac1 and should answer with a cookie reply"),
        };
        assert_eq!(reply_receiver_index(&reply), Some(77));
        assert_eq!(gen.consume_reply(&reply, T0), Ok(()));
        gen.add_macs(&mut msg, T0);
        assert!(
            limiter.verify_packet(Some(ip), &msg, &mut out).is_ok(),
            "mac2 accepted"
        );
        let other: IpAddr = "203.0.113.6".parse().expect("ip");
        assert!(limiter.verify_packet(Some(other), &msg, &mut out).is_err());
    }

    /// boringtun's initiator against our checker: mac1, then our cookie reply, then mac2.
    #[test]
    fn their_initiator_our_responder() {
        let mut rng = rng();
        let responder = StaticSecret::from([0x44; 32]);
        let responder_pub = BtPublic::from(&responder);
        let mut tunn = Tunn::new(
            StaticSecret::from([0x55; 32]),
            responder_pub,
            None,
            None,
            9,
            None,
        );
        let mut checker = CookieChecker::new(&PublicKey(responder_pub.to_bytes()));
        let src = addr("203.0.113.5:40000");
        let mut buf = vec![0u8; 2048];
        let init = match tunn.format_handshake_initiation(&mut buf, false) {
            TunnResult::WriteToNetwork(p) => p.to_vec(),
            _ => panic!("no initiation"),
        };
        assert!(checker.check_mac1(&init));
        assert!(!checker.check_mac2(&init, src, T0, &mut rng));
        let sender = u32::from_le_bytes(init[4..8].try_into().expect("4 bytes"));
        let reply = checker
            .create_reply(&init, sender, src, T0, &mut rng)
            .expect("reply");
        assert!(matches!(
            tunn.decapsulate(Some(src.ip()), &reply, &mut buf),
            TunnResult::Done
        ));
        let init2 = match tunn.format_handshake_initiation(&mut buf, true) {
            TunnResult::WriteToNetwork(p) => p.to_vec(),
            _ => panic!("no second initiation"),
        };
        assert!(checker.check_mac1(&init2));
        assert!(checker.check_mac2(&init2, src, T0, &mut rng));
        assert!(!checker.check_mac2(&init2, addr("203.0.113.5:40001"), T0, &mut rng));
    }
}
