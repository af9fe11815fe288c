//! Compact trie keys for AllowedIPs: a masked integer and a length, cheap to compare (§2).
//!
//! `prefix_trie` is generic over its prefix type. Its `ipnet` keys recompute netmasks and
//! network / broadcast addresses at every node a lookup visits; these keys keep the address
//! masked at construction, so each step of a lookup is a shift, a xor and a compare.

use ipnet::{Ipv4Net, Ipv6Net};
use prefix_trie::Prefix;
use std::net::{Ipv4Addr, Ipv6Addr};

macro_rules! masked_key {
    ($(#[$doc:meta])* $name:ident, $repr:ty, $net:ty, $addr:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(super) struct $name {
            /// The address with every bit past `len` cleared.
            repr: $repr,
            /// Prefix length, at most the address width.
            len: u8,
        }

        impl $name {
            const BITS: u8 = <$repr>::BITS as u8;

            /// Netmask of a `len`-bit prefix (`len` above the width counts as the width).
            #[inline(always)]
            fn netmask(len: u8) -> $repr {
                <$repr>::MAX
                    .checked_shl(u32::from(Self::BITS.saturating_sub(len)))
                    .unwrap_or(0)
            }

            /// The key of a whole prefix, host bits cleared.
            pub(super) fn from_net(net: $net) -> Self {
                Self::from_repr_len(net.addr().into(), net.prefix_len())
            }

            /// The key of a single address (a full-length prefix).
            #[inline(always)]
            pub(super) fn host(addr: $addr) -> Self {
                Self { repr: addr.into(), len: Self::BITS }
            }

            /// Back to the `ipnet` form.
            pub(super) fn to_net(self) -> Option<$net> {
                <$net>::new(<$addr>::from(self.repr), self.len).ok()
            }
        }

        impl Prefix for $name {
            type R = $repr;

            #[inline(always)]
            fn repr(&self) -> $repr {
                self.repr
            }

            #[inline(always)]
            fn prefix_len(&self) -> u8 {
                self.len
            }

            fn from_repr_len(repr: $repr, len: u8) -> Self {
                let len = len.min(Self::BITS);
                Self { repr: repr & Self::netmask(len), len }
            }

            #[inline(always)]
            fn mask(&self) -> $repr {
                self.repr
            }

            #[inline(always)]
            fn contains(&self, other: &Self) -> bool {
                self.len <= other.len && (other.repr ^ self.repr) & Self::netmask(self.len) == 0
            }

            #[inline(always)]
            fn is_bit_set(&self, bit: u8) -> bool {
                bit < Self::BITS && (self.repr >> (Self::BITS - 1 - bit)) & 1 == 1
            }

            #[inline(always)]
            fn eq(&self, other: &Self) -> bool {
                self == other
            }
        }
    };
}

masked_key!(
    /// An IPv4 prefix as a trie key.
    Key4, u32, Ipv4Net, Ipv4Addr
);
masked_key!(
    /// An IPv6 prefix as a trie key.
    Key6, u128, Ipv6Net, Ipv6Addr
);

#[cfg(test)]
mod tests {
    use super::*;

    fn k4(s: &str) -> Key4 {
        Key4::from_net(s.parse().expect("test prefix"))
    }

    #[test]
    fn host_bits_are_cleared_and_round_trip() {
        assert_eq!(k4("10.1.2.3/8"), k4("10.0.0.0/8"));
        assert_eq!(k4("10.1.2.3/8").to_net(), "10.0.0.0/8".parse().ok());
        assert_eq!(k4("255.255.255.255/0").to_net(), "0.0.0.0/0".parse().ok());
        assert_eq!(k4("1.2.3.4/32").repr(), 0x0102_0304);
        let k6 = Key6::from_net("fd00::ffff/112".parse().expect("test prefix"));
        assert_eq!(k6.to_net(), "fd00::/112".parse().ok());
        assert_eq!(Key6::from_repr_len(u128::MAX, 200).prefix_len(), 128);
    }

    #[test]
    fn contains_and_bits() {
        assert!(k4("0.0.0.0/0").contains(&k4("200.1.1.1/32")));
        assert!(k4("10.0.0.0/8").contains(&k4("10.0.0.0/8")));
        assert!(k4("10.0.0.0/8").contains(&k4("10.255.0.0/16")));
        assert!(!k4("10.0.0.0/8").contains(&k4("11.0.0.0/16")));
        assert!(!k4("10.0.0.0/16").contains(&k4("10.0.0.0/8")));
        let host = Key4::host(Ipv4Addr::new(128, 0, 0, 1));
        assert!(host.is_bit_set(0));
        assert!(!host.is_bit_set(1));
        assert!(host.is_bit_set(31));
        assert!(
            !host.is_bit_set(32),
            "past the width: never set, never a panic"
        );
        let h6 = Key6::host(Ipv6Addr::from(1u128));
        assert!(h6.is_bit_set(127) && !h6.is_bit_set(126) && !h6.is_bit_set(255));
    }

    #[test]
    fn longest_common_prefix_stays_masked() {
        let lcp = k4("10.1.0.0/16").longest_common_prefix(&k4("10.3.0.0/16"));
        assert_eq!(lcp, k4("10.0.0.0/14"));
        assert_eq!(lcp.repr(), lcp.mask());
    }
}
