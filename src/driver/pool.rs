//! Crypto workers: a fork-join pool that seals or opens one batch's packets on several cores
//! (whitepaper §5.4.6, transport data; docs/ARCHITECTURE.md, "Threads and locks").
//!
//! The thread that owns a direction hands the whole batch over as a slice of jobs, each a
//! counter and a message body, with the session of each. The batch is cut into chunks at the
//! boundaries of the cipher's runs (up to sixteen packets of one session in a row, as the
//! sixteen-lane cipher takes them), so every run is sealed or opened exactly as without a
//! pool. The owner then takes chunks itself and lets up to `threads - 1` pool workers take the
//! others; chunks are claimed one at a time from a shared queue, so a worker that wakes late
//! finds less (or nothing) left and the owner is never stuck behind a sleeping thread. The call
//! returns when every chunk is done: each job's result is in its own `ok` slot and its bytes
//! in place, so the owner goes on in batch order and each peer's order is kept by
//! construction. Batches below `FORK_MIN_BYTES` stay on the owner's thread.
//!
//! The pool is `rayon-core`'s: its workers sleep on a condition variable when idle, so an idle
//! daemon has no periodic wake-ups.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::proto::keypair::Session;

/// Environment variable: how many threads seal and open one batch (1: the owner alone).
pub const THREADS_ENV: &str = "WGRS_CRYPTO_THREADS";
/// The most threads `WGRS_CRYPTO_THREADS` may ask for.
pub const MAX_THREADS: usize = 256;

/// Packets handed to the cipher per call at most (its sixteen lanes: `platform::avx512`).
pub const RUN: usize = 16;

/// A chunk is cut once it holds this many bytes of message bodies (and is at a run boundary).
/// Below it, waking a worker costs more than it saves (measured: benches/crypto_pool.rs).
const CHUNK_BYTES: usize = 16 * 1024;
/// Batches with fewer body bytes than this stay on the owner's thread.
const FORK_MIN_BYTES: usize = 2 * CHUNK_BYTES;

/// One message for the cipher: its counter (nonce) and its body (payload then 16 bytes of tag).
pub type Job<'a> = (u64, &'a mut [u8]);

/// What to do with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Seal framed plaintexts (outbound).
    Seal,
    /// Open received payloads (inbound).
    Open,
}

/// How many threads work on one batch of a device. The workers themselves belong to the
/// thread that owns the batch: each packet thread gets its own pool, built the first time one
/// of its batches forks (an idle daemon starts none), in which it is worker 0 itself.
#[derive(Debug, Clone, Copy)]
pub struct CryptoPool {
    threads: usize,
}

thread_local! {
    /// This thread's pool (`None`: building it failed; the thread works alone).
    static POOL: OnceCell<Option<rayon_core::ThreadPool>> = const { OnceCell::new() };
}

impl CryptoPool {
    /// `threads` threads per batch: the owner and `threads - 1` workers (1: no workers).
    pub fn new(threads: usize) -> Self {
        Self {
            threads: threads.clamp(1, MAX_THREADS),
        }
    }

    /// As `WGRS_CRYPTO_THREADS` says (default `auto`: half the cores, at least 1).
    pub fn from_env() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let value = std::env::var(THREADS_ENV).ok();
        Self::new(threads_from(value.as_deref(), cores))
    }

    /// Threads that work on one batch.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Seal or open every job, job `i` under `session(i)`, in runs of up to sixteen of one
    /// session; `ok[i]` says whether job `i` succeeded. Forks over the calling thread's pool
    /// when the batch is large enough; returns when all are done.
    pub fn crypt<'s>(
        &self,
        op: Op,
        jobs: &mut [Job<'_>],
        ok: &mut [bool],
        session: &(dyn Fn(usize) -> Option<&'s Session> + Sync),
    ) {
        self.crypt_counted(op, jobs, ok, session, false);
    }

    /// `crypt`, returning how many chunks pool workers took. `patient` (for tests): the owner
    /// waits, up to a second, for a worker to start before it takes chunks itself.
    fn crypt_counted<'s>(
        &self,
        op: Op,
        jobs: &mut [Job<'_>],
        ok: &mut [bool],
        session: &(dyn Fn(usize) -> Option<&'s Session> + Sync),
        patient: bool,
    ) -> usize {
        let n = jobs.len().min(ok.len());
        let (jobs, ok) = (&mut jobs[..n], &mut ok[..n]);
        let bytes: usize = jobs.iter().map(|j| j.1.len()).sum();
        let helpers = self.helpers(bytes);
        if helpers == 0 {
            crypt_chunk(op, 0, jobs, ok, session);
            return 0;
        }
        POOL.with(|cell| match cell.get_or_init(|| build(self.threads)) {
            Some(pool) => fork(pool, helpers, op, jobs, ok, session, patient),
            None => {
                crypt_chunk(op, 0, jobs, ok, session);
                0
            }
        })
    }

    /// Workers to call on for a batch of `bytes` body bytes (0: the owner does it alone).
    fn helpers(&self, bytes: usize) -> usize {
        if bytes < FORK_MIN_BYTES {
            return 0;
        }
        (bytes / CHUNK_BYTES - 1).min(self.threads - 1)
    }
}

/// A pool of `threads` in which the calling thread is worker 0: the jobs it spawns wait in its
/// own deque, where idle workers steal them and where it takes back those nobody stole, so it
/// never waits for a worker that has not started (on a busy machine a woken thread may wait
/// milliseconds for a core).
fn build(threads: usize) -> Option<rayon_core::ThreadPool> {
    let built = rayon_core::ThreadPoolBuilder::new()
        .num_threads(threads)
        .use_current_thread()
        .thread_name(|i| format!("wgrs-crypto-{i}"))
        .build();
    match built {
        Ok(pool) => Some(pool),
        Err(e) => {
            tracing::error!("Cannot start {} crypto workers: {e}", threads - 1);
            None
        }
    }
}

/// Cut `jobs` into chunks and work through them with up to `helpers` workers of `pool`.
fn fork<'s>(
    pool: &rayon_core::ThreadPool,
    helpers: usize,
    op: Op,
    jobs: &mut [Job<'_>],
    ok: &mut [bool],
    session: &(dyn Fn(usize) -> Option<&'s Session> + Sync),
    patient: bool,
) -> usize {
    let queue = Mutex::new(Queue { jobs, ok, at: 0 });
    let drain = || {
        let mut chunks = 0;
        while let Some((at, jobs, ok)) = claim(&queue, session) {
            crypt_chunk(op, at, jobs, ok, session);
            chunks += 1;
        }
        chunks
    };
    let by_workers = AtomicUsize::new(0);
    let started = AtomicBool::new(false);
    pool.in_place_scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|_| {
                started.store(true, Ordering::Release);
                by_workers.fetch_add(drain(), Ordering::Relaxed);
            });
        }
        if patient {
            let since = std::time::Instant::now();
            while !started.load(Ordering::Acquire) && since.elapsed().as_secs() < 1 {
                std::thread::yield_now();
            }
        }
        drain();
    });
    by_workers.into_inner()
}

/// The thread count `WGRS_CRYPTO_THREADS=value` asks for: a number, or `auto` (also the
/// default, and what an invalid value falls back to) for half the cores. Two packet threads
/// (the TUN side and the UDP side) each fork over their own pool, so their threads add up to
/// the cores. On 2 cores that is 1, all crypto on the packet threads: there the pool only cost
/// CPU, as rayon's workers spin between the forks of a stream (about 32 yields each), +45%
/// CPU per GB for no throughput gain (benches/README.md).
fn threads_from(value: Option<&str>, cores: usize) -> usize {
    let auto = (cores / 2).clamp(1, MAX_THREADS);
    let Some(v) = value else {
        return auto;
    };
    if v.trim() == "auto" {
        return auto;
    }
    match v.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => n,
        _ => {
            tracing::error!(
                "{THREADS_ENV}={v:?}: neither auto nor a number from 1 to {MAX_THREADS}; using auto ({auto})"
            );
            auto
        }
    }
}

/// What is left of a batch: chunks are cut off its front.
struct Queue<'q, 'b> {
    jobs: &'q mut [Job<'b>],
    ok: &'q mut [bool],
    /// Index of `jobs[0]` in the batch.
    at: usize,
}

/// The next chunk: its index in the batch, its jobs and their `ok` slots.
type Chunk<'q, 'b> = (usize, &'q mut [Job<'b>], &'q mut [bool]);

fn claim<'q, 'b, 's>(
    queue: &Mutex<Queue<'q, 'b>>,
    session: &(dyn Fn(usize) -> Option<&'s Session> + Sync),
) -> Option<Chunk<'q, 'b>> {
    let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
    if q.jobs.is_empty() {
        return None;
    }
    let at = q.at;
    let mut bytes = 0;
    let mut end = 0;
    for_each_run(at, q.jobs.len(), session, |start, len| {
        if bytes >= CHUNK_BYTES {
            return false;
        }
        let run = q.jobs.get(start - at..start - at + len).unwrap_or(&[]);
        bytes += run.iter().map(|j| j.1.len()).sum::<usize>();
        end = start - at + len;
        true
    });
    let jobs = std::mem::take(&mut q.jobs);
    let ok = std::mem::take(&mut q.ok);
    let (jobs, rest_jobs) = jobs.split_at_mut(end);
    let (ok, rest_ok) = ok.split_at_mut(end);
    *q = Queue {
        jobs: rest_jobs,
        ok: rest_ok,
        at: at + end,
    };
    Some((at, jobs, ok))
}

/// Call `f(start, len)` for each run of jobs `at..at + n` (batch indices): up to `RUN` jobs in
/// a row under one session. Stops early when `f` returns false.
fn for_each_run<'s>(
    at: usize,
    n: usize,
    session: &(dyn Fn(usize) -> Option<&'s Session> + Sync),
    mut f: impl FnMut(usize, usize) -> bool,
) {
    let mut start = at;
    while start < at + n {
        let first = session(start);
        let len = (1..RUN.min(at + n - start))
            .take_while(|&k| same(session(start + k), first))
            .count()
            + 1;
        if !f(start, len) {
            return;
        }
        start += len;
    }
}

fn same(a: Option<&Session>, b: Option<&Session>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => std::ptr::eq(a, b),
        _ => false,
    }
}

/// Seal or open one chunk (batch indices `at..`), one cipher call per run.
fn crypt_chunk<'s>(
    op: Op,
    at: usize,
    jobs: &mut [Job<'_>],
    ok: &mut [bool],
    session: &(dyn Fn(usize) -> Option<&'s Session> + Sync),
) {
    for_each_run(at, jobs.len(), session, |start, len| {
        let range = start - at..start - at + len;
        let (Some(run), Some(ok)) = (jobs.get_mut(range.clone()), ok.get_mut(range)) else {
            return false;
        };
        match (session(start), op) {
            (Some(s), Op::Seal) => s.keypair.seal_bodies(run, ok),
            (Some(s), Op::Open) => s.keypair.open_many(run, ok),
            (None, _) => ok.fill(false),
        }
        true
    });
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
