//! The gate's decisions: mac1, the cookie-less budget per source, cookies under load.

use super::*;
use crate::proto::constants::{MESSAGE_INITIATION, MESSAGE_INITIATION_SIZE};
use crate::proto::cookie::CookieGenerator;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

const T0: Duration = Duration::from_secs(1_000);

fn responder() -> PublicKey {
    PublicKey(crate::proto::crypto::dh_pubkey(&[0x24; 32]))
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test socket address")
}

/// An initiation-shaped message (random body) with a valid mac1 from `gen`.
fn initiation(rng: &mut StdRng, gen: &mut CookieGenerator, now: Duration) -> Vec<u8> {
    let mut m = vec![0u8; MESSAGE_INITIATION_SIZE];
    rng.fill_bytes(&mut m);
    m[..4].copy_from_slice(&[MESSAGE_INITIATION, 0, 0, 0]);
    gen.add_macs(&mut m, now);
    m
}

fn setup() -> (Gate, CookieGenerator, StdRng) {
    let pk = responder();
    (
        Gate::new(&pk),
        CookieGenerator::new(&pk),
        StdRng::seed_from_u64(0x6761_7465),
    )
}

#[test]
fn bad_mac1_is_refused_whatever_the_load() {
    let (mut gate, mut gen, mut rng) = setup();
    let mut m = initiation(&mut rng, &mut gen, T0);
    m[20] ^= 1;
    for queue in [0, UNDER_LOAD_QUEUE_LEN] {
        assert_eq!(
            gate.admit(&m, addr("192.0.2.1:1"), queue, T0),
            Err(Refusal::BadMac1)
        );
    }
    assert_eq!(gate.tracked_sources(), 0, "a bad mac1 costs no table entry");
}

#[test]
fn a_flooding_source_gets_cookies_while_others_pass() {
    let (mut gate, mut gen, mut rng) = setup();
    let flooder = addr("198.51.100.9:4000");
    let mut passed = 0;
    let mut cookies = 0;
    let mut silenced = 0;
    for i in 0..2_000u32 {
        let now = T0 + Duration::from_nanos(u64::from(i));
        let m = initiation(&mut rng, &mut gen, now);
        match gate.admit(&m, flooder, 0, now) {
            Ok(()) => passed += 1,
            Err(Refusal::NeedsCookie) => cookies += 1,
            Err(Refusal::RepliesSpent) => silenced += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        (passed, cookies, silenced),
        (5, REPLIES_BURST as usize, 1_995 - REPLIES_BURST as usize),
        "a burst of 5, then cookie replies up to their own burst, then silence"
    );
    // Not under load: a new client on another address goes straight through.
    let now = T0 + Duration::from_millis(2);
    let m = initiation(&mut rng, &mut gen, now);
    assert_eq!(gate.admit(&m, addr("203.0.113.5:51820"), 0, now), Ok(()));
    assert!(
        !gate.under_load(0, now),
        "the flood never put the device under load"
    );
}

#[test]
fn a_cookie_proves_the_address_once_the_budget_is_spent() {
    let (mut gate, mut gen, mut rng) = setup();
    let src = addr("192.0.2.7:9");
    let mut reply = None;
    for _ in 0..6 {
        let m = initiation(&mut rng, &mut gen, T0);
        if gate.admit(&m, src, 0, T0) == Err(Refusal::NeedsCookie) {
            let req = CookieRequest::of(&m, src).expect("a handshake message");
            reply = Some((gate.cookie_reply(&req, T0, &mut rng), m));
        }
    }
    let (reply, m) = reply.expect("the sixth message needs a cookie");
    assert_eq!(reply[0], 3);
    assert_eq!(
        reply[4..8],
        m[4..8],
        "the reply answers the message's sender"
    );
    // The generator takes the reply only for the mac1 it last sent: the sixth message's.
    assert_eq!(gen.consume_reply(&reply, T0), Ok(()));
    for i in 0..50 {
        let now = T0 + Duration::from_millis(i);
        let m = initiation(&mut rng, &mut gen, now);
        assert_eq!(
            gate.admit(&m, src, 0, now),
            Ok(()),
            "with a valid cookie and no load, message {i} is processed"
        );
    }
    // From another port the cookie is wrong (it is bound to address and port).
    let m = initiation(&mut rng, &mut gen, T0);
    assert!(matches!(
        gate.admit(&m, addr("192.0.2.7:10"), 0, T0),
        Err(Refusal::NeedsCookie)
    ));
}

#[test]
fn under_load_mac2_is_needed_and_rate_limited() {
    let (mut gate, mut gen, mut rng) = setup();
    let src = addr("[2001:db8::1]:5");
    let m = initiation(&mut rng, &mut gen, T0);
    assert_eq!(
        gate.admit(&m, src, UNDER_LOAD_QUEUE_LEN, T0),
        Ok(()),
        "under load, a new source's first message is processed"
    );
    let m = initiation(&mut rng, &mut gen, T0);
    assert_eq!(
        gate.admit(&m, src, UNDER_LOAD_QUEUE_LEN, T0),
        Err(Refusal::NeedsCookie),
        "under load, a known source's message without a cookie needs one"
    );
    let reply = gate.cookie_reply(&CookieRequest::of(&m, src).expect("request"), T0, &mut rng);
    assert_eq!(gen.consume_reply(&reply, T0), Ok(()));
    let verdicts: Vec<_> = (0..8)
        .map(|_| {
            let m = initiation(&mut rng, &mut gen, T0);
            gate.admit(&m, src, UNDER_LOAD_QUEUE_LEN, T0)
        })
        .collect();
    assert_eq!(verdicts.iter().filter(|v| v.is_ok()).count(), 5);
    assert!(verdicts[5..]
        .iter()
        .all(|v| *v == Err(Refusal::RateLimited)));
    // The load lingers for a second after the queue drains, then lifts.
    let later = T0 + Duration::from_millis(900);
    assert!(gate.under_load(0, later));
    let after = T0 + Duration::from_millis(1_001);
    assert!(!gate.under_load(0, after));
}

#[test]
fn a_source_that_flooded_under_load_is_still_spent_when_the_load_lifts() {
    let (mut gate, mut gen, mut rng) = setup();
    let src = addr("198.51.100.77:1");
    // Two messages a millisecond for 1.6 s; the queue is full for the first half second, so
    // the device is under load until 1.5 s.
    let lifted = T0 + Duration::from_millis(1_600);
    let mut passed_after = 0;
    for i in 0..3_200u64 {
        let now = T0 + Duration::from_micros(500 * i);
        let queue = if i < 1_000 { UNDER_LOAD_QUEUE_LEN } else { 0 };
        let m = initiation(&mut rng, &mut gen, now);
        let verdict = gate.admit(&m, src, queue, now);
        if i == 0 {
            assert!(verdict.is_ok(), "a new source's first message is processed");
        } else if i < 3_000 {
            assert!(verdict.is_err(), "message {i}: under load, no cookie");
        } else if verdict.is_ok() {
            passed_after += 1;
        }
    }
    // After the load lifted, the flooder still pays 50 ms a message: no fresh burst of 5.
    assert!(
        passed_after <= 3,
        "{passed_after} passed in the 100 ms after the load lifted"
    );
    assert!(!gate.under_load(0, lifted));
    // A new source goes straight through.
    let m = initiation(&mut rng, &mut gen, lifted);
    assert_eq!(gate.admit(&m, addr("198.51.100.78:1"), 0, lifted), Ok(()));
}

#[test]
fn under_load_a_new_source_has_its_first_message_processed() {
    let (mut gate, mut gen, mut rng) = setup();
    let busy = UNDER_LOAD_QUEUE_LEN;
    // The flood's addresses are known: under load they need cookies.
    for i in 0..600u64 {
        let now = T0 + Duration::from_micros(i);
        let src = SocketAddr::from(([198, 51, 100, (i % 3) as u8], 7));
        let m = initiation(&mut rng, &mut gen, now);
        let v = gate.admit(&m, src, busy, now);
        assert!(i < 3 || v.is_err(), "flood message {i}: {v:?}");
    }
    let now = T0 + Duration::from_millis(1);
    let client = addr("203.0.113.9:51820");
    let m = initiation(&mut rng, &mut gen, now);
    assert_eq!(
        gate.admit(&m, client, busy, now),
        Ok(()),
        "a new client's first"
    );
    assert_eq!(
        gate.admit(&m, client, busy, now),
        Err(Refusal::NeedsCookie),
        "its second needs a cookie, as the whitepaper has it"
    );
    // All new sources together get FRESH_PER_SECOND such passes.
    let passed = (0..1_000u32)
        .filter(|i| {
            let src = SocketAddr::from(([10, 9, (i >> 8) as u8, *i as u8], 1));
            gate.admit(&m, src, busy, now).is_ok()
        })
        .count();
    assert_eq!(passed, FRESH_PER_SECOND as usize - 4);
}

#[test]
fn a_zero_or_stale_mac2_is_no_cookie() {
    let (mut gate, mut gen, mut rng) = setup();
    let src = addr("192.0.2.8:1");
    let m = initiation(&mut rng, &mut gen, T0);
    assert_eq!(
        &m[MESSAGE_INITIATION_SIZE - 16..],
        &[0; 16],
        "no cookie: mac2 is zero"
    );
    let busy = UNDER_LOAD_QUEUE_LEN;
    assert_eq!(
        gate.admit(&m, src, busy, T0),
        Ok(()),
        "new source: processed"
    );
    assert_eq!(
        gate.admit(&m, src, busy, T0),
        Err(Refusal::NeedsCookie),
        "a zero mac2 is no cookie"
    );
    let req = CookieRequest::of(&m, src).expect("request");
    assert_eq!(
        gen.consume_reply(&gate.cookie_reply(&req, T0, &mut rng), T0),
        Ok(())
    );
    let with_cookie = initiation(&mut rng, &mut gen, T0);
    assert_eq!(
        gate.admit(&with_cookie, src, UNDER_LOAD_QUEUE_LEN, T0),
        Ok(())
    );
    // The secret behind the cookie expires after two minutes; the gate draws no new one
    // itself (it has no generator), so the old cookie simply stops counting.
    let later = T0 + Duration::from_secs(121);
    assert_eq!(
        gate.admit(&m, src, busy, later),
        Ok(()),
        "new again after 2 min"
    );
    assert_eq!(
        gate.admit(&with_cookie, src, busy, later),
        Err(Refusal::NeedsCookie)
    );
}

#[test]
fn debug_shows_no_secret() {
    let (gate, _, _) = setup();
    assert_eq!(format!("{gate:?}"), "Gate(hidden)");
}
