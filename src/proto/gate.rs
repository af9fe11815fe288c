//! The handshake gate: which handshake messages may cost a Noise step (X25519 work), decided
//! before they are queued, in microseconds, on the thread that received them (whitepaper §5.3).
//!
//! A message must carry a valid mac1 for our public key. Then, as the whitepaper has it, a
//! device *under load* (its handshake queue past `UNDER_LOAD_QUEUE_LEN`, or within a second of
//! it) answers a message without a valid mac2 with a cookie reply instead of processing it,
//! and rate-limits the messages whose mac2 is valid per source.
//!
//! Under load, a source not seen within the last second still has its first message
//! processed (`FRESH_PER_SECOND` for all such sources together): a flood's addresses are
//! never new, a new client is.
//!
//! Cookie replies are limited too, per source (`REPLIES_PER_SECOND`), so a flood from few
//! addresses costs few replies.
//!
//! The gate itself only judges (BLAKE2s and a table lookup); the cookie reply it calls for
//! is written by whoever owns a random generator (`cookie_reply`): in the daemon, the control
//! thread, from a bounded queue of `CookieRequest`s, so a flood's replies never cost the packet
//! thread more than a queue slot.
//!
//! One step beyond wireguard-go: each source also has a budget for messages *without* a valid
//! cookie, the limiter's 5 at once and 20 a second, checked before the queue, whatever the
//! load. A source that floods valid-mac1 initiations spends its budget at once and from then on
//! gets cookie replies (a blake2s and an XChaCha20-Poly1305, no X25519), so it can neither fill
//! the queue nor put the device under load for everybody; a new client on another address is
//! processed at once instead of waiting out a cookie round trip (REKEY_TIMEOUT, 5 s). A spoofer
//! who spends the budget of someone else's address only makes that address prove itself with
//! a cookie, which is what it would have to do under load anyway. Without load, a message with
//! a valid cookie is processed whatever the budget says (the cookie proves the address), so a
//! crowd behind one NAT still gets through after one cookie round trip.
//!
//! The gate holds the cookie secret: zeroized on drop (`CookieChecker`), never printed. It
//! keeps no generator. Memory is bounded by the three limiters' tables (65,536 sources each).

use rand_core::CryptoRngCore;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::constants::{MAC_LEN, MESSAGE_COOKIE_REPLY_SIZE, UNDER_LOAD_AFTER_TIME};
use super::cookie::{mac1_of, CookieChecker};
use super::keys::PublicKey;
use super::limiter::{RateLimiter, TokenBucket};

/// The handshake queue length from which the device is under load (wireguard-go's
/// QueueHandshakeSize / 8).
pub const UNDER_LOAD_QUEUE_LEN: usize = 128;

/// Cookie replies a second one source (an IPv4 address, an IPv6 /64) can earn, after a burst
/// of `REPLIES_BURST`: the whitepaper's handshake rate, so a source that spent its budget of
/// cookie-less messages can earn as many cookies as it could have had messages processed. A
/// client needs one per initiation (one per 5 s); a flood costs at most this many replies per
/// source (a few microseconds each) instead of one per packet, so that 256 flooding addresses
/// cannot keep the control thread busy writing replies.
pub const REPLIES_PER_SECOND: u64 = 20;
/// See `REPLIES_PER_SECOND`.
pub const REPLIES_BURST: u64 = 20;

/// First messages from new sources processed a second while under load, all sources
/// together. A flood's own sources are not new (they were seen within the second), so under
/// load a new client's first initiation is still processed at once instead of after a cookie
/// round trip (5 s); an attacker who cycles through fresh addresses gets at most this many
/// X25519s a second out of it (a few percent of a core), competing with new clients.
pub const FRESH_PER_SECOND: u64 = 200;

/// Why the gate refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// mac1 is wrong: not for us, or junk.
    BadMac1,
    /// No valid cookie where one is needed: answer with a cookie reply (`cookie_reply`).
    NeedsCookie,
    /// No valid cookie where one is needed, and this source has had its share of cookie
    /// replies (`REPLIES_PER_SECOND`): dropped without an answer.
    RepliesSpent,
    /// Under load, the source's rate limit is spent.
    RateLimited,
}

/// What a cookie reply needs of the message it answers (48 bytes, queued by value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieRequest {
    /// Where the message came from (the cookie is bound to it).
    pub from: SocketAddr,
    /// The message's sender index (the reply's receiver index).
    pub sender: u32,
    /// The message's mac1 (the reply's associated data).
    pub mac1: [u8; MAC_LEN],
}

impl CookieRequest {
    /// The request for a handshake message `msg` (an initiation or response) from `from`.
    pub fn of(msg: &[u8], from: SocketAddr) -> Option<Self> {
        Some(Self {
            from,
            sender: u32::from_le_bytes(msg.get(4..8)?.try_into().ok()?),
            mac1: mac1_of(msg)?,
        })
    }
}

/// Admission of handshake messages: mac1, the cookie-less budget, mac2 and the rate limit.
pub struct Gate {
    checker: CookieChecker,
    /// Messages with a valid cookie, under load (the whitepaper's limiter).
    limiter: RateLimiter,
    /// Messages without a valid cookie, always.
    budget: RateLimiter,
    /// Cookie replies per source.
    replies: RateLimiter,
    /// First messages from sources not seen for a second, let through under load.
    fresh: TokenBucket,
    last_under_load: Option<Duration>,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gate(hidden)")
    }
}

impl Gate {
    /// A gate for messages to `local_public`.
    pub fn new(local_public: &PublicKey) -> Self {
        Self {
            checker: CookieChecker::new(local_public),
            limiter: RateLimiter::new(),
            budget: RateLimiter::new(),
            replies: RateLimiter::per_second(REPLIES_PER_SECOND, REPLIES_BURST),
            fresh: TokenBucket::new(FRESH_PER_SECOND, FRESH_PER_SECOND),
            last_under_load: None,
        }
    }

    /// Our key changed: mac1 and cookies follow it.
    pub fn set_local_public(&mut self, local_public: &PublicKey) {
        self.checker.set_local_public(local_public);
    }

    /// Sources the three limiters track, together (for bound checks).
    pub fn tracked_sources(&self) -> usize {
        self.limiter.len() + self.budget.len() + self.replies.len()
    }

    /// Whether the device is under load, given the handshake queue's length now.
    pub fn under_load(&mut self, queue_len: usize, now: Duration) -> bool {
        if queue_len >= UNDER_LOAD_QUEUE_LEN {
            self.last_under_load = Some(now);
            return true;
        }
        self.last_under_load
            .is_some_and(|t| now.saturating_sub(t) < UNDER_LOAD_AFTER_TIME)
    }

    /// May `msg` (an initiation or a response of its exact size, from `from`) go on to the
    /// Noise step? `queue_len` is the handshake queue's length now. Costs one BLAKE2s for
    /// mac1, a table lookup, and two more BLAKE2s only if mac2 is set and must be checked.
    pub fn admit(
        &mut self,
        msg: &[u8],
        from: SocketAddr,
        queue_len: usize,
        now: Duration,
    ) -> Result<(), Refusal> {
        if !self.checker.check_mac1(msg) {
            return Err(Refusal::BadMac1);
        }
        let under_load = self.under_load(queue_len, now);
        let fresh = !self.budget.knows(now, from.ip());
        // Charged under load too: a flood's sources stay spent when the load lifts, instead
        // of bursting again together and putting the device straight back under load.
        let within_budget = self.budget.allow(now, from.ip());
        if within_budget && (!under_load || (fresh && self.fresh.take(now))) {
            return Ok(());
        }
        if !self.checker.mac2_valid(msg, from, now) {
            if !self.replies.allow(now, from.ip()) {
                return Err(Refusal::RepliesSpent);
            }
            return Err(Refusal::NeedsCookie);
        }
        if under_load && !self.limiter.allow(now, from.ip()) {
            return Err(Refusal::RateLimited);
        }
        Ok(())
    }

    /// The cookie reply for a message refused with `NeedsCookie`; `rng` draws the cookie
    /// secret (every two minutes) and the reply's nonce.
    pub fn cookie_reply(
        &mut self,
        req: &CookieRequest,
        now: Duration,
        rng: &mut impl CryptoRngCore,
    ) -> [u8; MESSAGE_COOKIE_REPLY_SIZE] {
        self.checker
            .reply_to_mac1(&req.mac1, req.sender, req.from, now, rng)
    }
}

#[cfg(test)]
#[path = "gate/tests.rs"]
mod tests;
