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

/// A key for this code, or `None` (with a note) on a CPU without AVX-512F and IFMA; with
/// `WGRS_REQUIRE_AVX512=1` (which `.ci/run` sets on such CPUs) a missing feature fails instead.
fn key_or_skip(key: &[u8; 32]) -> Option<Avx512Key> {
    let k = Avx512Key::new(key);
    if k.is_none() {
        let required = std::env::var_os("WGRS_REQUIRE_AVX512").is_some_and(|v| v == "1");
        assert!(
            !required,
            "WGRS_REQUIRE_AVX512=1 but this CPU lacks AVX-512F or IFMA"
        );
        eprintln!("skipped: this CPU lacks AVX-512F or IFMA");
    }
    k
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn check(key: &[u8; 32], counter: u64, plain: &[u8]) {
    let Some(k) = key_or_skip(key) else {
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
fn all_ones_and_all_zero_data_match_rustcrypto() {
    // The one-time keys come from ChaCha20 here; `poly_*` below choose them directly.
    for key in [[0xffu8; 32], [0u8; 32]] {
        for len in [16, 127, 128, 129, 1024, 1420, 2048] {
            check(&key, 7, &vec![0xff; len]);
        }
    }
}

#[test]
fn a_changed_byte_or_tag_or_counter_is_refused_and_leaves_the_data() {
    let Some(k) = key_or_skip(&[9u8; 32]) else {
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
    if let Some(k) = key_or_skip(&[0x42u8; 32]) {
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
    let Some(k) = key_or_skip(key) else {
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
    let Some(k) = key_or_skip(&[1u8; 32]) else {
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

// Poly1305 on its own, with chosen one-time keys: the largest clamped r, s = 2^128 − 1, r = 1,
// r in one limb only; checked against the `poly1305` crate over the same MAC input.

fn poly_reference(key: &[u8; 32], ct: &[u8]) -> [u8; 16] {
    use poly1305::universal_hash::{KeyInit, UniversalHash};
    let mut input = ct.to_vec();
    input.resize(ct.len().div_ceil(16) * 16, 0);
    input.extend_from_slice(&0u64.to_le_bytes());
    input.extend_from_slice(&(ct.len() as u64).to_le_bytes());
    let mut mac = poly1305::Poly1305::new(key.into());
    mac.update_padded(&input);
    mac.finalize().into()
}

fn chosen_keys() -> Vec<[u8; 32]> {
    let with = |r: [u8; 16], s: [u8; 16]| {
        let mut k = [0u8; 32];
        k[..16].copy_from_slice(&r);
        k[16..].copy_from_slice(&s);
        k
    };
    let mut r_one = [0u8; 16];
    r_one[0] = 1;
    let mut r_high = [0u8; 16];
    r_high[8..].fill(0xff);
    let mut r_low = [0u8; 16];
    r_low[..8].fill(0xff);
    vec![
        with([0xff; 16], [0xff; 16]),
        with([0xff; 16], [0; 16]),
        with([0; 16], [0xff; 16]),
        with(r_one, [0xff; 16]),
        with(r_high, [0xff; 16]),
        with(r_low, [0x80; 16]),
    ]
}

fn chosen_data(len: usize) -> Vec<Vec<u8>> {
    let mixed = (0..len)
        .map(|i| if i % 16 == 15 { 0xff } else { (i * 37) as u8 })
        .collect();
    vec![vec![0xff; len], vec![0; len], mixed]
}

#[test]
fn poly_with_chosen_keys_matches_the_poly1305_crate() {
    if key_or_skip(&[0; 32]).is_none() {
        return;
    }
    for key in chosen_keys() {
        for len in (0..=700).chain([1024, 1420, 1436, 2048, 4096, 65535]) {
            for data in chosen_data(len) {
                // SAFETY: `key_or_skip` found the CPU features `aead_tag` is compiled for.
                let ours = unsafe { poly::aead_tag(&key, &data) };
                assert_eq!(ours, poly_reference(&key, &data), "len {len}");
            }
        }
    }
}

#[test]
fn poly_sixteen_lanes_with_chosen_keys_match_the_poly1305_crate() {
    if key_or_skip(&[0; 32]).is_none() {
        return;
    }
    let keys = chosen_keys();
    let lanes: [[u8; 32]; 16] = std::array::from_fn(|l| keys[l % keys.len()]);
    for len in (0..=300).chain([1420, 1436, 2048]) {
        for data in chosen_data(len) {
            let cts = vec![data.as_slice(); 16];
            for n in [16, 10, 1] {
                // SAFETY: as above, for `aead_tags16`.
                let ours = unsafe { poly::aead_tags16(&lanes, &cts[..n], len) };
                for (l, tag) in ours.iter().enumerate().take(n) {
                    assert_eq!(*tag, poly_reference(&lanes[l], &data), "len {len} lane {l}");
                }
            }
        }
    }
}

#[test]
fn poly_final_reduction_is_exact_around_p() {
    const M44: u64 = (1 << 44) - 1;
    const M42: u64 = (1 << 42) - 1;
    // (h mod p + s) mod 2^128 by plain subtraction on a 192-bit value kept as (high, low).
    let reference = |h: [u64; 3], s: u128| {
        let mut low = 0u128;
        let mut high = 0u128;
        for (limb, shift) in h.into_iter().zip([0u32, 44, 88]) {
            let v = u128::from(limb);
            let (sum, carry) = low.overflowing_add(v << shift);
            low = sum;
            high += u128::from(carry) + if shift == 0 { 0 } else { v >> (128 - shift) };
        }
        let (p_high, p_low) = (3u128, u128::MAX - 4); // p = 3·2^128 + 2^128 − 5
        while high > p_high || (high == p_high && low >= p_low) {
            let (d, borrow) = low.overflowing_sub(p_low);
            low = d;
            high -= p_high + u128::from(borrow);
        }
        low.wrapping_add(s).to_le_bytes()
    };
    let mut cases: Vec<[u64; 3]> = (0..12).map(|d| [M44 - d, M44, M42]).collect();
    for extra in [1u64, 2, 5, 63, 64, 4095] {
        cases.extend([
            [M44, M44 + extra, M42],
            [M44 + extra, M44, M42],
            [M44 + 5 * extra, M44 + extra, M42],
            [0, 0, M42 + extra],
            [M44 - 4, M44, M42 + extra],
        ]);
    }
    cases.extend([
        [0, 0, 1 << 42],
        [4, 0, 1 << 42],
        [5, 0, 1 << 42],
        [16 * M44, 16 * M44, 16 * M42],
    ]);
    for h in cases {
        for s in [0u128, u128::MAX, 5, 1 << 127] {
            let mut key = [0u8; 32];
            key[16..].copy_from_slice(&s.to_le_bytes());
            assert_eq!(poly::finish(h, &key), reference(h, s), "h {h:x?} s {s:x}");
        }
    }
}
