//! ChaCha20-Poly1305 (RFC 8439 §2.8) for transport messages, written for AVX-512 and IFMA.
//!
//! ring's fused AVX2 seal is the fastest crates.io offers and takes about 0.78 µs for a
//! 1420-byte packet here. With AVX-512F and AVX-512 IFMA (Intel since Ice Lake, AMD since
//! Zen 4) one message takes about 0.41 µs: ChaCha20 runs sixteen or thirty-two blocks per pass
//! ([`chacha`]), Poly1305 eight blocks per step with 52-bit multiply-adds ([`poly`]). Sixteen
//! equal-length messages at once, one per lane ([`multi`]), take about 0.31 µs each.
//! Transport messages have no associated data, so neither does this API.
//!
//! It lives in `platform` because the vector loads and stores and the call into code compiled
//! for these CPU features need `unsafe` (house rule: only here). Callers check [`available`]
//! through [`Avx512Key::new`], which refuses to build a key on a CPU without the features.
#![allow(unsafe_code)] // target-feature calls after run-time detection; 64-byte vector loads

mod chacha;
mod multi;
mod poly;
#[cfg(test)]
mod tests;

use core::arch::x86_64::__m512i;
use zeroize::Zeroize;

/// Data that one 16-block pass covers: block 0 is the Poly1305 key.
const SHORT: usize = 15 * 64;
/// Data that the first 32-block pass covers.
const LONG: usize = 31 * 64;
/// Tag bytes at the end of each buffer `seal_many` and `open_many` take.
const TAG: usize = 16;
/// The fewest equal-length messages worth a sixteen-lane pass, which costs the same however
/// many lanes carry a message. Measured here, a pass costs as much as this many messages one
/// at a time: 4.1 at 64 bytes, 7.5–8.4 at 256–768, 9.9 at 960–1024, 11.5 at 1420.
fn min_lanes(len: usize) -> usize {
    match len {
        0..=128 => 5,
        129..=1024 => 10,
        _ => 12,
    }
}

/// True when this CPU runs AVX-512F and AVX-512 IFMA.
pub fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512ifma")
}

/// A ChaCha20-Poly1305 key for this implementation; zeroed on drop.
pub struct Avx512Key {
    words: [u32; 8],
}

impl Avx512Key {
    /// The key, or `None` when this CPU lacks the features the code needs.
    pub fn new(key: &[u8; 32]) -> Option<Self> {
        if !available() {
            return None;
        }
        let mut words = [0u32; 8];
        for (w, b) in words.iter_mut().zip(key.chunks_exact(4)) {
            *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        Some(Self { words })
    }

    /// Encrypt `data` in place under the nonce `0^32 ‖ le64(counter)`; returns the tag.
    pub fn seal(&self, counter: u64, data: &mut [u8]) -> [u8; 16] {
        // SAFETY: an `Avx512Key` exists only where `available()` said the CPU has the
        // features `seal_avx512` is compiled for.
        unsafe { seal_avx512(&self.words, counter, data) }
    }

    /// Check `tag` over the ciphertext `data` and, only if it matches, decrypt `data` in place.
    pub fn open(&self, counter: u64, data: &mut [u8], tag: &[u8; 16]) -> bool {
        // SAFETY: as in `seal`.
        unsafe { open_avx512(&self.words, counter, data, tag) }
    }
}

impl Avx512Key {
    /// Seal several messages: `jobs[i]` is a counter and a buffer holding the plaintext and
    /// then 16 bytes for the tag. Runs of equal-length buffers go sixteen at a time. `ok[i]`
    /// is false only for a buffer too short to hold a tag.
    pub fn seal_many(&self, jobs: &mut [(u64, &mut [u8])], ok: &mut [bool]) {
        for_runs(jobs, ok, |run, ok| {
            if !fits_lanes(run) {
                for ((c, buf), o) in run.iter_mut().zip(ok) {
                    *o = seal_one(self, *c, buf);
                }
                return;
            }
            let Some((counters, mut data, tags, len)) = split_run(run) else {
                return;
            };
            // SAFETY: as in `seal`.
            let sealed = unsafe { multi::seal(&self.words, &counters, &mut data, len) };
            for ((out, tag), o) in tags.into_iter().zip(sealed).zip(ok) {
                out.copy_from_slice(&tag);
                *o = true;
            }
        });
    }

    /// Open several messages laid out as for `seal_many`; `ok[i]` says whether `jobs[i]` had
    /// a matching tag, and only those are decrypted.
    pub fn open_many(&self, jobs: &mut [(u64, &mut [u8])], ok: &mut [bool]) {
        for_runs(jobs, ok, |run, ok| {
            if !fits_lanes(run) {
                for ((c, buf), o) in run.iter_mut().zip(ok) {
                    *o = open_one(self, *c, buf);
                }
                return;
            }
            let Some((counters, mut data, tag_refs, len)) = split_run(run) else {
                return;
            };
            let mut tags = [[0u8; TAG]; multi::LANES];
            for (t, r) in tags.iter_mut().zip(&tag_refs) {
                if let Ok(r) = <&[u8; TAG]>::try_from(&**r) {
                    *t = *r;
                }
            }
            // SAFETY: as in `seal`.
            let opened = unsafe { multi::open(&self.words, &counters, &mut data, &tags, len) };
            for (o, good) in ok.iter_mut().zip(opened) {
                *o = good;
            }
        });
    }
}

fn seal_one(k: &Avx512Key, counter: u64, buf: &mut [u8]) -> bool {
    let Some(n) = buf.len().checked_sub(TAG) else {
        return false;
    };
    let (data, tag) = buf.split_at_mut(n);
    tag.copy_from_slice(&k.seal(counter, data));
    true
}

fn open_one(k: &Avx512Key, counter: u64, buf: &mut [u8]) -> bool {
    let Some(n) = buf.len().checked_sub(TAG) else {
        return false;
    };
    let (data, tag) = buf.split_at_mut(n);
    <&[u8; TAG]>::try_from(&*tag).is_ok_and(|t| k.open(counter, data, t))
}

/// Call `f` on consecutive runs of `jobs` (with their `ok` flags) whose buffers have one
/// length, at most sixteen per run.
fn for_runs<F>(jobs: &mut [(u64, &mut [u8])], ok: &mut [bool], mut f: F)
where
    F: FnMut(&mut [(u64, &mut [u8])], &mut [bool]),
{
    let (mut jobs, mut ok) = (jobs, ok);
    while let Some(first) = jobs.first() {
        let len = first.1.len();
        let run = jobs
            .iter()
            .take(multi::LANES)
            .take_while(|(_, b)| b.len() == len)
            .count()
            .min(ok.len());
        if run == 0 {
            return;
        }
        let (head, tail) = std::mem::take(&mut jobs).split_at_mut(run);
        let (oh, ot) = std::mem::take(&mut ok).split_at_mut(run);
        f(head, oh);
        (jobs, ok) = (tail, ot);
    }
}

/// Counters, data parts, tag parts and data length of a run long enough for sixteen lanes.
type Lanes<'a> = (
    [u64; multi::LANES],
    [&'a mut [u8]; multi::LANES],
    [&'a mut [u8]; multi::LANES],
    usize,
);

/// True when a run of equal-length buffers is long enough for `multi` to pay and each
/// buffer holds a tag.
fn fits_lanes(run: &[(u64, &mut [u8])]) -> bool {
    let Some((_, first)) = run.first() else {
        return false;
    };
    (min_lanes(first.len())..=multi::LANES).contains(&run.len())
        && run.iter().all(|(_, b)| b.len() >= TAG)
}

/// Split a run for `multi` (idle lanes get empty buffers); `None` if it does not fit.
fn split_run<'a>(run: &'a mut [(u64, &mut [u8])]) -> Option<Lanes<'a>> {
    if !fits_lanes(run) {
        return None;
    }
    let len = run.first()?.1.len().checked_sub(TAG)?;
    let mut counters = [0u64; multi::LANES];
    let mut data: [&mut [u8]; multi::LANES] = Default::default();
    let mut tags: [&mut [u8]; multi::LANES] = Default::default();
    for (i, (c, buf)) in run.iter_mut().enumerate() {
        let (d, t) = buf.split_at_mut(len);
        counters[i] = *c;
        data[i] = d;
        tags[i] = t;
    }
    Some((counters, data, tags, len))
}

impl Drop for Avx512Key {
    fn drop(&mut self) {
        self.words.zeroize();
    }
}

impl std::fmt::Debug for Avx512Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Avx512Key(hidden)")
    }
}

fn nonce(counter: u64) -> [u32; 3] {
    [0, counter as u32, (counter >> 32) as u32]
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn seal_avx512(key: &[u32; 8], counter: u64, data: &mut [u8]) -> [u8; 16] {
    let n = nonce(counter);
    let mut first = FirstPass::new(key, &n, data.len());
    let mut mac_key = first.mac_key();
    first.apply(key, &n, data);
    first.wipe_mac_key();
    let tag = poly::aead_tag(&mac_key, data);
    mac_key.zeroize();
    tag
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn open_avx512(key: &[u32; 8], counter: u64, data: &mut [u8], tag: &[u8; 16]) -> bool {
    let n = nonce(counter);
    let mut first = FirstPass::new(key, &n, data.len());
    let mut mac_key = first.mac_key();
    first.wipe_mac_key();
    // The tag is checked over the ciphertext first: nothing is decrypted unless it matches.
    let ok = poly::tags_equal(&poly::aead_tag(&mac_key, data), tag);
    mac_key.zeroize();
    if ok {
        first.apply(key, &n, data);
    }
    ok
}

/// The first ChaCha20 pass of a message: block 0 (the Poly1305 key) and the blocks after it.
/// Data of up to 15 blocks takes one 16-block pass, longer data 32-block passes, which take
/// about as long as one 16-block pass each.
#[allow(clippy::large_enum_variant)] // a short-lived value in registers: boxing would defeat it
enum FirstPass {
    Short([__m512i; 16]),
    Long([__m512i; 16], [__m512i; 16]),
}

impl FirstPass {
    #[target_feature(enable = "avx512f")]
    fn new(key: &[u32; 8], n: &[u32; 3], len: usize) -> Self {
        if len <= SHORT {
            Self::Short(chacha::blocks16(key, n, 0))
        } else {
            let (x, y) = chacha::blocks32(key, n, 0);
            Self::Long(x, y)
        }
    }

    /// The one-time Poly1305 key.
    #[target_feature(enable = "avx512f")]
    fn mac_key(&self) -> [u8; 32] {
        match self {
            Self::Short(x) | Self::Long(x, _) => chacha::poly_key(x[0]),
        }
    }

    /// Overwrite block 0, which holds the one-time Poly1305 key.
    fn wipe_mac_key(&mut self) {
        match self {
            Self::Short(x) | Self::Long(x, _) => x[0].zeroize(),
        }
    }

    /// XOR `data` with the keystream from block 1 on.
    #[target_feature(enable = "avx512f")]
    fn apply(&self, key: &[u32; 8], n: &[u32; 3], data: &mut [u8]) {
        let (x, y) = match self {
            Self::Short(x) => return chacha::xor_in_place(data, &x[1..]),
            Self::Long(x, y) => (x, y),
        };
        let (head, rest) = data.split_at_mut(data.len().min(LONG));
        let (a, b) = head.split_at_mut(head.len().min(SHORT));
        chacha::xor_in_place(a, &x[1..]);
        chacha::xor_in_place(b, y);
        for (i, chunk) in rest.chunks_mut(32 * 64).enumerate() {
            let (x, y) = chacha::blocks32(key, n, 32 * (i as u32 + 1));
            let (a, b) = chunk.split_at_mut(chunk.len().min(16 * 64));
            chacha::xor_in_place(a, &x);
            chacha::xor_in_place(b, &y);
        }
    }
}
