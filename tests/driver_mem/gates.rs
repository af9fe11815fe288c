//! Endpoints that hold what a daemon reads until a burst has gathered, so that one batch of
//! the daemon holds all of it: `BurstTun` (packets from the TUN) and `GateBind` (datagrams,
//! released interleaved by source in blocks, one of them forged on the way).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use wgrs::platform::tun::{PacketRef, PacketSink};
use wgrs::platform::{Bind, MemBind, MemTun, Outgoing, PacketBuf, RecvMeta, Tun};

/// How long a read waits on the endpoint below at a time (so arming takes effect at once).
const POLL: Duration = Duration::from_millis(20);
/// A burst still short of its size is released after this long without news.
const QUIET: Duration = Duration::from_millis(500);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A hold on reads: what is gathered, and how much to wait for (0: pass through).
struct Hold<T> {
    want: usize,
    held: VecDeque<T>,
    last_news: Instant,
}

impl<T> Hold<T> {
    fn new() -> Self {
        Self {
            want: 0,
            held: VecDeque::new(),
            last_news: Instant::now(),
        }
    }

    /// Add what was just read; true when the held items may go out.
    fn gather(&mut self, new: impl IntoIterator<Item = T>, counts: impl Fn(&T) -> bool) -> bool {
        let before = self.held.len();
        self.held.extend(new);
        if self.held.len() > before {
            self.last_news = Instant::now();
        }
        if self.want == 0 {
            return true;
        }
        let have = self.held.iter().filter(|t| counts(t)).count();
        if have >= self.want || (have > 0 && self.last_news.elapsed() >= QUIET) {
            self.want = 0;
            return true;
        }
        false
    }
}

/// A packet sink that keeps copies (what `BurstTun` reads from the TUN below).
struct VecSink {
    room: Vec<u8>,
    out: Vec<Vec<u8>>,
}

impl PacketSink for VecSink {
    fn room(&mut self) -> Option<&mut [u8]> {
        Some(&mut self.room)
    }
    fn commit(&mut self, len: usize) {
        self.out.push(self.room[..len].to_vec());
    }
    fn free(&self) -> usize {
        256
    }
}

/// A TUN whose reads, once armed with `hold(n)`, return nothing until `n` packets wait.
pub struct BurstTun {
    inner: MemTun,
    hold: Mutex<Hold<Vec<u8>>>,
}

impl BurstTun {
    pub fn new(inner: MemTun) -> Arc<Self> {
        Arc::new(Self {
            inner,
            hold: Mutex::new(Hold::new()),
        })
    }

    /// Gather the next `n` packets before any is read.
    pub fn hold(&self, n: usize) {
        lock(&self.hold).want = n;
    }
}

impl Tun for BurstTun {
    fn recv_into(&self, sink: &mut dyn PacketSink, timeout: Option<Duration>) -> io::Result<usize> {
        let mut staged = VecSink {
            room: vec![0; 65536],
            out: Vec::new(),
        };
        let wait = timeout.map_or(POLL, |t| t.min(POLL));
        self.inner.recv_into(&mut staged, Some(wait))?;
        let mut h = lock(&self.hold);
        if !h.gather(staged.out, |_| true) {
            return Ok(0);
        }
        let mut n = 0;
        while sink.free() > 0 {
            let (Some(p), Some(room)) = (h.held.front(), sink.room()) else {
                break;
            };
            let len = p.len().min(room.len());
            room[..len].copy_from_slice(&p[..len]);
            sink.commit(len);
            h.held.pop_front();
            n += 1;
        }
        Ok(n)
    }
    fn send_within(&self, bufs: &mut [PacketBuf], packets: &[PacketRef]) -> io::Result<usize> {
        self.inner.send_within(bufs, packets)
    }
    fn name(&self) -> io::Result<String> {
        self.inner.name()
    }
    fn mtu(&self) -> io::Result<u32> {
        self.inner.mtu()
    }
    fn shutdown(&self) {
        self.inner.shutdown()
    }
}

/// What `GateBind` forged: the source, and its place among that source's datagrams of the burst.
pub type Forged = (SocketAddr, usize);

/// How a `GateBind` releases a burst.
#[derive(Default)]
pub struct GatePlan {
    /// Transport datagrams to gather (0: pass through).
    pub want: usize,
    /// Datagrams per source in a row when released.
    pub block: usize,
    /// Which released datagram to forge (one bit of its ciphertext flipped).
    pub forge: Option<usize>,
}

/// The control side of `GateBind`s (the factory makes a new bind on each listen port change).
#[derive(Default)]
pub struct Gate {
    plan: Mutex<GatePlan>,
    forged: Mutex<Option<Forged>>,
}

impl Gate {
    pub fn arm(&self, plan: GatePlan) {
        *lock(&self.plan) = plan;
    }

    /// The datagram forged by the last burst, once it was released.
    pub fn forged(&self) -> Option<Forged> {
        *lock(&self.forged)
    }
}

type Datagram = (RecvMeta, Vec<u8>);

/// A UDP bind that, once armed, gathers a burst and releases it reordered and forged.
pub struct GateBind {
    inner: MemBind,
    gate: Arc<Gate>,
    hold: Mutex<Hold<Datagram>>,
}

impl GateBind {
    pub fn new(inner: MemBind, gate: Arc<Gate>) -> Self {
        Self {
            inner,
            gate,
            hold: Mutex::new(Hold::new()),
        }
    }

    /// Interleave `held` by source (in address order) in blocks of `block`, each source's order
    /// kept; forge one.
    fn release(&self, held: &mut VecDeque<Datagram>, plan: &GatePlan) {
        let mut by_src: Vec<(SocketAddr, VecDeque<Datagram>)> = Vec::new();
        for d in held.drain(..) {
            match by_src.iter_mut().find(|(s, _)| *s == d.0.src) {
                Some((_, q)) => q.push_back(d),
                None => by_src.push((d.0.src, VecDeque::from([d]))),
            }
        }
        // Sources in address order, whichever sent first: the test knows who is forged.
        by_src.sort_by_key(|(src, _)| *src);
        let mut nth: HashMap<SocketAddr, usize> = HashMap::new();
        while by_src.iter().any(|(_, q)| !q.is_empty()) {
            for (src, q) in &mut by_src {
                for mut d in q.drain(..plan.block.max(1).min(q.len())) {
                    let k = nth.entry(*src).or_default();
                    if plan.forge == Some(held.len()) {
                        d.1[40] ^= 1;
                        *lock(&self.gate.forged) = Some((*src, *k));
                    }
                    *k += 1;
                    held.push_back(d);
                }
            }
        }
    }
}

impl Bind for GateBind {
    fn recv_batch(
        &self,
        bufs: &mut [PacketBuf],
        meta: &mut [RecvMeta],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let max = bufs.len().min(meta.len());
        let wait = timeout.map_or(POLL, |t| t.min(POLL));
        let n = self.inner.recv_batch(bufs, meta, Some(wait))?;
        let new = (0..n).map(|i| (meta[i], bufs[i].packet().to_vec()));
        let mut h = lock(&self.hold);
        let mut plan = lock(&self.gate.plan);
        if h.want == 0 && plan.want > 0 {
            h.want = std::mem::take(&mut plan.want);
        }
        let armed = h.want > 0;
        if !h.gather(new, |d| d.1.first() == Some(&4)) {
            return Ok(0);
        }
        if armed {
            let mut held = std::mem::take(&mut h.held);
            self.release(&mut held, &plan);
            h.held = held;
        }
        let mut i = 0;
        while i < max {
            let Some((m, bytes)) = h.held.pop_front() else {
                break;
            };
            bufs[i].set_packet(&bytes)?;
            meta[i] = m;
            i += 1;
        }
        Ok(i)
    }
    fn send_batch(&self, batch: &[Outgoing<'_>]) -> io::Result<usize> {
        self.inner.send_batch(batch)
    }
    fn local_port(&self) -> u16 {
        self.inner.local_port()
    }
    fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        self.inner.set_fwmark(mark)
    }
    fn max_gso_segments(&self) -> usize {
        self.inner.max_gso_segments()
    }
    fn shutdown(&self) {
        self.inner.shutdown()
    }
}
