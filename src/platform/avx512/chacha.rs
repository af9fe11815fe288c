//! ChaCha20 (RFC 8439 §2.3–2.4) sixteen blocks at a time in AVX-512 registers.
//!
//! Each of the sixteen 32-bit lanes of a register holds one block's copy of one state word,
//! so the 20 rounds run on all sixteen blocks at once with no shuffles; a 16×16 transpose at
//! the end turns the sixteen word-registers into sixteen 64-byte keystream blocks.

use core::arch::x86_64::*;

/// "expand 32-byte k" as four little-endian words.
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// One ChaCha quarter round on four word-registers.
macro_rules! quarter {
    ($x:ident, $a:literal, $b:literal, $c:literal, $d:literal) => {
        $x[$a] = _mm512_add_epi32($x[$a], $x[$b]);
        $x[$d] = _mm512_rol_epi32::<16>(_mm512_xor_si512($x[$d], $x[$a]));
        $x[$c] = _mm512_add_epi32($x[$c], $x[$d]);
        $x[$b] = _mm512_rol_epi32::<12>(_mm512_xor_si512($x[$b], $x[$c]));
        $x[$a] = _mm512_add_epi32($x[$a], $x[$b]);
        $x[$d] = _mm512_rol_epi32::<8>(_mm512_xor_si512($x[$d], $x[$a]));
        $x[$c] = _mm512_add_epi32($x[$c], $x[$d]);
        $x[$b] = _mm512_rol_epi32::<7>(_mm512_xor_si512($x[$b], $x[$c]));
    };
}

/// The initial state of blocks `counter .. counter + 16` as word-registers.
#[target_feature(enable = "avx512f")]
fn initial(key: &[u32; 8], nonce: &[u32; 3], counter: u32) -> [__m512i; 16] {
    let mut init = [_mm512_setzero_si512(); 16];
    for (w, c) in init.iter_mut().zip(SIGMA) {
        *w = _mm512_set1_epi32(c as i32);
    }
    for (w, &k) in init[4..12].iter_mut().zip(key) {
        *w = _mm512_set1_epi32(k as i32);
    }
    let lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    init[12] = _mm512_add_epi32(_mm512_set1_epi32(counter as i32), lanes);
    for (w, &n) in init[13..].iter_mut().zip(nonce) {
        *w = _mm512_set1_epi32(n as i32);
    }
    init
}

/// The twenty rounds on the sets of word-registers given, interleaved: on CPUs where a vector
/// add, xor or rotate takes two cycles (Zen 5), one set's four quarter-round chains leave
/// half the issue slots empty and a second set fills them.
macro_rules! rounds {
    ($($x:ident),+) => {
        for _ in 0..10 {
            $(quarter!($x, 0, 4, 8, 12);)+
            $(quarter!($x, 1, 5, 9, 13);)+
            $(quarter!($x, 2, 6, 10, 14);)+
            $(quarter!($x, 3, 7, 11, 15);)+
            $(quarter!($x, 0, 5, 10, 15);)+
            $(quarter!($x, 1, 6, 11, 12);)+
            $(quarter!($x, 2, 7, 8, 13);)+
            $(quarter!($x, 3, 4, 9, 14);)+
        }
    };
}

/// Add the initial state back in and turn word-registers into blocks.
#[target_feature(enable = "avx512f")]
fn finish(mut x: [__m512i; 16], init: &[__m512i; 16]) -> [__m512i; 16] {
    for (w, i) in x.iter_mut().zip(init) {
        *w = _mm512_add_epi32(*w, *i);
    }
    transpose(&x)
}

/// The keystream blocks `counter .. counter + 16` for `key` and the 96-bit `nonce`, block `i`
/// of the result being block `counter + i`. The 32-bit block counter wraps as RFC 8439's does
/// not need to: callers never reach 2^32 blocks (WireGuard packets are under 64 KiB).
#[target_feature(enable = "avx512f")]
pub(super) fn blocks16(key: &[u32; 8], nonce: &[u32; 3], counter: u32) -> [__m512i; 16] {
    let init = initial(key, nonce, counter);
    let mut x = init;
    rounds!(x);
    finish(x, &init)
}

/// As [`blocks16`] for blocks `counter .. counter + 32`, in about the same time.
#[target_feature(enable = "avx512f")]
pub(super) fn blocks32(
    key: &[u32; 8],
    nonce: &[u32; 3],
    counter: u32,
) -> ([__m512i; 16], [__m512i; 16]) {
    let init_x = initial(key, nonce, counter);
    let init_y = initial(key, nonce, counter.wrapping_add(16));
    let (mut x, mut y) = (init_x, init_y);
    rounds!(x, y);
    (finish(x, &init_x), finish(y, &init_y))
}

/// Blocks `block` and `block + 1` of sixteen messages at once: lane `l` (message `l`) has the
/// 64-bit message counter `lo[l] | hi[l] << 32` in nonce words 1 and 2. Returns the two
/// blocks of every lane: `.0[l]` is block `block` of message `l`, `.1[l]` block `block + 1`.
#[target_feature(enable = "avx512f")]
pub(super) fn lanes2(
    key: &[u32; 8],
    block: u32,
    lo: __m512i,
    hi: __m512i,
) -> ([__m512i; 16], [__m512i; 16]) {
    let mut init_x = initial(key, &[0; 3], 0);
    init_x[12] = _mm512_set1_epi32(block as i32);
    init_x[14] = lo;
    init_x[15] = hi;
    let mut init_y = init_x;
    init_y[12] = _mm512_set1_epi32(block.wrapping_add(1) as i32);
    let (mut x, mut y) = (init_x, init_y);
    rounds!(x, y);
    (finish(x, &init_x), finish(y, &init_y))
}

/// Word-registers (`x[w]` lane `b` = word `w` of block `b`) to blocks (`out[b]` = block `b`).
#[target_feature(enable = "avx512f")]
fn transpose(x: &[__m512i; 16]) -> [__m512i; 16] {
    // Within each 128-bit lane `k`, gather words 4g..4g+4 of blocks 4k..4k+4: `quads[g][m]`
    // holds, in its 128-bit lane `k`, those words of block 4k + m.
    let mut quads = [[_mm512_setzero_si512(); 4]; 4];
    for (g, q) in quads.iter_mut().enumerate() {
        let (a, b, c, d) = (x[4 * g], x[4 * g + 1], x[4 * g + 2], x[4 * g + 3]);
        let ab_lo = _mm512_unpacklo_epi32(a, b);
        let ab_hi = _mm512_unpackhi_epi32(a, b);
        let cd_lo = _mm512_unpacklo_epi32(c, d);
        let cd_hi = _mm512_unpackhi_epi32(c, d);
        q[0] = _mm512_unpacklo_epi64(ab_lo, cd_lo);
        q[1] = _mm512_unpackhi_epi64(ab_lo, cd_lo);
        q[2] = _mm512_unpacklo_epi64(ab_hi, cd_hi);
        q[3] = _mm512_unpackhi_epi64(ab_hi, cd_hi);
    }
    // Block 4k + m is 128-bit lane k of quads[0][m], quads[1][m], quads[2][m], quads[3][m].
    let mut out = [_mm512_setzero_si512(); 16];
    for m in 0..4 {
        let (q0, q1, q2, q3) = (quads[0][m], quads[1][m], quads[2][m], quads[3][m]);
        let t0 = _mm512_shuffle_i32x4::<0b01_00_01_00>(q0, q1);
        let t1 = _mm512_shuffle_i32x4::<0b11_10_11_10>(q0, q1);
        let t2 = _mm512_shuffle_i32x4::<0b01_00_01_00>(q2, q3);
        let t3 = _mm512_shuffle_i32x4::<0b11_10_11_10>(q2, q3);
        out[m] = _mm512_shuffle_i32x4::<0b10_00_10_00>(t0, t2);
        out[4 + m] = _mm512_shuffle_i32x4::<0b11_01_11_01>(t0, t2);
        out[8 + m] = _mm512_shuffle_i32x4::<0b10_00_10_00>(t1, t3);
        out[12 + m] = _mm512_shuffle_i32x4::<0b11_01_11_01>(t1, t3);
    }
    out
}

/// XOR `data` (at most 16 × 64 bytes) with the keystream blocks `ks`, in place.
#[target_feature(enable = "avx512f")]
pub(super) fn xor_in_place(data: &mut [u8], ks: &[__m512i]) {
    debug_assert!(data.len() <= 64 * ks.len(), "more data than keystream");
    let mut chunks = data.chunks_exact_mut(64);
    let mut blocks = ks.iter();
    for (chunk, &k) in (&mut chunks).zip(&mut blocks) {
        // SAFETY: `chunk` is exactly 64 bytes, the width of one unaligned load and store.
        unsafe {
            let p = chunk.as_mut_ptr().cast::<__m512i>();
            _mm512_storeu_si512(p, _mm512_xor_si512(_mm512_loadu_si512(p), k));
        }
    }
    let tail = chunks.into_remainder();
    if let (false, Some(&k)) = (tail.is_empty(), blocks.next()) {
        let mut block = [0u8; 64];
        block[..tail.len()].copy_from_slice(tail);
        // SAFETY: `block` is 64 bytes, the width of one unaligned load and store.
        unsafe {
            let p = block.as_mut_ptr().cast::<__m512i>();
            _mm512_storeu_si512(p, _mm512_xor_si512(_mm512_loadu_si512(p), k));
        }
        let n = tail.len();
        tail.copy_from_slice(&block[..n]);
    }
}

/// The first 32 bytes of keystream block `k`: the one-time Poly1305 key (RFC 8439 §2.6).
#[target_feature(enable = "avx512f")]
pub(super) fn poly_key(k: __m512i) -> [u8; 32] {
    let mut block = [0u8; 64];
    // SAFETY: `block` is 64 bytes, the width of one unaligned store.
    unsafe { _mm512_storeu_si512(block.as_mut_ptr().cast::<__m512i>(), k) };
    let mut key = [0u8; 32];
    key.copy_from_slice(&block[..32]);
    zeroize::Zeroize::zeroize(&mut block);
    key
}
