//! Go `net/netip` text forms, byte for byte: what `ParseAddr`, `ParseAddrPort` and
//! `ParsePrefix` accept, and what `Addr.String`, `AddrPort.String` and `Prefix.String` print.
//!
//! wireguard-go parses UAPI `endpoint` and `allowed_ip` values with these functions and prints
//! `get` with them, so the UAPI ring uses this port instead of `std::net`'s parsers, which differ
//! at the edges (Go allows any number of leading zeros in an IPv6 group, Rust at most four).
//! See `NOTES.md` for the sources.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// A parsed Go `netip.Addr`: IPv4, or IPv6 with an optional zone (the raw zone text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GoAddr<'a> {
    /// Dotted quad.
    V4(Ipv4Addr),
    /// IPv6 (including IPv4-mapped), and the zone after `%` if any.
    V6(Ipv6Addr, Option<&'a [u8]>),
}

/// Parse an unsigned decimal like Go's `strconv.ParseUint(s, 10, bits)`: ASCII digits only
/// (leading zeros allowed, no sign, no underscores), not empty, at most `max`.
pub(crate) fn parse_go_uint(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        let d = c.checked_sub(b'0').filter(|d| *d <= 9)?;
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
        if v > max {
            return None;
        }
    }
    Some(v)
}

/// Go `netip.ParseAddr`: the first `.`, `:` or `%` decides the family.
pub(crate) fn parse_addr(s: &[u8]) -> Result<GoAddr<'_>, &'static str> {
    for &c in s {
        match c {
            b'.' => return parse_ipv4(s).map(GoAddr::V4),
            b':' => return parse_ipv6(s).map(|(a, z)| GoAddr::V6(a, z)),
            b'%' => return Err("missing IPv6 address"),
            _ => {}
        }
    }
    Err("unable to parse IP")
}

/// Go `parseIPv4`: exactly four decimal fields, each 0..=255, no leading zeros.
fn parse_ipv4(s: &[u8]) -> Result<Ipv4Addr, &'static str> {
    let mut fields = [0u8; 4];
    let mut pos = 0usize;
    let mut val: u16 = 0;
    let mut dig_len = 0usize;
    let mut prev: Option<u8> = None;
    for (i, &c) in s.iter().enumerate() {
        if c.is_ascii_digit() {
            if dig_len == 1 && val == 0 {
                return Err("IPv4 field has octet with leading zero");
            }
            val = val * 10 + u16::from(c - b'0');
            dig_len += 1;
            if val > 255 {
                return Err("IPv4 field has value >255");
            }
        } else if c == b'.' {
            if i == 0 || i + 1 == s.len() || prev == Some(b'.') {
                return Err("IPv4 field must have at least one digit");
            }
            let slot = fields
                .get_mut(pos)
                .filter(|_| pos < 3)
                .ok_or("IPv4 address too long")?;
            *slot = val as u8;
            pos += 1;
            val = 0;
            dig_len = 0;
        } else {
            return Err("unexpected character");
        }
        prev = Some(c);
    }
    if pos < 3 {
        return Err("IPv4 address too short");
    }
    fields[3] = val as u8;
    Ok(Ipv4Addr::from(fields))
}

/// Split off a zone (`%zone`), which Go requires to be non-empty when present.
fn split_zone(input: &[u8]) -> Result<(&[u8], Option<&[u8]>), &'static str> {
    match input.iter().position(|&c| c == b'%') {
        None => Ok((input, None)),
        Some(i) => {
            let (addr, rest) = input.split_at(i);
            let zone = rest.get(1..).unwrap_or_default();
            if zone.is_empty() {
                return Err("zone must be a non-empty string");
            }
            Ok((addr, Some(zone)))
        }
    }
}

/// Leading hex digits of `s` as one 16-bit group: (value, digits used). Go accepts any number
/// of digits as long as the value fits.
fn hex_group(s: &[u8]) -> Result<(u16, usize), &'static str> {
    let mut acc: u32 = 0;
    let mut off = 0usize;
    for &c in s {
        let Some(d) = (c as char).to_digit(16) else {
            break;
        };
        acc = (acc << 4) + d;
        if acc > 0xffff {
            return Err("IPv6 field has value >=2^16");
        }
        off += 1;
    }
    if off == 0 {
        return Err("each colon-separated field must have at least one digit");
    }
    Ok((acc as u16, off))
}

/// Go `parseIPv6`, zone included.
fn parse_ipv6(input: &[u8]) -> Result<(Ipv6Addr, Option<&[u8]>), &'static str> {
    let (mut s, zone) = split_zone(input)?;
    let mut ip = [0u8; 16];
    let mut ellipsis: Option<usize> = None;
    if let Some(rest) = s.strip_prefix(b"::") {
        ellipsis = Some(0);
        s = rest;
        if s.is_empty() {
            return Ok((Ipv6Addr::UNSPECIFIED, zone));
        }
    }
    let mut i = 0usize;
    while i < 16 {
        let (group, off) = hex_group(s)?;
        if s.get(off) == Some(&b'.') {
            if ellipsis.is_none() && i != 12 {
                return Err("embedded IPv4 address must replace the final 2 fields of the address");
            }
            let dst = ip
                .get_mut(i..i + 4)
                .ok_or("too many hex fields to fit an embedded IPv4")?;
            dst.copy_from_slice(&parse_ipv4(s)?.octets());
            s = &[];
            i += 4;
            break;
        }
        if let Some(dst) = ip.get_mut(i..i + 2) {
            dst.copy_from_slice(&group.to_be_bytes());
        }
        i += 2;
        s = s.get(off..).unwrap_or_default();
        let Some((&colon, rest)) = s.split_first() else {
            break;
        };
        if colon != b':' {
            return Err("unexpected character, want colon");
        }
        if rest.is_empty() {
            return Err("colon must be followed by more characters");
        }
        s = rest;
        if let Some(rest) = s.strip_prefix(b":") {
            if ellipsis.is_some() {
                return Err("multiple :: in address");
            }
            ellipsis = Some(i);
            s = rest;
            if s.is_empty() {
                break;
            }
        }
    }
    if !s.is_empty() {
        return Err("trailing garbage after address");
    }
    expand_ellipsis(&mut ip, i, ellipsis)?;
    Ok((Ipv6Addr::from(ip), zone))
}

/// Move the `used` bytes after the `::` position to the end and zero the gap.
fn expand_ellipsis(
    ip: &mut [u8; 16],
    used: usize,
    ellipsis: Option<usize>,
) -> Result<(), &'static str> {
    match ellipsis {
        None if used < 16 => Err("address string too short"),
        None => Ok(()),
        Some(_) if used >= 16 => Err("the :: must expand to at least one field of zeros"),
        Some(e) => {
            let n = 16 - used;
            ip.copy_within(e..used, e + n);
            ip.iter_mut().skip(e).take(n).for_each(|b| *b = 0);
            Ok(())
        }
    }
}

/// Go `netip.ParseAddrPort` (as wireguard-go's `ParseEndpoint` uses it): `a.b.c.d:port` or
/// `[v6]:port`. No name resolution. A zone must be a decimal interface index here, since
/// `SocketAddrV6` holds a number where Go holds a name (documented divergence).
pub(crate) fn parse_addr_port(s: &[u8]) -> Result<SocketAddr, &'static str> {
    let i = s.iter().rposition(|&c| c == b':').ok_or("not an ip:port")?;
    let (ip, port) = s.split_at(i);
    let port = port.get(1..).unwrap_or_default();
    if ip.is_empty() {
        return Err("no IP");
    }
    if port.is_empty() {
        return Err("no port");
    }
    let (ip, bracketed) = match ip.strip_prefix(b"[") {
        Some(inner) => (inner.strip_suffix(b"]").ok_or("missing ]")?, true),
        None => (ip, false),
    };
    let port = parse_go_uint(port, u64::from(u16::MAX)).ok_or("invalid port")? as u16;
    match (parse_addr(ip)?, bracketed) {
        (GoAddr::V4(a), false) => Ok(SocketAddr::V4(SocketAddrV4::new(a, port))),
        (GoAddr::V6(a, zone), true) => {
            let scope = match zone {
                None => 0,
                Some(z) => parse_go_uint(z, u64::from(u32::MAX))
                    .ok_or("IPv6 zone is not a numeric interface index")?
                    as u32,
            };
            Ok(SocketAddr::V6(SocketAddrV6::new(a, port, 0, scope)))
        }
        (GoAddr::V4(_), true) => Err("square brackets can only be used with IPv6 addresses"),
        (GoAddr::V6(..), false) => Err("IPv6 addresses must be surrounded by square brackets"),
    }
}

/// Go `netip.ParsePrefix` (Go 1.22+: the length is `0` or digits without a leading zero or
/// sign). Host bits are masked off in the result, as wireguard-go's trie stores them.
pub(crate) fn parse_prefix(s: &[u8]) -> Result<IpNet, &'static str> {
    let i = s.iter().rposition(|&c| c == b'/').ok_or("no '/'")?;
    let (addr, bits) = s.split_at(i);
    let bits = bits.get(1..).unwrap_or_default();
    let addr = parse_addr(addr)?;
    if bits.len() > 1 && !matches!(bits.first(), Some(b'1'..=b'9')) {
        return Err("bad bits after slash");
    }
    let bits = parse_go_uint(bits, 128).ok_or("bad bits after slash")? as u8;
    let net = match addr {
        GoAddr::V4(a) => {
            IpNet::V4(Ipv4Net::new(a, bits).map_err(|_| "prefix length out of range")?)
        }
        GoAddr::V6(_, Some(_)) => return Err("IPv6 zones cannot be present in a prefix"),
        GoAddr::V6(a, None) => {
            IpNet::V6(Ipv6Net::new(a, bits).map_err(|_| "prefix length out of range")?)
        }
    };
    Ok(net.trunc())
}

/// Go `Addr.String` for IPv6 (RFC 5952: longest run of two or more zero groups, first one on a
/// tie, becomes `::`; IPv4-mapped addresses as `::ffff:a.b.c.d`), then `%zone` when nonzero.
pub(crate) fn push_ipv6(out: &mut String, a: &Ipv6Addr, scope_id: u32) {
    let g = a.segments();
    if let Some(v4) = a.to_ipv4_mapped() {
        let _ = write!(out, "::ffff:{v4}");
    } else {
        let (mut zs, mut ze) = (usize::MAX, usize::MAX);
        let mut best = 0usize;
        for i in 0..8 {
            let run = g.iter().skip(i).take_while(|&&x| x == 0).count();
            if run >= 2 && run > best {
                (zs, ze, best) = (i, i + run, run);
            }
        }
        let mut i = 0usize;
        while i < 8 {
            if i == zs {
                out.push_str("::");
                i = ze;
                if i >= 8 {
                    break;
                }
            } else if i > 0 {
                out.push(':');
            }
            let _ = write!(out, "{:x}", g.get(i).copied().unwrap_or_default());
            i += 1;
        }
    }
    if scope_id != 0 {
        let _ = write!(out, "%{scope_id}");
    }
}

/// Go `AddrPort.String`: `a.b.c.d:port` or `[v6%zone]:port`.
pub(crate) fn push_socket_addr(out: &mut String, sa: &SocketAddr) {
    match sa {
        SocketAddr::V4(v4) => {
            let _ = write!(out, "{}:{}", v4.ip(), v4.port());
        }
        SocketAddr::V6(v6) => {
            out.push('[');
            push_ipv6(out, v6.ip(), v6.scope_id());
            let _ = write!(out, "]:{}", v6.port());
        }
    }
}

/// Go `Prefix.String` of the masked prefix.
pub(crate) fn push_prefix(out: &mut String, net: &IpNet) {
    match net.trunc() {
        IpNet::V4(n) => {
            let _ = write!(out, "{}/{}", n.addr(), n.prefix_len());
        }
        IpNet::V6(n) => {
            push_ipv6(out, &n.addr(), 0);
            let _ = write!(out, "/{}", n.prefix_len());
        }
    }
}

#[cfg(test)]
#[path = "netip_tests.rs"]
mod tests;
