#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests: a panic is the failure report

use super::super::testpkt::*;
use super::*;
use proptest::prelude::*;

/// What the kernel makes of one write: a single packet passes through; a super-packet's
/// header is checked, then it is segmented as the kernel's TSO does.
fn kernel_view(write: &[u8]) -> Vec<Vec<u8>> {
    let (hdr, pkt) = write.split_at(VNET_HDR_LEN);
    if hdr[0] == 0 {
        assert_eq!(
            hdr, [0u8; VNET_HDR_LEN],
            "a single packet goes with an empty header"
        );
        return vec![pkt.to_vec()];
    }
    let ne = |i: usize| usize::from(u16::from_ne_bytes([hdr[i], hdr[i + 1]]));
    let (hdr_len, gso, csum_start, csum_off) = (ne(2), ne(4), ne(6), ne(8));
    assert_eq!(hdr[0], F_NEEDS_CSUM);
    let v6 = pkt[0] >> 4 == 6;
    assert_eq!(hdr[1], if v6 { GSO_TCPV6 } else { GSO_TCPV4 });
    assert_eq!(csum_off, 16);
    let iph = csum_start;
    assert_eq!(iph, if v6 { 40 } else { 20 });
    if v6 {
        assert_eq!(usize::from(be16(pkt, 4).unwrap()) + 40, pkt.len());
    } else {
        assert_eq!(usize::from(be16(pkt, 2).unwrap()), pkt.len());
        assert_eq!(
            csum(&pkt[..20], 0),
            0,
            "IPv4 header checksum of the super-packet"
        );
    }
    // The checksum field holds the folded pseudo-header sum of the whole TCP segment.
    let addrs = if v6 { 8..40 } else { 12..20 };
    let tcp_total = (pkt.len() - iph) as u32;
    let want = fold(sum(&pkt[addrs], u32::from(IPPROTO_TCP) + tcp_total));
    assert_eq!(be16(pkt, iph + 16).unwrap(), want);
    assert_eq!(hdr_len, iph + usize::from(pkt[iph + 12] >> 4) * 4);
    assert!(gso > 0 && gso <= pkt.len() - hdr_len);
    // Segment it as the kernel does (`tso` is checked against independently built segments).
    let mut sink = VecSink::new(65536, 128);
    let done = super::super::tso::split(write, &mut sink).unwrap();
    assert_eq!(done.dropped, 0);
    sink.packets
}

/// Run the coalescer over `packets` laid out in a few shared buffers (as the UDP receive
/// leaves them), returning each write's bytes.
fn run(packets: &[Vec<u8>], coalesce: bool, reject: bool) -> (Vec<Vec<u8>>, usize, bool) {
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); 3];
    let mut refs = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let b = i % 3;
        refs.push(PacketRef {
            buf: b,
            start: bufs[b].len() + 16,
            len: p.len(),
        });
        bufs[b].extend_from_slice(&[0xee; 16]);
        bufs[b].extend_from_slice(p);
    }
    let mut writes = Vec::new();
    let mut c = Coalescer::default();
    let (n, err, rejected) = c.write(&mut bufs, &refs, coalesce, |iov| {
        if reject && iov.len() > 2 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        writes.push(iov.iter().flat_map(|s| s.iter().copied()).collect());
        Ok(())
    });
    assert!(err.is_none());
    (writes, n, rejected)
}

fn delivered(writes: &[Vec<u8>]) -> Vec<Vec<u8>> {
    writes.iter().flat_map(|w| kernel_view(w)).collect()
}

#[test]
fn a_run_of_segments_becomes_one_write_the_kernel_splits_back() {
    for v6 in [false, true] {
        let mut segs: Vec<Seg> = (0..5).map(|k| seg(1000 + k * 1300, 1300)).collect();
        for (k, s) in segs.iter_mut().enumerate() {
            s.v6 = v6;
            s.id = 100 + k as u16;
        }
        segs[4].payload.truncate(700);
        segs[4].flags |= TCP_PSH;
        let packets: Vec<Vec<u8>> = segs.iter().map(build).collect();
        let (writes, n, rejected) = run(&packets, true, false);
        assert_eq!((writes.len(), n, rejected), (1, 5, false), "v6={v6}");
        let total: usize = packets.iter().map(|p| p.len()).sum();
        let hdrs = packets[0].len() - 1300;
        assert_eq!(writes[0].len(), VNET_HDR_LEN + total - 4 * hdrs);
        assert_eq!(delivered(&writes), packets, "v6={v6}");
    }
}

#[test]
fn flows_interleave_and_keep_their_own_order() {
    let mut other: Vec<Seg> = (0..3).map(|k| seg(50 + k * 1000, 1000)).collect();
    for (k, s) in other.iter_mut().enumerate() {
        s.sport = 40001;
        s.id = 7 + k as u16;
    }
    let a: Vec<Seg> = (0..3)
        .map(|k| Seg {
            id: 100 + k as u16,
            ..seg(1000 + k * 1300, 1300)
        })
        .collect();
    let order = [&a[0], &other[0], &a[1], &other[1], &a[2], &other[2]];
    let packets: Vec<Vec<u8>> = order.iter().map(|s| build(s)).collect();
    let (writes, n, _) = run(&packets, true, false);
    assert_eq!((writes.len(), n), (2, 6));
    let got = delivered(&writes);
    let want: Vec<Vec<u8>> = a.iter().chain(&other).map(build).collect();
    assert_eq!(got, want);
}

#[test]
fn a_gap_a_short_segment_or_a_new_ack_starts_a_new_write() {
    let mut s: Vec<Seg> = vec![
        seg(0, 1000),
        seg(1000, 1000),
        seg(3000, 1000), // gap
        seg(4000, 500),  // short: ends the group
        seg(4500, 500),  // after a short one: new group
        seg(5000, 500),
    ];
    s[5].ack = 99; // another ACK number
    for (k, x) in s.iter_mut().enumerate() {
        x.id = k as u16;
    }
    let packets: Vec<Vec<u8>> = s.iter().map(build).collect();
    let (writes, n, _) = run(&packets, true, false);
    assert_eq!(n, 6);
    let sizes: Vec<usize> = writes.iter().map(|w| kernel_view(w).len()).collect();
    assert_eq!(sizes, vec![2, 2, 1, 1]);
    assert_eq!(delivered(&writes), packets);
}

#[test]
fn headers_that_differ_keep_segments_apart() {
    let base = || -> Vec<Seg> {
        (0..2)
            .map(|k| Seg {
                id: k,
                ..seg(k as u32 * 800, 800)
            })
            .collect()
    };
    let variants: [fn(&mut Seg); 5] = [
        |s| s.ttl = 63,
        |s| s.opts[11] = 9,
        |s| s.flags |= 0x01,       // FIN
        |s| s.flags = 0x18 | 0x80, // CWR
        |s| s.v6 = true,
    ];
    for (i, change) in variants.iter().enumerate() {
        let mut s = base();
        change(&mut s[1]);
        let packets: Vec<Vec<u8>> = s.iter().map(build).collect();
        let (writes, n, _) = run(&packets, true, false);
        assert_eq!((writes.len(), n), (2, 2), "variant {i}");
        assert_eq!(delivered(&writes), packets, "variant {i}");
    }
}

/// The kernel's `tcp_gro_receive` flushes when TCP word 3 (data offset, reserved bits, AE,
/// flags, window) differs in anything but CWR, FIN and PSH; `inet_gro_receive` never merges
/// an IPv4 packet whose flags differ. Merged anyway, the later segments would reach the
/// kernel with the first one's window and bits.
#[test]
fn a_changed_window_reserved_bit_or_ip_flag_keeps_segments_apart() {
    type Change = (&'static str, fn(&mut Seg));
    let variants: [Change; 4] = [
        ("window 0x01f5 then 0x00f5", |s| s.window = 0x00f5),
        ("AE bit", |s| s.reserved = 0x01),
        ("reserved TCP bits", |s| s.reserved = 0x0e),
        ("no change", |_| {}),
    ];
    for v6 in [false, true] {
        for (what, change) in variants {
            let mut s: Vec<Seg> = (0..3)
                .map(|k| Seg {
                    v6,
                    id: k,
                    window: 0x01f5,
                    ..seg(k as u32 * 800, 800)
                })
                .collect();
            change(&mut s[1]);
            let packets: Vec<Vec<u8>> = s.iter().map(build).collect();
            let (writes, n, _) = run(&packets, true, false);
            let want = if what == "no change" { 1 } else { 3 };
            assert_eq!((writes.len(), n), (want, 3), "{what} v6={v6}");
            assert_eq!(delivered(&writes), packets, "{what} v6={v6}");
        }
    }
    // IPv4 flags: the reserved ("evil") bit, or DF, on the second segment only.
    for flags in [0xc0, 0x00] {
        let s: Vec<Seg> = (0..2)
            .map(|k| Seg {
                id: k,
                ..seg(k as u32 * 800, 800)
            })
            .collect();
        let mut packets: Vec<Vec<u8>> = s.iter().map(build).collect();
        set_ipv4_flags(&mut packets[1], flags);
        let (writes, n, _) = run(&packets, true, false);
        assert_eq!((writes.len(), n), (2, 2), "IPv4 flags {flags:#x}");
        assert_eq!(delivered(&writes), packets, "IPv4 flags {flags:#x}");
    }
    // The reserved bit on every segment: the kernel's GRO leaves such packets alone, and so
    // do we; without DF on both they still merge.
    for (flags, want) in [(0xc0, 2), (0x00, 1)] {
        let s: Vec<Seg> = (0..2)
            .map(|k| Seg {
                id: k,
                ..seg(k as u32 * 800, 800)
            })
            .collect();
        let mut packets: Vec<Vec<u8>> = s.iter().map(build).collect();
        for p in &mut packets {
            set_ipv4_flags(p, flags);
        }
        let (writes, _, _) = run(&packets, true, false);
        assert_eq!(writes.len(), want, "IPv4 flags {flags:#x} on both");
        assert_eq!(delivered(&writes), packets, "IPv4 flags {flags:#x} on both");
    }
}

#[test]
fn a_push_ends_the_group_and_the_limits_hold() {
    let mut s: Vec<Seg> = (0..4)
        .map(|k| Seg {
            id: k,
            ..seg(k as u32 * 100, 100)
        })
        .collect();
    s[1].flags |= TCP_PSH;
    let packets: Vec<Vec<u8>> = s.iter().map(build).collect();
    let (writes, _, _) = run(&packets, true, false);
    let sizes: Vec<usize> = writes.iter().map(|w| kernel_view(w).len()).collect();
    assert_eq!(sizes, vec![2, 2]);
    assert_eq!(delivered(&writes), packets);

    // 100 segments of 100 bytes: at most 64 per write.
    let s: Vec<Seg> = (0..100)
        .map(|k| Seg {
            id: k,
            ..seg(k as u32 * 100, 100)
        })
        .collect();
    let packets: Vec<Vec<u8>> = s.iter().map(build).collect();
    let (writes, _, _) = run(&packets, true, false);
    let sizes: Vec<usize> = writes.iter().map(|w| kernel_view(w).len()).collect();
    assert_eq!(sizes, vec![64, 36]);
    assert_eq!(delivered(&writes), packets);

    // 60 segments of 1400 bytes: no IP packet over 65,535 bytes.
    let s: Vec<Seg> = (0..60)
        .map(|k| Seg {
            id: k,
            ..seg(k as u32 * 1400, 1400)
        })
        .collect();
    let packets: Vec<Vec<u8>> = s.iter().map(build).collect();
    let (writes, _, _) = run(&packets, true, false);
    assert!(writes.len() >= 2);
    assert!(writes.iter().all(|w| w.len() - VNET_HDR_LEN <= 65535));
    assert_eq!(delivered(&writes), packets);
}

#[test]
fn a_rejected_coalesced_write_falls_back_to_the_original_packets() {
    let s: Vec<Seg> = (0..4)
        .map(|k| Seg {
            id: k,
            ..seg(k as u32 * 900, 900)
        })
        .collect();
    let packets: Vec<Vec<u8>> = s.iter().map(build).collect();
    let (writes, n, rejected) = run(&packets, true, true);
    assert!(rejected);
    assert_eq!(n, 4);
    let raw: Vec<Vec<u8>> = writes.iter().map(|w| w[VNET_HDR_LEN..].to_vec()).collect();
    assert_eq!(raw, packets, "heads restored byte for byte");

    let (writes, n, rejected) = run(&packets, false, false);
    assert_eq!((writes.len(), n, rejected), (4, 4, false));
}

#[test]
fn non_tcp_packets_go_alone_and_unchanged() {
    let mut udp = build(&seg(0, 100));
    udp[9] = 17;
    let icmp6 = {
        let mut p = build(&Seg {
            v6: true,
            ..seg(0, 60)
        });
        p[6] = 58;
        p
    };
    let packets = vec![udp.clone(), udp, icmp6, vec![0x45, 0], vec![]];
    let (writes, n, _) = run(&packets, true, false);
    assert_eq!(n, 5);
    let raw: Vec<Vec<u8>> = writes.iter().map(|w| w[VNET_HDR_LEN..].to_vec()).collect();
    assert_eq!(raw, packets);
}

fn write_all(packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut bufs: Vec<Vec<u8>> = packets.to_vec();
    let refs: Vec<PacketRef> = packets
        .iter()
        .enumerate()
        .map(|(i, p)| PacketRef {
            buf: i,
            start: 0,
            len: p.len(),
        })
        .collect();
    let mut writes: Vec<Vec<u8>> = Vec::new();
    let (n, err, _) = Coalescer::default().write(&mut bufs, &refs, true, |iov| {
        writes.push(iov.iter().flat_map(|s| s.iter().copied()).collect());
        Ok(())
    });
    assert!(err.is_none());
    assert_eq!(n, packets.len());
    writes
}

proptest! {
    /// Two interleaved flows with segments of any size: the kernel gets back exactly the
    /// packets of each flow, in that flow's order.
    #[test]
    fn interleaved_flows_round_trip(parts in proptest::collection::vec((1usize..1500, any::<bool>()), 1..60)) {
        let (mut seq, mut id) = ([0u32; 2], [0u16; 2]);
        let segs: Vec<Seg> = parts
            .iter()
            .map(|&(len, second)| {
                let f = usize::from(second);
                let s = Seg { id: id[f], sport: 40000 + f as u16, ..seg(seq[f], len) };
                seq[f] = seq[f].wrapping_add(len as u32);
                id[f] = id[f].wrapping_add(1);
                s
            })
            .collect();
        let packets: Vec<Vec<u8>> = segs.iter().map(build).collect();
        let got = delivered(&write_all(&packets));
        for port in [40000u16, 40001] {
            let of = |v: &Vec<Vec<u8>>| -> Vec<Vec<u8>> {
                v.iter().filter(|p| be16(p, 20) == Some(port)).cloned().collect()
            };
            prop_assert_eq!(of(&got), of(&packets));
        }
        prop_assert_eq!(got.len(), packets.len());
    }

    /// Mutated segments and garbage: no panic, and every packet reaches the kernel once
    /// (`kernel_view` also checks each super-packet's headers).
    #[test]
    fn mutated_input_is_written_once(
        lens in proptest::collection::vec(1usize..1500, 1..40),
        flips in proptest::collection::vec((0usize..40, 0usize..80, any::<u8>()), 0..6),
        junk in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..4),
    ) {
        let mut seq = 0u32;
        let mut packets: Vec<Vec<u8>> = lens
            .iter()
            .enumerate()
            .map(|(k, &len)| {
                let p = build(&Seg { id: k as u16, ..seg(seq, len) });
                seq = seq.wrapping_add(len as u32);
                p
            })
            .collect();
        for (i, at, v) in flips {
            let n = packets.len();
            if let Some(b) = packets.get_mut(i % n).and_then(|p| p.get_mut(at)) {
                *b = v;
            }
        }
        packets.extend(junk);
        let writes = write_all(&packets);
        let count: usize = writes
            .iter()
            .map(|w| if w[0] == 0 { 1 } else { kernel_view(w).len() })
            .sum();
        prop_assert_eq!(count, packets.len());
    }
}
