//! Interop with an implementation we did not write (docs/ARCHITECTURE.md, tier 3): boringtun 0.7's
//! `noise::Tunn` as an in-process peer of a wgrs node (the daemon's batch steps). Handshakes both ways with and
//! without a preshared key, mixed IPv4/IPv6 data both ways, cookie replies both ways, replay,
//! keepalives, reordering, rekeys and crossing initiations.

// Only the boringtun helpers; `common::sim` is not needed here.
#[path = "common/boringtun_peer.rs"]
mod boringtun_peer;
use boringtun::noise::errors::WireGuardError;
use boringtun_peer::*;
use std::time::Duration;
use wgrs::proto::constants::{KEEPALIVE_TIMEOUT, REKEY_AFTER_TIME, REKEY_TIMEOUT};
use wgrs::proto::device::UNDER_LOAD_QUEUE_LEN;

const PSK: [u8; 32] = [0x5a; 32];
const PACKETS: usize = 1000;

/// wgrs initiates: its first packet starts the handshake, waits staged, and arrives after it.
fn wgrs_initiates(psk: Option<[u8; 32]>) -> Link {
    let mut link = Link::new(psk, false);
    let first = wgrs_to_bt(b"first, staged behind the handshake");
    link.wgrs_send(&first);
    link.run();
    assert_eq!(link.shapes(Dir::ToBt)[0], (INIT, 148));
    assert_eq!(link.types(Dir::ToBt), [INIT, DATA]);
    assert_eq!(link.shapes(Dir::ToWgrs), [(RESP, 92)]);
    assert_eq!(link.bt_tun, [first]);
    assert!(link.established(), "handshake completed on both sides");
    let kp = link.wgrs_peer().keypairs.current().expect("session");
    assert!(kp.is_initiator);
    link.assert_clean();
    link
}

/// boringtun initiates: its first packet is queued, and flushed after wgrs's response.
fn bt_initiates(psk: Option<[u8; 32]>) -> Link {
    let mut link = Link::new(psk, false);
    let first = bt_to_wgrs(b"first, queued in boringtun");
    link.bt_send(&first);
    link.run();
    let to_wgrs = link.shapes(Dir::ToWgrs);
    assert_eq!(
        to_wgrs[..2],
        [(INIT, 148), (DATA, 32)],
        "initiation, then keepalive"
    );
    assert_eq!(link.types(Dir::ToWgrs), [INIT, DATA, DATA]);
    assert_eq!(link.shapes(Dir::ToBt), [(RESP, 92)]);
    assert_eq!(link.wgrs_tun, [first]);
    assert!(link.established(), "handshake completed on both sides");
    let kp = link.wgrs_peer().keypairs.current().expect("session");
    assert!(!kp.is_initiator);
    link.assert_clean();
    link
}

#[test]
fn wgrs_initiates_without_psk_then_1000_packets_each_way() {
    wgrs_initiates(None).exchange(PACKETS, 1);
}

#[test]
fn wgrs_initiates_with_psk_then_1000_packets_each_way() {
    wgrs_initiates(Some(PSK)).exchange(PACKETS, 2);
}

#[test]
fn boringtun_initiates_without_psk_then_1000_packets_each_way() {
    bt_initiates(None).exchange(PACKETS, 3);
}

#[test]
fn boringtun_initiates_with_psk_then_1000_packets_each_way() {
    bt_initiates(Some(PSK)).exchange(PACKETS, 4);
}

#[test]
fn wgrs_retries_with_mac2_after_cookie_reply_from_loaded_boringtun() {
    let mut link = Link::new(Some(PSK), true);
    let t0 = link.now();
    let first = wgrs_to_bt(b"waits for the cookie dance");
    link.wgrs_send(&first);
    link.run();

    // First exchange: an initiation without mac2, answered by a cookie reply, nothing more.
    assert_eq!(link.shapes(Dir::ToBt), [(INIT, 148)]);
    assert_eq!(link.shapes(Dir::ToWgrs), [(COOKIE, 64)]);
    let init1 = link.sent(Dir::ToBt, 0).to_vec();
    let cookie = link.sent(Dir::ToWgrs, 0);
    assert_eq!(mac2(&init1), [0; 16], "no cookie yet: mac2 is zero");
    assert_eq!(
        cookie[4..8],
        init1[4..8],
        "cookie reply names wgrs's sender index"
    );
    link.assert_clean(); // wgrs consumed the cookie reply without error
    let p = link.wgrs_peer();
    assert!(p.keypairs.is_empty() && p.last_handshake_wall.is_none());
    assert!(
        link.bt.stats().0.is_none() && link.bt_tun.is_empty(),
        "no session yet"
    );

    // wgrs retransmits after REKEY_TIMEOUT + jitter, now with mac2; boringtun accepts it.
    link.advance(REKEY_TIMEOUT + Duration::from_secs(1));
    assert_eq!(link.shapes(Dir::ToBt)[..2], [(INIT, 148), (INIT, 148)]);
    assert_eq!(link.types(Dir::ToBt), [INIT, INIT, DATA]);
    assert_eq!(link.shapes(Dir::ToWgrs), [(COOKIE, 64), (RESP, 92)]);
    assert_ne!(mac2(link.sent(Dir::ToBt, 1)), [0; 16], "retry carries mac2");
    let done_at = link
        .wgrs_peer()
        .last_handshake_wall
        .expect("handshake completed");
    assert!(
        done_at >= t0.wall + REKEY_TIMEOUT,
        "completed only with the retry"
    );
    assert!(link.established());
    assert_eq!(
        link.bt_tun,
        [first],
        "the staged packet arrived after the handshake"
    );
    link.exchange(100, 5);
}

#[test]
fn boringtun_retries_with_mac2_after_cookie_reply_from_loaded_wgrs() {
    let mut link = Link::new(None, false);
    // wgrs's handshake queue is long: it is under load.
    let backlog = &link.node.sh.handshake_backlog;
    backlog.store(UNDER_LOAD_QUEUE_LEN, std::sync::atomic::Ordering::Relaxed);
    // boringtun's address is not new to wgrs (under load, a new source's first message is
    // processed: proto/gate.rs): an initiation with a valid mac1 came from it just before.
    let mut seen = [7u8; 148];
    seen[..4].copy_from_slice(&[INIT, 0, 0, 0]);
    wgrs::proto::cookie::CookieGenerator::new(&wgrs_private().public_key())
        .add_macs(&mut seen, link.clock.now().mono);
    link.deliver_to_wgrs(&seen);
    link.wgrs_errors.clear();
    let first = bt_to_wgrs(b"waits for the cookie dance");
    link.bt_send(&first);

    // boringtun's initiation lacks mac2: wgrs answers with a cookie reply, not a response.
    let init1 = link.to_wgrs.pop_front().expect("initiation");
    assert_eq!((init1[0], init1.len()), (INIT, 148));
    assert_eq!(mac2(&init1), [0; 16]);
    assert_eq!(link.deliver_to_wgrs(&init1), [cookie_line()]);
    let cookie = link.to_bt.pop_front().expect("cookie reply");
    assert!(
        link.to_bt.is_empty(),
        "no handshake response while under load"
    );
    assert_eq!((cookie[0], cookie.len()), (COOKIE, 64));
    assert_eq!(cookie[1..4], [0, 0, 0]);
    assert_eq!(
        cookie[4..8],
        init1[4..8],
        "cookie reply names boringtun's sender index"
    );
    let took = link.deliver_to_bt(&cookie);
    assert!(
        matches!(took, BtOutcome::Done),
        "boringtun took the cookie: {took:?}"
    );
    assert!(link.wgrs_peer().keypairs.is_empty());

    // boringtun's handshake is still in progress, so it resends only when forced. The new
    // initiation carries mac2 and wgrs, still under load, accepts it.
    link.clock.advance(Duration::from_millis(100));
    link.bt_force_initiation();
    let init2 = link.to_wgrs.pop_front().expect("second initiation");
    assert_ne!(mac2(&init2), [0; 16], "boringtun's retry carries mac2");
    assert_eq!(link.deliver_to_wgrs(&init2), Vec::<String>::new());
    link.run();
    assert_eq!(link.shapes(Dir::ToBt), [(COOKIE, 64), (RESP, 92)]);
    assert_eq!(link.wgrs_tun, [first]);
    assert!(link.established());
    assert_eq!(link.wgrs_errors, [cookie_line()]);
    link.wgrs_errors.clear();
    link.exchange(100, 6);
}

#[test]
fn wgrs_response_gets_cookie_from_loaded_boringtun_initiator_then_retry_completes() {
    let mut link = Link::new(None, true);
    let first = bt_to_wgrs(b"queued in loaded boringtun");
    link.bt_send(&first);
    link.run();
    // wgrs (not loaded) answers; boringtun wants mac2 on the response and sends a cookie.
    assert_eq!(link.shapes(Dir::ToBt), [(RESP, 92)]);
    assert_eq!(link.shapes(Dir::ToWgrs), [(INIT, 148), (COOKIE, 64)]);
    link.assert_clean(); // wgrs consumed the cookie reply without error
    assert!(link.wgrs_tun.is_empty() && link.bt.stats().0.is_none());

    // Responders do not retransmit: boringtun's next initiation gets a response with mac2.
    link.clock.advance(Duration::from_secs(1));
    link.bt_force_initiation();
    link.run();
    let resp2 = link.sent(Dir::ToBt, 1);
    assert_eq!((resp2[0], resp2.len()), (RESP, 92));
    assert_ne!(mac2(resp2), [0; 16], "wgrs's next response carries mac2");
    assert_eq!(link.wgrs_tun, [first]);
    assert!(link.established());
    link.exchange(100, 14);
}

#[test]
fn replayed_boringtun_packets_are_dropped_by_wgrs() {
    let mut link = bt_initiates(None);
    let keepalive = link.sent(Dir::ToWgrs, 1).to_vec();
    let p = bt_to_wgrs(b"exactly once");
    link.bt_send(&p);
    let dgram = link.to_wgrs.back().expect("data datagram").clone();
    link.run();
    assert_eq!(link.wgrs_tun.last(), Some(&p));
    let delivered = link.wgrs_tun.len();

    let replay = [replay_line()];
    assert_eq!(link.deliver_to_wgrs(&dgram), replay, "immediate replay");
    link.wgrs_errors.clear();
    link.exchange(20, 7);
    assert_eq!(
        link.deliver_to_wgrs(&dgram),
        replay,
        "replay after newer packets"
    );
    assert_eq!(
        link.deliver_to_wgrs(&keepalive),
        replay,
        "replayed keepalive"
    );
    assert_eq!(
        link.wgrs_tun.len(),
        delivered + 20,
        "nothing delivered twice"
    );
    assert_eq!(link.wgrs_tun.iter().filter(|q| **q == p).count(), 1);
}

#[test]
fn wgrs_keepalives_are_accepted_by_boringtun() {
    let mut link = wgrs_initiates(None);
    let data_before = link.bt.stats().2;

    // Passive keepalive: wgrs got data and stayed silent for KEEPALIVE_TIMEOUT.
    link.bt_send(&bt_to_wgrs(b"answer me"));
    link.run();
    assert_eq!(
        link.node.poll_timeout(),
        Some(link.now().mono + KEEPALIVE_TIMEOUT)
    );
    link.clock.advance(KEEPALIVE_TIMEOUT);
    link.step_wgrs();
    let passive = link.to_bt.pop_front().expect("passive keepalive");
    assert_eq!((passive[0], passive.len()), (DATA, 32));
    assert!(matches!(link.deliver_to_bt(&passive), BtOutcome::Done));

    // Persistent keepalive: one at once when turned on, then one per interval.
    let now = link.now();
    (link.node.dev)
        .set_persistent_keepalive(link.peer, 25, now)
        .expect("peer");
    link.step_wgrs();
    let at_once = link.to_bt.pop_front().expect("keepalive when turned on");
    assert_eq!((at_once[0], at_once.len()), (DATA, 32));
    assert!(matches!(link.deliver_to_bt(&at_once), BtOutcome::Done));
    link.advance(Duration::from_secs(26));
    let last = link.log.last().map(|(d, b)| (*d, b[0], b.len()));
    assert_eq!(last, Some((Dir::ToBt, DATA, 32)));

    link.assert_clean();
    assert_eq!(link.bt.stats().2, data_before, "keepalives deliver no data");
    assert_eq!(
        link.bt_tun.len(),
        1,
        "only the first packet reached boringtun's TUN"
    );
    // boringtun authenticated the keepalive and recorded its counter: a replay is refused.
    let replay = link.deliver_to_bt(&passive);
    assert!(
        matches!(replay, BtOutcome::Err(WireGuardError::DuplicateCounter)),
        "{replay:?}"
    );
}

#[test]
fn reordered_boringtun_packets_within_the_window_are_all_accepted() {
    let mut link = bt_initiates(None);
    let mut pkts = mixed_packets(12, 64, false);
    for p in &pkts {
        link.bt_send(p);
    }
    let mut dgrams: Vec<Vec<u8>> = link.to_wgrs.drain(..).collect();
    dgrams.reverse();
    pkts.reverse();
    let w0 = link.wgrs_tun.len();
    for d in &dgrams {
        let drops = link.deliver_to_wgrs(d);
        assert_eq!(drops, Vec::<String>::new(), "accepted out of order");
    }
    assert_delivered(&link.wgrs_tun[w0..], &pkts, "boringtun -> wgrs, reversed");
}

#[test]
fn boringtun_rekeys_midstream_and_nothing_is_lost() {
    let mut link = wgrs_initiates(None);
    link.exchange(50, 8);
    let old = link.wgrs_peer().keypairs.current().map(|k| k.local_index);
    link.clock.advance(Duration::from_secs(1));
    // wgrs data still in flight on the old session when boringtun's new initiation arrives.
    let in_flight = mixed_packets(13, 5, true);
    for p in &in_flight {
        link.wgrs_send(p);
    }
    link.bt_force_initiation();
    link.run();
    assert_delivered(
        &link.bt_tun[link.bt_tun.len() - 5..],
        &in_flight,
        "old-session packets",
    );
    let new = link.wgrs_peer().keypairs.current().expect("session");
    assert!(
        Some(new.local_index) != old && !new.is_initiator,
        "wgrs moved to the new session"
    );
    link.exchange(200, 9);
}

#[test]
fn wgrs_rekeys_after_rekey_after_time_and_nothing_is_lost() {
    let mut link = wgrs_initiates(Some(PSK));
    link.exchange(50, 10);
    let old = link.wgrs_peer().keypairs.current().map(|k| k.local_index);
    let count = |l: &Link, dir, t| l.types(dir).iter().filter(|x| **x == t).count();
    link.advance(REKEY_AFTER_TIME + Duration::from_secs(1));
    assert_eq!(count(&link, Dir::ToBt, INIT), 1, "no rekey while idle");
    link.exchange(200, 11);
    assert_eq!(
        count(&link, Dir::ToBt, INIT),
        2,
        "one rekey initiation on send"
    );
    assert_eq!(count(&link, Dir::ToWgrs, RESP), 2);
    let new = link.wgrs_peer().keypairs.current().expect("session");
    assert!(
        Some(new.local_index) != old && new.is_initiator,
        "wgrs moved to the new session"
    );
}

#[test]
fn crossing_initiations_converge() {
    let mut link = Link::new(Some(PSK), false);
    let (p, q) = (wgrs_to_bt(b"from wgrs"), bt_to_wgrs(b"from boringtun"));
    link.wgrs_send(&p);
    link.bt_send(&q);
    link.run();
    // Both initiated at once. wgrs answers boringtun's initiation, which replaces its own, so it
    // rejects boringtun's response to that (as the kernel does); boringtun's queue flush makes a
    // third initiation at the same instant, dropped by the 20 ms flood check. boringtun lost its
    // first initiation's state to that third one and refuses wgrs's response (UnexpectedPacket).
    assert_eq!(link.types(Dir::ToWgrs), [INIT, RESP, INIT]);
    assert_eq!(link.types(Dir::ToBt), [INIT, RESP]);
    let rejected = [rejected_line("response"), rejected_line("initiation")];
    assert_eq!(link.wgrs_errors, rejected);
    assert!(link.wgrs_tun.is_empty() && link.bt_tun.is_empty());
    // wgrs's retransmission after REKEY_TIMEOUT settles it; both first packets arrive.
    link.advance(REKEY_TIMEOUT * 2);
    assert_eq!(link.bt_tun, [p]);
    assert_eq!(link.wgrs_tun, [q]);
    assert!(link.established());
    link.wgrs_errors.clear();
    link.bt_errors.clear();
    link.exchange(100, 15);
}
