#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests: a panic is the failure report

use super::super::testpkt::*;
use super::*;
use proptest::prelude::*;

/// A `virtio_net_hdr` as the kernel writes it in front of a read.
fn vhdr(flags: u8, gso_type: u8, hdr_len: usize, gso: usize, start: usize, off: usize) -> Vec<u8> {
    let mut h = vec![flags, gso_type];
    for v in [hdr_len, gso, start, off] {
        h.extend_from_slice(&(v as u16).to_ne_bytes());
    }
    h
}

/// TCP segments `0..n` of one send: `gso` bytes each (the last may be shorter), IDs counting
/// up, PSH (and FIN if `fin`) on the last, CWR (if `cwr`) on the first.
fn tcp_segments(v6: bool, total: usize, gso: usize, fin: bool, cwr: bool) -> Vec<Vec<u8>> {
    let count = total.div_ceil(gso);
    (0..count)
        .map(|k| {
            let len = gso.min(total - k * gso);
            let mut s = seg(5000 + (k * gso) as u32, len);
            // Payload bytes that differ per segment position, as one stream would.
            s.payload = (0..len).map(|i| ((k * gso + i) * 7 % 251) as u8).collect();
            s.v6 = v6;
            s.id = 300u16.wrapping_add(k as u16);
            if k + 1 == count {
                s.flags |= TCP_PSH | if fin { 0x01 } else { 0 };
            }
            if k == 0 && cwr {
                s.flags |= 0x80;
            }
            build(&s)
        })
        .collect()
}

/// The super-packet the kernel would hand us for `segs`: the first segment's headers with the
/// send's flags and total length, then every payload; the checksum field holds the
/// pseudo-header sum (CHECKSUM_PARTIAL), as the kernel leaves it.
fn superpacket(segs: &[Vec<u8>], v6: bool, tcp: bool) -> (Vec<u8>, usize) {
    let iph = if v6 { 40 } else { 20 };
    let headers = iph
        + if tcp {
            usize::from(segs[0][iph + 12] >> 4) * 4
        } else {
            8
        };
    let mut p = segs[0][..headers].to_vec();
    for s in segs {
        p.extend_from_slice(&s[headers..]);
    }
    let l4_len = p.len() - iph;
    if v6 {
        p[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
    } else {
        let total = p.len() as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[10..12].fill(0);
        let c = csum(&p[..20], 0);
        p[10..12].copy_from_slice(&c.to_be_bytes());
    }
    let (proto, field) = if tcp {
        (IPPROTO_TCP, 16)
    } else {
        (IPPROTO_UDP, 6)
    };
    if tcp {
        // The send's flags: those of the last segment, with the first one's CWR.
        let last = segs.last().unwrap()[iph + 13];
        p[iph + 13] = last | (segs[0][iph + 13] & 0x80);
    } else {
        p[iph + 4..iph + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
    }
    let addrs = if v6 { 8..40 } else { 12..20 };
    let pseudo = fold(sum(&p[addrs], u32::from(proto) + l4_len as u32));
    p[iph + field..iph + field + 2].copy_from_slice(&pseudo.to_be_bytes());
    (p, headers)
}

fn read_of(segs: &[Vec<u8>], v6: bool, tcp: bool, gso: usize, ecn: bool) -> Vec<u8> {
    let (p, headers) = superpacket(segs, v6, tcp);
    let iph = if v6 { 40 } else { 20 };
    let gso_type = match (tcp, v6) {
        (true, false) => GSO_TCPV4,
        (true, true) => GSO_TCPV6,
        (false, _) => GSO_UDP_L4,
    } | if ecn { GSO_ECN } else { 0 };
    let field = if tcp { 16 } else { 6 };
    let mut read = vhdr(F_NEEDS_CSUM, gso_type, headers, gso, iph, field);
    read.extend_from_slice(&p);
    read
}

fn split_all(read: &[u8]) -> Vec<Vec<u8>> {
    let mut sink = VecSink::new(1600, 128);
    let done = split(read, &mut sink).unwrap();
    assert_eq!(done.dropped, 0);
    assert_eq!(done.packets, sink.packets.len());
    sink.packets
}

#[test]
fn a_tcp_super_packet_becomes_the_segments_the_sender_meant() {
    for v6 in [false, true] {
        for (total, gso) in [(64000, 1368), (1368 * 3, 1368), (5000, 1000), (1, 1368)] {
            let segs = tcp_segments(v6, total, gso, false, false);
            let got = split_all(&read_of(&segs, v6, true, gso, false));
            assert_eq!(got, segs, "v6={v6} total={total} gso={gso}");
        }
    }
}

#[test]
fn fin_and_psh_stay_on_the_last_segment_and_cwr_on_the_first() {
    for v6 in [false, true] {
        let segs = tcp_segments(v6, 4000, 1000, true, true);
        let got = split_all(&read_of(&segs, v6, true, 1000, true));
        assert_eq!(got, segs);
        let iph = if v6 { 40 } else { 20 };
        let flags: Vec<u8> = got.iter().map(|p| p[iph + 13]).collect();
        assert_eq!(flags, [0x90, 0x10, 0x10, 0x19]);
    }
}

#[test]
fn a_udp_super_packet_becomes_datagrams() {
    for v6 in [false, true] {
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 13 % 256) as u8).collect();
        let segs: Vec<Vec<u8>> = payload
            .chunks(1200)
            .enumerate()
            .map(|(k, c)| udp(v6, 77u16.wrapping_add(k as u16), 4444, c))
            .collect();
        let got = split_all(&read_of(&segs, v6, false, 1200, false));
        assert_eq!(got, segs);
    }
}

#[test]
fn a_plain_packet_gets_its_checksum_filled_in_when_asked() {
    for v6 in [false, true] {
        let want = build(&Seg { v6, ..seg(9, 700) });
        let iph = if v6 { 40 } else { 20 };
        // CHECKSUM_PARTIAL: the kernel leaves the pseudo-header sum in the field.
        let mut partial = want.clone();
        let addrs = if v6 { 8..40 } else { 12..20 };
        let l4_len = (want.len() - iph) as u32;
        let pseudo = fold(sum(&want[addrs], u32::from(IPPROTO_TCP) + l4_len));
        partial[iph + 16..iph + 18].copy_from_slice(&pseudo.to_be_bytes());
        let mut read = vhdr(F_NEEDS_CSUM, GSO_NONE, 0, 0, iph, 16);
        read.extend_from_slice(&partial);
        assert_eq!(split_all(&read), [want]);
        // Without NEEDS_CSUM the packet is taken as it is.
        let mut read = vhdr(0, GSO_NONE, 0, 0, 0, 0);
        read.extend_from_slice(&partial);
        assert_eq!(split_all(&read), [partial]);
    }
}

#[test]
fn a_full_sink_takes_what_fits_and_counts_the_rest() {
    let segs = tcp_segments(false, 5000, 1000, false, false);
    let read = read_of(&segs, false, true, 1000, false);
    let mut sink = VecSink::new(1600, 3);
    let done = split(&read, &mut sink).unwrap();
    assert_eq!((done.packets, done.dropped), (3, 2));
    assert_eq!(sink.packets, segs[..3]);
    // Rooms too small for a segment: nothing is emitted, all is counted.
    let mut small = VecSink::new(500, 10);
    let done = split(&read, &mut small).unwrap();
    assert_eq!((done.packets, done.dropped), (0, 5));
    assert!(small.packets.is_empty());
}

#[test]
fn malformed_reads_are_refused_whole() {
    let segs = tcp_segments(false, 3000, 1000, false, false);
    let good = read_of(&segs, false, true, 1000, false);
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut r = good.clone();
        f(&mut r);
        r
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            good[..VNET_HDR_LEN].to_vec(),
            "read shorter than its virtio header",
        ),
        (
            with(&|r| r[1] = GSO_TCPV6),
            "GSO type does not match the IP version",
        ),
        (with(&|r| r[1] = 3), "unsupported GSO type"),
        (with(&|r| r[4..6].fill(0)), "GSO size is zero"),
        (
            with(&|r| r[10] = 0x46),
            "IPv4 header does not lead to the transport header",
        ),
        (
            with(&|r| r[19] = IPPROTO_UDP),
            "IPv4 header does not lead to the transport header",
        ),
        (
            with(&|r| r[8] = 6),
            "checksum offset is not the transport checksum",
        ),
        (
            with(&|r| r.truncate(VNET_HDR_LEN + 52)),
            "super-packet without payload",
        ),
        (
            with(&|r| r[10 + 32] = 0x30),
            "TCP header shorter than 20 bytes",
        ),
        (
            with(&|r| {
                r[0] = F_NEEDS_CSUM;
                r[1] = GSO_NONE;
                r[6..8].copy_from_slice(&490u16.to_ne_bytes());
                r.truncate(VNET_HDR_LEN + 500);
            }),
            "checksum field outside the packet",
        ),
        (with(&|r| r[1] = GSO_NONE), "packet larger than a buffer"),
    ];
    for (read, why) in cases {
        let mut sink = VecSink::new(1600, 64);
        assert_eq!(split(&read, &mut sink), Err(why));
        assert!(sink.packets.is_empty(), "{why}: nothing emitted");
    }
}

proptest! {
    /// Any send size, MSS, options length and IP version: the split gives back exactly the
    /// segments the sender's kernel would have put on the wire.
    #[test]
    fn any_tcp_send_round_trips(
        v6 in any::<bool>(),
        total in 1usize..60_000,
        gso in 500usize..1500,
        opt_words in 0usize..4,
        fin in any::<bool>(),
    ) {
        let mut segs = tcp_segments(v6, total, gso, fin, false);
        if opt_words != 3 {
            // Re-build with another options length (NOPs), keeping everything else.
            let iph = if v6 { 40 } else { 20 };
            segs = segs.iter().map(|p| {
                let old = usize::from(p[iph + 12] >> 4) * 4;
                let mut s = seg(u32::from_be_bytes(p[iph + 4..iph + 8].try_into().unwrap()), 0);
                s.v6 = v6;
                s.id = u16::from_be_bytes([p[4], p[5]]);
                s.flags = p[iph + 13];
                s.opts = vec![1; opt_words * 4];
                s.payload = p[iph + old..].to_vec();
                build(&s)
            }).collect();
        }
        let got = split_all(&read_of(&segs, v6, true, gso, false));
        prop_assert_eq!(got, segs);
    }

    /// Garbage after any header: an error or packets, never a panic or a write past a room.
    #[test]
    fn garbage_never_panics(
        hdr in proptest::collection::vec(any::<u8>(), VNET_HDR_LEN),
        body in proptest::collection::vec(any::<u8>(), 0..3000),
        room in 0usize..1600,
    ) {
        let mut read = hdr;
        read.extend_from_slice(&body);
        let mut sink = VecSink::new(room, 64);
        if let Ok(done) = split(&read, &mut sink) {
            prop_assert_eq!(done.packets, sink.packets.len());
            prop_assert!(sink.packets.iter().all(|p| p.len() <= room));
        }
    }
}

/// A UDP datagram whose checksum computes to zero: its last payload word is chosen so that
/// the one's-complement sum of everything else is 0xffff.
fn udp_with_zero_checksum(v6: bool) -> Vec<u8> {
    let mut payload: Vec<u8> = (0..300u32).map(|i| (i * 29 % 256) as u8).collect();
    let n = payload.len();
    payload[n - 2..].fill(0);
    let first = udp(v6, 5, 4444, &payload);
    let iph = if v6 { 40 } else { 20 };
    // With the last word zero the field holds !S; putting !S into that word makes the sum
    // S + !S = 0xffff, whose checksum is zero.
    payload[n - 2..].copy_from_slice(&first[iph + 6..iph + 8]);
    udp(v6, 5, 4444, &payload)
}

#[test]
fn a_udp_checksum_that_computes_to_zero_is_written_as_all_ones() {
    for v6 in [false, true] {
        let want = udp_with_zero_checksum(v6);
        let iph = if v6 { 40 } else { 20 };
        assert_eq!(be16(&want, iph + 6), Some(0xffff), "the test packet");
        let mut partial = want.clone();
        let addrs = if v6 { 8..40 } else { 12..20 };
        let l4_len = (want.len() - iph) as u32;
        let pseudo = fold(sum(&want[addrs], u32::from(IPPROTO_UDP) + l4_len));
        partial[iph + 6..iph + 8].copy_from_slice(&pseudo.to_be_bytes());
        let mut read = vhdr(F_NEEDS_CSUM, GSO_NONE, 0, 0, iph, 6);
        read.extend_from_slice(&partial);
        // RFC 768 / RFC 8200: zero means "no checksum" (IPv4) or is invalid (IPv6).
        assert_eq!(split_all(&read), [want], "v6={v6}");
    }
}

/// `p` (IPv6) with an 8-byte extension header of type `kind` (0, 43 or 60) inserted after
/// the fixed header; its next-header field says `next`.
fn with_ext(p: &[u8], kind: u8, next: u8) -> Vec<u8> {
    let mut q = p[..40].to_vec();
    let plen = u16::from_be_bytes([p[4], p[5]]) + 8;
    q[4..6].copy_from_slice(&plen.to_be_bytes());
    q[6] = kind;
    // Next header, length 0 (8 bytes), PadN option of 4 bytes.
    q.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
    q.extend_from_slice(&p[40..]);
    q
}

/// A read of the TCPv6 super-packet of `segs` with an extension header in front of TCP.
fn read_with_ext(segs: &[Vec<u8>], gso: usize, kind: u8, next: u8, start: usize) -> Vec<u8> {
    let (p, headers) = superpacket(segs, true, true);
    let mut read = vhdr(F_NEEDS_CSUM, GSO_TCPV6, headers + 8, gso, start, 16);
    read.extend_from_slice(&with_ext(&p, kind, next));
    read
}

#[test]
fn ipv6_options_headers_before_tcp_are_kept_in_every_segment() {
    let segs = tcp_segments(true, 3500, 1000, true, false);
    for kind in [0, 60] {
        let got = split_all(&read_with_ext(&segs, 1000, kind, IPPROTO_TCP, 48));
        let want: Vec<Vec<u8>> = segs
            .iter()
            .map(|s| with_ext(s, kind, IPPROTO_TCP))
            .collect();
        assert_eq!(got, want, "extension header {kind}");
    }
}

#[test]
fn an_ipv6_header_chain_that_does_not_lead_to_csum_start_is_refused() {
    let segs = tcp_segments(true, 3500, 1000, false, false);
    let why = "IPv6 header does not lead to the transport header";
    let cases = [
        // The chain leads to UDP, not TCP.
        read_with_ext(&segs, 1000, 60, IPPROTO_UDP, 48),
        // The chain ends at 48, csum_start says 56 (or 44).
        read_with_ext(&segs, 1000, 60, IPPROTO_TCP, 56),
        read_with_ext(&segs, 1000, 60, IPPROTO_TCP, 44),
        // A routing header would change the pseudo-header's destination: not split.
        read_with_ext(&segs, 1000, 43, IPPROTO_TCP, 48),
        // A hop-by-hop header anywhere but first.
        {
            let (p, headers) = superpacket(&segs, true, true);
            let mut read = vhdr(F_NEEDS_CSUM, GSO_TCPV6, headers + 16, 1000, 56, 16);
            read.extend_from_slice(&with_ext(&with_ext(&p, 0, IPPROTO_TCP), 60, 0));
            read
        },
        // No extension header at all, csum_start past the fixed header.
        {
            let mut read = read_of(&segs, true, true, 1000, false);
            read[6..8].copy_from_slice(&48u16.to_ne_bytes());
            read
        },
    ];
    for (i, read) in cases.iter().enumerate() {
        let mut sink = VecSink::new(1600, 64);
        assert_eq!(split(read, &mut sink), Err(why), "case {i}");
        assert!(sink.packets.is_empty(), "case {i}: nothing emitted");
    }
}
