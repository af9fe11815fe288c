//! The OS random number generator, handed to the pure core as an injected `CryptoRng`.

/// A cryptographically secure RNG backed by the operating system (getrandom).
#[allow(clippy::disallowed_types)] // platform ring: the one place allowed to touch OsRng
pub fn os_rng() -> rand_core::OsRng {
    rand_core::OsRng
}
