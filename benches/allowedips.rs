//! AllowedIPs lookup speed: 10,000 IPv4 + 10,000 IPv6 random prefixes over 100 peers.
#![allow(clippy::unwrap_used)] // benches: a panic is the failure report

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use wgrs::proto::allowedips::AllowedIps;

const PREFIXES_PER_FAMILY: usize = 10_000;
const PEERS: u32 = 100;
const PROBES: usize = 4096;

fn v4_prefix(rng: &mut StdRng) -> Ipv4Net {
    let len = rng.gen_range(8..=32);
    Ipv4Net::new(Ipv4Addr::from(rng.gen::<u32>()), len)
        .map(|n| n.trunc())
        .unwrap_or_default()
}

fn v6_prefix(rng: &mut StdRng) -> Ipv6Net {
    let len = rng.gen_range(16..=128);
    Ipv6Net::new(Ipv6Addr::from(rng.gen::<u128>()), len)
        .map(|n| n.trunc())
        .unwrap_or_default()
}

/// `count` distinct prefixes from `gen`.
fn distinct<N: Copy + Eq + std::hash::Hash>(
    rng: &mut StdRng,
    count: usize,
    gen: fn(&mut StdRng) -> N,
) -> Vec<N> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let n = gen(rng);
        if seen.insert(n) {
            out.push(n);
        }
    }
    out
}

/// The table, plus the prefixes inserted (to make addresses that hit them).
fn build(rng: &mut StdRng) -> (AllowedIps<u32>, Vec<Ipv4Net>, Vec<Ipv6Net>) {
    let mut t = AllowedIps::new();
    let v4 = distinct(rng, PREFIXES_PER_FAMILY, v4_prefix);
    let v6 = distinct(rng, PREFIXES_PER_FAMILY, v6_prefix);
    for (i, n) in v4.iter().enumerate() {
        t.insert(IpNet::V4(*n), i as u32 % PEERS);
    }
    for (i, n) in v6.iter().enumerate() {
        t.insert(IpNet::V6(*n), i as u32 % PEERS);
    }
    (t, v4, v6)
}

/// A random address inside `n`.
fn inside_v4(rng: &mut StdRng, n: &Ipv4Net) -> IpAddr {
    let host = rng.gen::<u32>() & !u32::from(n.netmask());
    IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) | host))
}

fn inside_v6(rng: &mut StdRng, n: &Ipv6Net) -> IpAddr {
    let host = rng.gen::<u128>() & !u128::from(n.netmask());
    IpAddr::V6(Ipv6Addr::from(u128::from(n.network()) | host))
}

fn bench_probes(c: &mut Criterion, name: &str, t: &AllowedIps<u32>, probes: &[IpAddr]) {
    let hits = probes.iter().filter(|a| t.lookup(**a).is_some()).count();
    println!("{name}: {hits}/{} probes match a prefix", probes.len());
    let mut i = 0;
    c.bench_function(name, |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            black_box(t.lookup(black_box(probes[i])))
        })
    });
}

fn lookups(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0xa11_0ed1);
    let (t, v4, v6) = build(&mut rng);
    println!("table: {} prefixes", t.len());

    let random_v4: Vec<IpAddr> = (0..PROBES)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.gen::<u32>())))
        .collect();
    let random_v6: Vec<IpAddr> = (0..PROBES)
        .map(|_| IpAddr::V6(Ipv6Addr::from(rng.gen::<u128>())))
        .collect();
    let hit_v4: Vec<IpAddr> = (0..PROBES)
        .map(|i| inside_v4(&mut rng, &v4[i % v4.len()]))
        .collect();
    let hit_v6: Vec<IpAddr> = (0..PROBES)
        .map(|i| inside_v6(&mut rng, &v6[i % v6.len()]))
        .collect();

    bench_probes(c, "lookup_v4_random", &t, &random_v4);
    bench_probes(c, "lookup_v6_random", &t, &random_v6);
    bench_probes(c, "lookup_v4_hit", &t, &hit_v4);
    bench_probes(c, "lookup_v6_hit", &t, &hit_v6);
    // A tunnel with a few busy destinations: the path stays in L1.
    bench_probes(c, "lookup_v4_hit_hot16", &t, &hit_v4[..16]);
    bench_probes(c, "lookup_v6_hit_hot16", &t, &hit_v6[..16]);
}

criterion_group!(benches, lookups);
criterion_main!(benches);
