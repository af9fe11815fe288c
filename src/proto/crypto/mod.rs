//! Cryptographic primitives of the whitepaper (§5.4): HASH, MAC, HMAC, KDF_n, AEAD, XAEAD, DH.

pub mod transport;

pub use transport::{FallbackCipher, RustCryptoCipher, TransportCipher, TransportKey};

use blake2::digest::{FixedOutput, KeyInit, Mac as _, Update};
use blake2::{Blake2s256, Blake2sMac};
use chacha20poly1305::aead::generic_array::typenum::U16;
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use hmac::SimpleHmac;
use zeroize::Zeroize;

use super::constants::{AEAD_TAG_SIZE, KEY_LEN, MAC_LEN, XNONCE_LEN};

/// AEAD authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AeadError;

/// HASH(input): BLAKE2s-256 over the concatenation of `parts`.
pub fn hash(parts: &[&[u8]]) -> [u8; KEY_LEN] {
    let mut h = Blake2s256::default();
    for p in parts {
        Update::update(&mut h, p);
    }
    h.finalize_fixed().into()
}

/// MAC(key, input): keyed BLAKE2s with a 16-byte output.
pub fn mac(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut m = <Blake2sMac<U16> as KeyInit>::new_from_slice(key).expect("32-byte key is valid");
    for p in parts {
        Update::update(&mut m, p);
    }
    m.finalize().into_bytes().into()
}

/// HMAC(key, input) over BLAKE2s-256.
pub fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; KEY_LEN] {
    let mut m = <SimpleHmac<Blake2s256> as KeyInit>::new_from_slice(key)
        .expect("HMAC accepts any key length");
    for p in parts {
        Update::update(&mut m, p);
    }
    m.finalize().into_bytes().into()
}

/// KDF_n(key, input) for n = 1..=3 (HKDF with HMAC-BLAKE2s), written into `out`.
pub fn kdf<const N: usize>(key: &[u8; KEY_LEN], input: &[u8]) -> [[u8; KEY_LEN]; N] {
    let mut prk = hmac(key, &[input]);
    let mut out = [[0u8; KEY_LEN]; N];
    let mut prev: Option<[u8; KEY_LEN]> = None;
    for (i, slot) in out.iter_mut().enumerate() {
        let ctr = [(i + 1) as u8];
        let t = match &prev {
            None => hmac(&prk, &[&ctr]),
            Some(p) => hmac(&prk, &[p, &ctr]),
        };
        *slot = t;
        prev = Some(t);
    }
    prk.zeroize();
    if let Some(mut p) = prev {
        p.zeroize();
    }
    out
}

fn counter_nonce(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

/// AEAD(key, counter, plain, aad) for the handshake: encrypts `buf` in place, returns the tag.
pub fn aead_seal(
    key: &[u8; KEY_LEN],
    counter: u64,
    buf: &mut [u8],
    aad: &[u8],
) -> [u8; AEAD_TAG_SIZE] {
    let c = ChaCha20Poly1305::new(key.into());
    let tag = c
        .encrypt_in_place_detached(&counter_nonce(counter).into(), aad, buf)
        .expect("handshake payloads are far below the AEAD length limit");
    tag.into()
}

/// Inverse of [`aead_seal`]: decrypts `buf` in place if `tag` authenticates it.
pub fn aead_open(
    key: &[u8; KEY_LEN],
    counter: u64,
    buf: &mut [u8],
    tag: &[u8; AEAD_TAG_SIZE],
    aad: &[u8],
) -> Result<(), AeadError> {
    let c = ChaCha20Poly1305::new(key.into());
    c.decrypt_in_place_detached(&counter_nonce(counter).into(), aad, buf, tag.into())
        .map_err(|_| AeadError)
}

/// XAEAD(key, nonce, plain, aad): XChaCha20-Poly1305 for cookie replies (§5.4.7).
pub fn xaead_seal(
    key: &[u8; KEY_LEN],
    nonce: &[u8; XNONCE_LEN],
    buf: &mut [u8],
    aad: &[u8],
) -> [u8; AEAD_TAG_SIZE] {
    let c = XChaCha20Poly1305::new(key.into());
    let tag = c
        .encrypt_in_place_detached(nonce.into(), aad, buf)
        .expect("cookie payload is 16 bytes");
    tag.into()
}

/// Inverse of [`xaead_seal`].
pub fn xaead_open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; XNONCE_LEN],
    buf: &mut [u8],
    tag: &[u8; AEAD_TAG_SIZE],
    aad: &[u8],
) -> Result<(), AeadError> {
    let c = XChaCha20Poly1305::new(key.into());
    c.decrypt_in_place_detached(nonce.into(), aad, buf, tag.into())
        .map_err(|_| AeadError)
}

/// DH(private, public) over Curve25519. `None` when the result is all zeros (a low-order point).
pub fn dh(private: &[u8; KEY_LEN], public: &[u8; KEY_LEN]) -> Option<[u8; KEY_LEN]> {
    let s = x25519_dalek::StaticSecret::from(*private);
    let shared = s.diffie_hellman(&x25519_dalek::PublicKey::from(*public));
    if shared.was_contributory() {
        Some(shared.to_bytes())
    } else {
        None
    }
}

/// DH-PUBKEY(private).
pub fn dh_pubkey(private: &[u8; KEY_LEN]) -> [u8; KEY_LEN] {
    let s = x25519_dalek::StaticSecret::from(*private);
    x25519_dalek::PublicKey::from(&s).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blake2s_known_answer() {
        // BLAKE2s-256("abc") from RFC 7693 Appendix B.
        let h = hash(&[b"abc"]);
        assert_eq!(
            crate::proto::keys::key_to_hex(&h),
            "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"
        );
        assert_eq!(hash(&[b"a", b"bc"]), h);
    }

    #[test]
    fn kdf_chains_like_hkdf() {
        let key = [3u8; 32];
        let [a] = kdf::<1>(&key, b"in");
        let [b, c] = kdf::<2>(&key, b"in");
        let [d, e, f] = kdf::<3>(&key, b"in");
        assert_eq!(a, b);
        assert_eq!(b, d);
        assert_eq!(c, e);
        let prk = hmac(&key, &[b"in"]);
        assert_eq!(f, hmac(&prk, &[&e, &[3]]));
    }

    #[test]
    fn aead_round_trip_and_tamper() {
        let key = [9u8; 32];
        let mut buf = *b"hello world, this is wireguard!!";
        let tag = aead_seal(&key, 0, &mut buf, b"aad");
        let mut ok = buf;
        assert!(aead_open(&key, 0, &mut ok, &tag, b"aad").is_ok());
        assert_eq!(&ok, b"hello world, this is wireguard!!");
        let mut bad = buf;
        assert!(aead_open(&key, 1, &mut bad, &tag, b"aad").is_err());
        let mut bad = buf;
        assert!(aead_open(&key, 0, &mut bad, &tag, b"aae").is_err());
    }

    #[test]
    fn dh_rejects_low_order_points() {
        let sk = [5u8; 32];
        assert!(dh(&sk, &[0u8; 32]).is_none());
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(dh(&sk, &one).is_none());
        let other = dh_pubkey(&[6u8; 32]);
        assert!(dh(&sk, &other).is_some());
    }
}
