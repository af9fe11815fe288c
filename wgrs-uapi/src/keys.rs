//! Key newtypes: Curve25519 private/public keys and preshared keys, their base64/hex forms (§5.4).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand_core::CryptoRngCore;
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Bytes in a key (Curve25519 and preshared alike).
pub const KEY_LEN: usize = 32;

/// Why a key string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Not 44 base64 characters ending in `=` that decode to 32 bytes (or not 64 hex digits).
    Format,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key is not the correct length or format")
    }
}

impl std::error::Error for KeyError {}

/// Length of a key in base64, without terminator.
pub const KEY_BASE64_LEN: usize = 44;

/// Decode a 32-byte key from canonical base64 exactly as `wg` accepts it.
pub fn key_from_base64(s: &str) -> Result<[u8; KEY_LEN], KeyError> {
    if s.len() != KEY_BASE64_LEN || !s.ends_with('=') {
        return Err(KeyError::Format);
    }
    let mut out = [0u8; KEY_LEN];
    match STANDARD.decode_slice(s.as_bytes(), &mut out) {
        Ok(KEY_LEN) => Ok(out),
        _ => {
            out.zeroize();
            Err(KeyError::Format)
        }
    }
}

/// Decode a 32-byte key from 64 hex digits (UAPI form; either case accepted).
pub fn key_from_hex(s: &str) -> Result<[u8; KEY_LEN], KeyError> {
    let b = s.as_bytes();
    if b.len() != KEY_LEN * 2 {
        return Err(KeyError::Format);
    }
    let mut out = [0u8; KEY_LEN];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        match (hex_val(pair[0]), hex_val(pair[1])) {
            (Some(h), Some(l)) => out[i] = (h << 4) | l,
            _ => {
                out.zeroize();
                return Err(KeyError::Format);
            }
        }
    }
    Ok(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Encode 32 bytes as base64 (44 characters).
pub fn key_to_base64(k: &[u8; KEY_LEN]) -> String {
    STANDARD.encode(k)
}

/// Base64 of a secret, built in a buffer that never reallocates and is wiped on drop.
fn secret_base64(k: &[u8; KEY_LEN]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(KEY_BASE64_LEN));
    STANDARD.encode_string(k, &mut out);
    out
}

/// Encode 32 bytes as 64 lowercase hex digits (exactly 64 bytes are reserved up front).
pub fn key_to_hex(k: &[u8; KEY_LEN]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(KEY_LEN * 2);
    for b in k {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// A Curve25519 public key. Not secret; Debug shows a short base64 prefix for logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PublicKey(pub [u8; KEY_LEN]);

impl PublicKey {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
    /// Base64 form.
    pub fn to_base64(&self) -> String {
        key_to_base64(&self.0)
    }
    /// Lowercase hex form (UAPI).
    pub fn to_hex(&self) -> String {
        key_to_hex(&self.0)
    }
    /// Parse base64.
    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        key_from_base64(s).map(Self)
    }
    /// Parse hex.
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        key_from_hex(s).map(Self)
    }
    /// Short prefix used to name a peer in logs, e.g. `peer(AbCd…)`.
    pub fn short(&self) -> String {
        let b = self.to_base64();
        format!("peer({}…{})", &b[..4], &b[39..43])
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())
    }
}

/// A Curve25519 private key, clamped. Zeroized on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrivateKey([u8; KEY_LEN]);

impl PrivateKey {
    /// Wrap raw bytes, clamping them as Curve25519 requires (as `wg` does on load).
    pub fn from_bytes(mut bytes: [u8; KEY_LEN]) -> Self {
        clamp(&mut bytes);
        let k = Self(bytes);
        bytes.zeroize();
        k
    }
    /// Generate a fresh clamped key from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut b = [0u8; KEY_LEN];
        rng.fill_bytes(&mut b);
        Self::from_bytes(b)
    }
    /// Parse base64.
    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        key_from_base64(s).map(Self::from_bytes)
    }
    /// Parse hex.
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        key_from_hex(s).map(Self::from_bytes)
    }
    /// The raw bytes (secret).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
    /// Base64 form (secret, wiped on drop; for `genkey` and configs only).
    pub fn to_base64(&self) -> Zeroizing<String> {
        secret_base64(&self.0)
    }
    /// Hex form (secret, wiped on drop; for UAPI only).
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(key_to_hex(&self.0))
    }
    /// True when all bytes are zero (UAPI uses this to clear the key).
    pub fn is_zero(&self) -> bool {
        self.0.ct_eq(&[0u8; KEY_LEN]).into()
    }
    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        let s = x25519_dalek::StaticSecret::from(self.0);
        PublicKey(x25519_dalek::PublicKey::from(&s).to_bytes())
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for PrivateKey {}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(hidden)")
    }
}

/// Curve25519 clamping.
pub fn clamp(b: &mut [u8; KEY_LEN]) {
    b[0] &= 248;
    b[31] = (b[31] & 127) | 64;
}

/// A 32-byte preshared symmetric key. Zeroized on drop; never printed.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct PresharedKey([u8; KEY_LEN]);

impl PresharedKey {
    /// Wrap raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }
    /// Generate from `rng` (for `genpsk`).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut b = [0u8; KEY_LEN];
        rng.fill_bytes(&mut b);
        Self(b)
    }
    /// Parse base64.
    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        key_from_base64(s).map(Self)
    }
    /// Parse hex.
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        key_from_hex(s).map(Self)
    }
    /// The raw bytes (secret).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
    /// True when all bytes are zero (no PSK).
    pub fn is_zero(&self) -> bool {
        self.0.ct_eq(&[0u8; KEY_LEN]).into()
    }
    /// Base64 form (secret, wiped on drop).
    pub fn to_base64(&self) -> Zeroizing<String> {
        secret_base64(&self.0)
    }
    /// Hex form (secret, wiped on drop).
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(key_to_hex(&self.0))
    }
}

impl PartialEq for PresharedKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for PresharedKey {}

impl fmt::Debug for PresharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(hidden)")
    }
}

/// `name=<64 lowercase hex digits>\n` (a UAPI key line), written straight into `out` with no
/// temporary copy of the key's text. Used by the `get` and `set` writers alike.
pub(crate) fn push_key(out: &mut String, name: &str, key: &[u8; KEY_LEN]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str(name);
    out.push('=');
    for b in key {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_rejects() {
        let k = [7u8; 32];
        let s = key_to_base64(&k);
        assert_eq!(s.len(), 44);
        assert_eq!(key_from_base64(&s), Ok(k));
        assert_eq!(key_from_base64(&s[..43]), Err(KeyError::Format));
        assert_eq!(
            key_from_base64("A".repeat(44).as_str()),
            Err(KeyError::Format)
        );
        // Non-canonical trailing bits are refused, as wg does.
        let mut bad = s.clone().into_bytes();
        bad[42] = b'x';
        assert_eq!(
            key_from_base64(std::str::from_utf8(&bad).unwrap()),
            Err(KeyError::Format)
        );
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let k: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(9));
        let h = key_to_hex(&k);
        assert_eq!(key_from_hex(&h), Ok(k));
        assert_eq!(key_from_hex(&h.to_uppercase()), Ok(k));
        assert_eq!(key_from_hex(&h[1..]), Err(KeyError::Format));
        assert_eq!(
            key_from_hex(&format!("g{}", &h[1..])),
            Err(KeyError::Format)
        );
    }

    #[test]
    fn secrets_are_hidden_in_debug() {
        let sk = PrivateKey::from_bytes([1; 32]);
        let psk = PresharedKey::from_bytes([2; 32]);
        assert!(!format!("{sk:?}").contains(&sk.to_base64()[..8]));
        assert_eq!(format!("{psk:?}"), "(hidden)");
        assert_eq!(format!("{sk:?}"), "(hidden)");
    }

    #[test]
    fn rfc7748_public_key() {
        // RFC 7748 §6.1 Alice.
        let sk = PrivateKey::from_hex(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        )
        .unwrap();
        assert_eq!(
            sk.public_key().to_hex(),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
    }
}
