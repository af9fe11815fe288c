//! Outbound data path: TUN batches → route and reserve nonces under the device lock → seal
//! outside it into one arena → UDP send, coalescing equal-size datagrams to one peer for GSO.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::shared::{Shared, StopReason};
use crate::platform::tun::{is_shutdown, TUN_HEADROOM};
use crate::platform::{Outgoing, PacketBuf};
use crate::proto::constants::{AEAD_TAG_SIZE, MAX_CONTENT_SIZE, MESSAGE_TRANSPORT_HEADER_SIZE};
use crate::proto::device::{Output, SendTicket};
use crate::proto::messages::padded_len;

/// Packets read from the TUN per batch.
pub const BATCH: usize = 128;

/// One sealed datagram in the arena.
struct Sealed {
    ticket: SendTicket,
    range: Range<usize>,
    is_data: bool,
}

/// Reusable buffers of the outbound thread (allocated once).
struct Scratch {
    bufs: Vec<PacketBuf>,
    tickets: Vec<(usize, SendTicket)>,
    sealed: Vec<Sealed>,
    arena: Vec<u8>,
    outputs: Vec<Output>,
}

/// The outbound direction's state (one thread runs it at a time).
pub struct Outbound {
    s: Scratch,
    mtu: usize,
    batches: u32,
}

impl Outbound {
    /// Buffers sized for the TUN's current MTU.
    pub fn new(sh: &Shared) -> Self {
        let mut s = Scratch {
            bufs: Vec::new(),
            tickets: Vec::with_capacity(BATCH),
            sealed: Vec::with_capacity(BATCH),
            arena: Vec::with_capacity(BATCH * 1600),
            outputs: Vec::new(),
        };
        let mtu = current_mtu(sh);
        size_buffers(&mut s.bufs, mtu);
        Self { s, mtu, batches: 0 }
    }

    /// Read one batch from the TUN (waiting at most `timeout`; `None`: until packets come),
    /// seal and send it. Returns the packets read, or `None` once the TUN is gone or shut
    /// down (a vanished TUN also requests the daemon's stop).
    pub fn step(&mut self, sh: &Shared, timeout: Option<Duration>) -> Option<usize> {
        let s = &mut self.s;
        let n = match sh.tun.recv_batch(&mut s.bufs, timeout) {
            Ok(n) => n,
            Err(e) if is_shutdown(&e) => return None,
            Err(e) => {
                sh.stop.request(StopReason::TunGone(e.to_string()));
                return None;
            }
        };
        if n == 0 {
            return Some(0);
        }
        // The MTU changes rarely (wg-quick sets it once after start): re-read it every 64
        // batches rather than paying an ioctl per batch.
        self.batches = self.batches.wrapping_add(1);
        if self.batches % 64 == 0 {
            self.mtu = current_mtu(sh);
            size_buffers(&mut s.bufs, self.mtu);
        }
        route_batch(sh, s, n);
        seal_batch(s, self.mtu);
        send_batch(sh, s);
        account_batch(sh, s);
        sh.carry_out(&mut s.outputs);
        Some(n)
    }
}

/// Run the outbound direction alone until the TUN fails or the daemon stops.
pub fn run(sh: Arc<Shared>) {
    let mut out = Outbound::new(&sh);
    while out.step(&sh, None).is_some() {}
}

/// Read buffers sized for one MTU-sized packet (offload reads split super-packets into
/// MTU-sized segments too): an idle daemon does not hold 128 × 64 KiB. Rebuilt if the MTU
/// grows past them.
fn size_buffers(bufs: &mut Vec<PacketBuf>, mtu: usize) {
    let want = mtu.max(1500) + 64;
    if bufs.len() != BATCH || bufs.iter().any(|b| b.capacity() < TUN_HEADROOM + want) {
        *bufs = (0..BATCH)
            .map(|_| PacketBuf::new(TUN_HEADROOM, want.min(MAX_CONTENT_SIZE)))
            .collect();
    }
}

fn current_mtu(sh: &Shared) -> usize {
    sh.tun
        .mtu()
        .map(|m| m as usize)
        .unwrap_or(crate::proto::constants::DEFAULT_MTU)
}

/// Under the device lock: reserve a nonce per packet, or stage it behind a handshake.
fn route_batch(sh: &Shared, s: &mut Scratch, n: usize) {
    let now = sh.clock.now();
    s.tickets.clear();
    let mut dev = sh.device();
    for (i, buf) in s.bufs.iter().enumerate().take(n) {
        let packet = buf.packet();
        let Some(peer) = dev.route(packet) else {
            continue;
        };
        match dev.prepare_send(peer, now) {
            Some(t) => s.tickets.push((i, t)),
            None => dev.handle_tun_packet(packet, now),
        }
    }
    sh.take_outputs(&mut dev, &mut s.outputs);
}

/// Outside any lock: seal every reserved packet into the arena.
fn seal_batch(s: &mut Scratch, mtu: usize) {
    s.arena.clear();
    s.sealed.clear();
    for (i, ticket) in s.tickets.drain(..) {
        let Some(packet) = s.bufs.get(i).map(PacketBuf::packet) else {
            continue;
        };
        let len = packet.len();
        let total = MESSAGE_TRANSPORT_HEADER_SIZE + padded_len(len, mtu) + AEAD_TAG_SIZE;
        let start = s.arena.len();
        // Header room, the packet, then padding and tag room: each byte written once (seal
        // writes the header and zeroes the padding itself).
        s.arena
            .extend_from_slice(&[0; MESSAGE_TRANSPORT_HEADER_SIZE]);
        s.arena.extend_from_slice(packet);
        s.arena.resize(start + total, 0);
        let Some(dst) = s.arena.get_mut(start..start + total) else {
            continue;
        };
        match ticket.keypair.seal(ticket.counter, dst, len, mtu) {
            Ok(_) => s.sealed.push(Sealed {
                ticket,
                range: start..start + total,
                is_data: len > 0,
            }),
            Err(_) => s.arena.truncate(start),
        }
    }
}

/// Send the arena: runs of equal-size datagrams to one destination go out as one GSO send.
fn send_batch(sh: &Shared, s: &Scratch) {
    if s.sealed.is_empty() {
        return;
    }
    let bind = sh.bind();
    let max = bind.max_gso_segments().max(1);
    // On the stack: no allocation per batch (at most one entry per sealed datagram).
    let mut out = [Outgoing::one(s.sealed[0].ticket.to, &[]); BATCH];
    let mut k = 0;
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
        if let Some(slot) = out.get_mut(k) {
            *slot = outgoing(dst, &s.arena[first.range.start..end], size, count);
            k += 1;
        }
        i += count;
    }
    if let Err(e) = bind.send_batch(&out[..k]) {
        tracing::debug!("UDP send: {e}");
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

/// Under the device lock: timers, counters and rekey checks for what was sent.
fn account_batch(sh: &Shared, s: &mut Scratch) {
    if s.sealed.is_empty() {
        return;
    }
    let now = sh.clock.now();
    let mut dev = sh.device();
    for sealed in &s.sealed {
        let t = &sealed.ticket;
        dev.note_sent(t.peer, &t.keypair, sealed.range.len(), sealed.is_data, now);
    }
    sh.take_outputs(&mut dev, &mut s.outputs);
}
