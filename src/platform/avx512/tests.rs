//! Checked against RustCrypto's ChaCha20-Poly1305 (an independent implementation) on every
//! length across the pass and step boundaries and on random keys, nonces and data.

use super::*;
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use proptest::prelude::*;

fn reference_seal(key: &[u8; 32], counter: u64, data: &mut [u8]) -> [u8; 16] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_le_bytes());
    let tag = ChaCha20Poly1305::new(key.into())
        .encrypt_in_place_detached(&nonce.into(), &[], data)
        .unwrap();
    tag.into()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn check(key: &[u8; 32], counter: u64, plain: &[u8]) {
    let Some(k) = Avx512Key::new(key) else {
        return; // this CPU lacks AVX-512 IFMA: nothing to check
    };
    let mut ours = plain.to_vec();
    let tag = k.seal(counter, &mut ours);
    let mut theirs = plain.to_vec();
    let want = reference_seal(key, counter, &mut theirs);
    assert_eq!(ours, theirs, "ciphertext, len {}", plain.len());
    assert_eq!(tag, want, "tag, len {}", plain.len());
    assert!(
        k.open(counter, &mut ours, &tag),
        "open, len {}",
        plain.len()
    );
    assert_eq!(ours, plain);
}

#[test]
fn every_length_to_three_passes_matches_rustcrypto() {
    let key: [u8; 32] = std::array::from_fn(|i| i as u8 * 7 + 1);
    for len in 0..=3200 {
        check(
            &key,
            len as u64 * 0x0101_0101_0001,
            &pattern(len, len as u8),
        );
    }
}

#[test]
fn counters_at_the_edges_match_rustcrypto() {
    let key = [0xa5u8; 32];
    for counter in [0, 1, u32::MAX as u64, 1 << 32, u64::MAX - 1, u64::MAX] {
        check(&key, counter, &pattern(1420, 3));
    }
}

#[test]
fn limbs_at_their_largest_match_rustcrypto() {
    // All-ones data and keys drive every limb and carry to its maximum.
    for key in [[0xffu8; 32], [0u8; 32]] {
        for len in [16, 127, 128, 129, 1024, 1420, 2048] {
            check(&key, 7, &vec![0xff; len]);
        }
    }
}

#[test]
fn a_changed_byte_or_tag_or_counter_is_refused_and_leaves_the_data() {
    let Some(k) = Avx512Key::new(&[9u8; 32]) else {
        return;
    };
    for len in [0usize, 1, 200, 1420] {
        let mut ct = pattern(len, 1);
        let tag = k.seal(5, &mut ct);
        for i in [0, len / 2, len.saturating_sub(1)] {
            if len == 0 {
                break;
            }
            let mut bad = ct.clone();
            bad[i] ^= 0x80;
            let before = bad.clone();
            assert!(!k.open(5, &mut bad, &tag), "len {len}, byte {i}");
            assert_eq!(bad, before, "refused data must stay as it was");
        }
        let mut bad_tag = tag;
        bad_tag[15] ^= 1;
        assert!(!k.open(5, &mut ct.clone(), &bad_tag));
        assert!(!k.open(6, &mut ct.clone(), &tag));
    }
}

#[test]
fn debug_hides_the_key() {
    if let Some(k) = Avx512Key::new(&[0x42u8; 32]) {
        assert_eq!(format!("{k:?}"), "Avx512Key(hidden)");
    }
}

proptest! {
    #[test]
    fn random_inputs_match_rustcrypto(
        key in any::<[u8; 32]>(),
        counter in any::<u64>(),
        plain in proptest::collection::vec(any::<u8>(), 0..2200),
    ) {
        check(&key, counter, &plain);
    }
}
