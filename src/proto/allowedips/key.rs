//! Address bit strings for the AllowedIPs trie: `u32` for IPv4, `u128` for IPv6 (§2).
//!
//! Bit 0 is the most significant bit (the first bit of the address on the wire), so a prefix
//! of length `len` is the top `len` bits. Every operation is total: lengths past the width
//! saturate instead of shifting out of range, so no input can make them panic.

use std::fmt::Debug;
use std::hash::Hash;

/// An address-width unsigned integer read as a string of bits, most significant first.
pub(super) trait Bits: Copy + Eq + Hash + Debug {
    /// Number of bits in an address: 32 or 128.
    const WIDTH: u8;

    /// `self` with every bit at position `len` or later cleared (a `len`-bit prefix).
    fn masked(self, len: u8) -> Self;

    /// How many leading bits `self` and `other` have in common (the width if equal).
    fn common_len(self, other: Self) -> u8;

    /// The `n` bits from position `at` on, as an index (`n` in 1..=16; bits past the width
    /// read as 0).
    fn chunk(self, at: u8, n: u8) -> usize;
}

macro_rules! impl_bits {
    ($t:ty) => {
        impl Bits for $t {
            const WIDTH: u8 = <$t>::BITS as u8;

            #[inline(always)]
            fn masked(self, len: u8) -> Self {
                let drop = u32::from(Self::WIDTH.saturating_sub(len));
                let mask = <$t>::MAX.checked_shl(drop).unwrap_or(0);
                self & mask
            }

            #[inline(always)]
            fn common_len(self, other: Self) -> u8 {
                (self ^ other).leading_zeros() as u8
            }

            #[inline(always)]
            fn chunk(self, at: u8, n: u8) -> usize {
                let n = u32::from(n.clamp(1, 16));
                let v = self.checked_shl(u32::from(at)).unwrap_or(0);
                (v >> (<$t>::BITS - n)) as usize
            }
        }
    };
}

impl_bits!(u32);
impl_bits!(u128);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_saturate() {
        let a = 0x0a01_0203u32;
        assert_eq!(a.masked(8), 0x0a00_0000);
        assert_eq!(a.masked(0), 0);
        assert_eq!(a.masked(32), a);
        assert_eq!(a.masked(200), a);
        assert_eq!(u128::MAX.masked(1), 1u128 << 127);
        assert_eq!(u128::MAX.masked(255), u128::MAX);
    }

    #[test]
    fn common_length_and_chunks() {
        assert_eq!(0x0a01_0000u32.common_len(0x0a03_0000), 14);
        assert_eq!(7u32.common_len(7), 32);
        assert_eq!(0u128.common_len(1), 127);
        assert_eq!(0xfd12_3456u32.chunk(0, 8), 0xfd);
        assert_eq!(0xfd12_3456u32.chunk(4, 4), 0xd);
        assert_eq!(0xfd12_3456u32.chunk(28, 4), 0x6);
        assert_eq!(
            0xfd12_3456u32.chunk(30, 4),
            0x8,
            "bits past the width read as 0"
        );
        assert_eq!(0xfd12_3456u32.chunk(32, 4), 0);
        assert_eq!(0xfd12_3456u32.chunk(255, 4), 0);
        assert_eq!(0xfd12_3456u32.chunk(0, 0), 1, "n is at least 1");
        assert_eq!(0xfd12_3456u32.chunk(0, 40), 0xfd12);
        assert_eq!((0xfd12u128 << 112).chunk(0, 16), 0xfd12);
        assert_eq!(0xabu128.chunk(124, 4), 0xb);
    }
}
