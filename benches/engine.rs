//! Criterion benches of the protocol engine: a full handshake (both sides) and transport
#![allow(clippy::unwrap_used)] // benches: a panic is the failure report
//! seal/open at 64, 1420 and 16384 bytes, and the handshake gate's cost per flooded message
//! (judging it on the packet thread; writing its cookie reply on the control thread). Goals on the 2-core CI machine: handshake ≤ 1 ms,
//! seal+open of 1420 B ≤ 3 µs.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::Duration;
use wgrs::proto::handshake::{
    consume_initiation, Handshake, RemoteIdentity, SessionKeys, StaticIdentity,
};
use wgrs::proto::keypair::Keypair;
use wgrs::proto::keys::{PresharedKey, PrivateKey};
use wgrs::proto::time::Now;

fn full_handshake(c: &mut Criterion) {
    let a = StaticIdentity::new(PrivateKey::from_bytes([1; 32]));
    let b = StaticIdentity::new(PrivateKey::from_bytes([2; 32]));
    let a_sees_b = RemoteIdentity::new(Some(&a), *b.public(), PresharedKey::from_bytes([3; 32]));
    let b_sees_a = RemoteIdentity::new(Some(&b), *a.public(), PresharedKey::from_bytes([3; 32]));
    let mut rng = StdRng::seed_from_u64(1);
    let mut t = Now {
        mono: Duration::from_secs(1),
        wall: Duration::from_secs(1_700_000_000),
    };
    c.bench_function("handshake/full_both_sides", |bench| {
        bench.iter(|| {
            t = t.after(Duration::from_millis(50));
            let mut ha = Handshake::default();
            let mut hb = Handshake::default();
            let init = ha.create_initiation(&a, &a_sees_b, 1, t, &mut rng).unwrap();
            let cand = consume_initiation(&b, &init).unwrap();
            hb.accept_initiation(cand, &b_sees_a, t.mono).unwrap();
            let resp = hb.create_response(&b_sees_a, 2, &mut rng).unwrap();
            ha.consume_response(&a, &a_sees_b, &resp).unwrap();
            black_box((ha.begin_session().unwrap(), hb.begin_session().unwrap()))
        })
    });
}

fn transport(c: &mut Criterion) {
    let keys = SessionKeys {
        send: [5; 32],
        recv: [5; 32],
        local_index: 1,
        remote_index: 2,
        is_initiator: true,
    };
    let kp = Keypair::new(&keys, Duration::ZERO);
    let mut g = c.benchmark_group("transport");
    for size in [64usize, 1420, 16384] {
        // The tunnel MTU caps padding: 1420 is the default, and the 16 KiB case stands for a
        // jumbo MTU. Every size here is a multiple of 16, so no padding is added.
        let mtu = size.max(1420);
        let mut buf = vec![0u8; 16 + size + 16];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("seal", size), &size, |bench, &n| {
            bench.iter(|| black_box(kp.seal(7, &mut buf, n, mtu).unwrap()))
        });
        let mut sealed = vec![0u8; 16 + size + 16];
        kp.seal(7, &mut sealed, size, mtu).unwrap();
        let mut work = sealed.clone();
        g.bench_with_input(BenchmarkId::new("open", size), &size, |bench, _| {
            bench.iter(|| {
                work.copy_from_slice(&sealed);
                black_box(kp.open(7, &mut work[16..]).unwrap())
            })
        });
        g.bench_with_input(BenchmarkId::new("seal+open", size), &size, |bench, &n| {
            bench.iter(|| {
                let len = kp.seal(7, &mut work, n, mtu).unwrap();
                black_box(kp.open(7, &mut work[16..len]).unwrap())
            })
        });
    }
    g.finish();
}

/// The two ciphers `TransportKey` picks between, side by side in one run: ring (or RustCrypto)
/// and, where the CPU has AVX-512 IFMA, our own.
fn aead(c: &mut Criterion) {
    use wgrs::proto::crypto::{FallbackCipher, TransportCipher};
    let fallback = FallbackCipher::new(&[5; 32]);
    #[cfg(target_arch = "x86_64")]
    let fast = wgrs::platform::avx512::Avx512Key::new(&[5; 32]);
    let mut g = c.benchmark_group("aead");
    for size in [64usize, 1420] {
        let mut buf = vec![0u8; size + 16];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(
            BenchmarkId::new("seal/fallback", size),
            &size,
            |bench, _| bench.iter(|| fallback.seal(7, black_box(&mut buf)).unwrap()),
        );
        #[cfg(target_arch = "x86_64")]
        if let Some(k) = &fast {
            g.bench_with_input(BenchmarkId::new("seal/avx512", size), &size, |bench, _| {
                bench.iter(|| black_box(k.seal(7, &mut buf[..size])))
            });
            let tag = k.seal(7, &mut buf[..size]);
            let sealed = buf.clone();
            g.bench_with_input(BenchmarkId::new("open/avx512", size), &size, |bench, _| {
                bench.iter(|| {
                    buf.copy_from_slice(&sealed);
                    black_box(k.open(7, &mut buf[..size], &tag))
                })
            });
            // Sixteen packets of one size, as a TSO burst brings them: the time is for all
            // sixteen, the throughput counts all their bytes.
            let mut bufs = vec![vec![0u8; size + 16]; 16];
            let mut ok = [false; 16];
            g.throughput(Throughput::Bytes(16 * size as u64));
            g.bench_with_input(
                BenchmarkId::new("seal_16/avx512", size),
                &size,
                |bench, _| {
                    bench.iter(|| {
                        let mut jobs: Vec<(u64, &mut [u8])> =
                            bufs.iter_mut().map(|b| (7, b.as_mut_slice())).collect();
                        k.seal_many(&mut jobs, &mut ok);
                    })
                },
            );
            let sealed_many = bufs.clone();
            g.bench_with_input(
                BenchmarkId::new("open_16/avx512", size),
                &size,
                |bench, _| {
                    bench.iter(|| {
                        bufs.clone_from(&sealed_many);
                        let mut jobs: Vec<(u64, &mut [u8])> =
                            bufs.iter_mut().map(|b| (7, b.as_mut_slice())).collect();
                        k.open_many(&mut jobs, &mut ok);
                    })
                },
            );
        }
    }
    g.finish();
}

fn gate(c: &mut Criterion) {
    use rand::RngCore;
    use wgrs::proto::cookie::CookieGenerator;
    use wgrs::proto::gate::{CookieRequest, Gate};
    let server = PrivateKey::from_bytes([7; 32]).public_key();
    let mut gate = Gate::new(&server);
    let mut gen = CookieGenerator::new(&server);
    let mut rng = StdRng::seed_from_u64(2);
    let mut msg = [0u8; 148];
    rng.fill_bytes(&mut msg);
    msg[..4].copy_from_slice(&[1, 0, 0, 0]);
    gen.add_macs(&mut msg, Duration::from_secs(1));
    let from = "198.51.100.9:4000".parse().unwrap();
    let mut t = Duration::from_secs(1);
    // Spend the source's budget: from here on every message is one a flood sends.
    for _ in 0..10 {
        let _ = gate.admit(&msg, from, 0, t);
    }
    c.bench_function("gate/admit_flooded_initiation", |bench| {
        bench.iter(|| {
            t += Duration::from_micros(1);
            black_box(gate.admit(black_box(&msg), from, 0, t))
        })
    });
    let req = CookieRequest::of(&msg, from).unwrap();
    let mut os = rand_core::OsRng;
    c.bench_function("gate/cookie_reply_os_rng", |bench| {
        bench.iter(|| black_box(gate.cookie_reply(&req, t, &mut os)))
    });
    c.bench_function("gate/cookie_reply_user_rng", |bench| {
        bench.iter(|| black_box(gate.cookie_reply(&req, t, &mut rng)))
    });
}

criterion_group!(benches, full_handshake, transport, aead, gate);
criterion_main!(benches);
