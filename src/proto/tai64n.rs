//! TAI64N timestamps for initiations (whitepaper §5.1, §5.4.2): replay protection across restarts.

use std::time::Duration;

use super::constants::TIMESTAMP_LEN;

/// TAI64 label of the Unix epoch (2^62 + 10 leap seconds), as wireguard-go uses.
const TAI64_EPOCH: u64 = 0x4000_0000_0000_000a;
/// Low nanosecond bits cleared so the timestamp does not leak a precise clock (about 16 ms).
const WHITENER_MASK: u32 = 0x00ff_ffff;

/// Encode wall-clock time (since the Unix epoch) as a 12-byte big-endian TAI64N label.
pub fn encode(wall: Duration) -> [u8; TIMESTAMP_LEN] {
    let mut out = [0u8; TIMESTAMP_LEN];
    out[..8].copy_from_slice(&(TAI64_EPOCH.wrapping_add(wall.as_secs())).to_be_bytes());
    out[8..].copy_from_slice(&(wall.subsec_nanos() & !WHITENER_MASK).to_be_bytes());
    out
}

/// True when `a` is strictly later than `b` (big-endian byte order is time order).
pub fn is_after(a: &[u8; TIMESTAMP_LEN], b: &[u8; TIMESTAMP_LEN]) -> bool {
    a > b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_and_whitening() {
        let t0 = encode(Duration::new(1_700_000_000, 0));
        let t1 = encode(Duration::new(1_700_000_000, 20_000_000));
        let t_same = encode(Duration::new(1_700_000_000, 1_000));
        assert!(is_after(&t1, &t0));
        assert!(!is_after(&t0, &t1));
        assert!(
            !is_after(&t_same, &t0),
            "sub-16ms differences are whitened away"
        );
        assert!(is_after(&encode(Duration::new(1_700_000_001, 0)), &t1));
        assert_eq!(
            &t0[..8],
            &(0x4000_0000_0000_000a_u64 + 1_700_000_000).to_be_bytes()
        );
    }
}
