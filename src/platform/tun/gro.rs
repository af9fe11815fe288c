//! Our own TCP receive coalescing (GRO) for writes to an IFF_VNET_HDR TUN.
//!
//! Decrypted packets stay where the UDP receive put them. Consecutive segments of one TCP flow
//! are grouped; a group of several is written as one super-packet with a single `writev`: a
//! `virtio_net_hdr` (GSO TCPv4/TCPv6, checksum offloaded), the first segment with its headers
//! rewritten for the total length, then only the payloads of the others, read in place. No
//! packet bytes are copied in user space and nothing is allocated once the tables are warm.
//!
//! Unlike wireguard-go (and tun-rs), segments' TCP checksums are not verified before
//! coalescing: every packet here passed Poly1305, so it is exactly what the peer sent, and the
//! kernel's WireGuard marks decrypted packets `CHECKSUM_UNNECESSARY` for the same reason. A
//! group's checksum is left to the kernel (`NEEDS_CSUM` with the pseudo-header sum in place).
//!
//! Coalescing rules (those of the kernel's TCP GRO, as wireguard-go applies them): IPv4 without
//! options, fragmentation or a reserved flag, or IPv6 without extension headers; same
//! addresses, ports, ACK number, TCP header length and option bytes, TOS/traffic class,
//! TTL/hop limit and DF bit; same TCP word 3 (reserved bits, AE, window) apart from the flags
//! the kernel ignores; only ACK (and PSH) flags; each segment starts where the last one ended;
//! every segment but the last carries the first one's payload size; a PSH or a shorter segment
//! ends the group; at most 64 segments and 65,535 bytes of IP packet.

use super::csum::{fold, sum};
pub use super::tso::VNET_HDR_LEN;
use super::tso::{F_NEEDS_CSUM, GSO_TCPV4, GSO_TCPV6, IPPROTO_TCP, TCP_PSH};
use std::io::{self, IoSlice};

/// Segments per super-packet at most.
pub const MAX_SEGMENTS: usize = 64;
/// Flows with an open group tracked at once per batch.
const MAX_OPEN: usize = 32;

const TCP_ACK: u8 = 0x10;
const IPV4_DF: u16 = 0x4000;
/// Flags that may differ between coalesced segments (the kernel's `tcp_gro_receive` masks
/// CWR, FIN and PSH; only ACK and PSH reach this far, and PSH ends a group).
const TCP_FLAGS_IGNORED: u8 = TCP_PSH | 0x01 | 0x80;

pub use super::PacketRef;

/// What a coalescable TCP segment looks like.
#[derive(Debug, Clone, Copy)]
struct Segment {
    v6: bool,
    iph_len: usize,
    tcph_len: usize,
    payload: usize,
    seq: u32,
    flags: u8,
}

impl Segment {
    fn headers(&self) -> usize {
        self.iph_len + self.tcph_len
    }
}

fn be16(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(p.get(at..at + 2)?.try_into().ok()?))
}

fn be32(p: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
}

/// Parse `p` as a TCP segment that may be coalesced (None: write it as it is).
fn parse(p: &[u8]) -> Option<Segment> {
    let (v6, iph_len) = match p.first()? >> 4 {
        4 => {
            let plain = (p.first()? & 0x0f) == 5;
            let whole = usize::from(be16(p, 2)?) == p.len();
            // No fragment, and no reserved flag (the kernel's `inet_gro_receive` flushes
            // such a packet too); DF is compared in `headers_match`.
            let unfragmented = be16(p, 6)? & !IPV4_DF == 0;
            (plain && whole && unfragmented && *p.get(9)? == IPPROTO_TCP).then_some((false, 20))?
        }
        6 => {
            let whole = usize::from(be16(p, 4)?) + 40 == p.len();
            (whole && *p.get(6)? == IPPROTO_TCP).then_some((true, 40))?
        }
        _ => return None,
    };
    let tcph_len = usize::from(p.get(iph_len + 12)? >> 4) * 4;
    let flags = *p.get(iph_len + 13)?;
    let headers = iph_len + tcph_len;
    if tcph_len < 20 || headers >= p.len() || flags & !(TCP_ACK | TCP_PSH) != 0 {
        return None;
    }
    if flags & TCP_ACK == 0 {
        return None;
    }
    Some(Segment {
        v6,
        iph_len,
        tcph_len,
        payload: p.len() - headers,
        seq: be32(p, iph_len + 4)?,
        flags,
    })
}

/// Same flow: addresses and ports.
fn same_flow(a: &[u8], b: &[u8], s: &Segment) -> bool {
    let addrs = if s.v6 { 8..40 } else { 12..20 };
    let ports = s.iph_len..s.iph_len + 4;
    a.get(addrs.clone()) == b.get(addrs) && a.get(ports.clone()) == b.get(ports)
}

/// Headers that must match for `b` to follow `a` in one super-packet (flow already equal).
fn headers_match(a: &[u8], b: &[u8], sa: &Segment, sb: &Segment) -> bool {
    if sa.v6 != sb.v6 || sa.tcph_len != sb.tcph_len {
        return false;
    }
    let ip_ok = if sa.v6 {
        // Version, traffic class and flow label; hop limit.
        a.get(0..4) == b.get(0..4) && a.get(7) == b.get(7)
    } else {
        // TOS; DF bit; TTL.
        a.get(1) == b.get(1)
            && a.get(6).map(|f| f & 0x40) == b.get(6).map(|f| f & 0x40)
            && a.get(8) == b.get(8)
    };
    let t = sa.iph_len;
    // ACK number, then the options (ports, sequence number and checksum vary or were checked).
    let ack = t + 8..t + 12;
    let opts = t + 20..t + sa.tcph_len;
    ip_ok
        && tcp_word3(a, t) == tcp_word3(b, t)
        && a.get(ack.clone()) == b.get(ack)
        && a.get(opts.clone()) == b.get(opts)
}

/// TCP header word 3 (data offset, reserved bits and AE, flags, window) without the flags
/// `tcp_gro_receive` ignores: any other difference ends the group there, or the later segments
/// would reach the kernel with the first one's window and bits.
fn tcp_word3(p: &[u8], t: usize) -> Option<[u8; 4]> {
    let [offset, flags, win_hi, win_lo] = <[u8; 4]>::try_from(p.get(t + 12..t + 16)?).ok()?;
    Some([offset, flags & !TCP_FLAGS_IGNORED, win_hi, win_lo])
}

/// A group of segments written as one packet; members chain through `Coalescer::next`.
#[derive(Debug, Clone, Copy)]
struct Group {
    head: usize,
    tail: usize,
    count: usize,
    /// The head's parse, if the group may grow (None: a packet written as it is).
    seg: Option<Segment>,
    next_seq: u32,
    payload: usize,
    psh: bool,
    closed: bool,
}

/// Coalescing state, reused across batches (grows to the largest batch, then stays).
#[derive(Debug, Default)]
pub struct Coalescer {
    groups: Vec<Group>,
    next: Vec<Option<usize>>,
    segs: Vec<Option<Segment>>,
    open: Vec<usize>,
}

/// The kernel rejected a coalesced write: tell the caller to stop coalescing.
pub type Rejected = bool;

impl Coalescer {
    /// Group `packets` (in `bufs`) into super-packets.
    fn plan<B: AsRef<[u8]>>(&mut self, bufs: &[B], packets: &[PacketRef]) {
        self.groups.clear();
        self.open.clear();
        self.next.clear();
        self.next.resize(packets.len(), None);
        self.segs.clear();
        for (i, r) in packets.iter().enumerate() {
            let p = bytes(bufs, r);
            let seg = parse(p);
            self.segs.push(seg);
            let Some(seg) = seg else {
                self.start_group(i, None);
                continue;
            };
            let found = self.open.iter().position(|&g| {
                let head = bytes(bufs, &packets[self.groups[g].head]);
                same_flow(head, p, &seg)
            });
            if let Some(slot) = found {
                let g = self.open[slot];
                if self.try_append(bufs, packets, g, i, &seg) {
                    if self.groups[g].closed {
                        self.open.swap_remove(slot);
                    }
                    continue;
                }
                self.open.swap_remove(slot);
            }
            let g = self.start_group(i, Some(seg));
            if !self.groups[g].closed && self.open.len() < MAX_OPEN {
                self.open.push(g);
            }
        }
    }

    fn start_group(&mut self, i: usize, seg: Option<Segment>) -> usize {
        let psh = seg.is_some_and(|s| s.flags & TCP_PSH != 0);
        self.groups.push(Group {
            head: i,
            tail: i,
            count: 1,
            seg,
            next_seq: seg.map_or(0, |s| s.seq.wrapping_add(s.payload as u32)),
            payload: seg.map_or(0, |s| s.payload),
            psh,
            closed: seg.is_none() || psh,
        });
        self.groups.len() - 1
    }

    fn try_append<B: AsRef<[u8]>>(
        &mut self,
        bufs: &[B],
        packets: &[PacketRef],
        g: usize,
        i: usize,
        seg: &Segment,
    ) -> bool {
        let group = self.groups[g];
        let Some(head_seg) = group.seg else {
            return false;
        };
        let fits = !group.closed
            && group.count < MAX_SEGMENTS
            && seg.seq == group.next_seq
            && seg.payload <= head_seg.payload
            && head_seg.headers() + group.payload + seg.payload <= usize::from(u16::MAX);
        let head = bytes(bufs, &packets[group.head]);
        if !fits || !headers_match(head, bytes(bufs, &packets[i]), &head_seg, seg) {
            return false;
        }
        self.next[group.tail] = Some(i);
        let psh = seg.flags & TCP_PSH != 0;
        let grown = &mut self.groups[g];
        grown.tail = i;
        grown.count += 1;
        grown.next_seq = seg.seq.wrapping_add(seg.payload as u32);
        grown.payload += seg.payload;
        grown.psh |= psh;
        grown.closed = psh || seg.payload < head_seg.payload;
        true
    }

    /// Write `packets` (in `bufs`) through `write`, one call per packet or super-packet, in
    /// the order of each one's first segment. With `coalesce` off every packet goes alone.
    /// Returns how many packets were written, the first error other than a rejection, and
    /// whether the kernel rejected a coalesced write (the group then went out one by one).
    pub fn write<B, W>(
        &mut self,
        bufs: &mut [B],
        packets: &[PacketRef],
        coalesce: bool,
        mut write: W,
    ) -> (usize, Option<io::Error>, Rejected)
    where
        B: AsRef<[u8]> + AsMut<[u8]>,
        W: FnMut(&[IoSlice<'_>]) -> io::Result<()>,
    {
        if coalesce {
            self.plan(bufs, packets);
        } else {
            self.groups.clear();
            self.next.clear();
            self.next.resize(packets.len(), None);
            for i in 0..packets.len() {
                self.start_group(i, None);
            }
        }
        let mut written = 0;
        let mut first_err = None;
        let mut rejected = false;
        let single = [0u8; VNET_HDR_LEN];
        for gi in 0..self.groups.len() {
            let group = self.groups[gi];
            let head_ref = packets[group.head];
            let mut outcome = Ok(());
            let mut alone = true;
            if let (Some(seg), true, false) = (group.seg, group.count > 1, rejected) {
                alone = false;
                let mut saved = [0u8; 120];
                let hdrs = seg.headers();
                let head = &mut bufs[head_ref.buf].as_mut()[head_ref.range()];
                saved[..hdrs].copy_from_slice(&head[..hdrs]);
                let vnet = rewrite_head(head, &seg, group.payload, group.psh);
                let mut iov = [IoSlice::new(&[]); MAX_SEGMENTS + 1];
                iov[0] = IoSlice::new(&vnet);
                iov[1] = IoSlice::new(bytes(bufs, &head_ref));
                let mut n = 2;
                let mut at = self.next[group.head];
                while let Some(i) = at {
                    let p = bytes(bufs, &packets[i]);
                    iov[n] = IoSlice::new(p.get(seg.headers()..).unwrap_or(&[]));
                    n += 1;
                    at = self.next[i];
                }
                outcome = write(&iov[..n]);
                if let Err(e) = &outcome {
                    if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EIO)) {
                        // Put the head back as it was and send the group one by one.
                        let head = &mut bufs[head_ref.buf].as_mut()[head_ref.range()];
                        head[..hdrs].copy_from_slice(&saved[..hdrs]);
                        rejected = true;
                        alone = true;
                    }
                }
            }
            if alone {
                let mut at = Some(group.head);
                while let Some(i) = at {
                    let r = write(&[
                        IoSlice::new(&single),
                        IoSlice::new(bytes(bufs, &packets[i])),
                    ]);
                    match r {
                        Ok(()) => written += 1,
                        Err(e) => {
                            first_err.get_or_insert(e);
                        }
                    }
                    at = self.next[i];
                }
                continue;
            }
            match outcome {
                Ok(()) => written += group.count,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        (written, first_err, rejected)
    }
}

fn bytes<'a, B: AsRef<[u8]>>(bufs: &'a [B], r: &PacketRef) -> &'a [u8] {
    r.bytes(bufs)
}

/// Rewrite the head's headers for a super-packet carrying `payload` bytes in all, and return
/// the `virtio_net_hdr` that asks the kernel to segment it and fill in the TCP checksum.
fn rewrite_head(head: &mut [u8], seg: &Segment, payload: usize, psh: bool) -> [u8; VNET_HDR_LEN] {
    let t = seg.iph_len;
    let tcp_len = seg.tcph_len + payload;
    let (addrs, gso_type) = if seg.v6 {
        let len = (tcp_len as u16).to_be_bytes();
        head[4..6].copy_from_slice(&len);
        (8..40, GSO_TCPV6)
    } else {
        let total = ((t + tcp_len) as u16).to_be_bytes();
        head[2..4].copy_from_slice(&total);
        head[10..12].fill(0);
        let csum = !fold(sum(&head[..20], 0));
        head[10..12].copy_from_slice(&csum.to_be_bytes());
        (12..20, GSO_TCPV4)
    };
    if psh {
        head[t + 13] |= TCP_PSH;
    }
    // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not inverted.
    let pseudo = sum(&head[addrs], u32::from(IPPROTO_TCP) + tcp_len as u32);
    head[t + 16..t + 18].copy_from_slice(&fold(pseudo).to_be_bytes());
    let mut h = [0u8; VNET_HDR_LEN];
    h[0] = F_NEEDS_CSUM;
    h[1] = gso_type;
    h[2..4].copy_from_slice(&((t + seg.tcph_len) as u16).to_ne_bytes());
    h[4..6].copy_from_slice(&(seg.payload as u16).to_ne_bytes());
    h[6..8].copy_from_slice(&(t as u16).to_ne_bytes());
    h[8..10].copy_from_slice(&16u16.to_ne_bytes());
    h
}

#[cfg(test)]
#[path = "gro_tests.rs"]
mod tests;
