//! Per-source rate limit on handshake messages, a token bucket per address (whitepaper §5.3).
//!
//! The same algorithm as the kernel's `ratelimiter.c` and wireguard-go's `ratelimiter`: each
//! source earns one token per nanosecond up to `PACKET_COST * HANDSHAKES_BURST`, and a packet
//! costs `PACKET_COST` = 1 s / 20 = 50 ms. A new source starts with a full bucket minus the
//! packet that created it, so it gets a burst of 5 and then 20 per second.
//!
//! Sources are keyed as the kernel keys them: an IPv4 address, or the /64 of an IPv6 address
//! (one host usually owns a whole /64). IPv4-mapped IPv6 addresses count as IPv4, so a
//! dual-stack socket cannot fold every IPv4 sender into the single /64 `::ffff:0:0`.
//!
//! Memory is bounded: at most `max_entries` sources (65,536 by default). When the table is full,
//! packets from sources not already in it are refused until `gc` frees room, as the kernel does;
//! known sources keep their buckets. `allow` collects the table itself, at most once a second
//! (the kernel runs its gc from a one-second timer): a table filled with sources that went
//! quiet empties on the next packet a second later, and an idle table needs no wake-ups.
//!
//! The table is a `BTreeMap`: ordered, with a worst case of O(log n) per lookup whatever
//! addresses an attacker chooses, and no hash seed to draw from the OS.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::constants::{HANDSHAKES_BURST, HANDSHAKES_PER_SECOND};

/// Nanoseconds of tokens one handshake packet costs (50 ms).
const PACKET_COST: u64 = 1_000_000_000 / HANDSHAKES_PER_SECOND;
/// Bucket capacity in nanoseconds of tokens (burst of 5).
const TOKEN_MAX: u64 = PACKET_COST * HANDSHAKES_BURST;
/// Entries idle longer than this are dropped by `gc`.
const IDLE_TIMEOUT: Duration = Duration::from_secs(1);
/// Default bound on the number of tracked sources.
pub const DEFAULT_MAX_ENTRIES: usize = 65_536;

/// Who a bucket belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SourceKey {
    /// A whole IPv4 address.
    V4(u32),
    /// The upper 64 bits of an IPv6 address.
    V6(u64),
}

impl SourceKey {
    fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(a) => Self::V4(u32::from(a)),
            IpAddr::V6(a) => Self::V6((u128::from(a) >> 64) as u64),
        }
    }
}

/// One source's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Time of the last packet, in nanoseconds of the caller's monotonic clock.
    last: u64,
    /// Tokens in nanoseconds; a packet needs `PACKET_COST`.
    tokens: u64,
}

impl Bucket {
    /// Earn tokens for the time since `last`, up to `max`, then spend `cost` if there are
    /// enough; true when spent.
    fn take(&mut self, now: u64, cost: u64, max: u64) -> bool {
        // A clock that went backwards earns nothing and does not rewind `last`.
        let earned = now.saturating_sub(self.last);
        let tokens = self.tokens.saturating_add(earned).min(max);
        self.last = self.last.max(now);
        let ok = tokens >= cost;
        self.tokens = if ok { tokens - cost } else { tokens };
        ok
    }
}

/// One token bucket for everybody: `per_second` after a burst of `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    bucket: Bucket,
    cost: u64,
    max: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: u64, burst: u64) -> Self {
        let cost = 1_000_000_000 / per_second.clamp(1, 1_000_000_000);
        let max = cost.saturating_mul(burst.max(1));
        Self {
            bucket: Bucket {
                last: 0,
                tokens: max,
            },
            cost,
            max,
        }
    }

    /// Spend one token at `now`; true when there was one.
    pub fn take(&mut self, now: Duration) -> bool {
        self.bucket.take(nanos(now), self.cost, self.max)
    }
}

/// Token buckets for handshake packets, one per source address (or IPv6 /64).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    table: BTreeMap<SourceKey, Bucket>,
    max_entries: usize,
    /// Nanoseconds of tokens a packet costs, and a full bucket.
    packet_cost: u64,
    token_max: u64,
    /// When `gc` last ran, in nanoseconds of the caller's clock.
    last_gc: u64,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

/// `now` in nanoseconds, saturating (u64 nanoseconds last 584 years).
fn nanos(now: Duration) -> u64 {
    u64::try_from(now.as_nanos()).unwrap_or(u64::MAX)
}

impl RateLimiter {
    /// An empty limiter tracking at most `DEFAULT_MAX_ENTRIES` sources.
    pub fn new() -> Self {
        Self::with_max_entries(DEFAULT_MAX_ENTRIES)
    }

    /// An empty limiter tracking at most `max_entries` sources.
    pub fn with_max_entries(max_entries: usize) -> Self {
        Self {
            table: BTreeMap::new(),
            max_entries,
            packet_cost: PACKET_COST,
            token_max: TOKEN_MAX,
            last_gc: 0,
        }
    }

    /// An empty limiter (at most `DEFAULT_MAX_ENTRIES` sources) that lets each source send
    /// `per_second` packets a second after a burst of `burst` (both at least 1).
    pub fn per_second(per_second: u64, burst: u64) -> Self {
        let packet_cost = 1_000_000_000 / per_second.clamp(1, 1_000_000_000);
        Self {
            packet_cost,
            token_max: packet_cost.saturating_mul(burst.max(1)),
            ..Self::new()
        }
    }

    /// Charge one handshake packet from `ip` at `now`; true when it may be processed.
    ///
    /// Allocation-free for a source already in the table. A new source is refused when the
    /// table is full.
    pub fn allow(&mut self, now: Duration, ip: IpAddr) -> bool {
        if nanos(now).saturating_sub(self.last_gc) >= nanos(IDLE_TIMEOUT) {
            self.gc(now);
        }
        let now = nanos(now);
        let key = SourceKey::of(ip);
        if let Some(b) = self.table.get_mut(&key) {
            return b.take(now, self.packet_cost, self.token_max);
        }
        if self.table.len() >= self.max_entries {
            return false;
        }
        let bucket = Bucket {
            last: now,
            tokens: self.token_max - self.packet_cost,
        };
        self.table.insert(key, bucket);
        true
    }

    /// True when `ip` has a bucket that was used within the last second (an older one is as
    /// good as gone: `gc` collects it and it would be full again anyway).
    pub fn knows(&self, now: Duration, ip: IpAddr) -> bool {
        self.table
            .get(&SourceKey::of(ip))
            .is_some_and(|b| nanos(now).saturating_sub(b.last) <= nanos(IDLE_TIMEOUT))
    }

    /// Drop sources idle for more than one second (their buckets would be full again anyway).
    pub fn gc(&mut self, now: Duration) {
        let now = nanos(now);
        self.last_gc = now;
        let idle = nanos(IDLE_TIMEOUT);
        self.table.retain(|_, b| now.saturating_sub(b.last) <= idle);
    }

    /// Number of sources tracked.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when no source is tracked (the driver need not schedule `gc`).
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }
    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Arbitrary clock origin: the limiter must not care.
    const T0: Duration = Duration::from_secs(1_000_000);

    #[test]
    fn constants_match_the_kernel() {
        assert_eq!(PACKET_COST, 50_000_000);
        assert_eq!(TOKEN_MAX, 250_000_000);
    }

    #[test]
    fn a_table_full_of_stale_sources_recovers_by_itself() {
        let mut r = RateLimiter::with_max_entries(4);
        for i in 1..=4 {
            assert!(r.allow(T0, ip(&format!("2001:db8:{i}::1"))));
        }
        let newcomer = ip("192.0.2.200");
        assert!(!r.allow(T0 + ms(500), newcomer), "full: new sources wait");
        // Nobody calls gc: the stale sources go on the next packet a second later.
        assert!(r.allow(T0 + ms(1_600), newcomer));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn one_bucket_for_everybody() {
        let mut b = TokenBucket::new(100, 10);
        assert_eq!((0..20).filter(|_| b.take(T0)).count(), 10, "burst");
        assert!(!b.take(T0 + ms(9)));
        assert!(b.take(T0 + ms(10)), "one per 10 ms");
    }

    #[test]
    fn known_sources_are_the_recent_ones() {
        let mut r = RateLimiter::new();
        let a = ip("192.0.2.1");
        assert!(!r.knows(T0, a));
        assert!(r.allow(T0, a));
        assert!(r.knows(T0 + ms(1_000), a));
        assert!(
            !r.knows(T0 + ms(1_001), a),
            "idle for over a second: as good as new"
        );
    }

    #[test]
    fn other_rates_and_bursts() {
        let mut r = RateLimiter::per_second(1_000, 100);
        let a = ip("192.0.2.1");
        assert_eq!((0..150).filter(|_| r.allow(T0, a)).count(), 100, "burst");
        assert!(r.allow(T0 + ms(1), a), "one per millisecond");
        assert!(!r.allow(T0 + ms(1), a));
        assert_eq!(
            (0..2_000).filter(|_| r.allow(T0 + ms(1_001), a)).count(),
            100,
            "a second refills at most the burst"
        );
    }

    #[test]
    fn burst_of_five_then_refusal() {
        let mut r = RateLimiter::new();
        let a = ip("192.0.2.1");
        for i in 0..5 {
            assert!(r.allow(T0, a), "packet {i}");
        }
        assert!(!r.allow(T0, a));
        assert!(!r.allow(T0, a));
    }

    #[test]
    fn refill_one_packet_per_50ms() {
        let mut r = RateLimiter::new();
        let a = ip("192.0.2.1");
        for _ in 0..5 {
            assert!(r.allow(T0, a));
        }
        assert!(!r.allow(T0 + ms(49), a));
        // 49 ms was kept: one more millisecond earns a packet.
        assert!(r.allow(T0 + ms(50), a));
        assert!(!r.allow(T0 + ms(50), a));
        assert!(r.allow(T0 + ms(100), a));
        assert!(!r.allow(T0 + ms(100), a));
    }

    #[test]
    fn sustained_rate_is_twenty_per_second() {
        let mut r = RateLimiter::new();
        let a = ip("198.51.100.7");
        let mut allowed = 0;
        // One attempt per millisecond for 10 s: a full bucket (250 ms of tokens) plus the
        // 9,999 ms earned between the first and the last attempt, at 50 ms a packet.
        for t in 0..10_000 {
            allowed += u32::from(r.allow(T0 + ms(t), a));
        }
        assert_eq!(allowed, (250 + 9_999) / 50);
    }

    #[test]
    fn bucket_caps_at_burst() {
        let mut r = RateLimiter::new();
        let a = ip("192.0.2.1");
        assert!(r.allow(T0, a));
        // A long silence refills only to the burst size.
        let later = T0 + Duration::from_secs(3600);
        for _ in 0..5 {
            assert!(r.allow(later, a));
        }
        assert!(!r.allow(later, a));
    }

    #[test]
    fn sources_are_independent() {
        let mut r = RateLimiter::new();
        for _ in 0..5 {
            assert!(r.allow(T0, ip("192.0.2.1")));
        }
        assert!(!r.allow(T0, ip("192.0.2.1")));
        assert!(r.allow(T0, ip("192.0.2.2")));
        assert!(r.allow(T0, ip("2001:db8::1")));
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn ipv6_shares_a_bucket_per_64() {
        let mut r = RateLimiter::new();
        let addrs = [
            "2001:db8:1:2::1",
            "2001:db8:1:2::2",
            "2001:db8:1:2:ffff::",
            "2001:db8:1:2:1:2:3:4",
        ];
        for a in &addrs {
            assert!(r.allow(T0, ip(a)));
        }
        assert!(r.allow(T0, ip("2001:db8:1:2::99")));
        assert!(!r.allow(T0, ip("2001:db8:1:2::100")));
        // The neighbouring /64 is someone else.
        assert!(r.allow(T0, ip("2001:db8:1:3::1")));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn ipv4_mapped_counts_as_ipv4() {
        let mut r = RateLimiter::new();
        for _ in 0..5 {
            assert!(r.allow(T0, ip("::ffff:192.0.2.1")));
        }
        assert!(!r.allow(T0, ip("192.0.2.1")));
        // Other mapped IPv4 senders are not lumped into one /64.
        assert!(r.allow(T0, ip("::ffff:192.0.2.2")));
    }

    #[test]
    fn gc_drops_idle_sources() {
        let mut r = RateLimiter::new();
        assert!(r.allow(T0, ip("192.0.2.1")));
        assert!(r.allow(T0 + ms(600), ip("192.0.2.2")));
        r.gc(T0 + ms(1000));
        assert_eq!(r.len(), 2, "exactly 1 s idle is kept");
        r.gc(T0 + ms(1001));
        assert_eq!(r.len(), 1);
        r.gc(T0 + ms(1601));
        assert!(r.is_empty());
        // A collected source starts over with a fresh burst.
        for _ in 0..5 {
            assert!(r.allow(T0 + ms(2000), ip("192.0.2.1")));
        }
    }

    #[test]
    fn full_table_refuses_new_sources_only() {
        let mut r = RateLimiter::with_max_entries(3);
        for i in 1..=3u8 {
            assert!(r.allow(T0, IpAddr::from([10, 0, 0, i])));
        }
        assert!(!r.allow(T0, ip("10.0.0.4")));
        assert_eq!(r.len(), 3);
        assert!(
            r.allow(T0, ip("10.0.0.1")),
            "known sources keep their bucket"
        );
        r.gc(T0 + ms(1001));
        assert!(r.allow(T0 + ms(1001), ip("10.0.0.4")));
    }

    #[test]
    fn default_cap_is_enforced() {
        let mut r = RateLimiter::new();
        for i in 0..DEFAULT_MAX_ENTRIES as u32 {
            assert!(r.allow(T0, IpAddr::from((0x0a00_0000 + i).to_be_bytes())));
        }
        assert!(!r.allow(T0, ip("192.0.2.1")));
        assert_eq!(r.len(), DEFAULT_MAX_ENTRIES);
    }

    #[test]
    fn clock_going_backwards_is_harmless() {
        let mut r = RateLimiter::new();
        let a = ip("192.0.2.1");
        for _ in 0..5 {
            assert!(r.allow(T0, a));
        }
        assert!(!r.allow(Duration::ZERO, a));
        assert!(!r.allow(T0, a));
        assert!(r.allow(Duration::MAX, a));
        r.gc(Duration::ZERO);
        assert_eq!(r.len(), 1);
    }
}
