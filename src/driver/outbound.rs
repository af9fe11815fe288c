//! Outbound data path: TUN reads straight into one arena → route by the published AllowedIPs
//! and reserve nonces on the peers' sessions → seal in place (a large batch on the crypto
//! workers, `driver/pool.rs`) → UDP send in batch order, coalescing equal-size datagrams to one
//! peer for GSO. No device lock anywhere (docs/ARCHITECTURE.md).
//!
//! The arena is the only copy of a packet in user space: the TUN read (or the split of a TSO
//! super-packet) writes each packet behind 16 bytes of room for the transport header, with
//! room after it for padding and the tag, and the next packet follows its sealed end. A run of
//! sealed datagrams to one peer is then already laid out as one GSO send.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::pool::{CryptoPool, Job, Op};
use super::shared::{log_send_failure, Shared, StopReason};
use crate::platform::tun::{is_shutdown, PacketSink};
use crate::platform::Outgoing;
use crate::proto::constants::{AEAD_TAG_SIZE, MAX_CONTENT_SIZE, MESSAGE_TRANSPORT_HEADER_SIZE};
use crate::proto::messages::padded_len;
use crate::proto::plane::SendTicket;

/// Packets read from the TUN per batch.
pub const BATCH: usize = 256;

/// One sealed datagram in the arena.
struct Sealed {
    ticket: SendTicket,
    range: Range<usize>,
    is_data: bool,
    /// The kernel took it (set by `send_batch`).
    sent: bool,
}

/// One packet read into the arena: the datagram it becomes spans `start..end`, the packet
/// itself `start + HEADER..start + HEADER + len`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    start: usize,
    len: usize,
    end: usize,
}

/// Where packets are read, sealed in place and sent from (allocated once, zeroed once).
struct Arena {
    data: Vec<u8>,
    used: usize,
    slots: Vec<Slot>,
    /// The longest packet a slot takes.
    room: usize,
    /// The MTU the slots are padded for (fixed for a batch: sealing pads the same way).
    mtu: usize,
    /// Take what one TUN read brings and no more (see `Outbound::light`).
    one_read: bool,
}

const HEADER: usize = MESSAGE_TRANSPORT_HEADER_SIZE;

impl Arena {
    fn new(mtu: usize) -> Self {
        // Plain reads may bring a packet somewhat over the MTU (the kernel lowers a TUN's MTU
        // after queueing); segments of a super-packet never exceed it.
        let room = (mtu.max(1500) + 64).min(MAX_CONTENT_SIZE);
        // Padding adds at most 15 bytes to a packet (`padded_len`).
        let slot = HEADER + room + 15 + AEAD_TAG_SIZE;
        Self {
            data: vec![0; BATCH * slot],
            used: 0,
            slots: Vec::with_capacity(BATCH),
            room,
            mtu,
            one_read: false,
        }
    }

    fn clear(&mut self) {
        self.used = 0;
        self.slots.clear();
    }

    fn packet(&self, slot: &Slot) -> &[u8] {
        let at = slot.start + HEADER;
        self.data.get(at..at + slot.len).unwrap_or(&[])
    }
}

impl PacketSink for Arena {
    fn room(&mut self) -> Option<&mut [u8]> {
        if self.slots.len() >= BATCH {
            return None;
        }
        let at = self.used + HEADER;
        self.data.get_mut(at..at + self.room)
    }

    fn commit(&mut self, len: usize) {
        if self.slots.len() >= BATCH {
            return;
        }
        let len = len.min(self.room);
        let end = self.used + HEADER + padded_len(len, self.mtu) + AEAD_TAG_SIZE;
        self.slots.push(Slot {
            start: self.used,
            len,
            end,
        });
        self.used = end;
    }

    fn free(&self) -> usize {
        BATCH - self.slots.len()
    }

    fn read_more(&self) -> bool {
        !self.one_read
    }
}

/// Reusable state of the outbound thread (allocated once).
struct Scratch {
    arena: Arena,
    tickets: Vec<(usize, SendTicket)>,
    sealed: Vec<Sealed>,
}

/// The outbound direction's state (one thread runs it at a time).
pub struct Outbound {
    s: Scratch,
    /// When the MTU was last read (the driver's clock).
    mtu_read: Duration,
    /// The last step found at most one packet. The next step then reads once at first, and
    /// if the TUN had been quiet for [`QUIET`] before it (an idle tunnel's next packet), what
    /// that read brought is sealed and sent before the TUN is read again: the read that finds
    /// it empty comes after the packet has left instead of in front of it. Otherwise the rest
    /// is read first and everything goes out together, as in any other step (a stream's
    /// ACKs, one or two per step, keep their GSO sends).
    light: bool,
    /// When packets were last read (the driver's clock).
    last_read: Duration,
}

/// How often the MTU is read again (an ioctl on a fresh socket: not once per batch).
const MTU_RECHECK: Duration = Duration::from_secs(1);

/// A TUN this long without packets is idle: its next packet goes out before the next read.
const QUIET: Duration = Duration::from_millis(1);

impl Outbound {
    /// An arena sized for the TUN's current MTU.
    pub fn new(sh: &Shared) -> Self {
        let s = Scratch {
            arena: Arena::new(current_mtu(sh)),
            tickets: Vec::with_capacity(BATCH),
            sealed: Vec::with_capacity(BATCH),
        };
        let now = sh.clock.mono();
        Self {
            s,
            mtu_read: now,
            light: false,
            last_read: now,
        }
    }

    /// Read one batch from the TUN (waiting at most `timeout`; `None`: until packets come),
    /// seal and send it. Returns the packets read, or `None` once the TUN is gone or shut
    /// down (a vanished TUN also requests the daemon's stop).
    pub fn step(&mut self, sh: &Shared, timeout: Option<Duration>) -> Option<usize> {
        let light = self.light;
        self.s.arena.clear();
        self.s.arena.one_read = light;
        let mut n = read_tun(sh, &mut self.s.arena, timeout)?;
        if n == 0 {
            return Some(0);
        }
        // One clock read per batch: the routing checks, the timer stamps, the MTU recheck and
        // the quiet test all take it (a batch lasts microseconds; the timers count in seconds).
        let now = sh.clock.mono();
        let alone = light && now.saturating_sub(self.last_read) >= QUIET;
        if light && !alone {
            // Traffic is flowing: what queued behind the first read joins this batch.
            self.s.arena.one_read = false;
            n += read_tun(sh, &mut self.s.arena, Some(Duration::ZERO))?;
        }
        self.last_read = now;
        self.send(sh, now);
        if alone {
            // The first packet is on its way; now whatever queued behind it.
            self.s.arena.clear();
            self.s.arena.one_read = false;
            let more = read_tun(sh, &mut self.s.arena, Some(Duration::ZERO))?;
            if more > 0 {
                n += more;
                self.send(sh, sh.clock.mono());
            }
        }
        self.light = n <= 1;
        Some(n)
    }

    /// Route, seal, send and account what the arena holds.
    fn send(&mut self, sh: &Shared, now: Duration) {
        let s = &mut self.s;
        route_batch(sh, s, now);
        seal_batch(&sh.crypto, s);
        send_batch(sh, s);
        account_batch(sh, s, now);
        // The MTU changes rarely (wg-quick sets it once after start): re-read it at most once
        // a second, after a batch, rather than paying a socket and an ioctl per batch.
        if now.saturating_sub(self.mtu_read) >= MTU_RECHECK {
            self.mtu_read = now;
            let mtu = current_mtu(sh);
            if mtu != s.arena.mtu {
                s.arena = Arena::new(mtu);
            }
        }
    }
}

/// Read from the TUN into `arena` (after what it holds). `None` once the TUN is gone or shut
/// down (a vanished TUN also requests the daemon's stop).
fn read_tun(sh: &Shared, arena: &mut Arena, timeout: Option<Duration>) -> Option<usize> {
    match sh.tun.recv_into(arena, timeout) {
        Ok(n) => Some(n),
        Err(e) if is_shutdown(&e) => None,
        Err(e) => {
            sh.stop.request(StopReason::TunGone(e.to_string()));
            None
        }
    }
}

/// Run the outbound direction alone until the TUN fails or the daemon stops.
pub fn run(sh: Arc<Shared>) {
    let mut out = Outbound::new(&sh);
    while out.step(&sh, None).is_some() {}
}

fn current_mtu(sh: &Shared) -> usize {
    sh.tun
        .mtu()
        .map(|m| m as usize)
        .unwrap_or(crate::proto::constants::DEFAULT_MTU)
}

/// Reserve a nonce per packet on its peer's session, or stage it behind a handshake.
fn route_batch(sh: &Shared, s: &mut Scratch, now: Duration) {
    s.tickets.clear();
    let view = sh.plane.view();
    for (i, slot) in s.arena.slots.iter().enumerate() {
        let packet = s.arena.packet(slot);
        let Some(link) = view.route(packet) else {
            continue;
        };
        match sh.plane.prepare_send(link, now) {
            Some(t) => s.tickets.push((i, t)),
            None => sh.plane.stage(link, packet.to_vec()),
        }
    }
}

/// Outside any lock: frame every reserved packet where it lies in the arena, then seal them
/// all, on the crypto workers when the batch is large (`driver/pool.rs`). A packet that cannot
/// be framed or sealed is dropped; the others keep their order.
fn seal_batch(pool: &CryptoPool, s: &mut Scratch) {
    s.sealed.clear();
    let arena = &mut s.arena;
    let mtu = arena.mtu;
    // Slots lie in order and do not overlap: each is cut off the front of what is left.
    let mut rest: &mut [u8] = &mut arena.data;
    let mut cut = 0;
    let mut jobs: [Job; BATCH] = std::array::from_fn(|_| (0, Default::default()));
    let mut n = 0;
    for (i, ticket) in s.tickets.drain(..) {
        let Some(&slot) = arena.slots.get(i) else {
            continue;
        };
        let Some(dst) = slot
            .start
            .checked_sub(cut)
            .and_then(|gap| carve(&mut rest, gap, slot.end - slot.start))
        else {
            continue;
        };
        cut = slot.end;
        let Ok(total) = ticket
            .session
            .keypair
            .frame(ticket.counter, dst, slot.len, mtu)
        else {
            continue;
        };
        let (Some(body), Some(job)) = (dst.get_mut(HEADER..total), jobs.get_mut(n)) else {
            continue;
        };
        *job = (ticket.counter, body);
        n += 1;
        s.sealed.push(Sealed {
            ticket,
            range: slot.start..slot.start + total,
            is_data: slot.len > 0,
            sent: false,
        });
    }
    let mut ok = [false; BATCH];
    let sealed = &s.sealed;
    let session = |i: usize| sealed.get(i).map(|e| &*e.ticket.session);
    pool.crypt(Op::Seal, &mut jobs[..n], &mut ok[..n], &session);
    if ok[..n].iter().all(|&o| o) {
        return;
    }
    let mut ok = ok.iter();
    s.sealed.retain(|_| ok.next().copied().unwrap_or(false));
}

/// Skip `gap` bytes of `rest` and cut the next `len` off its front.
fn carve<'a>(rest: &mut &'a mut [u8], gap: usize, len: usize) -> Option<&'a mut [u8]> {
    if rest.len() < gap + len {
        return None;
    }
    let (_, tail) = std::mem::take(rest).split_at_mut(gap);
    let (piece, tail) = tail.split_at_mut(len);
    *rest = tail;
    Some(piece)
}

/// Send the arena: runs of equal-size datagrams to one destination go out as one GSO send.
/// Each run is handed over on its own, so a refused one (an unreachable endpoint) is known and
/// neither counted nor mistaken for the others (the socket sends one run per syscall anyway).
fn send_batch(sh: &Shared, s: &mut Scratch) {
    if s.sealed.is_empty() {
        return;
    }
    let bind = sh.bind();
    let max = bind.max_gso_segments().max(1);
    let mut i = 0;
    while let Some(first) = s.sealed.get(i) {
        let (dst, size) = (first.ticket.to, first.range.len());
        let mut end = first.range.end;
        let mut count = 1;
        while let Some(next) = s.sealed.get(i + count) {
            let fits = next.ticket.to == dst && next.range.start == end && next.range.len() <= size;
            if !fits || count >= max {
                break;
            }
            end = next.range.end;
            count += 1;
            if next.range.len() < size {
                break; // a shorter datagram may only end a GSO run
            }
        }
        let datagrams = &s.arena.data[first.range.start..end];
        let out = outgoing(dst, datagrams, size, count);
        match bind.send_batch(&[out]) {
            Ok(_) => s.sealed[i..i + count]
                .iter_mut()
                .for_each(|e| e.sent = true),
            Err(e) => log_send_failure(Some(&first.ticket.session.link), datagrams, &e),
        }
        i += count;
    }
}

fn outgoing(dst: SocketAddr, contents: &[u8], size: usize, count: usize) -> Outgoing<'_> {
    Outgoing {
        dst,
        contents,
        segment_size: (count > 1).then_some(size),
        src_ip: None,
    }
}

/// Counters, timer stamps and rekey checks for what was sent, once per run of datagrams under
/// one session (per-peer cache lines are written once per run, not per packet).
fn account_batch(sh: &Shared, s: &Scratch, now: Duration) {
    let mut i = 0;
    while let Some(first) = s.sealed.get(i) {
        let same = |e: &&Sealed| Arc::ptr_eq(&e.ticket.session, &first.ticket.session);
        let mut sent = 0;
        let mut data = false;
        let mut n = 0;
        for e in s.sealed[i..].iter().take_while(same) {
            if e.sent {
                sent += e.range.len();
            }
            data |= e.is_data;
            n += 1;
        }
        first.ticket.session.link.add_tx(sent);
        sh.plane.note_sent(&first.ticket, data, now);
        i += n;
    }
}

/// For `batch_tests`: drive `seal_batch` on an arena filled from plain packets.
#[cfg(test)]
pub(super) mod test_access {
    use super::*;
    use crate::proto::keypair::Session;

    /// A packet read from the TUN, and the ticket `route_batch` would have given it.
    pub struct Packet {
        pub plain: Vec<u8>,
        pub keypair: Arc<Session>,
        pub counter: u64,
    }

    /// Read `packets` into a fresh arena, seal the batch, and return each sealed datagram.
    pub fn seal_arena(pool: &CryptoPool, packets: &[Packet]) -> Vec<Vec<u8>> {
        let mut s = Scratch {
            arena: Arena::new(1420),
            tickets: Vec::new(),
            sealed: Vec::new(),
        };
        for (i, p) in packets.iter().enumerate() {
            let room = s.arena.room().expect("arena has room");
            room[..p.plain.len()].copy_from_slice(&p.plain);
            s.arena.commit(p.plain.len());
            let ticket = SendTicket {
                session: Arc::clone(&p.keypair),
                counter: p.counter,
                to: SocketAddr::from(([192, 0, 2, 1], 51820)),
            };
            s.tickets.push((i, ticket));
        }
        seal_batch(pool, &mut s);
        let data = &s.arena.data;
        s.sealed
            .iter()
            .map(|e| data[e.range.clone()].to_vec())
            .collect()
    }
}
