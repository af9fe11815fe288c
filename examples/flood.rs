//! Hostile-traffic generator for `benches/netns-flood.sh` (issue 13): floods one UDP address
//! with WireGuard-shaped datagrams, bounded by a packet count and a time limit.
//!
//! Kinds (`--kind`):
//! * `valid`: handshake initiations from random static keys the server does not know, each with
//!   a valid mac1 for `--server-pub` (built with this crate's own handshake code, so a server
//!   must do its Diffie-Hellman work before it can refuse them); a pool of `--pool` distinct
//!   messages is sent round robin.
//! * `junk148`: 148 bytes, type 1 (`01 00 00 00`), the rest random (mac1 fails).
//! * `junk1400`: 1,400 bytes starting with 0x01, the rest random.
//!
//! Sources: `--src ADDR --src-count N` binds N sockets to ADDR, ADDR+1, … (IPv4; the addresses
//! must be local) and sends from them in turn. `--rate 0` sends as fast as one thread can.
//! `flood sink --bind ADDR:PORT --seconds S` holds a UDP socket that never reads (the control
//! case: the same packet rate without a WireGuard server behind it).
//!
//! Prints one line: `sent=N seconds=S pps=R errors=E`.
//!
//! Example: `flood --target 10.211.0.1:51820 --kind valid --server-pub KEY --seconds 10`

// A bench tool, not the core: it reads the clock, sleeps and seeds from the OS.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use clap::{Parser, Subcommand, ValueEnum};
use rand::{RngCore, SeedableRng};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use wgrs::proto::cookie::CookieGenerator;
use wgrs::proto::handshake::{Handshake, RemoteIdentity, StaticIdentity};
use wgrs::proto::keys::{PresharedKey, PrivateKey, PublicKey};
use wgrs::proto::time::Now;

#[derive(Parser)]
#[command(about = "WireGuard-shaped UDP flood for benches/netns-flood.sh")]
struct Args {
    #[command(subcommand)]
    sink: Option<Sink>,
    /// Where to send (IPv4 address and port).
    #[arg(long)]
    target: Option<SocketAddr>,
    #[arg(long, value_enum, default_value = "valid")]
    kind: Kind,
    /// The server's public key (base64), for mac1 of `valid` initiations.
    #[arg(long)]
    server_pub: Option<String>,
    /// First source address (default: whatever routing picks).
    #[arg(long)]
    src: Option<Ipv4Addr>,
    /// Number of consecutive source addresses from `--src`.
    #[arg(long, default_value_t = 1)]
    src_count: u32,
    /// Packets per second (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Stop after this many packets.
    #[arg(long, default_value_t = 10_000_000)]
    count: u64,
    /// Distinct messages to cycle through.
    #[arg(long, default_value_t = 4096)]
    pool: usize,
}

#[derive(Subcommand)]
enum Sink {
    /// Bind a UDP socket that never reads, for `--seconds`, then exit.
    Sink {
        #[arg(long)]
        bind: SocketAddr,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    Valid,
    Junk148,
    Junk1400,
}

/// `pool` initiations from fresh random static keys to `server`, each with a valid mac1.
fn initiations(server: &PublicKey, pool: usize, rng: &mut rand::rngs::StdRng) -> Vec<Vec<u8>> {
    let now = Now {
        mono: Duration::ZERO,
        wall: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default(),
    };
    (0..pool)
        .filter_map(|_| {
            let local = StaticIdentity::new(PrivateKey::generate(rng));
            let remote = RemoteIdentity::new(Some(&local), *server, PresharedKey::default());
            let init = Handshake::default()
                .create_initiation(&local, &remote, rng.next_u32(), now, rng)
                .ok()?;
            let mut bytes = init.to_bytes().to_vec();
            CookieGenerator::new(server).add_macs(&mut bytes, now.mono);
            Some(bytes)
        })
        .collect()
}

fn junk(len: usize, typed: bool, pool: usize, rng: &mut rand::rngs::StdRng) -> Vec<Vec<u8>> {
    (0..pool)
        .map(|_| {
            let mut m = vec![0u8; len];
            rng.fill_bytes(&mut m);
            m[0] = 1;
            if typed {
                m[1..4].fill(0);
            }
            m
        })
        .collect()
}

fn sockets(a: &Args, target: SocketAddr) -> io::Result<Vec<UdpSocket>> {
    let first = a.src.map_or(0, u32::from);
    (0..a.src_count.max(1))
        .map(|k| {
            let src = match a.src {
                Some(_) => Ipv4Addr::from(first.wrapping_add(k)),
                None => Ipv4Addr::UNSPECIFIED,
            };
            let s = UdpSocket::bind((src, 0))?;
            s.connect(target)?;
            Ok(s)
        })
        .collect()
}

/// Send until the count, the time limit or (when paced) the schedule says stop.
fn flood(a: &Args, socks: &[UdpSocket], msgs: &[Vec<u8>]) -> (u64, u64, f64) {
    let start = Instant::now();
    let limit = Duration::from_secs_f64(a.seconds.max(0.0));
    let (mut sent, mut errors) = (0u64, 0u64);
    const BURST: u64 = 64;
    'outer: while sent + errors < a.count && start.elapsed() < limit {
        if a.rate > 0 {
            // Keep to the schedule: packet n is due at n / rate seconds.
            let due = Duration::from_secs_f64((sent + errors) as f64 / a.rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait.min(Duration::from_millis(5)));
                continue;
            }
        }
        for _ in 0..BURST {
            let n = (sent + errors) as usize;
            let msg = &msgs[n % msgs.len()];
            let sock = &socks[n % socks.len()];
            match sock.send(msg) {
                Ok(_) => sent += 1,
                // ECONNREFUSED (an ICMP from an earlier send), ENOBUFS: count and go on.
                Err(_) => errors += 1,
            }
            if sent + errors >= a.count {
                break 'outer;
            }
        }
    }
    (sent, errors, start.elapsed().as_secs_f64())
}

fn run(a: &Args) -> Result<(), String> {
    if let Some(Sink::Sink { bind, seconds }) = &a.sink {
        let _sock = UdpSocket::bind(bind).map_err(|e| format!("bind {bind}: {e}"))?;
        std::thread::sleep(Duration::from_secs_f64(seconds.max(0.0)));
        return Ok(());
    }
    let target = a.target.ok_or("--target is required")?;
    let mut rng = rand::rngs::StdRng::from_entropy();
    let pool = a.pool.clamp(1, 1 << 20);
    let msgs = match a.kind {
        Kind::Valid => {
            let key = a
                .server_pub
                .as_deref()
                .ok_or("--kind valid needs --server-pub")?;
            let server = PublicKey::from_base64(key).map_err(|e| format!("--server-pub: {e}"))?;
            initiations(&server, pool, &mut rng)
        }
        Kind::Junk148 => junk(148, true, pool, &mut rng),
        Kind::Junk1400 => junk(1400, false, pool, &mut rng),
    };
    if msgs.is_empty() {
        return Err("no message could be built".into());
    }
    let socks = sockets(a, target).map_err(|e| format!("sockets from {:?}: {e}", a.src))?;
    let (sent, errors, secs) = flood(a, &socks, &msgs);
    let pps = sent as f64 / secs.max(1e-9);
    println!("sent={sent} seconds={secs:.2} pps={pps:.0} errors={errors}");
    Ok(())
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flood: {e}");
            ExitCode::FAILURE
        }
    }
}
