//! Criterion bench of the crypto pool (`driver/pool.rs`): sealing one batch of N packets of
//! 1,420 bytes under one session by the owner alone (`threads=1`) and with pool workers, hot
//! (calls back to back: the workers are awake) and cold (1 ms between calls: they sleep, as
//! between the batches of a light stream). Where forking starts to pay sets `FORK_MIN_BYTES`.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // benches: panics report failure

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wgrs::driver::pool::{CryptoPool, Job, Op};
use wgrs::proto::handshake::SessionKeys;
use wgrs::proto::keypair::{Keypair, Session};
use wgrs::proto::keys::PublicKey;
use wgrs::proto::link::Link;
use wgrs::proto::peer::PeerId;

fn session() -> Arc<Session> {
    let keys = SessionKeys {
        send: [5; 32],
        recv: [5; 32],
        local_index: 1,
        remote_index: 2,
        is_initiator: true,
    };
    let link = Arc::new(Link::new(PeerId(1), &PublicKey([5; 32])));
    Arc::new(Session::new(Keypair::new(&keys, Duration::ZERO), link))
}

fn seal(pool: &CryptoPool, s: &Session, bodies: &mut [Vec<u8>], ok: &mut [bool]) {
    let mut jobs: Vec<Job> = bodies
        .iter_mut()
        .enumerate()
        .map(|(i, b)| (i as u64, b.as_mut_slice()))
        .collect();
    pool.crypt(Op::Seal, &mut jobs, ok, &|_| Some(s));
}

fn batches(c: &mut Criterion) {
    let s = session();
    let pools = [1, 2].map(|n| (n, CryptoPool::new(n)));
    let mut g = c.benchmark_group("pool_seal_1420");
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));
    for n in [8usize, 16, 24, 32, 48, 64, 128, 256] {
        let mut bodies = vec![vec![0u8; 1424 + 16]; n];
        let mut ok = vec![false; n];
        g.throughput(Throughput::Bytes((n * 1424) as u64));
        for (threads, pool) in &pools {
            let id = |mode: &str| BenchmarkId::new(format!("{mode}/threads={threads}"), n);
            g.bench_function(id("hot"), |b| {
                b.iter(|| seal(pool, &s, &mut bodies, &mut ok))
            });
            g.bench_function(id("cold"), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        std::thread::sleep(Duration::from_millis(1));
                        let t = Instant::now();
                        seal(pool, &s, &mut bodies, &mut ok);
                        total += t.elapsed();
                    }
                    total
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, batches);
criterion_main!(benches);
