//! Fuzz targets `tso_split` and `gro_coalesce`: the TUN offload code (`platform::tun::tso`,
//! `platform::tun::gro`). Splitting never panics and emits well-formed segments (lengths,
//! sequence numbers, flags, payload in order, IPv4 header and transport checksums valid, a UDP
//! checksum never 0, an IPv6 header chain that leads to the transport header); coalescing,
//! seen through the kernel's segmentation, hands every packet of a flow through in order with
//! its headers unchanged apart from IPv4 ID and checksums.

use arbitrary::{Result, Unstructured};
use std::io;

use super::packets::{be16, be32, build, folded, pseudo, sum, Fields, Flow, VecSink, TCP, UDP};
use crate::platform::tun::gro::{Coalescer, PacketRef};
use crate::platform::tun::tso::{split, Split, VNET_HDR_LEN};

const F_NEEDS_CSUM: u8 = 1;
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
const GSO_UDP_L4: u8 = 5;

/// `tso_split`: one read, raw or built from fuzzer-chosen fields (then perhaps bit-flipped).
pub fn run_split(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((read, exact)) = split_input(&mut u) else {
        return;
    };
    let slots = u.int_in_range(1..=80).unwrap_or(64);
    let mut sink = VecSink::new(65535, slots);
    let result = split(&read, &mut sink);
    if exact {
        assert!(result.is_ok(), "well-formed read refused: {result:?}");
    }
    check_split(&read, result, &sink.packets, exact);
}

fn fields(u: &mut Unstructured<'_>, payload: usize) -> Result<Fields> {
    let fill = u.arbitrary::<u8>()?;
    let options = vec![1u8; 4 * usize::from(u.int_in_range(0u8..=10)?)];
    Ok(Fields {
        seq: u.arbitrary()?,
        ack: u.arbitrary()?,
        flags: u.arbitrary::<u8>()? | 0x10,
        window: u.arbitrary()?,
        options,
        tos: u.arbitrary()?,
        ttl: u.arbitrary()?,
        id: u.arbitrary()?,
        ip_flags: u.arbitrary()?,
        payload: (0..payload).map(|i| fill.wrapping_add(i as u8)).collect(),
    })
}

/// The read and whether it is exactly well-formed (so it must be accepted, checksums known).
fn split_input(u: &mut Unstructured<'_>) -> Result<(Vec<u8>, bool)> {
    if u.ratio(1, 4)? {
        let n = u.len();
        return Ok((u.bytes(n)?.to_vec(), false));
    }
    let (v6, tcp, gso) = (u.arbitrary()?, u.arbitrary()?, u.arbitrary::<bool>()?);
    let flow = Flow {
        v6,
        proto: if tcp { TCP } else { UDP },
        src: 1,
        sport: u.arbitrary()?,
    };
    let gso_size = usize::from(u.int_in_range(1u16..=2000)?);
    let payload = usize::from(u.int_in_range(1u16..=9000)?);
    let mut f = fields(u, payload)?;
    if !tcp {
        f.options.clear();
    }
    let mut pkt = build(&flow, &f);
    let iph = if v6 { 40 } else { 20 };
    let l4h = if tcp { 20 + f.options.len() } else { 8 };
    let at = iph + if tcp { 16 } else { 6 };
    let gso_type = match (gso, tcp, v6) {
        (false, _, _) => 0,
        (true, false, _) => GSO_UDP_L4,
        (true, true, false) => GSO_TCPV4,
        (true, true, true) => GSO_TCPV6,
    };
    // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum.
    let partial = folded(pseudo(
        &pkt,
        v6,
        flow.proto,
        if gso { 0 } else { pkt.len() - iph },
    ));
    pkt[at..at + 2].copy_from_slice(&partial.to_be_bytes());
    let mut read = vec![F_NEEDS_CSUM, gso_type];
    for v in [iph + l4h, gso_size, iph, at - iph] {
        read.extend_from_slice(&(v as u16).to_ne_bytes());
    }
    read.extend_from_slice(&pkt);
    let fits = !gso || iph + l4h + gso_size <= 65535;
    let flips = u.int_in_range(0..=3)?;
    for _ in 0..flips {
        let i = u.int_in_range(0..=read.len() - 1)?;
        read[i] ^= 1 << u.int_in_range(0..=7)?;
    }
    Ok((read, fits && flips == 0))
}

/// The checks on what `split` made of `read`.
fn check_split(
    read: &[u8],
    result: std::result::Result<Split, &str>,
    out: &[Vec<u8>],
    exact: bool,
) {
    let Ok(done) = result else { return };
    assert_eq!(done.packets, out.len(), "packets reported vs emitted");
    let (hdr, pkt) = read.split_at(VNET_HDR_LEN);
    let ne = |i: usize| usize::from(u16::from_ne_bytes([hdr[i], hdr[i + 1]]));
    let (gso_type, csum_start, csum_off) = (hdr[1] & 0x7f, ne(6), ne(8));
    if gso_type == 0 {
        assert!(out.len() + done.dropped == 1, "a plain read is one packet");
        if let Some(p) = out.first() {
            assert_eq!(p.len(), pkt.len(), "plain packet length");
            if hdr[0] & F_NEEDS_CSUM != 0 && exact {
                check_l4_checksum(p, csum_start, csum_off == 16);
            } else if hdr[0] & F_NEEDS_CSUM == 0 {
                assert_eq!(p, pkt, "plain packet changed");
            }
        }
        return;
    }
    let tcp = gso_type != GSO_UDP_L4;
    let iph = csum_start;
    let l4h = if tcp {
        usize::from(pkt[iph + 12] >> 4) * 4
    } else {
        8
    };
    let headers = iph + l4h;
    let body = &pkt[headers..];
    let gso = ne(4);
    assert_eq!(
        out.len() + done.dropped,
        body.len().div_ceil(gso),
        "segment count"
    );
    assert!(
        ipv6_chain_leads_to(pkt, iph, if tcp { TCP } else { UDP }),
        "bad chain cut"
    );
    for (i, seg) in out.iter().enumerate() {
        let chunk = &body[i * gso..((i + 1) * gso).min(body.len())];
        assert_eq!(seg.len(), headers + chunk.len(), "segment {i} length");
        assert_eq!(&seg[headers..], chunk, "segment {i} payload");
        check_ip(seg, iph);
        check_l4_checksum(seg, iph, tcp);
        check_segment_headers(
            pkt,
            seg,
            iph,
            headers,
            tcp,
            i,
            i + 1 == out.len() + done.dropped,
        );
        if tcp {
            let seq = be32(pkt, iph + 4)
                .unwrap_or(0)
                .wrapping_add((i * gso) as u32);
            assert_eq!(be32(seg, iph + 4), Some(seq), "segment {i} sequence number");
        }
    }
}

/// IPv6 next headers from the fixed header: hop-by-hop, routing, destination options (length
/// in 8-byte units) and fragment (8 bytes) must end exactly at `iph` with `proto`.
fn ipv6_chain_leads_to(pkt: &[u8], iph: usize, proto: u8) -> bool {
    if pkt.first().map(|b| b >> 4) != Some(6) {
        return true;
    }
    let (mut nh, mut at) = (pkt.get(6).copied(), 40);
    while at < iph {
        let len = match nh {
            Some(0 | 43 | 60) => pkt
                .get(at + 1)
                .map_or(usize::MAX, |l| (usize::from(*l) + 1) * 8),
            Some(44) => 8,
            _ => return false,
        };
        nh = pkt.get(at).copied();
        at = at.saturating_add(len);
    }
    at == iph && nh == Some(proto)
}

fn check_ip(seg: &[u8], iph: usize) {
    if seg[0] >> 4 == 6 {
        assert_eq!(
            be16(seg, 4).map(usize::from),
            Some(seg.len() - 40),
            "IPv6 length"
        );
    } else {
        assert_eq!(
            be16(seg, 2).map(usize::from),
            Some(seg.len()),
            "IPv4 length"
        );
        assert_eq!(folded(sum(&seg[..iph], 0)), 0xffff, "IPv4 header checksum");
    }
}

fn check_l4_checksum(p: &[u8], iph: usize, tcp: bool) {
    let v6 = p[0] >> 4 == 6;
    let proto = if tcp { TCP } else { UDP };
    let total = folded(sum(&p[iph..], pseudo(p, v6, proto, p.len() - iph)));
    assert_eq!(total, 0xffff, "transport checksum");
    if !tcp {
        assert_ne!(
            be16(p, iph + 6),
            Some(0),
            "UDP checksum 0 (means none; RFC 768: 0xffff)"
        );
    }
}

/// A segment's headers are the super-packet's apart from the fields segmentation rewrites.
fn check_segment_headers(
    pkt: &[u8],
    seg: &[u8],
    iph: usize,
    headers: usize,
    tcp: bool,
    i: usize,
    last: bool,
) {
    let (mut a, mut b) = (pkt[..headers].to_vec(), seg[..headers].to_vec());
    let mut skip = if a[0] >> 4 == 6 {
        vec![4, 5]
    } else {
        vec![2, 3, 4, 5, 10, 11]
    };
    skip.extend([iph + 4, iph + 5, iph + 6, iph + 7]);
    if tcp {
        skip.extend([iph + 13, iph + 16, iph + 17]);
        let mut flags = pkt[iph + 13];
        if !last {
            flags &= !0x09; // FIN, PSH: last segment only
        }
        if i > 0 {
            flags &= !0x80; // CWR: first segment only
        }
        assert_eq!(seg[iph + 13], flags, "segment {i} TCP flags");
    }
    for at in skip {
        a[at] = 0;
        b[at] = 0;
    }
    assert_eq!(a, b, "segment {i} headers");
}

/// `gro_coalesce`: a batch of TCP segments of a few flows (some off-sequence, some with other
/// headers, some junk) written through the coalescer; the kernel's view of the writes must be
/// the batch again, flow by flow.
pub fn run_coalesce(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((packets, coalesce, reject)) = batch(&mut u) else {
        return;
    };
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); 3];
    let mut refs = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let b = &mut bufs[i % 3];
        refs.push(PacketRef {
            buf: i % 3,
            start: b.len() + 16,
            len: p.len(),
        });
        b.extend_from_slice(&[0; 16]);
        b.extend_from_slice(p);
    }
    let mut writes: Vec<Vec<u8>> = Vec::new();
    let mut refused = false;
    let (written, err, rejected) = Coalescer::default().write(&mut bufs, &refs, coalesce, |iov| {
        let bytes: Vec<u8> = iov.iter().flat_map(|s| s.iter().copied()).collect();
        if reject && !refused && bytes.get(1) != Some(&0) {
            refused = true;
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        writes.push(bytes);
        Ok(())
    });
    assert_eq!(written, packets.len(), "packets written");
    assert!(err.is_none(), "write error {err:?}");
    assert_eq!(rejected, refused, "rejection reported");
    let seen: Vec<Vec<u8>> = writes.iter().flat_map(|w| kernel_view(w)).collect();
    compare(&by_flow(&seen), &by_flow(&packets));
}

type Flows = std::collections::BTreeMap<Vec<u8>, Vec<Vec<u8>>>;

/// The kernel's view, flow by flow, is the batch; a difference is named by flow, packet and
/// first differing byte.
fn compare(seen: &Flows, sent: &Flows) {
    let keys = |f: &Flows| f.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(seen), keys(sent), "flows");
    for (key, want) in sent {
        let got = &seen[key];
        assert_eq!(got.len(), want.len(), "flow {key:?}: packet count");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let at = g.iter().zip(w.iter()).position(|(a, b)| a != b);
            assert!(
                g == w,
                "flow {key:?} packet {i}: lengths {} / {} (sent), first difference at byte {at:?}: {:?} / {:?}",
                g.len(),
                w.len(),
                at.map(|a| g[a]),
                at.map(|a| w[a]),
            );
        }
    }
}

/// What the kernel makes of one write: the packet, or the super-packet segmented.
fn kernel_view(write: &[u8]) -> Vec<Vec<u8>> {
    let (hdr, pkt) = write.split_at(VNET_HDR_LEN);
    if hdr.iter().all(|&b| b == 0) {
        return vec![pkt.to_vec()];
    }
    assert_eq!(hdr[0], F_NEEDS_CSUM, "super-packet flags");
    assert!(
        matches!(hdr[1], GSO_TCPV4 | GSO_TCPV6),
        "super-packet GSO type"
    );
    let mut sink = VecSink::new(65535, 128);
    let result = split(write, &mut sink);
    assert!(
        matches!(result, Ok(Split { dropped: 0, .. })),
        "kernel view: {result:?}"
    );
    check_split(write, result, &sink.packets, true);
    sink.packets
}

/// Packets grouped by TCP flow (addresses and ports; everything else in one group), in order,
/// with the fields coalescing may rewrite zeroed: IPv4 ID and header checksum, TCP checksum.
fn by_flow(packets: &[Vec<u8>]) -> Flows {
    let mut map = Flows::new();
    for p in packets {
        let mut p = p.clone();
        let (v6, iph) = match p.first().map(|b| b >> 4) {
            Some(4) if p.len() >= 40 && p[9] == TCP && p[0] == 0x45 => (false, 20),
            Some(6) if p.len() >= 60 && p[6] == TCP => (true, 40),
            _ => {
                map.entry(Vec::new()).or_default().push(p);
                continue;
            }
        };
        let mut key = p[if v6 { 8..40 } else { 12..20 }].to_vec();
        key.extend_from_slice(&p[iph..iph + 4]);
        if !v6 {
            p[4..6].fill(0);
            p[10..12].fill(0);
        }
        p[iph + 16..iph + 18].fill(0);
        map.entry(key).or_default().push(p);
    }
    map
}

/// Per flow: the next sequence number, its segment size and its fixed fields.
struct FlowState {
    flow: Flow,
    mss: usize,
    f: Fields,
}

fn batch(u: &mut Unstructured<'_>) -> Result<(Vec<Vec<u8>>, bool, bool)> {
    let (coalesce, reject) = (!u.ratio(1, 8)?, u.ratio(1, 4)?);
    let mut flows = Vec::new();
    for src in 1..=u.int_in_range(1..=3)? {
        let flow = Flow {
            v6: u.arbitrary()?,
            proto: TCP,
            src,
            sport: 1000,
        };
        let mut f = fields(u, 0)?;
        f.flags = 0x10;
        f.ip_flags = 0x40;
        flows.push(FlowState {
            flow,
            mss: usize::from(u.int_in_range(1u16..=1400)?),
            f,
        });
    }
    let mut packets = Vec::new();
    for _ in 0..u.int_in_range(1..=48)? {
        let s = u.int_in_range(0..=flows.len() - 1)?;
        packets.push(segment(u, &mut flows[s])?);
    }
    Ok((packets, coalesce, reject))
}

/// The flow's next segment, usually in sequence and alike, sometimes not.
fn segment(u: &mut Unstructured<'_>, st: &mut FlowState) -> Result<Vec<u8>> {
    let mut f = st.f.clone();
    let mut len = st.mss;
    match u.int_in_range(0..=15)? {
        8 => f.flags |= 0x08,
        9 => len = u.int_in_range(1..=st.mss)?,
        10 => f.seq = f.seq.wrapping_add(u.arbitrary()?),
        11 => f.window = u.arbitrary()?,
        12 => f.flags = u.arbitrary()?,
        13 => f.ttl = u.arbitrary()?,
        14 => f.ip_flags = u.arbitrary()?,
        15 => {
            let n = u.int_in_range(0..=80)?;
            return Ok(u.bytes(n)?.to_vec());
        }
        _ => {}
    }
    f.payload = vec![f.seq as u8; len];
    st.f.seq = f.seq.wrapping_add(len as u32);
    Ok(build(&st.flow, &f))
}
