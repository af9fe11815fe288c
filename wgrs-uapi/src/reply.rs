//! A UAPI `get=1` answer read into a [`Device`], statistics included, exactly as wireguard-tools'
//! `userspace_get_device` (`ipc-uapi.h`) reads it (the client side of `get`): which keys count where, what is malformed
//! (the whole answer then fails with `EPROTO`), and when the `errno=N` line decides the outcome.
//!
//! Pure: the caller feeds the lines it read from the socket ([`Parser::line`]); tests feed text.

use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use zeroize::Zeroizing;

use crate::keys::{key_from_hex, PresharedKey, PrivateKey, PublicKey, KEY_LEN};
/// `IFNAMSIZ - 1`: wg copies the interface name into a 16-byte buffer.
const NAME_MAX: usize = 15;

/// Unix time of a peer's latest handshake; all zero when there was none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timespec {
    /// Seconds (0..=i64::MAX, as wg accepts them).
    pub sec: i64,
    /// Nanoseconds (wg accepts up to i64::MAX here too).
    pub nsec: i64,
}

impl Timespec {
    /// No handshake yet.
    pub fn is_zero(&self) -> bool {
        self.sec == 0 && self.nsec == 0
    }
}

/// A peer's endpoint, as `getaddrinfo` would have resolved wireguard-go's numeric text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The address.
    pub ip: IpAddr,
    /// The UDP port.
    pub port: u16,
    /// An IPv6 zone (`%eth0`), kept as text.
    pub scope: Option<String>,
}

/// One allowed IP: address and prefix length (not masked; printed as received).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedIp {
    /// The address.
    pub ip: IpAddr,
    /// The prefix length (≤ 32 or ≤ 128).
    pub cidr: u8,
}

/// One peer of a [`Device`].
#[derive(Debug, Default)]
pub struct Peer {
    /// The peer's public key.
    pub public_key: PublicKey,
    /// Set when the daemon reported a nonzero preshared key.
    pub preshared_key: Option<PresharedKey>,
    /// Set when the daemon reported one.
    pub endpoint: Option<Endpoint>,
    /// Seconds; 0 = off.
    pub persistent_keepalive_interval: u16,
    /// In the order reported.
    pub allowed_ips: Vec<AllowedIp>,
    /// Latest handshake, Unix time.
    pub last_handshake: Timespec,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// What `get=1` reported about one interface.
#[derive(Debug, Default)]
pub struct Device {
    /// The interface name, cut to 15 bytes as wg cuts it.
    pub name: String,
    /// Set when the daemon reported a private key (clamped, as every daemon holds it).
    pub private_key: Option<PrivateKey>,
    /// Derived from the private key, as wg derives it.
    pub public_key: Option<PublicKey>,
    /// 0 when not reported.
    pub listen_port: u16,
    /// 0 when not reported.
    pub fwmark: u32,
    /// In the order reported.
    pub peers: Vec<Peer>,
}

/// Reads a `get=1` answer one line at a time.
pub struct Parser {
    dev: Device,
    /// What the answer ends with so far: `EPROTO` until an `errno=N` line says otherwise.
    errno: i32,
}

/// A malformed line: the answer as a whole is a protocol error.
struct Malformed;

impl Parser {
    /// A parser for the answer of interface `name`.
    pub fn new(name: &str) -> Self {
        let cut = name.as_bytes().get(..NAME_MAX).unwrap_or(name.as_bytes());
        let dev = Device {
            name: String::from_utf8_lossy(cut).into_owned(),
            ..Device::default()
        };
        Self {
            dev,
            errno: libc::EPROTO,
        }
    }

    /// Takes one line as `getline` returns it (with its `\n`, unless the stream ended without
    /// one). `Some` once the answer is complete: the device, or the errno it failed with.
    pub fn line(&mut self, line: &[u8]) -> Option<Result<Device, i32>> {
        if line == b"\n" {
            return Some(match self.errno {
                0 => Ok(mem::take(&mut self.dev)),
                errno => Err(errno),
            });
        }
        let Some(body) = line.strip_suffix(b"\n") else {
            return Some(Err(libc::EPROTO));
        };
        let parsed = body
            .iter()
            .position(|&b| b == b'=')
            .ok_or(Malformed)
            .and_then(|eq| self.key(&body[..eq], &body[eq + 1..]));
        match parsed {
            Ok(()) => None,
            Err(Malformed) => Some(Err(libc::EPROTO)),
        }
    }

    /// The stream ended before the blank line.
    pub fn eof(self) -> Result<Device, i32> {
        Err(libc::EPROTO)
    }

    /// One `key=value` pair, in the order of wg's `if` chain.
    fn key(&mut self, key: &[u8], value: &[u8]) -> Result<(), Malformed> {
        let dev = &mut self.dev;
        match (key, dev.peers.last_mut()) {
            (b"private_key", None) => {
                let key = PrivateKey::from_bytes(*Zeroizing::new(hex_key(value)?));
                dev.public_key = Some(key.public_key());
                dev.private_key = Some(key);
            }
            (b"listen_port", None) => dev.listen_port = narrow(number(value, 0xffff)?)?,
            (b"fwmark", None) => dev.fwmark = narrow(number(value, 0xffff_ffff)?)?,
            (b"public_key", _) => {
                let public_key = PublicKey(hex_key(value)?);
                dev.peers.push(Peer {
                    public_key,
                    ..Peer::default()
                });
            }
            (b"errno", _) => self.errno = narrow(number(value, 0x7fff_ffff)?)?,
            (_, Some(peer)) => peer_key(peer, key, value)?,
            _ => {}
        }
        Ok(())
    }
}

/// Keys that only count inside a peer.
fn peer_key(peer: &mut Peer, key: &[u8], value: &[u8]) -> Result<(), Malformed> {
    match key {
        b"preshared_key" => {
            let psk = PresharedKey::from_bytes(*Zeroizing::new(hex_key(value)?));
            if !psk.is_zero() {
                peer.preshared_key = Some(psk);
            } else if let Some(old) = peer.preshared_key.as_mut() {
                // wg overwrites the bytes but keeps the "has a preshared key" flag.
                *old = psk;
            }
        }
        b"endpoint" => peer.endpoint = Some(endpoint(value).ok_or(Malformed)?),
        b"persistent_keepalive_interval" => {
            peer.persistent_keepalive_interval = narrow(number(value, 0xffff)?)?;
        }
        b"allowed_ip" => peer.allowed_ips.push(allowed_ip(value).ok_or(Malformed)?),
        b"last_handshake_time_sec" => peer.last_handshake.sec = narrow(number(value, I64_MAX)?)?,
        b"last_handshake_time_nsec" => {
            peer.last_handshake.nsec = narrow(number(value, I64_MAX)?)?;
        }
        b"rx_bytes" => peer.rx_bytes = number(value, u64::MAX)?,
        b"tx_bytes" => peer.tx_bytes = number(value, u64::MAX)?,
        _ => {}
    }
    Ok(())
}

const I64_MAX: u64 = i64::MAX.unsigned_abs();

fn narrow<T: TryFrom<u64>>(n: u64) -> Result<T, Malformed> {
    T::try_from(n).map_err(|_| Malformed)
}

/// 64 hex digits, either case (wg's `key_from_hex`).
fn hex_key(value: &[u8]) -> Result<[u8; KEY_LEN], Malformed> {
    let text = std::str::from_utf8(value).map_err(|_| Malformed)?;
    key_from_hex(text).map_err(|_| Malformed)
}

/// wg's `NUM(max)`: a digit first, then `strtoull` must consume everything (so digits only);
/// `strtoull` saturates at `u64::MAX` on overflow; the result must not exceed `max`.
fn number(value: &[u8], max: u64) -> Result<u64, Malformed> {
    let n = digits(value).ok_or(Malformed)?;
    if n > max {
        return Err(Malformed);
    }
    Ok(n)
}

/// A non-empty run of ASCII digits, saturating like `strtoull`.
fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// `ADDR/CIDR`: split at the first `/`; a `:` in the address means IPv6 (`inet_pton`); the
/// prefix length is digits only, at most 32 or 128.
fn allowed_ip(value: &[u8]) -> Option<AllowedIp> {
    let slash = value.iter().position(|&b| b == b'/')?;
    let (addr, mask) = (&value[..slash], &value[slash + 1..]);
    let cidr = digits(mask)?;
    let addr = std::str::from_utf8(addr).ok()?;
    let (ip, max): (IpAddr, u64) = if addr.contains(':') {
        (addr.parse::<Ipv6Addr>().ok()?.into(), 128)
    } else {
        (addr.parse::<Ipv4Addr>().ok()?.into(), 32)
    };
    let cidr = u8::try_from(cidr).ok().filter(|&c| u64::from(c) <= max)?;
    Some(AllowedIp { ip, cidr })
}

/// `[HOST]:PORT` (up to the first `]`) or `HOST:PORT` (split at the last `:`), then the host
/// must be a numeric address (wireguard-go only prints those; wg would also resolve names).
fn endpoint(value: &[u8]) -> Option<Endpoint> {
    let text = std::str::from_utf8(value).ok()?;
    let (host, service) = match text.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']')?;
            (host, after.strip_prefix(':')?)
        }
        None => text.rsplit_once(':')?,
    };
    // getaddrinfo keeps the low 16 bits of a numeric service.
    let port = u16::try_from(digits(service.as_bytes())? & 0xffff).ok()?;
    let (addr, scope) = match host.split_once('%') {
        Some((addr, scope)) if !scope.is_empty() => (addr, Some(scope.to_owned())),
        Some(_) => return None,
        None => (host, None),
    };
    let ip: IpAddr = match scope {
        Some(_) => addr.parse::<Ipv6Addr>().ok()?.into(),
        None => addr.parse().ok()?,
    };
    Some(Endpoint { ip, port, scope })
}

/// Reads a whole answer held in memory (tests, and callers that already have it).
pub fn parse_get(name: &str, reply: &[u8]) -> Result<Device, i32> {
    let mut parser = Parser::new(name);
    for line in reply.split_inclusive(|&b| b == b'\n') {
        if let Some(done) = parser.line(line) {
            return done;
        }
    }
    parser.eof()
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
