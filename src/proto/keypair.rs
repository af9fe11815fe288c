//! Transport keypairs and their rotation through previous/current/next (whitepaper §5.4.6, §6.1).
//!
//! A [`Keypair`] is immutable apart from its atomic nonce counter, so sealing and opening need
//! no lock: any thread holding it can encrypt or decrypt. A [`Session`] adds what the data
//! plane checks and updates per packet (replay window, confirmation), shared through `Arc`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::constants::*;
use super::crypto::{AeadError, TransportCipher, TransportKey};
use super::handshake::SessionKeys;
use super::link::Link;
use super::messages::{padded_len, write_transport_header};
use super::replay::ReplayWindow;

/// One session's keys, indices and nonce counter.
pub struct Keypair {
    sender: TransportKey,
    receiver: TransportKey,
    send_counter: AtomicU64,
    /// Our index: peers put it in transport headers they send us.
    pub local_index: u32,
    /// Their index: we put it in transport headers we send.
    pub remote_index: u32,
    /// Monotonic time the session was derived.
    pub created: Duration,
    /// Whether we initiated the handshake that made it.
    pub is_initiator: bool,
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keypair")
            .field("local_index", &self.local_index)
            .field("remote_index", &self.remote_index)
            .field("is_initiator", &self.is_initiator)
            .finish_non_exhaustive()
    }
}

impl Keypair {
    /// Build from freshly derived session keys.
    pub fn new(keys: &SessionKeys, now: Duration) -> Self {
        Self {
            sender: TransportKey::new(&keys.send),
            receiver: TransportKey::new(&keys.recv),
            send_counter: AtomicU64::new(0),
            local_index: keys.local_index,
            remote_index: keys.remote_index,
            created: now,
            is_initiator: keys.is_initiator,
        }
    }

    /// Reserve the next nonce, or `None` once REJECT_AFTER_MESSAGES is reached.
    pub fn next_nonce(&self) -> Option<u64> {
        let n = self.send_counter.fetch_add(1, Ordering::Relaxed);
        if n >= REJECT_AFTER_MESSAGES {
            self.send_counter
                .store(REJECT_AFTER_MESSAGES, Ordering::Relaxed);
            None
        } else {
            Some(n)
        }
    }

    /// Nonces handed out so far.
    pub fn nonces_used(&self) -> u64 {
        self.send_counter.load(Ordering::Relaxed)
    }

    /// True while the keypair may still send (§6.1: not past REJECT_AFTER_TIME or _MESSAGES).
    pub fn can_send(&self, now: Duration) -> bool {
        now.saturating_sub(self.created) < REJECT_AFTER_TIME
            && self.nonces_used() < REJECT_AFTER_MESSAGES
    }

    /// True while the keypair may still receive.
    pub fn can_receive(&self, now: Duration) -> bool {
        now.saturating_sub(self.created) < REJECT_AFTER_TIME
    }

    /// True when sending on this keypair should trigger a new handshake (§6.2).
    pub fn wants_rekey_on_send(&self, now: Duration) -> bool {
        self.nonces_used() > REKEY_AFTER_MESSAGES
            || (self.is_initiator && now.saturating_sub(self.created) >= REKEY_AFTER_TIME)
    }

    /// Seal a transport message in place. `buf[16..16 + len]` holds the plaintext; `buf` must
    /// have room for padding (to a multiple of 16, capped at `mtu`) and the 16-byte tag.
    /// Returns the datagram length.
    pub fn seal(
        &self,
        counter: u64,
        buf: &mut [u8],
        len: usize,
        mtu: usize,
    ) -> Result<usize, AeadError> {
        let total = self.frame(counter, buf, len, mtu)?;
        let body = buf
            .get_mut(MESSAGE_TRANSPORT_HEADER_SIZE..total)
            .ok_or(AeadError)?;
        self.sender.seal(counter, body)?;
        Ok(total)
    }

    /// The first half of `seal`: write the header and the zero padding around the plaintext
    /// at `buf[16..16 + len]`. Returns the datagram length; `buf[16..total]` is then the body
    /// for [`seal_bodies`](Self::seal_bodies).
    pub fn frame(
        &self,
        counter: u64,
        buf: &mut [u8],
        len: usize,
        mtu: usize,
    ) -> Result<usize, AeadError> {
        let padded = padded_len(len, mtu);
        let total = MESSAGE_TRANSPORT_HEADER_SIZE + padded + AEAD_TAG_SIZE;
        if buf.len() < total {
            return Err(AeadError);
        }
        let body_end = MESSAGE_TRANSPORT_HEADER_SIZE + padded;
        let pad = buf
            .get_mut(MESSAGE_TRANSPORT_HEADER_SIZE + len..body_end)
            .ok_or(AeadError)?;
        pad.fill(0);
        write_transport_header(buf, self.remote_index, counter);
        Ok(total)
    }

    /// The second half of `seal` for several framed messages at once: each job is a counter
    /// and the body (padded plaintext, then 16 bytes for the tag); `ok[i]` says which sealed.
    pub fn seal_bodies(&self, jobs: &mut [(u64, &mut [u8])], ok: &mut [bool]) {
        self.sender.seal_many(jobs, ok);
    }

    /// `open` for several payloads at once; `ok[i]` says which were authentic (and are now
    /// decrypted, their plaintext being 16 bytes shorter than the payload).
    pub fn open_many(&self, jobs: &mut [(u64, &mut [u8])], ok: &mut [bool]) {
        self.receiver.open_many(jobs, ok);
    }

    /// Open the payload of a transport message (ciphertext and tag, header removed) in place.
    /// Returns the plaintext length (still padded).
    pub fn open(&self, counter: u64, payload: &mut [u8]) -> Result<usize, AeadError> {
        self.receiver.open(counter, payload)
    }
}

/// A keypair in a peer's rotation as both planes use it: the keys, the peer it belongs to, the
/// receive-side replay window under a lock of its own, and the flags by which the data plane
/// asks the control plane for something at most once per session.
pub struct Session {
    /// The keys, indices and send counter.
    pub keypair: Keypair,
    /// The peer.
    pub link: Arc<Link>,
    replay: Mutex<ReplayWindow>,
    confirmed: AtomicBool,
    rekey_asked: AtomicBool,
    lastminute_asked: AtomicBool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("keypair", &self.keypair)
            .field("peer", &self.link.name)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Session {
    type Target = Keypair;
    fn deref(&self) -> &Keypair {
        &self.keypair
    }
}

impl Session {
    /// A session of `link`'s. An initiator's is confirmed from the start (the response proved
    /// the peer has the keys); a responder's once the first packet arrives on it.
    pub fn new(keypair: Keypair, link: Arc<Link>) -> Self {
        let confirmed = AtomicBool::new(keypair.is_initiator);
        Self {
            keypair,
            link,
            replay: Mutex::new(ReplayWindow::default()),
            confirmed,
            rekey_asked: AtomicBool::new(false),
            lastminute_asked: AtomicBool::new(false),
        }
    }

    /// Accept `counter` unless it was seen before or is too old (RFC 6479 window).
    pub fn check_replay(&self, counter: u64) -> bool {
        let mut w = self.replay.lock().unwrap_or_else(|e| e.into_inner());
        w.check_and_update(counter)
    }

    /// True once a packet arrived on it (or we initiated it).
    pub fn is_confirmed(&self) -> bool {
        self.confirmed.load(Ordering::Acquire)
    }

    /// Mark it confirmed; true for the call that did so.
    pub fn confirm(&self) -> bool {
        !self.is_confirmed() && !self.confirmed.swap(true, Ordering::AcqRel)
    }

    /// True for the first call: the data plane asks for a rekey on send once per session.
    pub fn ask_rekey(&self) -> bool {
        once(&self.rekey_asked)
    }

    /// True for the first call: an initiator rekeys on receive near REJECT_AFTER_TIME once.
    pub fn ask_lastminute(&self) -> bool {
        once(&self.lastminute_asked)
    }
}

fn once(flag: &AtomicBool) -> bool {
    !flag.load(Ordering::Relaxed) && !flag.swap(true, Ordering::AcqRel)
}

/// A peer's sessions: the one in use, the one before it, and a responder's unconfirmed next.
#[derive(Debug, Default)]
pub struct Keypairs {
    /// Kept to decrypt packets still in flight after a rotation.
    pub previous: Option<Arc<Session>>,
    /// Used for sending.
    pub current: Option<Arc<Session>>,
    /// Responder's new session, waiting for the initiator's first packet (key confirmation).
    pub next: Option<Arc<Session>>,
}

impl Keypairs {
    /// Install a new session (kernel `add_new_keypair`). Returns the local indices retired.
    pub fn insert(&mut self, slot: Arc<Session>) -> Vec<u32> {
        let mut retired = Vec::new();
        let mut retire = |s: Option<Arc<Session>>| {
            if let Some(s) = s {
                retired.push(s.keypair.local_index);
            }
        };
        if slot.keypair.is_initiator {
            if let Some(next) = self.next.take() {
                retire(self.previous.replace(next));
                retire(self.current.take());
            } else {
                retire(self.previous.take());
                self.previous = self.current.take();
            }
            self.current = Some(slot);
        } else {
            retire(self.next.replace(slot));
            retire(self.previous.take());
        }
        retired
    }

    /// Note a packet authenticated by the keypair with `local_index`. When it is `next`, the
    /// session is confirmed: it becomes current. Returns (confirmed, retired index).
    pub fn received_with(&mut self, local_index: u32) -> (bool, Option<u32>) {
        let is_next = self
            .next
            .as_ref()
            .is_some_and(|n| n.keypair.local_index == local_index);
        if !is_next {
            return (false, None);
        }
        let retired = self.previous.take().map(|p| p.keypair.local_index);
        self.previous = self.current.take();
        self.current = self.next.take();
        (true, retired)
    }

    /// The session to send on, if any.
    pub fn current(&self) -> Option<&Arc<Session>> {
        self.current.as_ref()
    }

    /// Drop all keypairs; returns their local indices.
    pub fn clear(&mut self) -> Vec<u32> {
        [self.previous.take(), self.current.take(), self.next.take()]
            .into_iter()
            .flatten()
            .map(|s| s.keypair.local_index)
            .collect()
    }

    /// True when no keypair is held.
    pub fn is_empty(&self) -> bool {
        self.previous.is_none() && self.current.is_none() && self.next.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kp(local: u32, initiator: bool) -> Arc<Session> {
        let link = Arc::new(Link::new(
            crate::proto::peer::PeerId(0),
            &crate::proto::keys::PublicKey([3; 32]),
        ));
        Arc::new(Session::new(raw(local, initiator), link))
    }

    fn raw(local: u32, initiator: bool) -> Keypair {
        let keys = SessionKeys {
            send: [1; 32],
            recv: [2; 32],
            local_index: local,
            remote_index: 99,
            is_initiator: initiator,
        };
        Keypair::new(&keys, Duration::ZERO)
    }

    fn idx(s: &Option<Arc<Session>>) -> Option<u32> {
        s.as_ref().map(|s| s.keypair.local_index)
    }

    #[test]
    fn initiator_rotation() {
        let mut k = Keypairs::default();
        assert!(k.insert(kp(1, true)).is_empty());
        assert!(k.insert(kp(2, true)).is_empty());
        assert_eq!((idx(&k.previous), idx(&k.current)), (Some(1), Some(2)));
        assert_eq!(k.insert(kp(3, true)), vec![1]);
        assert_eq!((idx(&k.previous), idx(&k.current)), (Some(2), Some(3)));
    }

    #[test]
    fn responder_waits_for_confirmation() {
        let mut k = Keypairs::default();
        k.insert(kp(1, true));
        assert!(k.insert(kp(2, false)).is_empty());
        assert_eq!((idx(&k.current), idx(&k.next)), (Some(1), Some(2)));
        assert_eq!(k.received_with(1), (false, None));
        assert_eq!(k.received_with(2), (true, None));
        assert_eq!(
            (idx(&k.previous), idx(&k.current), idx(&k.next)),
            (Some(1), Some(2), None)
        );
        // A second unconfirmed responder session replaces the first and drops previous.
        assert_eq!(k.insert(kp(3, false)), vec![1]);
        assert_eq!(k.insert(kp(4, false)), vec![3]);
        assert_eq!(k.clear(), vec![2, 4]);
        assert!(k.is_empty());
    }

    #[test]
    fn seal_open_and_limits() {
        let keys = SessionKeys {
            send: [1; 32],
            recv: [1; 32],
            local_index: 1,
            remote_index: 2,
            is_initiator: true,
        };
        let k = Keypair::new(&keys, Duration::ZERO);
        let mut buf = vec![0u8; 16 + 32 + 16];
        buf[16..21].copy_from_slice(b"hello");
        let n = k.seal(0, &mut buf, 5, 1420).unwrap();
        assert_eq!(n, 48);
        assert_eq!(&buf[..8], &[4, 0, 0, 0, 2, 0, 0, 0]);
        let mut payload = buf[16..n].to_vec();
        assert_eq!(k.open(0, &mut payload), Ok(16));
        assert_eq!(&payload[..5], b"hello");
        assert!(
            k.seal(1, &mut [0u8; 20], 5, 1420).is_err(),
            "too small a buffer is an error"
        );
        assert!(k.can_send(Duration::from_secs(179)) && !k.can_send(REJECT_AFTER_TIME));
        assert!(k.wants_rekey_on_send(REKEY_AFTER_TIME));
        k.send_counter
            .store(REJECT_AFTER_MESSAGES - 1, Ordering::Relaxed);
        assert_eq!(k.next_nonce(), Some(REJECT_AFTER_MESSAGES - 1));
        assert_eq!(k.next_nonce(), None);
        assert_eq!(k.next_nonce(), None);
        assert!(!k.can_send(Duration::ZERO));
    }
}
