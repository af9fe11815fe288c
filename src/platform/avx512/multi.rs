//! Sixteen messages of one length at once: lane `l` of every register works on message `l`.
//!
//! A TSO burst or a GRO'd receive is a run of equal-size packets under one key. Taking one
//! block of each of sixteen of them per ChaCha20 pass wastes no keystream (one message at a
//! time computes 32 blocks for a 1420-byte packet's 24), and Poly1305 over one block of each
//! per step needs no powers of r (about a third of a lone 1420-byte tag's time).

use super::{chacha, poly};
use core::arch::x86_64::*;
use zeroize::Zeroize;

/// Messages per call: the 32-bit lanes of one register.
pub(super) const LANES: usize = 16;

/// The per-lane halves of the 64-bit message counters, as ChaCha20 nonce words 1 and 2.
#[target_feature(enable = "avx512f")]
fn counter_words(counters: &[u64]) -> (__m512i, __m512i) {
    let mut lo = [0u32; LANES];
    let mut hi = [0u32; LANES];
    for ((l, h), &c) in lo.iter_mut().zip(&mut hi).zip(counters) {
        *l = c as u32;
        *h = (c >> 32) as u32;
    }
    // SAFETY: each array is sixteen u32s, 64 bytes: one unaligned load.
    unsafe {
        (
            _mm512_loadu_si512(lo.as_ptr().cast::<__m512i>()),
            _mm512_loadu_si512(hi.as_ptr().cast::<__m512i>()),
        )
    }
}

/// XOR keystream block `k` into `msg` at byte `off`, if the message reaches that far.
#[target_feature(enable = "avx512f")]
fn xor_at(msg: &mut [u8], off: usize, k: __m512i) {
    if let Some(block) = msg.get_mut(off..off + 64) {
        // SAFETY: `block` is 64 bytes, the width of one unaligned load and store.
        unsafe {
            let p = block.as_mut_ptr().cast::<__m512i>();
            _mm512_storeu_si512(p, _mm512_xor_si512(_mm512_loadu_si512(p), k));
        }
    } else if let Some(tail) = msg.get_mut(off..) {
        chacha::xor_in_place(tail, &[k]);
    }
}

/// XOR the keystream from block 1 on into the messages whose `lanes` flag is set; `block1`
/// holds each lane's block 1, already computed.
#[target_feature(enable = "avx512f")]
fn apply(
    key: &[u32; 8],
    words: (__m512i, __m512i),
    block1: &[__m512i; 16],
    msgs: &mut [&mut [u8]],
    lanes: &[bool; LANES],
    len: usize,
) {
    for ((m, &k), &on) in msgs.iter_mut().zip(block1).zip(lanes) {
        if on {
            xor_at(m, 0, k);
        }
    }
    let blocks = 1 + len.div_ceil(64) as u32; // block 0 is the Poly1305 key
    let mut b = 2;
    while b < blocks {
        let (x, y) = chacha::lanes2(key, b, words.0, words.1);
        let off = 64 * (b as usize - 1);
        for (((m, &kx), &ky), &on) in msgs.iter_mut().zip(&x).zip(&y).zip(lanes) {
            if on {
                xor_at(m, off, kx);
                xor_at(m, off + 64, ky);
            }
        }
        b += 2;
    }
}

/// The one-time Poly1305 keys (block 0 of each lane) and every lane's block 1.
#[target_feature(enable = "avx512f")]
fn first_blocks(key: &[u32; 8], words: (__m512i, __m512i)) -> ([[u8; 32]; 16], [__m512i; 16]) {
    let (mut k0, k1) = chacha::lanes2(key, 0, words.0, words.1);
    let mac_keys = std::array::from_fn(|l| chacha::poly_key(k0[l]));
    k0.zeroize();
    (mac_keys, k1)
}

/// Encrypt `msgs` (at most sixteen, all `len` bytes) in place; returns their tags.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn seal(
    key: &[u32; 8],
    counters: &[u64],
    msgs: &mut [&mut [u8]],
    len: usize,
) -> [[u8; 16]; LANES] {
    let words = counter_words(counters);
    let (mut mac_keys, block1) = first_blocks(key, words);
    apply(key, words, &block1, msgs, &[true; LANES], len);
    let cts: [&[u8]; LANES] = std::array::from_fn(|l| msgs.get(l).map_or(&[][..], |m| &**m));
    let tags = poly::aead_tags16(&mac_keys, &cts, len);
    mac_keys.zeroize();
    tags
}

/// Check each message's tag and decrypt in place only those that match; `ok[l]` says which.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn open(
    key: &[u32; 8],
    counters: &[u64],
    msgs: &mut [&mut [u8]],
    tags: &[[u8; 16]],
    len: usize,
) -> [bool; LANES] {
    let words = counter_words(counters);
    let (mut mac_keys, block1) = first_blocks(key, words);
    let cts: [&[u8]; LANES] = std::array::from_fn(|l| msgs.get(l).map_or(&[][..], |m| &**m));
    let expected = poly::aead_tags16(&mac_keys, &cts, len);
    mac_keys.zeroize();
    let mut ok = [false; LANES];
    for ((o, e), t) in ok.iter_mut().zip(&expected).zip(tags) {
        *o = poly::tags_equal(e, t);
    }
    apply(key, words, &block1, msgs, &ok, len);
    ok
}
