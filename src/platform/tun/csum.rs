//! The Internet checksum (RFC 1071) for the TUN offload paths: segmenting the kernel's TSO/USO
//! super-packets (`tso`) and building our own (`gro`).
//!
//! The sum is taken over native-endian 32-bit words into a 64-bit accumulator, which the
//! compiler vectorises and which cannot overflow for any packet; folding to 16 bits and one
//! byte swap give the big-endian one's-complement sum (RFC 1071 §2: the sum commutes with byte
//! order, and 2^16 ≡ 1 modulo 0xffff, so wider words fold to the same value).
//!
//! On x86-64 the same loop is also compiled for AVX2 and picked at run time when the CPU has
//! it: 1408 bytes take about 19 ns instead of 49 ns with the SSE2 baseline.
#![allow(unsafe_code)] // calling the AVX2 build of the loop after checking for AVX2

/// One's-complement sum of `data` as big-endian 16-bit words (an odd last byte is the high
/// byte of a zero-padded word), added to `acc`; not folded, not inverted.
pub fn sum(data: &[u8], acc: u32) -> u32 {
    let native = fold64(wide_sum(data));
    // Folded in native order; big-endian order is the same sum with its bytes swapped.
    u32::from(u16::from_be(native)) + fold_partial(acc)
}

/// Sum of `data` as native-endian 32-bit words (zero-padded at the end), in 64 bits.
fn wide_sum(data: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `wide_sum_avx2` only needs the CPU to support AVX2, checked just above.
        return unsafe { wide_sum_avx2(data) };
    }
    wide_sum_body(data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn wide_sum_avx2(data: &[u8]) -> u64 {
    wide_sum_body(data)
}

/// Eight independent accumulators over 32-byte blocks, which the compiler turns into vector
/// adds; the tail goes word by word.
#[inline(always)]
fn wide_sum_body(data: &[u8]) -> u64 {
    let mut lanes = [0u64; 8];
    let mut blocks = data.chunks_exact(32);
    for b in &mut blocks {
        for (lane, w) in lanes.iter_mut().zip(b.chunks_exact(4)) {
            *lane += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
        }
    }
    let mut wide: u64 = lanes.iter().sum();
    let mut words = blocks.remainder().chunks_exact(4);
    for w in &mut words {
        wide += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    wide + u64::from(u32::from_ne_bytes(tail))
}

/// Fold a 64-bit one's-complement accumulator to 16 bits.
fn fold64(mut v: u64) -> u16 {
    while v > 0xffff {
        v = (v & 0xffff) + (v >> 16);
    }
    v as u16
}

/// Fold once so that adding two results cannot overflow a u32.
fn fold_partial(acc: u32) -> u32 {
    (acc & 0xffff) + (acc >> 16)
}

/// Fold a sum to 16 bits (not inverted).
pub fn fold(acc: u32) -> u16 {
    fold64(u64::from(acc))
}

/// The checksum field's value for data whose sum is `acc`: the folded sum, inverted.
pub fn finish(acc: u32) -> u16 {
    !fold(acc)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 1071 by the book: 16-bit big-endian words, carries folded at the end.
    fn reference(data: &[u8]) -> u16 {
        let mut acc: u64 = 0;
        for c in data.chunks(2) {
            let hi = u64::from(c[0]) << 8;
            let lo = c.get(1).map_or(0, |&b| u64::from(b));
            acc += hi | lo;
        }
        fold64(acc)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3's example bytes sum to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        assert_eq!(finish(sum(&data, 0)), !0xddf2);
    }

    #[test]
    fn an_ipv4_header_with_its_checksum_sums_to_zero() {
        // A real IPv4 header (checksum 0xb861 in place).
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(finish(sum(&h, 0)), 0);
    }

    proptest! {
        #[test]
        fn matches_the_reference_for_any_bytes_and_start(
            data in proptest::collection::vec(any::<u8>(), 0..3000),
            acc in any::<u32>(),
        ) {
            let want = fold64(u64::from(reference(&data)) + u64::from(acc));
            prop_assert_eq!(fold(sum(&data, acc)), want);
        }

        #[test]
        fn splitting_at_an_even_offset_adds_up(
            data in proptest::collection::vec(any::<u8>(), 0..600),
            cut in 0usize..300,
        ) {
            let cut = (cut * 2).min(data.len() & !1);
            let (a, b) = data.split_at(cut);
            prop_assert_eq!(fold(sum(b, sum(a, 0))), fold(sum(&data, 0)));
        }
    }
}
