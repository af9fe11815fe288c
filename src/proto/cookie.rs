//! mac1 / mac2 on handshake messages and cookie replies under load (whitepaper §5.4.4, §5.4.7).
//!
//! Every handshake message ends in `mac1 || mac2`, 16 bytes each:
//! `mac1 = MAC(HASH(LABEL_MAC1 || Spub_responder), msg[..len-32])` proves the sender knows the
//! responder's public key; `mac2 = MAC(cookie, msg[..len-16])` (the cookie is the 16-byte key)
//! proves the sender owns its source address, once the responder, under load, answered with a
//! cookie reply: `XAEAD(HASH(LABEL_COOKIE || Spub_responder), nonce, cookie, aad = mac1)`,
//! where `cookie = MAC(Rm, source IP || source port)` and `Rm` is a random secret that changes
//! every two minutes.
//!
//! [`CookieChecker`] is the responder side (one per device), [`CookieGenerator`] the initiator
//! side (one per peer). Both follow wireguard-go `device/cookie.go` and the kernel's `cookie.c`.

use blake2::digest::consts::U16;
use blake2::digest::{KeyInit, Mac as _, Update};
use blake2::Blake2sMac;
use rand_core::CryptoRngCore;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::constants::{
    AEAD_TAG_SIZE, COOKIE_LEN, COOKIE_MAX_AGE, COOKIE_SECRET_MAX_AGE, KEY_LEN, LABEL_COOKIE,
    LABEL_MAC1, MAC_LEN, MESSAGE_COOKIE_REPLY, MESSAGE_COOKIE_REPLY_SIZE, XNONCE_LEN,
};
use super::crypto::{hash, mac, xaead_open, xaead_seal};
use super::keys::PublicKey;

/// Cookie reply layout: type(1) + reserved(3) + receiver(4) + nonce(24) + cookie(16) + tag(16).
const REPLY_RECEIVER_AT: usize = 4;
const REPLY_NONCE_AT: usize = 8;
const REPLY_COOKIE_AT: usize = REPLY_NONCE_AT + XNONCE_LEN;
const REPLY_TAG_AT: usize = REPLY_COOKIE_AT + COOKIE_LEN;
const _: () = assert!(REPLY_TAG_AT + AEAD_TAG_SIZE == MESSAGE_COOKIE_REPLY_SIZE);
const _: () = assert!(MESSAGE_COOKIE_REPLY_SIZE == 64);

/// Why a cookie reply could not be made or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// A message too short to carry mac1 and mac2, or a reply that is not 64 bytes.
    Length,
    /// A cookie reply arrived but no message with mac1 awaits one (or it was already used).
    NoMac1Sent,
    /// The cookie reply did not authenticate.
    Decrypt,
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Length => "message too short for mac1/mac2, or cookie reply not 64 bytes",
            Self::NoMac1Sent => "cookie reply without a handshake message awaiting one",
            Self::Decrypt => "cookie reply failed to authenticate",
        })
    }
}

impl std::error::Error for CookieError {}

/// A handshake message split at its MACs: `(msg[..len-32], mac1, msg[..len-16], mac2)`.
struct Macs<'a> {
    before_mac1: &'a [u8],
    mac1: [u8; MAC_LEN],
    before_mac2: &'a [u8],
    mac2: [u8; MAC_LEN],
}

/// The mac1 field of a handshake message (its 32nd to 17th last bytes).
pub fn mac1_of(msg: &[u8]) -> Option<[u8; MAC_LEN]> {
    split_macs(msg).map(|m| m.mac1)
}

fn split_macs(msg: &[u8]) -> Option<Macs<'_>> {
    let at1 = msg.len().checked_sub(2 * MAC_LEN)?;
    let at2 = at1 + MAC_LEN;
    Some(Macs {
        before_mac1: msg.get(..at1)?,
        mac1: msg.get(at1..at2)?.try_into().ok()?,
        before_mac2: msg.get(..at2)?,
        mac2: msg.get(at2..)?.try_into().ok()?,
    })
}

/// MAC keyed by a 16-byte cookie. Keyed BLAKE2s depends on the key length, so this is not
/// `crypto::mac` with a zero-padded key. `None` cannot happen (16 bytes is a valid key length).
fn mac_by_cookie(cookie: &[u8; COOKIE_LEN], parts: &[&[u8]]) -> Option<[u8; MAC_LEN]> {
    let mut m = <Blake2sMac<U16> as KeyInit>::new_from_slice(cookie).ok()?;
    for p in parts {
        Update::update(&mut m, p);
    }
    Some(m.finalize().into_bytes().into())
}

fn ct_eq(a: &[u8; MAC_LEN], b: &[u8; MAC_LEN]) -> bool {
    a.ct_eq(b).into()
}

/// True when something born at `born` is older than `max_age` at `now` (never set: expired).
fn expired(born: Option<Duration>, now: Duration, max_age: Duration) -> bool {
    born.is_none_or(|b| now.saturating_sub(b) > max_age)
}

/// Responder side: checks mac1/mac2 of incoming handshake messages and writes cookie replies.
/// Secrets are zeroized on drop and never printed.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct CookieChecker {
    /// HASH(LABEL_MAC1 || Spub)
    mac1_key: [u8; KEY_LEN],
    /// HASH(LABEL_COOKIE || Spub)
    cookie_key: [u8; KEY_LEN],
    /// Rm, the changing secret behind cookies.
    secret: [u8; KEY_LEN],
    /// When `secret` was drawn; `None` before the first cookie reply.
    #[zeroize(skip)]
    secret_born: Option<Duration>,
}

impl fmt::Debug for CookieChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieChecker(hidden)")
    }
}

impl CookieChecker {
    /// A checker for messages addressed to `local_public`. No cookie secret exists until the
    /// first cookie reply, so mac2 checks fail until then.
    pub fn new(local_public: &PublicKey) -> Self {
        let mut c = Self {
            mac1_key: [0; KEY_LEN],
            cookie_key: [0; KEY_LEN],
            secret: [0; KEY_LEN],
            secret_born: None,
        };
        c.set_local_public(local_public);
        c
    }

    /// Re-derive the mac1 and cookie keys after the device's key changed. The cookie secret is
    /// kept (it is bound to source addresses, not to our key), as the kernel does.
    pub fn set_local_public(&mut self, local_public: &PublicKey) {
        self.mac1_key = hash(&[LABEL_MAC1, local_public.as_bytes()]);
        self.cookie_key = hash(&[LABEL_COOKIE, local_public.as_bytes()]);
    }

    /// True when `msg` carries a valid mac1 for our public key (constant-time compare).
    pub fn check_mac1(&self, msg: &[u8]) -> bool {
        match split_macs(msg) {
            Some(m) => ct_eq(&mac(&self.mac1_key, &[m.before_mac1]), &m.mac1),
            None => false,
        }
    }

    /// True when `msg` carries a valid mac2 for a cookie we would give `src` now. Draws a new
    /// secret (and returns false) when the current one is older than `COOKIE_SECRET_MAX_AGE`.
    pub fn check_mac2(
        &mut self,
        msg: &[u8],
        src: SocketAddr,
        now: Duration,
        rng: &mut impl CryptoRngCore,
    ) -> bool {
        if self.refresh_secret(now, rng) {
            // No cookie was ever handed out under a secret drawn just now.
            return false;
        }
        self.mac2_valid(msg, src, now)
    }

    /// `check_mac2` without drawing a secret (for a thread that has no generator at hand): an
    /// expired or missing secret means no cookie is valid. A zero mac2 is what a sender
    /// without a cookie writes (whitepaper §5.4.4): refused before any hashing.
    pub fn mac2_valid(&self, msg: &[u8], src: SocketAddr, now: Duration) -> bool {
        let Some(m) = split_macs(msg) else {
            return false;
        };
        if m.mac2 == [0; MAC_LEN] || expired(self.secret_born, now, COOKIE_SECRET_MAX_AGE) {
            return false;
        }
        let cookie = self.cookie_for(src);
        match mac_by_cookie(&cookie, &[m.before_mac2]) {
            Some(want) => ct_eq(&want, &m.mac2),
            None => false,
        }
    }

    /// A 64-byte cookie reply to `msg` (which came from `src` with sender index
    /// `sender_index`): the cookie for `src`, sealed under a random nonce with `msg`'s mac1 as
    /// associated data. Checking mac1 first is the caller's job.
    pub fn create_reply(
        &mut self,
        msg: &[u8],
        sender_index: u32,
        src: SocketAddr,
        now: Duration,
        rng: &mut impl CryptoRngCore,
    ) -> Result<[u8; MESSAGE_COOKIE_REPLY_SIZE], CookieError> {
        let m = split_macs(msg).ok_or(CookieError::Length)?;
        Ok(self.reply_to_mac1(&m.mac1, sender_index, src, now, rng))
    }

    /// `create_reply` for a message known by its mac1 alone.
    pub fn reply_to_mac1(
        &mut self,
        mac1: &[u8; MAC_LEN],
        sender_index: u32,
        src: SocketAddr,
        now: Duration,
        rng: &mut impl CryptoRngCore,
    ) -> [u8; MESSAGE_COOKIE_REPLY_SIZE] {
        self.refresh_secret(now, rng);
        let mut cookie = self.cookie_for(src);
        let mut nonce = [0u8; XNONCE_LEN];
        rng.fill_bytes(&mut nonce);
        // msg.encrypted_cookie = XAEAD(HASH(LABEL_COOKIE || Spub), msg.nonce, cookie, mac1)
        let tag = xaead_seal(&self.cookie_key, &nonce, &mut cookie, mac1);

        let mut reply = [0u8; MESSAGE_COOKIE_REPLY_SIZE];
        reply[0] = MESSAGE_COOKIE_REPLY;
        reply[REPLY_RECEIVER_AT..REPLY_NONCE_AT].copy_from_slice(&sender_index.to_le_bytes());
        reply[REPLY_NONCE_AT..REPLY_COOKIE_AT].copy_from_slice(&nonce);
        reply[REPLY_COOKIE_AT..REPLY_TAG_AT].copy_from_slice(&cookie);
        reply[REPLY_TAG_AT..].copy_from_slice(&tag);
        reply
    }

    /// Draw a new Rm if the current one is missing or too old; true when it did.
    fn refresh_secret(&mut self, now: Duration, rng: &mut impl CryptoRngCore) -> bool {
        if !expired(self.secret_born, now, COOKIE_SECRET_MAX_AGE) {
            return false;
        }
        rng.fill_bytes(&mut self.secret);
        self.secret_born = Some(now);
        true
    }

    /// cookie = MAC(Rm, source IP bytes || source port, big-endian), as the kernel computes
    /// it. IPv4-mapped IPv6 sources count as IPv4.
    fn cookie_for(&self, src: SocketAddr) -> [u8; COOKIE_LEN] {
        let port = src.port().to_be_bytes();
        match src.ip().to_canonical() {
            IpAddr::V4(a) => mac(&self.secret, &[&a.octets(), &port]),
            IpAddr::V6(a) => mac(&self.secret, &[&a.octets(), &port]),
        }
    }
}

/// The receiver index of a cookie reply (the sender index of the message it answers), when
/// `reply` is 64 bytes of type 3 with zero reserved bytes.
pub fn reply_receiver_index(reply: &[u8]) -> Option<u32> {
    if reply.len() != MESSAGE_COOKIE_REPLY_SIZE {
        return None;
    }
    let head: [u8; 4] = reply.get(..REPLY_RECEIVER_AT)?.try_into().ok()?;
    if head != [MESSAGE_COOKIE_REPLY, 0, 0, 0] {
        return None;
    }
    let idx = reply
        .get(REPLY_RECEIVER_AT..REPLY_NONCE_AT)?
        .try_into()
        .ok()?;
    Some(u32::from_le_bytes(idx))
}

/// Initiator side, one per peer: writes mac1/mac2 on the handshake messages we send to the peer
/// and takes in the cookie replies it answers with. Secrets are zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct CookieGenerator {
    /// HASH(LABEL_MAC1 || Spub_peer)
    mac1_key: [u8; KEY_LEN],
    /// HASH(LABEL_COOKIE || Spub_peer)
    cookie_key: [u8; KEY_LEN],
    /// The last cookie received from the peer.
    cookie: [u8; COOKIE_LEN],
    /// When `cookie` arrived; `None` when we have none.
    #[zeroize(skip)]
    cookie_born: Option<Duration>,
    /// mac1 of the last message sent, awaiting a cookie reply; cleared once one is used.
    last_mac1: Option<[u8; MAC_LEN]>,
}

impl fmt::Debug for CookieGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieGenerator(hidden)")
    }
}

impl CookieGenerator {
    /// A generator for messages sent to the peer whose static public key is `remote_public`.
    pub fn new(remote_public: &PublicKey) -> Self {
        Self {
            mac1_key: hash(&[LABEL_MAC1, remote_public.as_bytes()]),
            cookie_key: hash(&[LABEL_COOKIE, remote_public.as_bytes()]),
            cookie: [0; COOKIE_LEN],
            cookie_born: None,
            last_mac1: None,
        }
    }

    /// Fill the last 32 bytes of `msg` with mac1 and mac2. mac2 is zero unless a cookie arrived
    /// less than `COOKIE_MAX_AGE` ago. Remembers mac1 for the cookie reply that may answer
    /// `msg`. A `msg` shorter than 32 bytes (never a real handshake message) is left untouched.
    pub fn add_macs(&mut self, msg: &mut [u8], now: Duration) {
        let Some(at1) = msg.len().checked_sub(2 * MAC_LEN) else {
            return;
        };
        let (before_mac1, macs) = msg.split_at_mut(at1);
        let (mac1_field, mac2_field) = macs.split_at_mut(MAC_LEN);
        // msg.mac1 = MAC(HASH(LABEL_MAC1 || Spub_responder), msg[0:offsetof(msg.mac1)])
        let mac1 = mac(&self.mac1_key, &[before_mac1]);
        mac1_field.copy_from_slice(&mac1);
        self.last_mac1 = Some(mac1);

        // msg.mac2 = MAC(last_received_cookie, msg[0:offsetof(msg.mac2)]), or zeros.
        let fresh = self
            .cookie_born
            .is_some_and(|b| now.saturating_sub(b) < COOKIE_MAX_AGE);
        let mac2 = if fresh {
            mac_by_cookie(&self.cookie, &[before_mac1, &mac1])
        } else {
            None
        };
        mac2_field.copy_from_slice(&mac2.unwrap_or([0; MAC_LEN]));
    }

    /// Take in a cookie reply (exactly 64 bytes) answering the last message we sent. On
    /// success the cookie is kept for `COOKIE_MAX_AGE` and the remembered mac1 is cleared, so
    /// the same reply cannot be applied twice.
    pub fn consume_reply(&mut self, reply: &[u8], now: Duration) -> Result<(), CookieError> {
        if reply.len() != MESSAGE_COOKIE_REPLY_SIZE {
            return Err(CookieError::Length);
        }
        let mac1 = self.last_mac1.ok_or(CookieError::NoMac1Sent)?;
        let (nonce, mut cookie, tag) = reply_fields(reply).ok_or(CookieError::Length)?;
        if xaead_open(&self.cookie_key, &nonce, &mut cookie, &tag, &mac1).is_err() {
            cookie.zeroize();
            return Err(CookieError::Decrypt);
        }
        self.cookie = cookie;
        cookie.zeroize();
        self.cookie_born = Some(now);
        self.last_mac1 = None;
        Ok(())
    }
}

type ReplyFields = ([u8; XNONCE_LEN], [u8; COOKIE_LEN], [u8; AEAD_TAG_SIZE]);

/// Nonce, encrypted cookie and tag of a cookie reply.
fn reply_fields(reply: &[u8]) -> Option<ReplyFields> {
    Some((
        reply
            .get(REPLY_NONCE_AT..REPLY_COOKIE_AT)?
            .try_into()
            .ok()?,
        reply.get(REPLY_COOKIE_AT..REPLY_TAG_AT)?.try_into().ok()?,
        reply
            .get(REPLY_TAG_AT..MESSAGE_COOKIE_REPLY_SIZE)?
            .try_into()
            .ok()?,
    ))
}

#[cfg(test)]
mod tests;
