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

/// Seal `lens` (each plaintext length) with `seal_many` and compare with RustCrypto; then
/// open them back with `open_many`, a few of them tampered with.
fn check_many(key: &[u8; 32], first_counter: u64, lens: &[usize], tamper: &[usize]) {
    let Some(k) = Avx512Key::new(key) else {
        return;
    };
    let plains: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| pattern(n, i as u8))
        .collect();
    let mut bufs: Vec<Vec<u8>> = plains
        .iter()
        .map(|p| [p.as_slice(), &[0u8; 16]].concat())
        .collect();
    let counters: Vec<u64> = (0..lens.len() as u64).map(|i| first_counter + i).collect();
    let mut ok = vec![false; lens.len()];
    let mut jobs: Vec<(u64, &mut [u8])> = counters
        .iter()
        .zip(bufs.iter_mut())
        .map(|(&c, b)| (c, b.as_mut_slice()))
        .collect();
    k.seal_many(&mut jobs, &mut ok);
    assert!(ok.iter().all(|&o| o), "{lens:?}");
    for ((p, b), &c) in plains.iter().zip(&bufs).zip(&counters) {
        let mut want = p.clone();
        let tag = reference_seal(key, c, &mut want);
        want.extend_from_slice(&tag);
        assert_eq!(b, &want, "len {} in {lens:?}", p.len());
    }
    for &i in tamper {
        let b = &mut bufs[i];
        let at = b.len() / 2;
        b[at] ^= 4;
    }
    let before = bufs.clone();
    let mut jobs: Vec<(u64, &mut [u8])> = counters
        .iter()
        .zip(bufs.iter_mut())
        .map(|(&c, b)| (c, b.as_mut_slice()))
        .collect();
    k.open_many(&mut jobs, &mut ok);
    for (i, ((p, b), &o)) in plains.iter().zip(&bufs).zip(&ok).enumerate() {
        if tamper.contains(&i) {
            assert!(!o, "tampered message {i} accepted");
            assert_eq!(b, &before[i], "refused message {i} changed");
        } else {
            assert!(o, "message {i} of {lens:?} refused");
            assert_eq!(&b[..p.len()], p.as_slice());
        }
    }
}

#[test]
fn many_equal_messages_match_rustcrypto_at_every_length() {
    let key = [0x3cu8; 32];
    for len in (0..=2100).step_by(7).chain([1420, 1424, 1436, 2048, 4000]) {
        check_many(&key, len as u64 * 1000, &[len; 16], &[]);
        check_many(&key, 5, &[len; 11], &[]);
    }
}

#[test]
fn many_mixed_runs_and_tampered_messages() {
    let key = [0x77u8; 32];
    let mut lens = vec![1420; 46];
    lens[45] = 388; // the end of a TSO burst
    lens.extend([64, 64, 96, 1420, 1420]);
    check_many(
        &key,
        u32::MAX as u64 - 20,
        &lens,
        &[0, 7, 15, 16, 31, 45, 47],
    );
    check_many(&key, 0, &[1420; 16], &(0..16).collect::<Vec<_>>());
    check_many(&key, 0, &[0; 16], &[]);
    check_many(&key, 9, &[], &[]);
}

#[test]
fn many_refuses_buffers_too_short_for_a_tag() {
    let Some(k) = Avx512Key::new(&[1u8; 32]) else {
        return;
    };
    let mut bufs = vec![vec![0u8; 10]; 12];
    let mut ok = vec![true; 12];
    let mut jobs: Vec<(u64, &mut [u8])> = bufs.iter_mut().map(|b| (1, b.as_mut_slice())).collect();
    k.seal_many(&mut jobs, &mut ok);
    assert!(ok.iter().all(|&o| !o));
    k.open_many(&mut jobs, &mut ok);
    assert!(ok.iter().all(|&o| !o));
}

proptest! {
    #[test]
    fn many_random_runs_match_rustcrypto(
        key in any::<[u8; 32]>(),
        counter in any::<u64>().prop_map(|c| c >> 1),
        runs in proptest::collection::vec((0usize..1600, 1usize..20), 1..5),
        tamper in proptest::collection::vec(0usize..80, 0..4),
    ) {
        let lens: Vec<usize> = runs.iter().flat_map(|&(len, n)| std::iter::repeat_n(len, n)).collect();
        let mut tamper: Vec<usize> = tamper.into_iter().filter(|&i| i < lens.len() && lens[i] > 0).collect();
        tamper.sort_unstable();
        tamper.dedup(); // flipping one bit twice would undo it
        check_many(&key, counter, &lens, &tamper);
    }
}

#[test]
fn tags_equal_only_when_every_byte_is() {
    let a: [u8; 16] = std::array::from_fn(|i| i as u8 * 17);
    assert!(poly::tags_equal(&a, &a));
    for i in 0..16 {
        for bit in 0..8 {
            let mut b = a;
            b[i] ^= 1 << bit;
            assert!(!poly::tags_equal(&a, &b), "byte {i} bit {bit}");
        }
    }
}
