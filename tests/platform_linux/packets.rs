//! Building and parsing the IPv4/IPv6 UDP packets the Linux platform tests push through a TUN.

use std::net::{IpAddr, SocketAddr};

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for c in data.chunks(2) {
        let hi = u32::from(c[0]) << 8;
        acc += hi | c.get(1).copied().map_or(0, u32::from);
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// An IPv4 or IPv6 UDP packet from `src` to `dst` (same family) with valid checksums.
pub fn udp_packet(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let ulen = 8 + payload.len();
    let mut udp = Vec::with_capacity(ulen);
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&(ulen as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let (mut pkt, pseudo) = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
            h[2..4].copy_from_slice(&((20 + ulen) as u16).to_be_bytes());
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let c = fold(sum16(&h, 0));
            h[10..12].copy_from_slice(&c.to_be_bytes());
            let mut p = s.octets().to_vec();
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, 17]);
            p.extend_from_slice(&(ulen as u16).to_be_bytes());
            (h, p)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(ulen as u16).to_be_bytes());
            h.extend_from_slice(&[17, 64]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let mut p = s.octets().to_vec();
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&(ulen as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 17]);
            (h, p)
        }
        _ => panic!("mixed address families"),
    };
    let c = match fold(sum16(&udp, sum16(&pseudo, 0))) {
        0 => 0xffff,
        c => c,
    };
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    pkt.extend_from_slice(&udp);
    pkt
}

/// `(src, dst, payload)` if `pkt` is a UDP packet without IPv4 options or IPv6 extension headers.
pub fn parse_udp(pkt: &[u8]) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
    let (src, dst, udp): (IpAddr, IpAddr, &[u8]) = match pkt.first()? >> 4 {
        4 if pkt.len() >= 28 && pkt[0] == 0x45 && pkt[9] == 17 => {
            let s: [u8; 4] = pkt[12..16].try_into().ok()?;
            let d: [u8; 4] = pkt[16..20].try_into().ok()?;
            (s.into(), d.into(), &pkt[20..])
        }
        6 if pkt.len() >= 48 && pkt[6] == 17 => {
            let s: [u8; 16] = pkt[8..24].try_into().ok()?;
            let d: [u8; 16] = pkt[24..40].try_into().ok()?;
            (s.into(), d.into(), &pkt[40..])
        }
        _ => return None,
    };
    let sport = u16::from_be_bytes([udp[0], udp[1]]);
    let dport = u16::from_be_bytes([udp[2], udp[3]]);
    let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    let payload = udp.get(8..len)?.to_vec();
    Some(((src, sport).into(), (dst, dport).into(), payload))
}

#[test]
fn builds_what_it_parses() {
    for (s, d) in [("10.0.0.2:5", "10.0.0.1:6"), ("[fd00::2]:5", "[fd00::1]:6")] {
        let (s, d): (SocketAddr, SocketAddr) = (s.parse().unwrap(), d.parse().unwrap());
        let p = udp_packet(s, d, b"abc");
        assert_eq!(parse_udp(&p), Some((s, d, b"abc".to_vec())));
    }
}
