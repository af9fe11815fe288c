//! Inbound data path: UDP batches (GRO super-buffers split into datagrams) → handshake
//! messages to the handshake worker; transport messages matched to sessions through the
//! published index map, opened in place (a large batch on the crypto workers, `driver/pool.rs`),
//! checked in batch order (replay, AllowedIPs), then written to the TUN as one batch. No device lock anywhere (docs/ARCHITECTURE.md).

use crossbeam_channel::Sender;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::pool::{CryptoPool, Job, Op};
use super::shared::Shared;
use crate::platform::tun::{is_shutdown, PacketRef};
use crate::platform::udp::MAX_RECV_LEN;
use crate::platform::{PacketBuf, RecvMeta};
use crate::proto::constants::{
    AEAD_TAG_SIZE, MESSAGE_COOKIE_REPLY, MESSAGE_COOKIE_REPLY_SIZE, MESSAGE_INITIATION,
    MESSAGE_INITIATION_SIZE, MESSAGE_RESPONSE, MESSAGE_RESPONSE_SIZE, MESSAGE_TRANSPORT,
    MESSAGE_TRANSPORT_HEADER_SIZE,
};
use crate::proto::device::Received;
use crate::proto::gate::{CookieRequest, Refusal};
use crate::proto::keypair::Session;
use crate::proto::messages::{parse, Message};
use crate::proto::plane::ReceiveTicket;

/// Receive buffers per batch.
pub const BATCH: usize = 32;
/// Datagrams handled per batch (GRO buffers hold several).
const MAX_DATAGRAMS: usize = 256;

/// A datagram located inside a receive buffer.
#[derive(Clone, Copy)]
struct Loc {
    buf: usize,
    start: usize,
    len: usize,
    src: SocketAddr,
}

/// A handshake message for the handshake worker, held inline: the queue's memory is fixed at
/// `HANDSHAKE_QUEUE` × `size_of::<HandshakeJob>()` (1,024 × 180 B ≈ 180 KiB), whatever arrives.
#[derive(Clone, Copy)]
pub struct HandshakeJob {
    /// Where it came from.
    pub from: SocketAddr,
    len: u8,
    bytes: [u8; MESSAGE_INITIATION_SIZE],
}

impl HandshakeJob {
    /// A job for `d` if it is a handshake message of exactly its type's size (initiation 148,
    /// response 92, cookie reply 64 bytes), as wireguard-go checks before queueing: anything
    /// else is dropped here and never counts towards "under load".
    pub fn new(from: SocketAddr, d: &[u8]) -> Option<Self> {
        let size = match *d.first()? {
            MESSAGE_INITIATION => MESSAGE_INITIATION_SIZE,
            MESSAGE_RESPONSE => MESSAGE_RESPONSE_SIZE,
            MESSAGE_COOKIE_REPLY => MESSAGE_COOKIE_REPLY_SIZE,
            _ => return None,
        };
        if d.len() != size {
            return None;
        }
        let mut bytes = [0; MESSAGE_INITIATION_SIZE];
        bytes.get_mut(..size)?.copy_from_slice(d);
        Some(Self {
            from,
            len: u8::try_from(size).ok()?,
            bytes,
        })
    }

    /// The message.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

struct Scratch {
    bufs: Vec<PacketBuf>,
    meta: Vec<RecvMeta>,
    transport: Vec<Loc>,
    tickets: Vec<Option<ReceiveTicket>>,
    deliver: Vec<PacketRef>,
}

/// The inbound direction's state (one thread runs it at a time).
pub struct Inbound {
    s: Scratch,
    handshakes: Sender<HandshakeJob>,
}

impl Inbound {
    /// Receive buffers, and the queue to the handshake worker.
    pub fn new(handshakes: Sender<HandshakeJob>) -> Self {
        Self {
            s: Scratch {
                bufs: (0..BATCH)
                    .map(|_| PacketBuf::new(0, MAX_RECV_LEN))
                    .collect(),
                meta: vec![RecvMeta::default(); BATCH],
                transport: Vec::with_capacity(MAX_DATAGRAMS),
                tickets: Vec::with_capacity(MAX_DATAGRAMS),
                deliver: Vec::with_capacity(MAX_DATAGRAMS),
            },
            handshakes,
        }
    }

    /// Receive one batch (waiting at most `timeout`; `None`: until datagrams come), open it
    /// and write it to the TUN. Returns the transport datagrams handled.
    pub fn step(&mut self, sh: &Shared, timeout: Option<Duration>) -> usize {
        let s = &mut self.s;
        let received = sh.bind().recv_batch(&mut s.bufs, &mut s.meta, timeout);
        self.handle(sh, received)
    }

    /// [`Inbound::step`] without waiting, receiving only from the sockets a wait found
    /// readable (`ready`: see [`crate::platform::udp::Bind::recv_ready`]).
    pub fn step_ready(&mut self, sh: &Shared, ready: u8) -> usize {
        let s = &mut self.s;
        let received = sh.bind().recv_ready(&mut s.bufs, &mut s.meta, ready);
        self.handle(sh, received)
    }

    /// Open what a receive returned and write it to the TUN.
    fn handle(&mut self, sh: &Shared, received: std::io::Result<usize>) -> usize {
        let s = &mut self.s;
        let n = match received {
            Ok(n) => n,
            Err(e) if is_shutdown(&e) => return 0, // rebound, or stopping: the caller decides
            Err(e) => {
                tracing::debug!("UDP receive: {e}");
                return 0;
            }
        };
        // GRO buffers can hold far more datagrams than one pass handles: work through the
        // batch in passes of at most MAX_DATAGRAMS, resuming where the last pass stopped.
        let mut cursor = Cursor::default();
        let mut handled = 0;
        loop {
            let more = classify(sh, s, n, &mut cursor, &self.handshakes);
            handled += s.transport.len();
            // One clock read per pass, for the session checks and the timer stamps.
            let now = sh.clock.mono();
            match_keypairs(sh, s, now);
            open_all(&sh.crypto, s);
            complete_all(sh, s, now);
            write_tun(sh, s);
            if !more {
                break;
            }
        }
        handled
    }
}

/// Run the inbound direction alone until the daemon stops.
pub fn run(sh: Arc<Shared>, handshakes: Sender<HandshakeJob>) {
    let mut inbound = Inbound::new(handshakes);
    while !sh.stop.requested() {
        inbound.step(&sh, None);
    }
}

/// Where classification of a receive batch stopped: buffer index and byte offset in it.
#[derive(Default, Clone, Copy)]
struct Cursor {
    buf: usize,
    start: usize,
}

/// Split buffers into datagrams from `cursor` on: transport ones are kept (at most
/// MAX_DATAGRAMS per pass), handshake ones queued. Returns true when datagrams remain.
fn classify(
    sh: &Shared,
    s: &mut Scratch,
    n: usize,
    cursor: &mut Cursor,
    handshakes: &Sender<HandshakeJob>,
) -> bool {
    s.transport.clear();
    while cursor.buf < n {
        let (Some(buf), Some(meta)) = (s.bufs.get(cursor.buf), s.meta.get(cursor.buf)) else {
            break;
        };
        let bytes = buf.packet().get(..meta.len).unwrap_or(buf.packet());
        let stride = meta.stride.max(1);
        while let Some(d) = bytes.get(cursor.start..).filter(|r| !r.is_empty()) {
            if s.transport.len() == MAX_DATAGRAMS {
                return true;
            }
            let d = d.get(..stride).unwrap_or(d);
            let loc = Loc {
                buf: cursor.buf,
                start: cursor.start,
                len: d.len(),
                src: meta.src,
            };
            cursor.start += d.len();
            match d.first() {
                Some(&MESSAGE_TRANSPORT) => s.transport.push(loc),
                _ => {
                    if let Some(job) = HandshakeJob::new(meta.src, d) {
                        admit(sh, job, handshakes);
                    }
                }
            }
        }
        *cursor = Cursor {
            buf: cursor.buf + 1,
            start: 0,
        };
    }
    false
}

/// Pass `job` through the handshake gate (`proto/gate.rs`) here, before it is queued: only
/// what may cost a Noise step reaches the control thread's handshake queue; a message that
/// needs a cookie goes to its own bounded queue (the control thread answers it), so a flood
/// can neither fill the handshake queue nor crowd out a new client.
fn admit(sh: &Shared, job: HandshakeJob, handshakes: &Sender<HandshakeJob>) {
    let bytes = job.bytes();
    if bytes.first() != Some(&MESSAGE_COOKIE_REPLY) {
        let backlog = sh.handshake_backlog.load(Ordering::Relaxed);
        let now = sh.clock.mono();
        let verdict = sh
            .gate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(bytes, job.from, backlog, now);
        match verdict {
            Ok(()) => {}
            Err(Refusal::BadMac1) => {
                tracing::debug!("Received packet with invalid mac1");
                return;
            }
            Err(Refusal::RateLimited | Refusal::RepliesSpent) => return,
            Err(Refusal::NeedsCookie) => {
                if let Some(req) = CookieRequest::of(bytes, job.from) {
                    // Full: the control thread is behind on replies; this one is dropped,
                    // as wireguard-go drops what does not fit its queue.
                    let _ = sh.cookie_requests.try_send(req);
                }
                return;
            }
        }
    }
    // Count first, so the control thread never sees the backlog below zero.
    sh.handshake_backlog.fetch_add(1, Ordering::Relaxed);
    if handshakes.try_send(job).is_err() {
        sh.handshake_backlog.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Find each transport message's session.
fn match_keypairs(sh: &Shared, s: &mut Scratch, now: Duration) {
    s.tickets.clear();
    if s.transport.is_empty() {
        return;
    }
    for loc in &s.transport {
        let bytes = s
            .bufs
            .get(loc.buf)
            .and_then(|b| b.packet().get(loc.start..loc.start + loc.len));
        let ticket = match bytes.map(parse) {
            Some(Ok(Message::Transport(h, _))) => (sh.plane.prepare_receive(h, now))
                .map_err(|e| tracing::trace!("dropped transport packet from {}: {e:?}", loc.src))
                .ok(),
            _ => None,
        };
        s.tickets.push(ticket);
    }
}

/// Outside any lock: decrypt in place, on the crypto workers when the batch is large
/// (`driver/pool.rs`); a failure clears the ticket. Results stay in batch order.
fn open_all(pool: &CryptoPool, s: &mut Scratch) {
    let mut carver = Carver::new(&mut s.bufs);
    let mut jobs: [Job; MAX_DATAGRAMS] = std::array::from_fn(|_| (0, Default::default()));
    // Job `j` is the payload of datagram `which[j]`.
    let mut which = [0usize; MAX_DATAGRAMS];
    let mut n = 0;
    for (i, loc) in s.transport.iter().enumerate() {
        let Some(counter) = s.tickets.get(i).and_then(Option::as_ref).map(|t| t.counter) else {
            continue;
        };
        let body = loc.start + MESSAGE_TRANSPORT_HEADER_SIZE..loc.start + loc.len;
        match (
            carver.take(loc.buf, body),
            jobs.get_mut(n),
            which.get_mut(n),
        ) {
            (Some(payload), Some(job), Some(w)) => {
                *job = (counter, payload);
                *w = i;
                n += 1;
            }
            _ => {
                if let Some(t) = s.tickets.get_mut(i) {
                    *t = None;
                }
            }
        }
    }
    let mut ok = [false; MAX_DATAGRAMS];
    let tickets = &s.tickets;
    let session = |j: usize| {
        let t = which.get(j).and_then(|&i| tickets.get(i))?.as_ref()?;
        Some(&*t.session)
    };
    pool.crypt(Op::Open, &mut jobs[..n], &mut ok[..n], &session);
    for (&i, &good) in which[..n].iter().zip(&ok[..n]) {
        if !good {
            if let Some(t) = s.tickets.get_mut(i) {
                *t = None;
            }
        }
    }
    // Opened payloads are now plaintext, a tag shorter than the message after its header.
    for (loc, t) in s.transport.iter_mut().zip(&s.tickets) {
        if t.is_some() {
            loc.len = loc
                .len
                .saturating_sub(MESSAGE_TRANSPORT_HEADER_SIZE + AEAD_TAG_SIZE);
        }
    }
}

/// Hands out disjoint mutable pieces of the receive buffers, in increasing order.
struct Carver<'a> {
    bufs: std::slice::IterMut<'a, PacketBuf>,
    /// Index of the buffer `rest` lies in (`usize::MAX` before the first).
    at: usize,
    rest: &'a mut [u8],
    /// Offset of `rest` in its buffer's packet.
    cut: usize,
}

impl<'a> Carver<'a> {
    fn new(bufs: &'a mut [PacketBuf]) -> Self {
        Self {
            bufs: bufs.iter_mut(),
            at: usize::MAX,
            rest: &mut [],
            cut: 0,
        }
    }

    /// `range` of buffer `buf`'s packet, if it lies after every piece handed out so far.
    fn take(&mut self, buf: usize, range: std::ops::Range<usize>) -> Option<&'a mut [u8]> {
        while self.at != buf {
            let next = self.bufs.next()?;
            self.at = self.at.wrapping_add(1);
            self.rest = next.packet_mut();
            self.cut = 0;
        }
        let gap = range.start.checked_sub(self.cut)?;
        let len = range.end.checked_sub(range.start)?;
        if self.rest.len() < gap + len {
            return None;
        }
        let (_, tail) = std::mem::take(&mut self.rest).split_at_mut(gap);
        let (piece, tail) = tail.split_at_mut(len);
        self.rest = tail;
        self.cut = range.end;
        Some(piece)
    }
}

/// Packets of one session from one source in a row, accounted for together.
struct Run {
    session: Arc<Session>,
    src: SocketAddr,
    bytes: usize,
    data: bool,
}

/// Replay window per packet; confirmation, roaming, counters and timer stamps once per run of
/// one session's packets; then cryptokey routing per packet.
fn complete_all(sh: &Shared, s: &mut Scratch, now: Duration) {
    s.deliver.clear();
    if s.tickets.iter().all(Option::is_none) {
        return;
    }
    let view = sh.plane.view();
    let mut run: Option<Run> = None;
    let account = |r: Run| {
        sh.plane
            .account_received(&r.session, r.src, r.bytes, r.data, now)
    };
    for (loc, ticket) in s.transport.iter().zip(&s.tickets) {
        let Some(t) = ticket else { continue };
        let start = loc.start + MESSAGE_TRANSPORT_HEADER_SIZE;
        let Some(plain) = s
            .bufs
            .get(loc.buf)
            .and_then(|b| b.packet().get(start..start + loc.len))
        else {
            continue;
        };
        if !sh.plane.accept(t) {
            tracing::trace!("dropped a replayed transport packet from {}", loc.src);
            continue;
        }
        let wire_len = MESSAGE_TRANSPORT_HEADER_SIZE + loc.len + AEAD_TAG_SIZE;
        match &mut run {
            Some(r) if Arc::ptr_eq(&r.session, &t.session) && r.src == loc.src => {
                r.bytes += wire_len;
                r.data |= !plain.is_empty();
            }
            _ => {
                let next = Run {
                    session: Arc::clone(&t.session),
                    src: loc.src,
                    bytes: wire_len,
                    data: !plain.is_empty(),
                };
                if let Some(done) = run.replace(next) {
                    account(done);
                }
            }
        }
        match sh.plane.deliverable(&view, &t.session.link, plain) {
            Ok(Received::Packet(len)) => s.deliver.push(PacketRef {
                buf: loc.buf,
                start: s.bufs.get(loc.buf).map_or(0, PacketBuf::headroom) + start,
                len,
            }),
            Ok(Received::Keepalive) => {}
            Err(e) => tracing::trace!("dropped transport packet from {}: {e:?}", loc.src),
        }
    }
    if let Some(done) = run {
        account(done);
    }
}

/// Write the delivered packets to the TUN from where they were decrypted.
fn write_tun(sh: &Shared, s: &mut Scratch) {
    if s.deliver.is_empty() {
        return;
    }
    if let Err(e) = sh.tun.send_within(&mut s.bufs, &s.deliver) {
        tracing::debug!("TUN write: {e}");
    }
}

/// For `batch_tests`: drive `open_all` on receive buffers laid out from sealed datagrams.
#[cfg(test)]
pub(super) mod test_access {
    use super::*;

    /// A received datagram: which buffer it arrived in, its bytes, and the keypair
    /// `match_keypairs` found for it (if any).
    pub struct Message {
        pub buf: usize,
        pub bytes: Vec<u8>,
        pub keypair: Option<Arc<Session>>,
        pub counter: u64,
    }

    /// Lay `messages` out back to back in their buffers, open the batch, and return each
    /// message's plaintext, or `None` where it would not be delivered.
    pub fn open_buffers(pool: &CryptoPool, messages: &[Message]) -> Vec<Option<Vec<u8>>> {
        let count = messages.iter().map(|m| m.buf + 1).max().unwrap_or(0);
        let mut contents = vec![Vec::new(); count];
        let mut s = Scratch {
            bufs: Vec::new(),
            meta: Vec::new(),
            transport: Vec::new(),
            tickets: Vec::new(),
            deliver: Vec::new(),
        };
        for m in messages {
            let c: &mut Vec<u8> = &mut contents[m.buf];
            s.transport.push(Loc {
                buf: m.buf,
                start: c.len(),
                len: m.bytes.len(),
                src: SocketAddr::from(([192, 0, 2, 9], 1)),
            });
            s.tickets.push(m.keypair.as_ref().map(|k| ReceiveTicket {
                session: Arc::clone(k),
                counter: m.counter,
            }));
            c.extend_from_slice(&m.bytes);
        }
        s.bufs = contents
            .iter()
            .map(|c| PacketBuf::from_packet(0, c))
            .collect();
        open_all(pool, &mut s);
        let plain = |loc: &Loc| {
            let start = loc.start + MESSAGE_TRANSPORT_HEADER_SIZE;
            s.bufs[loc.buf].packet()[start..start + loc.len].to_vec()
        };
        let tickets = s.tickets.iter();
        s.transport
            .iter()
            .zip(tickets)
            .map(|(loc, t)| t.as_ref().map(|_| plain(loc)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: SocketAddr = SocketAddr::new(
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7)),
        9,
    );

    #[test]
    fn only_handshake_messages_of_their_exact_size_are_queued() {
        for (ty, size) in [
            (MESSAGE_INITIATION, MESSAGE_INITIATION_SIZE),
            (MESSAGE_RESPONSE, MESSAGE_RESPONSE_SIZE),
            (MESSAGE_COOKIE_REPLY, MESSAGE_COOKIE_REPLY_SIZE),
        ] {
            let mut d = vec![0x5a; 1400];
            d[0] = ty;
            let job = HandshakeJob::new(SRC, &d[..size]).expect("exact size is queued");
            assert_eq!(job.bytes(), &d[..size]);
            assert_eq!(job.from, SRC);
            for len in [1, size - 1, size + 1, 148, 1400] {
                if len != size {
                    assert!(
                        HandshakeJob::new(SRC, &d[..len]).is_none(),
                        "type {ty}, {len} B"
                    );
                }
            }
        }
        assert!(HandshakeJob::new(SRC, &[]).is_none());
        assert!(HandshakeJob::new(SRC, &[0u8; 148]).is_none(), "type 0");
        assert!(HandshakeJob::new(SRC, &[4u8; 148]).is_none(), "transport");
    }

    #[test]
    fn the_queue_holds_jobs_inline() {
        // 1,024 queued jobs stay under 200 KiB, whatever was received.
        assert!(std::mem::size_of::<HandshakeJob>() <= 184);
    }
}
