//! Helpers for the fixed types in `types.rs`: key encodings (base64 as in configs, hex as in
//! UAPI) and the text forms of [`Cidr`], [`Endpoint`] and [`Table`] used by `wg showconf`.

use super::types::{Cidr, Endpoint, Key, Table};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::fmt;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// Length of a key in base64 (`wg genkey` output, without the newline).
pub const KEY_BASE64_LEN: usize = 44;
/// Length of a key in hex (UAPI).
pub const KEY_HEX_LEN: usize = 64;

impl Key {
    /// Decodes a key as `wg` does: exactly 44 characters of standard base64 ending in one `=`,
    /// with zero padding bits. `None` otherwise.
    pub fn from_base64(text: &str) -> Option<Key> {
        let bytes = text.as_bytes();
        if bytes.len() != KEY_BASE64_LEN
            || bytes.get(43) != Some(&b'=')
            || bytes.get(42) == Some(&b'=')
        {
            return None;
        }
        // The decoder's conservative length estimate for 44 characters is 33 bytes.
        let mut buf = Zeroizing::new([0u8; 33]);
        match STANDARD.decode_slice(bytes, &mut buf[..]) {
            Ok(32) => {
                let mut key = Key([0u8; 32]);
                key.0.copy_from_slice(&buf[..32]);
                Some(key)
            }
            _ => None,
        }
    }

    /// The key in base64 (44 characters), zeroized when dropped.
    pub fn to_base64(&self) -> Zeroizing<String> {
        let mut buf = Zeroizing::new([0u8; KEY_BASE64_LEN]);
        let mut out = Zeroizing::new(String::with_capacity(KEY_BASE64_LEN));
        if let Ok(n) = STANDARD.encode_slice(self.0, &mut buf[..]) {
            out.extend(buf.iter().take(n).map(|&b| char::from(b)));
        }
        out
    }

    /// Decodes 64 hex digits (either case), as UAPI carries keys. `None` otherwise.
    pub fn from_hex(text: &str) -> Option<Key> {
        let bytes = text.as_bytes();
        if bytes.len() != KEY_HEX_LEN {
            return None;
        }
        let mut key = Key([0u8; 32]);
        for (out, pair) in key.0.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = match pair {
                [hi, lo] => (hex_value(*hi)?, hex_value(*lo)?),
                _ => return None,
            };
            *out = (hi << 4) | lo;
        }
        Some(key)
    }

    /// The key as 64 lowercase hex digits, zeroized when dropped.
    pub fn to_hex(&self) -> Zeroizing<String> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = Zeroizing::new(String::with_capacity(KEY_HEX_LEN));
        for b in self.0 {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 15)]));
        }
        out
    }

    /// Whether all 32 bytes are zero (UAPI's "no preshared key"), in constant time.
    pub fn is_zero(&self) -> bool {
        self.0.iter().fold(0u8, |acc, b| acc | b) == 0
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl Cidr {
    /// The longest prefix the address family allows (32 or 128).
    pub fn max_prefix(addr: IpAddr) -> u8 {
        match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }
}

/// `10.0.0.1/24`, `fd00::1/64`.
impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `host:port`, with the host in brackets when it contains `:` (IPv6), as `wg showconf` prints.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `auto`, `off` or the table number.
impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Table::Auto => f.write_str("auto"),
            Table::Off => f.write_str("off"),
            Table::Id(id) => write!(f, "{id}"),
        }
    }
}
