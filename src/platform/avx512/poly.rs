//! Poly1305 (RFC 8439 §2.5) with AVX-512 IFMA, eight blocks per step.
//!
//! Numbers mod p = 2^130 − 5 are kept in three limbs of 44, 44 and 42 bits, so that every limb
//! product fits the 52-bit multipliers of `vpmadd52{l,h}uq`. Lane j of the vector accumulator
//! takes blocks j, j + 8, j + 16, …; each step multiplies every lane by r^8, and the last step
//! by r^(8 − j) instead, so that the lanes' sum is the ordinary Horner evaluation. Blocks that
//! do not fill a step of eight, and messages shorter than one step, go through the same
//! arithmetic one block at a time in scalar code.

use core::arch::x86_64::*;

const M44: u64 = (1 << 44) - 1;
const M42: u64 = (1 << 42) - 1;
/// 2^128, the bit every full block carries, in limb 2 (which starts at bit 88).
const HIBIT: u64 = 1 << 40;

/// A number mod p in limbs of 44/44/42 bits; limbs may run a few bits over between steps.
type Limbs = [u64; 3];

/// A 16-byte block as limbs, with the 2^128 bit set.
fn block_limbs(b: &[u8; 16]) -> Limbs {
    let lo = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    let hi = u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
    [
        lo & M44,
        ((lo >> 44) | (hi << 20)) & M44,
        (hi >> 24) | HIBIT,
    ]
}

/// a·b mod p, partly reduced (limbs below 2^44 + 2^12, 2^44 + 2^12, 2^42 + 2^12).
fn mul(a: &Limbs, b: &Limbs) -> Limbs {
    let w = |x: u64| u128::from(x);
    let (s1, s2) = (b[1] * 20, b[2] * 20); // 2^132 ≡ 20 (mod p)
    let d0 = w(a[0]) * w(b[0]) + w(a[1]) * w(s2) + w(a[2]) * w(s1);
    let d1 = w(a[0]) * w(b[1]) + w(a[1]) * w(b[0]) + w(a[2]) * w(s2);
    let d2 = w(a[0]) * w(b[2]) + w(a[1]) * w(b[1]) + w(a[2]) * w(b[0]);
    let h0 = d0 as u64 & M44;
    let d1 = d1 + (d0 >> 44);
    let h1 = d1 as u64 & M44;
    let d2 = d2 + (d1 >> 44);
    let h2 = d2 as u64 & M42;
    let h0 = h0 + (d2 >> 42) as u64 * 5;
    [h0 & M44, h1 + (h0 >> 44), h2]
}

/// The one-time key's clamped r (§2.5) as limbs.
fn clamp_r(key: &[u8; 32]) -> Limbs {
    let mut r = [0u8; 16];
    r.copy_from_slice(&key[..16]);
    let v = u128::from_le_bytes(r) & 0x0fff_fffc_0fff_fffc_0fff_fffc_0fff_ffff;
    let (lo, hi) = (v as u64, (v >> 64) as u64);
    [lo & M44, ((lo >> 44) | (hi << 20)) & M44, hi >> 24]
}

/// The Poly1305 tag of `ChaCha20-Poly1305`'s MAC input for empty associated data:
/// `ct`, zero padding to 16 bytes, then the two little-endian 64-bit lengths (§2.8).
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn aead_tag(key: &[u8; 32], ct: &[u8]) -> [u8; 16] {
    let r = clamp_r(key);
    let mut h: Limbs = [0; 3];
    let mut full = ct.chunks_exact(16);
    let steps = ct.len() / 128;
    if steps > 0 {
        h = vector_steps(&r, &ct[..steps * 128]);
        full = ct[steps * 128..].chunks_exact(16);
    }
    for b in &mut full {
        let m = block_limbs(b.try_into().unwrap_or(&[0; 16]));
        h = mul(&[h[0] + m[0], h[1] + m[1], h[2] + m[2]], &r);
    }
    let rest = full.remainder();
    let mut tail = [0u8; 16];
    if !rest.is_empty() {
        tail[..rest.len()].copy_from_slice(rest);
        let m = block_limbs(&tail);
        h = mul(&[h[0] + m[0], h[1] + m[1], h[2] + m[2]], &r);
    }
    tail[..8].fill(0); // associated data: none
    tail[8..].copy_from_slice(&(ct.len() as u64).to_le_bytes());
    let m = block_limbs(&tail);
    h = mul(&[h[0] + m[0], h[1] + m[1], h[2] + m[2]], &r);
    finish(h, key)
}

/// The accumulator after `msg` (a whole number of 128-byte groups, at least one).
///
/// Groups alternate between two accumulators that each step by r^16, so two independent
/// multiply chains overlap; the last group of each is multiplied by its lanes' own powers
/// (r^8 … r^1 for the very last group, r^16 … r^9 for the one before).
#[target_feature(enable = "avx512f,avx512ifma")]
fn vector_steps(r: &Limbs, msg: &[u8]) -> Limbs {
    let r2 = mul(r, r);
    let r3 = mul(&r2, r);
    let r4 = mul(&r2, &r2);
    let (r5, r6, r7, r8) = (mul(&r4, r), mul(&r4, &r2), mul(&r4, &r3), mul(&r4, &r4));
    let lane = |i: usize| {
        _mm512_set_epi64(
            r[i] as i64,
            r2[i] as i64,
            r3[i] as i64,
            r4[i] as i64,
            r5[i] as i64,
            r6[i] as i64,
            r7[i] as i64,
            r8[i] as i64,
        )
    };
    let broadcast = |x: &Limbs| {
        Mul::new([
            _mm512_set1_epi64(x[0] as i64),
            _mm512_set1_epi64(x[1] as i64),
            _mm512_set1_epi64(x[2] as i64),
        ])
    };
    let by_r8 = broadcast(&r8);
    let last = Mul::new([lane(0), lane(1), lane(2)]);
    let groups = msg.len() / 128;
    // r^16 … r^9 and r^16 only when there are two groups or more.
    let (before_last, stride) = if groups >= 2 {
        (Mul::new(by_r8.apply(&last.r)), broadcast(&mul(&r8, &r8)))
    } else {
        (by_r8.clone(), by_r8)
    };
    let mut acc = [[_mm512_setzero_si512(); 3]; 2];
    for (g, bytes) in msg.chunks_exact(128).enumerate() {
        let Ok(bytes) = <&[u8; 128]>::try_from(bytes) else {
            continue; // chunks_exact: always 128 bytes
        };
        let m = load8(bytes);
        let a = &mut acc[g % 2];
        let sum = [
            _mm512_add_epi64(a[0], m[0]),
            _mm512_add_epi64(a[1], m[1]),
            _mm512_add_epi64(a[2], m[2]),
        ];
        *a = match groups - 1 - g {
            0 => last.apply(&sum),
            1 => before_last.apply(&sum),
            _ => stride.apply(&sum),
        };
    }
    let total = |i: usize| _mm512_reduce_add_epi64(_mm512_add_epi64(acc[0][i], acc[1][i])) as u64;
    let h = [total(0), total(1), total(2)];
    // Sixteen lanes of under 2^45 sum to under 2^49: carry back to the usual limb sizes.
    let h1 = h[1] + (h[0] >> 44);
    let h2 = h[2] + (h1 >> 44);
    let h0 = (h[0] & M44) + (h2 >> 42) * 5;
    [h0 & M44, (h1 & M44) + (h0 >> 44), h2 & M42]
}

/// Eight blocks (128 bytes) as limb vectors, lane j holding block j.
#[target_feature(enable = "avx512f")]
fn load8(g: &[u8; 128]) -> [__m512i; 3] {
    // SAFETY: `g` is 128 bytes: two unaligned 64-byte loads.
    let (a, b) = unsafe {
        let p = g.as_ptr().cast::<__m512i>();
        (_mm512_loadu_si512(p), _mm512_loadu_si512(p.add(1)))
    };
    limbs_of_pairs(a, b)
}

/// Blocks 0–3 (`a`) and 4–7 (`b`), each as 64-bit halves in block order, to limb vectors.
#[target_feature(enable = "avx512f")]
fn limbs_of_pairs(a: __m512i, b: __m512i) -> [__m512i; 3] {
    let lo = _mm512_permutex2var_epi64(a, _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), b);
    let hi = _mm512_permutex2var_epi64(a, _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1), b);
    let m44 = _mm512_set1_epi64(M44 as i64);
    let m0 = _mm512_and_si512(lo, m44);
    let m1 = _mm512_and_si512(
        _mm512_or_si512(_mm512_srli_epi64::<44>(lo), _mm512_slli_epi64::<20>(hi)),
        m44,
    );
    let m2 = _mm512_or_si512(_mm512_srli_epi64::<24>(hi), _mm512_set1_epi64(HIBIT as i64));
    [m0, m1, m2]
}

/// One block from each of eight messages as limb vectors, lane j holding `blocks[j]`.
#[target_feature(enable = "avx512f")]
fn load_lanes(blocks: [&[u8; 16]; 8]) -> [__m512i; 3] {
    // SAFETY: each block is 16 bytes, the width of one unaligned 128-bit load.
    let q = blocks.map(|b| unsafe { _mm_loadu_si128(b.as_ptr().cast::<__m128i>()) });
    let a = _mm512_inserti64x4::<1>(
        _mm512_castsi256_si512(_mm256_set_m128i(q[1], q[0])),
        _mm256_set_m128i(q[3], q[2]),
    );
    let b = _mm512_inserti64x4::<1>(
        _mm512_castsi256_si512(_mm256_set_m128i(q[5], q[4])),
        _mm256_set_m128i(q[7], q[6]),
    );
    limbs_of_pairs(a, b)
}

/// The AEAD tags (as [`aead_tag`]) of sixteen ciphertexts of one length `len`, message `l`
/// under `keys[l]`, one block of every message per step: no powers of r are needed, and the
/// two groups of eight lanes are two independent multiply chains. Messages past `cts.len()`
/// are idle lanes whose tags are meaningless.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn aead_tags16(keys: &[[u8; 32]; 16], cts: &[&[u8]], len: usize) -> [[u8; 16]; 16] {
    let r: [Limbs; 16] = std::array::from_fn(|l| clamp_r(&keys[l]));
    let group = |g: usize| {
        let limb = |i: usize| {
            let v: [i64; 8] = std::array::from_fn(|j| r[8 * g + j][i] as i64);
            _mm512_set_epi64(v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0])
        };
        Mul::new([limb(0), limb(1), limb(2)])
    };
    let muls = [group(0), group(1)];
    let mut acc = [[_mm512_setzero_si512(); 3]; 2];
    for off in (0..len / 16).map(|b| 16 * b) {
        step16(&mut acc, &muls, |l| block_at(cts, l, off));
    }
    let full = len / 16 * 16;
    if full < len {
        let tails: [[u8; 16]; 16] = std::array::from_fn(|l| {
            let mut t = ZERO;
            if let Some(rest) = cts.get(l).and_then(|c| c.get(full..len)) {
                t[..rest.len()].copy_from_slice(rest);
            }
            t
        });
        step16(&mut acc, &muls, |l| &tails[l]);
    }
    let mut lengths = ZERO;
    lengths[8..].copy_from_slice(&(len as u64).to_le_bytes());
    step16(&mut acc, &muls, |_| &lengths);
    let mut limbs = [[[0u64; 8]; 3]; 2];
    for (out, a) in limbs.iter_mut().zip(&acc) {
        for (o, v) in out.iter_mut().zip(a) {
            // SAFETY: `o` is eight u64s, 64 bytes: one unaligned store.
            unsafe { _mm512_storeu_si512(o.as_mut_ptr().cast::<__m512i>(), *v) };
        }
    }
    std::array::from_fn(|l| {
        let (g, j) = (l / 8, l % 8);
        finish([limbs[g][0][j], limbs[g][1][j], limbs[g][2][j]], &keys[l])
    })
}

/// Multiplication by a fixed vector of numbers, with their ×20 multiples precomputed.
#[derive(Clone)]
struct Mul {
    r: [__m512i; 3],
    s1: __m512i,
    s2: __m512i,
}

impl Mul {
    #[target_feature(enable = "avx512f")]
    fn new(r: [__m512i; 3]) -> Self {
        let times20 = |x| _mm512_add_epi64(_mm512_slli_epi64::<4>(x), _mm512_slli_epi64::<2>(x));
        Self {
            s1: times20(r[1]),
            s2: times20(r[2]),
            r,
        }
    }

    /// Lane-wise a·r mod p, partly reduced as `mul` does.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn apply(&self, a: &[__m512i; 3]) -> [__m512i; 3] {
        let z = _mm512_setzero_si512();
        let (r, s1, s2) = (&self.r, self.s1, self.s2);
        // d_k = lo_k + hi_k · 2^52, from the low and high 52 bits of each limb product.
        let lo0 = _mm512_madd52lo_epu64(
            _mm512_madd52lo_epu64(_mm512_madd52lo_epu64(z, a[0], r[0]), a[1], s2),
            a[2],
            s1,
        );
        let hi0 = _mm512_madd52hi_epu64(
            _mm512_madd52hi_epu64(_mm512_madd52hi_epu64(z, a[0], r[0]), a[1], s2),
            a[2],
            s1,
        );
        let lo1 = _mm512_madd52lo_epu64(
            _mm512_madd52lo_epu64(_mm512_madd52lo_epu64(z, a[0], r[1]), a[1], r[0]),
            a[2],
            s2,
        );
        let hi1 = _mm512_madd52hi_epu64(
            _mm512_madd52hi_epu64(_mm512_madd52hi_epu64(z, a[0], r[1]), a[1], r[0]),
            a[2],
            s2,
        );
        let lo2 = _mm512_madd52lo_epu64(
            _mm512_madd52lo_epu64(_mm512_madd52lo_epu64(z, a[0], r[2]), a[1], r[1]),
            a[2],
            r[0],
        );
        let hi2 = _mm512_madd52hi_epu64(
            _mm512_madd52hi_epu64(_mm512_madd52hi_epu64(z, a[0], r[2]), a[1], r[1]),
            a[2],
            r[0],
        );
        let m44 = _mm512_set1_epi64(M44 as i64);
        let m42 = _mm512_set1_epi64(M42 as i64);
        // hi_k · 2^52 is hi_k · 2^8 in the next limb up (2^10 past limb 2's 42 bits).
        let c0 = _mm512_add_epi64(_mm512_srli_epi64::<44>(lo0), _mm512_slli_epi64::<8>(hi0));
        let t1 = _mm512_add_epi64(lo1, c0);
        let c1 = _mm512_add_epi64(_mm512_srli_epi64::<44>(t1), _mm512_slli_epi64::<8>(hi1));
        let t2 = _mm512_add_epi64(lo2, c1);
        let c2 = _mm512_add_epi64(_mm512_srli_epi64::<42>(t2), _mm512_slli_epi64::<10>(hi2));
        // 2^130 ≡ 5: the carry out of limb 2 comes back into limb 0 times five.
        let h0 = _mm512_add_epi64(
            _mm512_and_si512(lo0, m44),
            _mm512_add_epi64(c2, _mm512_slli_epi64::<2>(c2)),
        );
        let h1 = _mm512_add_epi64(_mm512_and_si512(t1, m44), _mm512_srli_epi64::<44>(h0));
        [_mm512_and_si512(h0, m44), h1, _mm512_and_si512(t2, m42)]
    }
}

const ZERO: [u8; 16] = [0; 16];

/// Block `off / 16` of message `l`, or zeros for an idle lane.
fn block_at<'a>(cts: &[&'a [u8]], l: usize, off: usize) -> &'a [u8; 16] {
    cts.get(l)
        .and_then(|c| c.get(off..off + 16))
        .and_then(|b| <&[u8; 16]>::try_from(b).ok())
        .unwrap_or(&ZERO)
}

/// One Poly1305 step on both groups of eight lanes: add `block(l)` to lane l, multiply by r.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn step16<'a>(acc: &mut [[__m512i; 3]; 2], muls: &[Mul; 2], block: impl Fn(usize) -> &'a [u8; 16]) {
    for (g, (a, m)) in acc.iter_mut().zip(muls).enumerate() {
        let mm = load_lanes(std::array::from_fn(|j| block(8 * g + j)));
        let sum = [
            _mm512_add_epi64(a[0], mm[0]),
            _mm512_add_epi64(a[1], mm[1]),
            _mm512_add_epi64(a[2], mm[2]),
        ];
        *a = m.apply(&sum);
    }
}

/// Whether two tags are equal, in time that does not depend on where they differ: the
/// difference is folded to one word, which `subtle` compares with zero.
pub(super) fn tags_equal(a: &[u8; 16], b: &[u8; 16]) -> bool {
    let (a, b) = (u128::from_le_bytes(*a), u128::from_le_bytes(*b));
    let d = a ^ b;
    bool::from(subtle::ConstantTimeEq::ct_eq(
        &((d as u64) | ((d >> 64) as u64)),
        &0,
    ))
}

/// Reduce fully mod p, add s (the key's second half) and take the low 128 bits (§2.5.1).
pub(super) fn finish(h: Limbs, key: &[u8; 32]) -> [u8; 16] {
    let [mut h0, mut h1, mut h2] = h;
    for _ in 0..2 {
        h1 += h0 >> 44;
        h0 &= M44;
        h2 += h1 >> 44;
        h1 &= M44;
        h0 += (h2 >> 42) * 5;
        h2 &= M42;
    }
    h1 += h0 >> 44;
    h0 &= M44;
    h2 += h1 >> 44;
    h1 &= M44;
    // Now h < 2^130 + small; g = h + 5 − 2^130 is h mod p whenever it is not negative.
    let g0 = h0 + 5;
    let g1 = h1 + (g0 >> 44);
    let g2 = (h2 + (g1 >> 44)).wrapping_sub(1 << 42);
    let keep_h = 0u64.wrapping_sub(g2 >> 63); // all ones when g went negative
    h0 = (h0 & keep_h) | (g0 & M44 & !keep_h);
    h1 = (h1 & keep_h) | (g1 & M44 & !keep_h);
    h2 = (h2 & keep_h) | (g2 & M42 & !keep_h);
    let mut s = [0u8; 16];
    s.copy_from_slice(&key[16..]);
    let s = u128::from_le_bytes(s);
    let h = u128::from(h0) | (u128::from(h1) << 44) | (u128::from(h2) << 88);
    h.wrapping_add(s).to_le_bytes()
}
