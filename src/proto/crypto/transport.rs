//! Data-path ChaCha20-Poly1305 for transport messages (§5.4.6), behind a two-method trait.
//!
//! On x86-64 CPUs with AVX-512F and AVX-512 IFMA our own vector code
//! ([`platform::avx512`](crate::platform::avx512)) does the work, unless `WGRS_AVX512=0` is set
//! in the daemon's environment; otherwise `ring` by default, RustCrypto with the `pure-rust`
//! feature or without the `ring` feature.

use super::AeadError;
use crate::proto::constants::{AEAD_TAG_SIZE, KEY_LEN};

/// Seal and open transport payloads in place. Implementations are immutable after
/// construction, so one key can serve many threads at once without a lock.
pub trait TransportCipher: Send + Sync + Sized {
    /// Build from a 32-byte key.
    fn new(key: &[u8; KEY_LEN]) -> Self;
    /// Encrypt `buf[..len - 16]` in place and write the tag into its last 16 bytes.
    fn seal(&self, counter: u64, buf: &mut [u8]) -> Result<(), AeadError>;
    /// Decrypt `buf` (ciphertext followed by a 16-byte tag) in place; returns the plaintext length.
    fn open(&self, counter: u64, buf: &mut [u8]) -> Result<usize, AeadError>;

    /// `seal` each `(counter, buf)` of `jobs`; `ok[i]` says whether `jobs[i]` was sealed.
    /// Implementations may seal several messages at once.
    fn seal_many(&self, jobs: &mut [(u64, &mut [u8])], ok: &mut [bool]) {
        for ((counter, buf), ok) in jobs.iter_mut().zip(ok) {
            *ok = self.seal(*counter, buf).is_ok();
        }
    }

    /// `open` each `(counter, buf)` of `jobs`; `ok[i]` says whether `jobs[i]` was authentic
    /// (and so decrypted; its plaintext is `buf.len() - 16` bytes).
    fn open_many(&self, jobs: &mut [(u64, &mut [u8])], ok: &mut [bool]) {
        for ((counter, buf), ok) in jobs.iter_mut().zip(ok) {
            *ok = self.open(*counter, buf).is_ok();
        }
    }
}

fn nonce_bytes(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

/// ring's ChaCha20-Poly1305. ring's key type cannot zeroize itself, so it is kept in a
/// [`Wiped`](crate::platform::wiped::Wiped) slot that zeroes it on drop (RustCryptoCipher
/// zeroizes its own key).
#[cfg(all(feature = "ring", not(feature = "pure-rust")))]
pub struct RingCipher(crate::platform::wiped::Wiped<ring::aead::LessSafeKey>);

#[cfg(all(feature = "ring", not(feature = "pure-rust")))]
impl TransportCipher for RingCipher {
    fn new(key: &[u8; KEY_LEN]) -> Self {
        let k = ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, key)
            .expect("32-byte key is valid for ChaCha20-Poly1305");
        Self(crate::platform::wiped::Wiped::new(
            ring::aead::LessSafeKey::new(k),
        ))
    }

    fn seal(&self, counter: u64, buf: &mut [u8]) -> Result<(), AeadError> {
        let n = buf.len().checked_sub(AEAD_TAG_SIZE).ok_or(AeadError)?;
        let (data, tag_out) = buf.split_at_mut(n);
        let nonce = ring::aead::Nonce::assume_unique_for_key(nonce_bytes(counter));
        let tag = self
            .0
            .get()
            .seal_in_place_separate_tag(nonce, ring::aead::Aad::empty(), data)
            .map_err(|_| AeadError)?;
        tag_out.copy_from_slice(tag.as_ref());
        Ok(())
    }

    fn open(&self, counter: u64, buf: &mut [u8]) -> Result<usize, AeadError> {
        let nonce = ring::aead::Nonce::assume_unique_for_key(nonce_bytes(counter));
        let plain = self
            .0
            .get()
            .open_in_place(nonce, ring::aead::Aad::empty(), buf)
            .map_err(|_| AeadError)?;
        Ok(plain.len())
    }
}

/// RustCrypto's ChaCha20-Poly1305 (pure Rust; for targets where ring cannot build).
pub struct RustCryptoCipher(chacha20poly1305::ChaCha20Poly1305);

impl TransportCipher for RustCryptoCipher {
    fn new(key: &[u8; KEY_LEN]) -> Self {
        use chacha20poly1305::KeyInit;
        Self(chacha20poly1305::ChaCha20Poly1305::new(key.into()))
    }

    fn seal(&self, counter: u64, buf: &mut [u8]) -> Result<(), AeadError> {
        use chacha20poly1305::aead::AeadInPlace;
        let n = buf.len().checked_sub(AEAD_TAG_SIZE).ok_or(AeadError)?;
        let (data, tag_out) = buf.split_at_mut(n);
        let tag = self
            .0
            .encrypt_in_place_detached(&nonce_bytes(counter).into(), &[], data)
            .map_err(|_| AeadError)?;
        tag_out.copy_from_slice(&tag);
        Ok(())
    }

    fn open(&self, counter: u64, buf: &mut [u8]) -> Result<usize, AeadError> {
        use chacha20poly1305::aead::AeadInPlace;
        let n = buf.len().checked_sub(AEAD_TAG_SIZE).ok_or(AeadError)?;
        let (data, tag) = buf.split_at_mut(n);
        let tag: &[u8; AEAD_TAG_SIZE] = (&*tag).try_into().map_err(|_| AeadError)?;
        self.0
            .decrypt_in_place_detached(&nonce_bytes(counter).into(), &[], data, tag.into())
            .map_err(|_| AeadError)?;
        Ok(n)
    }
}

/// The portable cipher this build falls back to.
#[cfg(all(feature = "ring", not(feature = "pure-rust")))]
pub type FallbackCipher = RingCipher;
/// The portable cipher this build falls back to.
#[cfg(not(all(feature = "ring", not(feature = "pure-rust"))))]
pub type FallbackCipher = RustCryptoCipher;

/// The data-path cipher: the AVX-512 code where the CPU runs it, else [`FallbackCipher`].
pub enum TransportKey {
    /// Our AVX-512/IFMA ChaCha20-Poly1305.
    #[cfg(target_arch = "x86_64")]
    Avx512(crate::platform::avx512::Avx512Key),
    /// ring or RustCrypto.
    Fallback(FallbackCipher),
}

/// False when `WGRS_AVX512=0` asks for the portable cipher (read once per process).
#[cfg(target_arch = "x86_64")]
fn avx512_allowed() -> bool {
    static ALLOWED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ALLOWED.get_or_init(|| std::env::var_os("WGRS_AVX512").is_none_or(|v| v != "0"))
}

impl TransportCipher for TransportKey {
    fn new(key: &[u8; KEY_LEN]) -> Self {
        #[cfg(target_arch = "x86_64")]
        if avx512_allowed() {
            if let Some(k) = crate::platform::avx512::Avx512Key::new(key) {
                return Self::Avx512(k);
            }
        }
        Self::Fallback(FallbackCipher::new(key))
    }

    fn seal(&self, counter: u64, buf: &mut [u8]) -> Result<(), AeadError> {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx512(k) => {
                let n = buf.len().checked_sub(AEAD_TAG_SIZE).ok_or(AeadError)?;
                let (data, tag_out) = buf.split_at_mut(n);
                tag_out.copy_from_slice(&k.seal(counter, data));
                Ok(())
            }
            Self::Fallback(c) => c.seal(counter, buf),
        }
    }

    fn open(&self, counter: u64, buf: &mut [u8]) -> Result<usize, AeadError> {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx512(k) => {
                let n = buf.len().checked_sub(AEAD_TAG_SIZE).ok_or(AeadError)?;
                let (data, tag) = buf.split_at_mut(n);
                let tag: &[u8; AEAD_TAG_SIZE] = (&*tag).try_into().map_err(|_| AeadError)?;
                if k.open(counter, data, tag) {
                    Ok(n)
                } else {
                    Err(AeadError)
                }
            }
            Self::Fallback(c) => c.open(counter, buf),
        }
    }

    fn seal_many(&self, jobs: &mut [(u64, &mut [u8])], ok: &mut [bool]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx512(k) => k.seal_many(jobs, ok),
            Self::Fallback(c) => c.seal_many(jobs, ok),
        }
    }

    fn open_many(&self, jobs: &mut [(u64, &mut [u8])], ok: &mut [bool]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx512(k) => k.open_many(jobs, ok),
            Self::Fallback(c) => c.open_many(jobs, ok),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<C: TransportCipher>() {
        let c = C::new(&[1u8; 32]);
        for len in [0usize, 1, 15, 16, 1420] {
            let mut buf = vec![0xabu8; len + AEAD_TAG_SIZE];
            c.seal(42, &mut buf).unwrap();
            let mut t = buf.clone();
            assert_eq!(c.open(42, &mut t), Ok(len));
            assert!(t[..len].iter().all(|&b| b == 0xab));
            let mut t = buf.clone();
            assert_eq!(c.open(43, &mut t), Err(AeadError));
            if len > 0 {
                let mut t = buf.clone();
                t[0] ^= 1;
                assert_eq!(c.open(42, &mut t), Err(AeadError));
            }
        }
        assert_eq!(c.open(0, &mut [0u8; 3]), Err(AeadError));
    }

    #[test]
    fn transport_key_round_trip_and_cross_check() {
        round_trip::<TransportKey>();
        let a = TransportKey::new(&[3u8; 32]);
        let b = RustCryptoCipher::new(&[3u8; 32]);
        let mut buf = vec![6u8; 1420 + AEAD_TAG_SIZE];
        a.seal(11, &mut buf).unwrap();
        assert_eq!(b.open(11, &mut buf), Ok(1420));
        b.seal(12, &mut buf).unwrap();
        assert_eq!(a.open(12, &mut buf), Ok(1420));
    }

    /// `seal_many`/`open_many` of a cipher agree with its one-at-a-time calls, and a forged
    /// message in the middle of a run is the only one refused.
    fn many_round_trip<C: TransportCipher>() {
        let c = C::new(&[8u8; 32]);
        let lens = [1420usize, 1420, 1420, 64, 64, 0, 1420, 10];
        let mut bufs: Vec<Vec<u8>> = lens.iter().map(|&n| vec![0x5au8; n + 16]).collect();
        let mut ok = vec![false; lens.len()];
        let mut jobs: Vec<(u64, &mut [u8])> = bufs
            .iter_mut()
            .enumerate()
            .map(|(i, b)| (i as u64, b.as_mut_slice()))
            .collect();
        c.seal_many(&mut jobs, &mut ok);
        assert!(ok.iter().all(|&o| o));
        for (i, b) in bufs.iter().enumerate() {
            let mut one = vec![0x5au8; lens[i] + 16];
            c.seal(i as u64, &mut one).unwrap();
            assert_eq!(b, &one, "message {i}");
        }
        bufs[6][3] ^= 1;
        let mut jobs: Vec<(u64, &mut [u8])> = bufs
            .iter_mut()
            .enumerate()
            .map(|(i, b)| (i as u64, b.as_mut_slice()))
            .collect();
        c.open_many(&mut jobs, &mut ok);
        let want: Vec<bool> = (0..lens.len()).map(|i| i != 6).collect();
        assert_eq!(ok, want);
        assert!(bufs[0][..1420].iter().all(|&b| b == 0x5a));
    }

    #[test]
    fn many_at_once_matches_one_at_a_time_for_every_cipher() {
        many_round_trip::<RustCryptoCipher>();
        many_round_trip::<FallbackCipher>();
        many_round_trip::<TransportKey>();
    }

    #[test]
    fn rustcrypto_round_trip() {
        round_trip::<RustCryptoCipher>();
    }

    #[cfg(all(feature = "ring", not(feature = "pure-rust")))]
    #[test]
    fn ring_round_trip_and_cross_check() {
        round_trip::<RingCipher>();
        let a = RingCipher::new(&[7u8; 32]);
        let b = RustCryptoCipher::new(&[7u8; 32]);
        let mut buf = vec![5u8; 100 + AEAD_TAG_SIZE];
        a.seal(9, &mut buf).unwrap();
        assert_eq!(b.open(9, &mut buf), Ok(100));
    }
}
