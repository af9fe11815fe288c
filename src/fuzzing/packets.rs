//! IP/TCP/UDP packets for the offload fuzz targets, built and checked independently of
//! `platform::tun` (its own checksum code is what is under test), and a packet sink.

use crate::platform::tun::PacketSink;

pub(crate) const TCP: u8 = 6;
pub(crate) const UDP: u8 = 17;

/// Internet checksum accumulation over `data` (big-endian 16-bit words, odd byte padded).
pub(crate) fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// The folded one's-complement sum (0xffff when `data` with its checksum field verifies).
pub(crate) fn folded(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Pseudo-header sum: addresses, protocol, transport length.
pub(crate) fn pseudo(pkt: &[u8], v6: bool, proto: u8, l4_len: usize) -> u64 {
    let addrs = if v6 { &pkt[8..40] } else { &pkt[12..20] };
    sum(addrs, u64::from(proto) + l4_len as u64)
}

pub(crate) fn be16(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(p.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn be32(p: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
}

/// One flow's fixed fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flow {
    pub v6: bool,
    pub proto: u8,
    pub src: u8,
    pub sport: u16,
}

/// Per-packet fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub options: Vec<u8>,
    pub tos: u8,
    pub ttl: u8,
    pub id: u16,
    pub ip_flags: u8,
    pub payload: Vec<u8>,
}

/// A packet of `flow` with `f`, all lengths and checksums right.
pub(crate) fn build(flow: &Flow, f: &Fields) -> Vec<u8> {
    let mut l4 = Vec::new();
    l4.extend_from_slice(&flow.sport.to_be_bytes());
    l4.extend_from_slice(&443u16.to_be_bytes());
    if flow.proto == TCP {
        let opts = &f.options[..f.options.len() / 4 * 4];
        l4.extend_from_slice(&f.seq.to_be_bytes());
        l4.extend_from_slice(&f.ack.to_be_bytes());
        l4.push((((20 + opts.len()) / 4) as u8) << 4);
        l4.push(f.flags);
        l4.extend_from_slice(&f.window.to_be_bytes());
        l4.extend_from_slice(&[0, 0, 0, 0]);
        l4.extend_from_slice(opts);
    } else {
        l4.extend_from_slice(&((8 + f.payload.len()) as u16).to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
    }
    l4.extend_from_slice(&f.payload);
    let mut p = ip_header(flow, f, l4.len());
    let iph = p.len();
    p.extend_from_slice(&l4);
    let at = iph + if flow.proto == TCP { 16 } else { 6 };
    let c = !folded(sum(&p[iph..], pseudo(&p, flow.v6, flow.proto, l4.len())));
    let c = if c == 0 && flow.proto == UDP {
        0xffff
    } else {
        c
    };
    p[at..at + 2].copy_from_slice(&c.to_be_bytes());
    p
}

fn ip_header(flow: &Flow, f: &Fields, l4_len: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(40);
    if flow.v6 {
        h.extend_from_slice(&[0x60 | (f.tos >> 4), f.tos << 4, 0, 0]);
        h.extend_from_slice(&(l4_len as u16).to_be_bytes());
        h.extend_from_slice(&[flow.proto, f.ttl]);
        h.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, flow.src]);
        h.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 99]);
        return h;
    }
    h.extend_from_slice(&[0x45, f.tos]);
    h.extend_from_slice(&((20 + l4_len) as u16).to_be_bytes());
    h.extend_from_slice(&f.id.to_be_bytes());
    h.extend_from_slice(&[f.ip_flags & 0xe0, 0, f.ttl, flow.proto, 0, 0]);
    h.extend_from_slice(&[10, 0, 0, flow.src, 10, 0, 0, 99]);
    let c = !folded(sum(&h, 0));
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// A sink of `slots` packets of at most `room` bytes each.
pub(crate) struct VecSink {
    pub packets: Vec<Vec<u8>>,
    scratch: Vec<u8>,
    slots: usize,
}

impl VecSink {
    pub(crate) fn new(room: usize, slots: usize) -> Self {
        Self {
            packets: Vec::new(),
            scratch: vec![0; room],
            slots,
        }
    }
}

impl PacketSink for VecSink {
    fn room(&mut self) -> Option<&mut [u8]> {
        (self.packets.len() < self.slots).then_some(&mut self.scratch[..])
    }

    fn commit(&mut self, len: usize) {
        assert!(len <= self.scratch.len(), "commit past the room");
        self.packets.push(self.scratch[..len].to_vec());
    }

    fn free(&self) -> usize {
        self.slots - self.packets.len()
    }
}
