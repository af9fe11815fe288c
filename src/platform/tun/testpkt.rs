//! Test packets: TCP segments and UDP datagrams with valid checksums, as a sender's kernel
//! emits them, and a sink that collects what a TUN read produced.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests: a panic is the failure report

pub(crate) use super::csum::{fold, sum};
pub(crate) use super::tso::{IPPROTO_TCP, IPPROTO_UDP, TCP_PSH};
use super::PacketSink;

pub const TCP_ACK: u8 = 0x10;

pub const SRC4: [u8; 4] = [10, 9, 0, 1];
pub const DST4: [u8; 4] = [10, 9, 0, 2];

/// A TCP segment with valid IP and TCP checksums, as a sender's kernel would emit it.
#[derive(Clone)]
pub struct Seg {
    pub v6: bool,
    pub sport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub id: u16,
    pub ttl: u8,
    pub payload: Vec<u8>,
    /// TCP options (a multiple of 4 bytes).
    pub opts: Vec<u8>,
    /// TCP window.
    pub window: u16,
    /// The low nibble of TCP byte 12: reserved bits and AE (RFC 9768 "accurate ECN").
    pub reserved: u8,
}

pub fn seg(seq: u32, len: usize) -> Seg {
    Seg {
        v6: false,
        sport: 40000,
        seq,
        ack: 7,
        flags: TCP_ACK,
        id: 100,
        ttl: 64,
        payload: (0..len)
            .map(|i| (i as u32).wrapping_mul(31).wrapping_add(seq) as u8)
            .collect(),
        opts: vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
        window: 512,
        reserved: 0,
    }
}

pub fn csum(data: &[u8], acc: u32) -> u16 {
    !fold(sum(data, acc))
}

pub fn build(s: &Seg) -> Vec<u8> {
    let tcph = 20 + s.opts.len();
    let mut tcp = vec![0u8; tcph];
    tcp[0..2].copy_from_slice(&s.sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&5201u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&s.seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&s.ack.to_be_bytes());
    tcp[12] = ((tcph / 4) as u8) << 4 | (s.reserved & 0x0f);
    tcp[13] = s.flags;
    tcp[14..16].copy_from_slice(&s.window.to_be_bytes());
    tcp[20..].copy_from_slice(&s.opts);
    tcp.extend_from_slice(&s.payload);
    wrap(s.v6, IPPROTO_TCP, s.id, s.ttl, tcp)
}

/// Set bits of the IPv4 flags byte (0x80: reserved, "evil"; 0x40: DF) and fix the header
/// checksum.
pub fn set_ipv4_flags(p: &mut [u8], flags: u8) {
    p[6] = p[6] & 0x1f | flags;
    p[10..12].fill(0);
    let c = csum(&p[..20], 0);
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

/// A UDP datagram from port `sport` to 5201 with a valid checksum.
pub fn udp(v6: bool, id: u16, sport: u16, payload: &[u8]) -> Vec<u8> {
    let mut l4 = vec![0u8; 8];
    l4[0..2].copy_from_slice(&sport.to_be_bytes());
    l4[2..4].copy_from_slice(&5201u16.to_be_bytes());
    l4[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    l4.extend_from_slice(payload);
    wrap(v6, IPPROTO_UDP, id, 64, l4)
}

/// Put `l4` (a TCP or UDP header and payload, checksum field zero) behind an IP header and
/// fill in both checksums.
pub fn wrap(v6: bool, proto: u8, id: u16, ttl: u8, mut l4: Vec<u8>) -> Vec<u8> {
    let l4_len = l4.len() as u32;
    let mut p = if v6 {
        let mut ip = vec![0u8; 40];
        ip[0] = 0x60;
        ip[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        ip[6] = proto;
        ip[7] = ttl;
        ip[8] = 0xfd;
        ip[23] = 1;
        ip[24] = 0xfd;
        ip[39] = 2;
        ip
    } else {
        let mut ip = vec![0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + l4_len) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&id.to_be_bytes());
        ip[6] = 0x40;
        ip[8] = ttl;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&SRC4);
        ip[16..20].copy_from_slice(&DST4);
        let c = csum(&ip, 0);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip
    };
    let addrs = if v6 { 8..40 } else { 12..20 };
    let pseudo = sum(&p[addrs], u32::from(proto) + l4_len);
    let at = if proto == IPPROTO_TCP { 16 } else { 6 };
    let mut c = csum(&l4, pseudo);
    if proto == IPPROTO_UDP && c == 0 {
        c = 0xffff;
    }
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&l4);
    p
}

/// A sink of `slots` rooms of `room` bytes each, filled with junk so that every byte a packet
/// keeps must have been written.
pub struct VecSink {
    pub room: Vec<u8>,
    pub slots: usize,
    pub packets: Vec<Vec<u8>>,
}

impl VecSink {
    pub fn new(room: usize, slots: usize) -> Self {
        Self {
            room: vec![0xa5; room],
            slots,
            packets: Vec::new(),
        }
    }
}

impl PacketSink for VecSink {
    fn room(&mut self) -> Option<&mut [u8]> {
        (self.packets.len() < self.slots).then_some(&mut self.room[..])
    }

    fn commit(&mut self, len: usize) {
        self.packets.push(self.room[..len].to_vec());
        self.room.fill(0xa5);
    }

    fn free(&self) -> usize {
        self.slots - self.packets.len()
    }
}
