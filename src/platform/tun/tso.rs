//! Segmenting what an IFF_VNET_HDR TUN hands us: one read is a `virtio_net_hdr` and either a
//! plain packet (perhaps with its transport checksum left to us) or a TSO/USO super-packet of up
//! to 64 KiB that we cut into MTU-sized packets, as the kernel's own segmentation would.
//!
//! Each packet is written once, straight into the caller's [`PacketSink`] (the outbound path's
//! seal arena); its checksums are built from sums taken in the read (see `Layout::segment`).
//!
//! Per segment, as the kernel's `tcp_gso_segment`/`__udp_gso_segment` do: IPv4 total length,
//! identification (the first one's, counting up) and header checksum; IPv6 payload length;
//! TCP sequence number, with FIN and PSH only on the last segment and CWR only on the first;
//! UDP length; then the full transport checksum. The header length is taken from the packet,
//! not from `hdr_len` (which the kernel sets to the whole first packet on its forward path).
//!
//! Anything malformed is refused as a whole with a reason, before a byte of it is emitted.

use super::csum::{finish, sum};
use super::PacketSink;

/// `virtio_net_hdr` length (no mergeable-buffers field).
pub const VNET_HDR_LEN: usize = 10;

pub(crate) const F_NEEDS_CSUM: u8 = 1;
pub(crate) const GSO_NONE: u8 = 0;
pub(crate) const GSO_TCPV4: u8 = 1;
pub(crate) const GSO_UDP_L4: u8 = 5;
pub(crate) const GSO_TCPV6: u8 = 4;
pub(crate) const GSO_ECN: u8 = 0x80;
pub(crate) const IPPROTO_TCP: u8 = 6;
pub(crate) const IPPROTO_UDP: u8 = 17;
pub(crate) const TCP_FIN: u8 = 0x01;
pub(crate) const TCP_PSH: u8 = 0x08;
pub(crate) const TCP_CWR: u8 = 0x80;

/// What [`split`] did with one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Packets handed to the sink.
    pub packets: usize,
    /// Segments lost because the sink filled up first.
    pub dropped: usize,
}

fn ne16(h: &[u8], at: usize) -> usize {
    usize::from(u16::from_ne_bytes([h[at], h[at + 1]]))
}

fn be16(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(p.get(at..at + 2)?.try_into().ok()?))
}

fn be32(p: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
}

fn put16(p: &mut [u8], at: usize, v: u16) {
    p[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Split one read (`virtio_net_hdr` followed by the packet) into `sink`.
pub fn split(read: &[u8], sink: &mut dyn PacketSink) -> Result<Split, &'static str> {
    if read.len() <= VNET_HDR_LEN {
        return Err("read shorter than its virtio header");
    }
    let (hdr, pkt) = read.split_at(VNET_HDR_LEN);
    let (flags, gso_type) = (hdr[0], hdr[1] & !GSO_ECN);
    let (gso_size, csum_start, csum_offset) = (ne16(hdr, 4), ne16(hdr, 6), ne16(hdr, 8));
    if gso_type == GSO_NONE {
        return single(
            pkt,
            flags & F_NEEDS_CSUM != 0,
            csum_start,
            csum_offset,
            sink,
        );
    }
    let layout = Layout::parse(pkt, gso_type, gso_size, csum_start, csum_offset)?;
    Ok(layout.segment(pkt, sink))
}

/// A plain packet: copy it, and fill in its checksum if the kernel left that to us.
fn single(
    pkt: &[u8],
    needs_csum: bool,
    start: usize,
    offset: usize,
    sink: &mut dyn PacketSink,
) -> Result<Split, &'static str> {
    let at = start.saturating_add(offset);
    if needs_csum && at.saturating_add(2) > pkt.len() {
        return Err("checksum field outside the packet");
    }
    let Some(dst) = sink.room() else {
        return Ok(Split {
            packets: 0,
            dropped: 1,
        });
    };
    let Some(dst) = dst.get_mut(..pkt.len()) else {
        return Err("packet larger than a buffer");
    };
    dst.copy_from_slice(pkt);
    if needs_csum {
        // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; sum from `start` over it
        // (in the read: the copy's stores may not have reached the cache yet). A computed zero
        // goes out as all ones, as the kernel's `skb_checksum_help` writes it: for UDP zero
        // means "no checksum" (RFC 768) or is invalid (IPv6, RFC 8200).
        let c = finish(sum(&pkt[start..], 0));
        put16(dst, at, if c == 0 { 0xffff } else { c });
    }
    sink.commit(pkt.len());
    Ok(Split {
        packets: 1,
        dropped: 0,
    })
}

/// IPv6 extension headers we segment across: hop-by-hop options (first only) and destination
/// options, which the transport checksum does not depend on. A routing header (its final
/// destination is the pseudo-header's), a fragment header or anything else is not split.
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_DEST_OPTS: u8 = 60;

/// The next-header value that the IPv6 header chain of `pkt` reaches exactly at `at` (the
/// transport header, i.e. `csum_start`), or None when the chain does not lead there.
fn ipv6_transport(pkt: &[u8], at: usize) -> Option<u8> {
    let (mut next, mut off) = (*pkt.get(6)?, 40);
    while off < at {
        let skippable = next == IPV6_DEST_OPTS || (next == IPV6_HOP_BY_HOP && off == 40);
        if !skippable {
            return None;
        }
        // Next header, then the length in 8-byte units not counting the first 8.
        let (n, len) = (*pkt.get(off)?, *pkt.get(off + 1)?);
        next = n;
        off += (usize::from(len) + 1) * 8;
    }
    (off == at).then_some(next)
}

/// The checked shape of a super-packet.
#[derive(Debug, Clone, Copy)]
struct Layout {
    v6: bool,
    tcp: bool,
    /// IP header length (with IPv6 extension headers): where the transport header starts.
    iph: usize,
    /// IP + transport header length.
    headers: usize,
    gso_size: usize,
}

impl Layout {
    fn parse(
        pkt: &[u8],
        gso_type: u8,
        gso_size: usize,
        csum_start: usize,
        csum_offset: usize,
    ) -> Result<Self, &'static str> {
        let version = pkt.first().map(|b| b >> 4);
        let (v6, tcp) = match (gso_type, version) {
            (GSO_TCPV4, Some(4)) => (false, true),
            (GSO_TCPV6, Some(6)) => (true, true),
            (GSO_UDP_L4, Some(4)) => (false, false),
            (GSO_UDP_L4, Some(6)) => (true, false),
            (GSO_TCPV4 | GSO_TCPV6 | GSO_UDP_L4, _) => {
                return Err("GSO type does not match the IP version")
            }
            _ => return Err("unsupported GSO type"),
        };
        if gso_size == 0 {
            return Err("GSO size is zero");
        }
        let iph = csum_start;
        let proto = if tcp { IPPROTO_TCP } else { IPPROTO_UDP };
        if v6 {
            if ipv6_transport(pkt, iph) != Some(proto) {
                return Err("IPv6 header does not lead to the transport header");
            }
        } else {
            let ihl = usize::from(pkt[0] & 0x0f) * 4;
            if ihl < 20 || ihl != iph || pkt.get(9) != Some(&proto) {
                return Err("IPv4 header does not lead to the transport header");
            }
        }
        let l4 = if tcp {
            let doff = pkt.get(iph + 12).ok_or("packet shorter than its headers")? >> 4;
            usize::from(doff) * 4
        } else {
            8
        };
        if l4 < 20 && tcp {
            return Err("TCP header shorter than 20 bytes");
        }
        if csum_offset != if tcp { 16 } else { 6 } {
            return Err("checksum offset is not the transport checksum");
        }
        let headers = iph + l4;
        if headers >= pkt.len() {
            return Err("super-packet without payload");
        }
        if headers + gso_size > usize::from(u16::MAX) {
            return Err("segment too long for an IP packet");
        }
        Ok(Self {
            v6,
            tcp,
            iph,
            headers,
            gso_size,
        })
    }

    /// Emit the segments; stops early (counting the rest as dropped) if the sink fills up.
    ///
    /// Checksums are built from sums taken in the read, never by summing bytes just stored
    /// (reading back fresh narrow stores stalls store-to-load forwarding; perf showed a third
    /// of the checksum time there): the unchanging header words are summed once, and each
    /// segment adds its own lengths, ID, sequence number and flags, and its payload's sum.
    fn segment(&self, pkt: &[u8], sink: &mut dyn PacketSink) -> Split {
        let (head, body) = pkt.split_at(self.headers);
        let count = body.len().div_ceil(self.gso_size);
        let iph = self.iph;
        let word = |at: usize| u32::from(be16(head, at).unwrap_or(0));
        // One's-complement subtraction of a header word: add its complement.
        let minus = |at: usize| 0xffff - word(at);
        let addrs = if self.v6 { 8..40 } else { 12..20 };
        let proto = if self.tcp { IPPROTO_TCP } else { IPPROTO_UDP };
        // IPv4 header without total length, identification and checksum.
        let ip_base = sum(&head[..iph], 0) + minus(2) + minus(4) + minus(10);
        // Transport header without the words that change (TCP: sequence number, offset and
        // flags, checksum; UDP: length, checksum), plus the pseudo-header's addresses and
        // protocol (its length is per segment).
        let l4_base = if self.tcp {
            let changing = minus(iph + 4) + minus(iph + 6) + minus(iph + 12) + minus(iph + 16);
            sum(&head[iph..], sum(&head[addrs], u32::from(proto))) + changing
        } else {
            let changing = minus(iph + 4) + minus(iph + 6);
            sum(&head[iph..], sum(&head[addrs], u32::from(proto))) + changing
        };
        let seq0 = be32(head, iph + 4).unwrap_or(0);
        let id0 = be16(head, 4).unwrap_or(0);
        let flags0 = head.get(iph + 13).copied().unwrap_or(0);
        let mut done = Split {
            packets: 0,
            dropped: 0,
        };
        for (i, chunk) in body.chunks(self.gso_size).enumerate() {
            let len = self.headers + chunk.len();
            let Some(dst) = sink.room().and_then(|r| r.get_mut(..len)) else {
                done.dropped = count - i;
                break;
            };
            dst[..self.headers].copy_from_slice(head);
            dst[self.headers..].copy_from_slice(chunk);
            // Lengths fit: `parse` bounded headers + gso_size by u16::MAX.
            let l4_len = (len - iph) as u16;
            if self.v6 {
                put16(dst, 4, (len - 40) as u16);
            } else {
                let id = id0.wrapping_add(i as u16);
                put16(dst, 2, len as u16);
                put16(dst, 4, id);
                put16(dst, 10, finish(ip_base + len as u32 + u32::from(id)));
            }
            let payload = sum(chunk, 0);
            if self.tcp {
                let seq = seq0.wrapping_add((i * self.gso_size) as u32);
                let mut flags = flags0;
                if i + 1 < count {
                    flags &= !(TCP_FIN | TCP_PSH);
                }
                if i > 0 {
                    flags &= !TCP_CWR;
                }
                dst[iph + 4..iph + 8].copy_from_slice(&seq.to_be_bytes());
                dst[iph + 13] = flags;
                let offset_flags = word(iph + 12) & 0xff00 | u32::from(flags);
                let total = l4_base
                    + (seq >> 16)
                    + (seq & 0xffff)
                    + offset_flags
                    + u32::from(l4_len)
                    + payload;
                put16(dst, iph + 16, finish(total));
            } else {
                put16(dst, iph + 4, l4_len);
                let mut c = finish(l4_base + 2 * u32::from(l4_len) + payload);
                if c == 0 {
                    c = 0xffff; // a computed zero goes out as all ones (RFC 768)
                }
                put16(dst, iph + 6, c);
            }
            sink.commit(len);
            done.packets += 1;
        }
        done
    }
}

#[cfg(test)]
#[path = "tso_tests.rs"]
mod tests;
