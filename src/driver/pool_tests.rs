//! The crypto pool against the owner alone: the same bytes and the same verdicts for every
//! packet, chunks cut only where a cipher run ends, small batches kept inline, and the
//! `WGRS_CRYPTO_THREADS` values it accepts.

use super::*;
use std::sync::Arc;

use crate::driver::batch_tests::keypair as session;

/// A batch of `n` bodies (plaintext plus 16 bytes for the tag) under sessions 0 and 1, in
/// runs of 5, 23, 1, 40, ... so that runs of sixteen, shorter runs and single packets mix;
/// sizes vary (a 1,400-byte stream with some ACK-sized packets).
fn batch(n: usize) -> (Vec<Vec<u8>>, Vec<usize>) {
    let pattern = [5, 23, 1, 40, 16, 3, 33];
    let mut which = Vec::new();
    let mut k = 0;
    for (r, len) in pattern.iter().cycle().enumerate() {
        which.extend(std::iter::repeat_n(r % 2, *len));
        k += len;
        if k >= n {
            break;
        }
    }
    which.truncate(n);
    let bodies = (0..n)
        .map(|i| {
            let len = if i % 9 == 4 { 48 } else { 1408 };
            (0..len + 16).map(|j| (i * 13 + j) as u8).collect()
        })
        .collect();
    (bodies, which)
}

/// Run `op` over `bodies` (counter 100 + i) with `pool`; returns the bytes, the verdicts and
/// how many chunks pool workers took.
fn run(
    pool: &CryptoPool,
    op: Op,
    sessions: &[Arc<Session>],
    which: &[usize],
    bodies: &mut [Vec<u8>],
) -> (Vec<bool>, usize) {
    let mut jobs: Vec<Job> = bodies
        .iter_mut()
        .enumerate()
        .map(|(i, b)| (100 + i as u64, b.as_mut_slice()))
        .collect();
    let mut ok = vec![false; jobs.len()];
    let key = |i: usize| which.get(i).map(|&w| &*sessions[w]);
    // Patient: the owner lets a worker start first, so both take chunks whatever the
    // scheduler does (on a loaded machine a woken worker may wait milliseconds for a core).
    let by_workers = pool.crypt_counted(op, &mut jobs, &mut ok, &key, true);
    (ok, by_workers)
}

/// Run `f` on a thread of its own (each packet thread has its own pool).
fn on_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| s.spawn(f).join().expect("no panic"))
}

#[test]
fn pool_seals_and_opens_exactly_as_the_owner_alone() {
    let sessions = [session(1), session(2)];
    let rounds = 40;
    let plain: Vec<_> = (0..rounds).map(|r| batch(200 + r)).collect();
    // Each pool size seals every batch on a thread of its own.
    let seal_all = |threads: usize| {
        on_thread(|| {
            let pool = CryptoPool::new(threads);
            let mut by_workers = 0;
            let sealed: Vec<Vec<Vec<u8>>> = plain
                .iter()
                .map(|(bodies, which)| {
                    let mut b = bodies.clone();
                    let (ok, w) = run(&pool, Op::Seal, &sessions, which, &mut b);
                    assert!(ok.iter().all(|&o| o), "every body seals");
                    by_workers += w;
                    b
                })
                .collect();
            (sealed, by_workers)
        })
    };
    let (alone, none) = seal_all(1);
    assert_eq!(none, 0, "one thread: no workers");
    for threads in [2, 4] {
        let (pooled, by_workers) = seal_all(threads);
        assert!(
            by_workers > 0,
            "{threads} threads: workers never took a chunk"
        );
        assert!(pooled == alone, "{threads} threads seal exactly as one");
    }
    // Open with a pool, one forged message in the middle of a run of sixteen.
    on_thread(|| {
        let pool = CryptoPool::new(4);
        let mut by_workers = 0;
        for (round, ((bodies, which), sealed)) in plain.iter().zip(&alone).enumerate() {
            let mut received = sealed.clone();
            received[70][5] ^= 1;
            let (ok, w) = run(&pool, Op::Open, &sessions, which, &mut received);
            by_workers += w;
            for (i, (good, got)) in ok.iter().zip(&received).enumerate() {
                if i == 70 {
                    assert!(!good, "round {round}: the forgery is refused");
                    continue;
                }
                assert!(good, "round {round}: message {i} opens");
                let n = got.len() - 16;
                assert_eq!(got[..n], bodies[i][..n], "round {round}: message {i}");
            }
        }
        assert!(by_workers > 0, "opening: workers never took a chunk");
    });
}

#[test]
fn a_message_under_the_wrong_session_fails_alone() {
    let sessions = [session(3), session(4)];
    let (plain, which) = batch(120);
    on_thread(|| {
        let mut b = plain.clone();
        let pool = CryptoPool::new(3);
        run(&pool, Op::Seal, &sessions, &which, &mut b);
        // Message 30 claims the other session: it alone must fail, the others open.
        let mut lie = which.clone();
        lie[30] = 1 - lie[30];
        let (ok, _) = run(&pool, Op::Open, &sessions, &lie, &mut b);
        for (i, good) in ok.iter().enumerate() {
            assert_eq!(*good, i != 30, "message {i}");
        }
    });
}

#[test]
fn chunks_end_where_cipher_runs_end() {
    let sessions = [session(5), session(6)];
    let (mut bodies, which) = batch(256);
    let key = |i: usize| which.get(i).map(|&w| &*sessions[w]);
    let mut ends = Vec::new();
    for_each_run(0, which.len(), &key, |start, len| {
        assert!(len <= RUN);
        ends.push(start + len);
        true
    });
    let mut jobs: Vec<Job> = bodies.iter_mut().map(|b| (0, b.as_mut_slice())).collect();
    let mut ok = vec![false; jobs.len()];
    let queue = Mutex::new(Queue {
        jobs: &mut jobs,
        ok: &mut ok,
        at: 0,
    });
    let mut next = 0;
    let mut chunks = 0;
    while let Some((at, jobs, _)) = claim(&queue, &key) {
        assert_eq!(at, next, "chunks follow each other");
        next = at + jobs.len();
        chunks += 1;
        assert!(
            ends.contains(&next),
            "chunk ends at {next}, not a run's end"
        );
        let bytes: usize = jobs.iter().map(|j| j.1.len()).sum();
        assert!(bytes >= CHUNK_BYTES || next == which.len(), "{bytes} B");
    }
    assert_eq!(next, which.len(), "every job is claimed once");
    assert!(chunks > 2, "a 256-packet batch gives several chunks");
}

#[test]
fn small_batches_stay_with_the_owner() {
    let pool = CryptoPool::new(4);
    assert_eq!(pool.helpers(0), 0);
    assert_eq!(pool.helpers(FORK_MIN_BYTES - 1), 0, "below the threshold");
    assert_eq!(pool.helpers(FORK_MIN_BYTES), 1);
    assert_eq!(pool.helpers(1 << 20), 3, "no more helpers than workers");
    assert_eq!(CryptoPool::new(1).helpers(1 << 20), 0, "no pool");
    // A ping-sized batch under a pool: no worker takes part.
    let sessions = [session(7), session(8)];
    let (mut b, which) = batch(6);
    let (ok, w) = on_thread(|| run(&pool, Op::Seal, &sessions, &which, &mut b));
    assert!(ok.iter().all(|&o| o));
    assert_eq!(w, 0);
}

#[test]
fn thread_count_from_the_environment() {
    // Default and auto: half the cores (two packet threads fork), at least 1.
    assert_eq!(threads_from(None, 8), 4);
    assert_eq!(threads_from(None, 2), 1, "2 cores: no workers");
    assert_eq!(threads_from(None, 3), 1);
    assert_eq!(threads_from(Some("auto"), 8), 4);
    assert_eq!(threads_from(Some(" auto "), 0), 1);
    assert_eq!(threads_from(Some("1"), 8), 1);
    assert_eq!(threads_from(Some(" 3 "), 8), 3);
    assert_eq!(threads_from(Some("256"), 8), 256);
    for bad in ["0", "-1", "two", "", "257", "99999999999999999999999"] {
        assert_eq!(threads_from(Some(bad), 6), 3, "{bad:?}: auto");
    }
    assert_eq!(CryptoPool::new(0).threads(), 1);
    assert_eq!(CryptoPool::new(3).threads(), 3);
}
