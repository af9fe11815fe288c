//! Handshake unit tests: both roles agree on keys; replays, floods, tampering and low-order
//! keys are refused without changing state.

use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn ident(seed: u8) -> StaticIdentity {
    StaticIdentity::new(PrivateKey::from_bytes([seed; 32]))
}

fn now(ms: u64) -> Now {
    Now {
        mono: Duration::from_millis(ms),
        wall: Duration::from_secs(1_700_000_000) + Duration::from_millis(ms),
    }
}

struct Pair {
    a: StaticIdentity,
    b: StaticIdentity,
    a_sees_b: RemoteIdentity,
    b_sees_a: RemoteIdentity,
}

fn pair(psk: [u8; 32]) -> Pair {
    let (a, b) = (ident(1), ident(2));
    let a_sees_b = RemoteIdentity::new(Some(&a), *b.public(), PresharedKey::from_bytes(psk));
    let b_sees_a = RemoteIdentity::new(Some(&b), *a.public(), PresharedKey::from_bytes(psk));
    Pair {
        a,
        b,
        a_sees_b,
        b_sees_a,
    }
}

fn full(p: &Pair, rng: &mut StdRng, t: Now) -> (SessionKeys, SessionKeys, Handshake) {
    let mut ha = Handshake::default();
    let mut hb = Handshake::default();
    let init = ha.create_initiation(&p.a, &p.a_sees_b, 11, t, rng).unwrap();
    let cand = consume_initiation(&p.b, &init).unwrap();
    assert_eq!(cand.remote_static(), p.a.public());
    hb.accept_initiation(cand, &p.b_sees_a, t.mono).unwrap();
    let resp = hb.create_response(&p.b_sees_a, 22, rng).unwrap();
    assert_eq!(resp.receiver, 11);
    ha.consume_response(&p.a, &p.a_sees_b, &resp).unwrap();
    let ka = ha.begin_session().unwrap();
    let kb = hb.begin_session().unwrap();
    assert!(ha.is_zeroed() && hb.is_zeroed());
    (ka, kb, hb)
}

#[test]
fn both_roles_derive_matching_keys_with_and_without_psk() {
    let mut rng = StdRng::seed_from_u64(1);
    for psk in [[0u8; 32], [0x5a; 32]] {
        let p = pair(psk);
        let (ka, kb, _) = full(&p, &mut rng, now(0));
        assert_eq!(ka.send, kb.recv);
        assert_eq!(ka.recv, kb.send);
        assert_ne!(ka.send, ka.recv);
        assert!(ka.is_initiator && !kb.is_initiator);
        assert_eq!((ka.local_index, ka.remote_index), (11, 22));
        assert_eq!((kb.local_index, kb.remote_index), (22, 11));
    }
}

#[test]
fn mismatched_psk_fails_at_response() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut p = pair([1; 32]);
    p.b_sees_a.set_psk(PresharedKey::from_bytes([2; 32]));
    let mut ha = Handshake::default();
    let mut hb = Handshake::default();
    let init = ha
        .create_initiation(&p.a, &p.a_sees_b, 1, now(0), &mut rng)
        .unwrap();
    hb.accept_initiation(
        consume_initiation(&p.b, &init).unwrap(),
        &p.b_sees_a,
        Duration::ZERO,
    )
    .unwrap();
    let resp = hb.create_response(&p.b_sees_a, 2, &mut rng).unwrap();
    assert_eq!(
        ha.consume_response(&p.a, &p.a_sees_b, &resp),
        Err(HandshakeError::Decrypt)
    );
    assert_eq!(
        ha.state(),
        HandshakeState::InitiationCreated,
        "failed response changes nothing"
    );
}

#[test]
fn replayed_and_flooding_initiations_are_refused() {
    let mut rng = StdRng::seed_from_u64(3);
    let p = pair([0; 32]);
    let mut ha = Handshake::default();
    let mut hb = Handshake::default();
    let first = ha
        .create_initiation(&p.a, &p.a_sees_b, 1, now(0), &mut rng)
        .unwrap();
    hb.accept_initiation(
        consume_initiation(&p.b, &first).unwrap(),
        &p.b_sees_a,
        Duration::ZERO,
    )
    .unwrap();
    // 1: the same message again is a replay.
    let again = consume_initiation(&p.b, &first).unwrap();
    assert_eq!(
        hb.accept_initiation(again, &p.b_sees_a, Duration::from_secs(1)),
        Err(HandshakeError::Replay)
    );
    // 2: a newer timestamp but only 10 ms later is a flood.
    let quick = ha
        .create_initiation(&p.a, &p.a_sees_b, 2, now(100), &mut rng)
        .unwrap();
    let c = consume_initiation(&p.b, &quick).unwrap();
    assert_eq!(
        hb.accept_initiation(c, &p.b_sees_a, Duration::from_millis(10)),
        Err(HandshakeError::Flood)
    );
    // 3: the same message 20 ms after the first is fine.
    let c = consume_initiation(&p.b, &quick).unwrap();
    assert!(hb
        .accept_initiation(c, &p.b_sees_a, Duration::from_millis(20))
        .is_ok());
}

#[test]
fn tampered_initiation_is_refused_without_state_change() {
    let mut rng = StdRng::seed_from_u64(4);
    let p = pair([0; 32]);
    let mut ha = Handshake::default();
    let init = ha
        .create_initiation(&p.a, &p.a_sees_b, 1, now(0), &mut rng)
        .unwrap();
    for field in 0..3 {
        let mut bad = init.clone();
        match field {
            0 => bad.ephemeral[3] ^= 1,
            1 => bad.encrypted_static[40] ^= 1,
            _ => bad.encrypted_timestamp[0] ^= 1,
        }
        let mut hb = Handshake::default();
        let r = consume_initiation(&p.b, &bad)
            .and_then(|c| hb.accept_initiation(c, &p.b_sees_a, Duration::ZERO));
        assert_eq!(r, Err(HandshakeError::Decrypt), "field {field}");
        assert!(hb.is_zeroed());
    }
}

#[test]
fn low_order_keys_are_refused() {
    let mut rng = StdRng::seed_from_u64(5);
    let a = ident(1);
    // A peer whose public key is a low-order point can never handshake.
    let bad_peer = RemoteIdentity::new(Some(&a), PublicKey([0; 32]), PresharedKey::default());
    let mut h = Handshake::default();
    assert_eq!(
        h.create_initiation(&a, &bad_peer, 1, now(0), &mut rng)
            .unwrap_err(),
        HandshakeError::ZeroDh
    );
    // An initiation carrying a zero ephemeral is refused at `es`.
    let p = pair([0; 32]);
    let mut init = h
        .create_initiation(&p.a, &p.a_sees_b, 1, now(0), &mut rng)
        .unwrap();
    init.ephemeral = [0; 32];
    assert_eq!(
        consume_initiation(&p.b, &init).err(),
        Some(HandshakeError::ZeroDh)
    );
}

#[test]
fn response_for_another_index_or_state_is_refused() {
    let mut rng = StdRng::seed_from_u64(6);
    let p = pair([0; 32]);
    let (_, _, _) = full(&p, &mut rng, now(0));
    let mut ha = Handshake::default();
    let mut hb = Handshake::default();
    let init = ha
        .create_initiation(&p.a, &p.a_sees_b, 7, now(0), &mut rng)
        .unwrap();
    hb.accept_initiation(
        consume_initiation(&p.b, &init).unwrap(),
        &p.b_sees_a,
        Duration::ZERO,
    )
    .unwrap();
    let mut resp = hb.create_response(&p.b_sees_a, 8, &mut rng).unwrap();
    resp.receiver = 99;
    assert_eq!(
        ha.consume_response(&p.a, &p.a_sees_b, &resp),
        Err(HandshakeError::WrongState)
    );
    assert_eq!(
        hb.create_response(&p.b_sees_a, 9, &mut rng).unwrap_err(),
        HandshakeError::WrongState
    );
    assert!(Handshake::default().begin_session().is_err());
}
