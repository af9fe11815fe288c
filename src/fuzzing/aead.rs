//! Fuzz target `aead_avx512`: our AVX-512 ChaCha20-Poly1305 against RustCrypto's
//! `chacha20poly1305`, one message at a time and sixteen-lane (`seal_many` / `open_many`), with
//! tampered lanes: same bytes and tags, tampered lanes refused and left untouched. On a CPU
//! without AVX-512F + IFMA (or another architecture) there is nothing to check.

#[cfg(target_arch = "x86_64")]
use arbitrary::{Result, Unstructured};
#[cfg(target_arch = "x86_64")]
use chacha20poly1305::{aead::AeadInPlace, ChaCha20Poly1305, KeyInit};

/// Runs one case; panics when the two implementations disagree.
pub fn run(data: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        let _ = x86::run(&mut Unstructured::new(data));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

#[cfg(target_arch = "x86_64")]
/// WireGuard's transport nonce: 32 zero bits, then the counter little-endian.
fn nonce(counter: u64) -> chacha20poly1305::Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n.into()
}

#[cfg(target_arch = "x86_64")]
/// RustCrypto's ciphertext and tag for `plain`.
fn reference(key: &[u8; 32], counter: u64, plain: &[u8]) -> (Vec<u8>, [u8; 16]) {
    let aead = ChaCha20Poly1305::new(key.into());
    let mut ct = plain.to_vec();
    let tag = aead
        .encrypt_in_place_detached(&nonce(counter), &[], &mut ct)
        .expect("ChaCha20-Poly1305 takes any length used here");
    (ct, tag.into())
}

#[cfg(target_arch = "x86_64")]
/// A message of `len` bytes: the fuzzer's bytes while they last, then a fill byte it chose.
fn message(u: &mut Unstructured<'_>, len: usize) -> Result<Vec<u8>> {
    let fill = u.arbitrary::<u8>()?;
    let take = len.min(u.len());
    let mut m = u.bytes(take)?.to_vec();
    m.resize(len, fill);
    Ok(m)
}

#[cfg(target_arch = "x86_64")]
fn length(u: &mut Unstructured<'_>) -> Result<usize> {
    // Mostly around the block and pass boundaries (64, 960, 1984), sometimes anything.
    Ok(if u.arbitrary::<bool>()? {
        usize::from(u.int_in_range(0u16..=4200)?)
    } else {
        let base = [0usize, 64, 128, 960, 1024, 1420, 1984, 2048][u.int_in_range(0..=7)?];
        (base + usize::from(u.int_in_range(0u8..=33)?)).saturating_sub(16)
    })
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::platform::avx512::Avx512Key;

    pub(super) fn run(u: &mut Unstructured<'_>) -> Result<()> {
        let key: [u8; 32] = u.arbitrary()?;
        let Some(ours) = Avx512Key::new(&key) else {
            return Ok(());
        };
        if u.arbitrary::<bool>()? {
            single(u, &key, &ours)
        } else {
            many(u, &key, &ours)
        }
    }

    fn single(u: &mut Unstructured<'_>, key: &[u8; 32], ours: &Avx512Key) -> Result<()> {
        let counter = u.arbitrary::<u64>()?;
        let len = length(u)?;
        let plain = message(u, len)?;
        let (want_ct, want_tag) = reference(key, counter, &plain);
        let mut buf = plain.clone();
        let tag = ours.seal(counter, &mut buf);
        assert_eq!(buf, want_ct, "seal: ciphertext, len {len}");
        assert_eq!(tag, want_tag, "seal: tag, len {len}");
        let mut opened = want_ct.clone();
        assert!(ours.open(counter, &mut opened, &want_tag), "open refused");
        assert_eq!(opened, plain, "open: plaintext, len {len}");
        // One flipped bit anywhere in ciphertext or tag: refused, buffer untouched.
        let at = u.int_in_range(0..=len + 15)?;
        let bit = 1u8 << u.int_in_range(0..=7)?;
        let (mut ct, mut tag) = (want_ct, want_tag);
        match ct.get_mut(at) {
            Some(b) => *b ^= bit,
            None => tag[at - len] ^= bit,
        }
        let tampered = ct.clone();
        assert!(!ours.open(counter, &mut ct, &tag), "tampered open accepted");
        assert_eq!(ct, tampered, "refused open changed the buffer");
        Ok(())
    }

    fn many(u: &mut Unstructured<'_>, key: &[u8; 32], ours: &Avx512Key) -> Result<()> {
        let n = u.int_in_range(1..=20)?;
        let shared = length(u)? + 16;
        let mut counters = Vec::with_capacity(n);
        let mut bufs: Vec<Vec<u8>> = Vec::with_capacity(n);
        for _ in 0..n {
            counters.push(u.arbitrary::<u64>()?);
            // Mostly one length for all, so that runs take the sixteen-lane path.
            let len = match u.int_in_range(0..=7)? {
                0 => usize::from(u.int_in_range(0u8..=20)?),
                1 => length(u)? + 16,
                _ => shared,
            };
            bufs.push(message(u, len)?);
        }
        let plains = bufs.clone();
        let mut ok = vec![false; n];
        jobs(&counters, &mut bufs, |j| ours.seal_many(j, &mut ok));
        for i in 0..n {
            let len = plains[i].len();
            if len < 16 {
                assert!(!ok[i], "seal_many took a {len}-byte buffer");
                assert_eq!(bufs[i], plains[i], "seal_many changed a short buffer");
                continue;
            }
            assert!(ok[i], "seal_many refused lane {i}");
            let (ct, tag) = reference(key, counters[i], &plains[i][..len - 16]);
            assert_eq!(
                bufs[i][..len - 16],
                ct[..],
                "seal_many ciphertext, lane {i}/{n}"
            );
            assert_eq!(bufs[i][len - 16..], tag[..], "seal_many tag, lane {i}/{n}");
        }
        open_tampered(u, ours, &counters, bufs, &plains)
    }

    fn open_tampered(
        u: &mut Unstructured<'_>,
        ours: &Avx512Key,
        counters: &[u64],
        mut bufs: Vec<Vec<u8>>,
        plains: &[Vec<u8>],
    ) -> Result<()> {
        let mask = u.arbitrary::<u32>()?;
        let mut tampered = vec![false; bufs.len()];
        for (i, buf) in bufs.iter_mut().enumerate() {
            if mask & (1 << i) != 0 && !buf.is_empty() {
                let at = u.int_in_range(0..=buf.len() - 1)?;
                buf[at] ^= 1 << u.int_in_range(0..=7)?;
                tampered[i] = true;
            }
        }
        let sealed = bufs.clone();
        let mut ok = vec![false; bufs.len()];
        jobs(counters, &mut bufs, |j| ours.open_many(j, &mut ok));
        for i in 0..bufs.len() {
            let len = plains[i].len();
            if len < 16 || tampered[i] {
                assert!(!ok[i], "open_many accepted lane {i} (len {len}, tampered)");
                assert_eq!(bufs[i], sealed[i], "open_many changed refused lane {i}");
            } else {
                assert!(ok[i], "open_many refused lane {i}");
                assert_eq!(
                    bufs[i][..len - 16],
                    plains[i][..len - 16],
                    "lane {i} plaintext"
                );
            }
        }
        Ok(())
    }

    /// Calls `f` with `(counter, buffer)` jobs borrowed from `bufs`.
    fn jobs(counters: &[u64], bufs: &mut [Vec<u8>], f: impl FnOnce(&mut [(u64, &mut [u8])])) {
        let mut j: Vec<(u64, &mut [u8])> = counters
            .iter()
            .copied()
            .zip(bufs.iter_mut().map(Vec::as_mut_slice))
            .collect();
        f(&mut j);
    }
}
