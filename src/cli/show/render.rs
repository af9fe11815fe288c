//! `wg show` and `wg showconf` text for a [`Device`], byte for byte as wireguard-tools
//! v1.0.20210914 prints it (`show.c`: `pretty_print`, `ugly_print`, `dump_print`, `ago`,
//! `bytes`, `sort_peers`; `showconf.c`; `terminal.c` for the colours).
//!
//! Pure: the caller passes the current Unix time and whether to show keys; [`pretty`] always
//! writes wg's ANSI colour codes and [`strip_ansi`] removes them the way `terminal.c` does when
//! stdout is not a terminal. Texts may hold secrets, so they are wiped when dropped.

use std::cmp::Ordering;
use std::fmt::Write;
use std::net::IpAddr;
use wgrs_uapi::keys::{key_to_base64, PresharedKey, PrivateKey, PublicKey, KEY_LEN};
use wgrs_uapi::reply::{Device, Endpoint, Peer, Timespec};
use zeroize::Zeroizing;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";

/// Output text; wiped on drop because it may hold keys.
pub type Text = Zeroizing<String>;

/// An empty text with room for all of `dev`, so that writing never reallocates (a reallocation
/// would leave an unwiped copy of any key already written).
fn text_for(dev: &Device) -> Text {
    let ips: usize = dev.peers.iter().map(|p| p.allowed_ips.len()).sum();
    Zeroizing::new(String::with_capacity(
        1024 + dev.peers.len() * 1024 + ips * 128,
    ))
}

/// A key in base64, wiped on drop.
fn key(k: &[u8; KEY_LEN]) -> Text {
    Zeroizing::new(key_to_base64(k))
}

/// wg's `maybe_key`: the key, or `(none)`.
fn maybe_key(k: Option<&[u8; KEY_LEN]>) -> Text {
    k.map_or_else(|| Zeroizing::new("(none)".to_owned()), key)
}

/// wg's `masked_key`: `(hidden)` unless `WG_HIDE_KEYS=never`.
fn masked_key(k: &[u8; KEY_LEN], show_keys: bool) -> Text {
    if show_keys {
        key(k)
    } else {
        Zeroizing::new("(hidden)".to_owned())
    }
}

/// wg's `peer_cmp`: peers with a handshake first, newest first; the rest keep their order
/// (glibc 2.36's `qsort` is a stable merge sort for arrays this small).
pub fn peer_cmp(a: &Timespec, b: &Timespec) -> Ordering {
    match (a.is_zero(), b.is_zero()) {
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => (b.sec, b.nsec).cmp(&(a.sec, a.nsec)),
    }
}

/// The peers in `pretty_print`'s order ([`peer_cmp`], stable).
pub fn sorted_peers(peers: &[Peer]) -> Vec<&Peer> {
    let mut sorted: Vec<&Peer> = peers.iter().collect();
    sorted.sort_by(|a, b| peer_cmp(&a.last_handshake, &b.last_handshake));
    sorted
}

/// wg's `pretty_time`: `1 year, 2 days, 3 hours, 4 minutes, 5 seconds` with zero parts left out
/// (and nothing at all for 0); the unit words in cyan.
pub fn pretty_time(mut left: u64) -> String {
    const UNITS: [(&str, u64); 5] = [
        ("year", 365 * 24 * 60 * 60),
        ("day", 24 * 60 * 60),
        ("hour", 60 * 60),
        ("minute", 60),
        ("second", 1),
    ];
    let mut out = String::new();
    for (unit, size) in UNITS {
        let n = left / size;
        left %= size;
        if n != 0 {
            let sep = if out.is_empty() { "" } else { ", " };
            let plural = if n == 1 { "" } else { "s" };
            let _ = write!(out, "{sep}{n} {CYAN}{unit}{plural}{RESET}");
        }
    }
    out
}

/// wg's `ago`: `Now`, `N seconds ago` (see [`pretty_time`]), or the clock-went-backward note.
/// Only the seconds count, compared with `now` (Unix seconds, as `time(NULL)`).
pub fn ago(t: &Timespec, now: i64) -> String {
    match now.cmp(&t.sec) {
        Ordering::Equal => "Now".to_owned(),
        Ordering::Less => {
            format!("({RED}System clock wound backward; connection problems may ensue.{RESET})")
        }
        Ordering::Greater => format!("{} ago", pretty_time(now.abs_diff(t.sec))),
    }
}

/// wg's `every`: `every ` and the interval as [`pretty_time`] prints it.
pub fn every(seconds: u16) -> String {
    format!("every {}", pretty_time(u64::from(seconds)))
}

/// wg's `bytes`: `N B` below 1 KiB, else two decimals of KiB, MiB, GiB or TiB, computed in
/// `double` as C does (Rust's `{:.2}` rounds the exact binary value half to even, like glibc).
pub fn bytes(b: u64) -> String {
    const KIB: u64 = 1024;
    let x = b as f64;
    if b < KIB {
        format!("{b} {CYAN}B{RESET}")
    } else if b < KIB * KIB {
        format!("{:.2} {CYAN}KiB{RESET}", x / 1024.0)
    } else if b < KIB * KIB * KIB {
        format!("{:.2} {CYAN}MiB{RESET}", x / (1024.0 * 1024.0))
    } else if b < KIB * KIB * KIB * KIB {
        format!("{:.2} {CYAN}GiB{RESET}", x / (1024.0 * 1024.0 * 1024.0))
    } else {
        format!(
            "{:.2} {CYAN}TiB{RESET}",
            x / (1024.0 * 1024.0 * 1024.0) / 1024.0
        )
    }
}

/// glibc's `inet_ntop`. Rust's IPv6 form is the same (RFC 5952: first longest zero run, no
/// single-group `::`, `::ffff:a.b.c.d`) except for IPv4-compatible addresses (`::a.b.c.d`,
/// the first six groups zero and the seventh not), which glibc prints as a dotted quad.
pub fn ntop(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if s[..6].iter().all(|&w| w == 0) && s[6] != 0 {
                let [.., a, b, c, d] = v6.octets();
                format!("::{a}.{b}.{c}.{d}")
            } else {
                v6.to_string()
            }
        }
    }
}

/// `getnameinfo(NI_NUMERICHOST | NI_NUMERICSERV)` as wg prints it: `HOST:PORT`, with brackets
/// when the host has a `:`.
pub fn endpoint(ep: &Endpoint) -> String {
    let mut host = ntop(&ep.ip);
    if let Some(scope) = &ep.scope {
        host.push('%');
        host.push_str(scope);
    }
    if ep.ip.is_ipv6() && host.contains(':') {
        format!("[{host}]:{}", ep.port)
    } else {
        format!("{host}:{}", ep.port)
    }
}

/// `wg show IFACE`: the interface, then its peers in [`sorted_peers`] order; with colours.
pub fn pretty(dev: &Device, now: i64, show_keys: bool) -> Text {
    let mut out = text_for(dev);
    let o = &mut *out;
    let _ = writeln!(
        o,
        "{RESET}{GREEN}{BOLD}interface{RESET}: {GREEN}{}{RESET}",
        dev.name
    );
    if let Some(public) = &dev.public_key {
        let _ = writeln!(o, "  {BOLD}public key{RESET}: {}", *key(public.as_bytes()));
    }
    if let Some(private) = &dev.private_key {
        let _ = writeln!(
            o,
            "  {BOLD}private key{RESET}: {}",
            *masked_key(private.as_bytes(), show_keys)
        );
    }
    if dev.listen_port != 0 {
        let _ = writeln!(o, "  {BOLD}listening port{RESET}: {}", dev.listen_port);
    }
    if dev.fwmark != 0 {
        let _ = writeln!(o, "  {BOLD}fwmark{RESET}: 0x{:x}", dev.fwmark);
    }
    // A blank line after the interface and between peers.
    for peer in sorted_peers(&dev.peers) {
        o.push('\n');
        pretty_peer(o, peer, now, show_keys);
    }
    out
}

fn pretty_peer(o: &mut String, peer: &Peer, now: i64, show_keys: bool) {
    let _ = writeln!(
        o,
        "{YELLOW}{BOLD}peer{RESET}: {YELLOW}{}{RESET}",
        *key(peer.public_key.as_bytes())
    );
    if let Some(psk) = &peer.preshared_key {
        let _ = writeln!(
            o,
            "  {BOLD}preshared key{RESET}: {}",
            *masked_key(psk.as_bytes(), show_keys)
        );
    }
    if let Some(ep) = &peer.endpoint {
        let _ = writeln!(o, "  {BOLD}endpoint{RESET}: {}", endpoint(ep));
    }
    let _ = write!(o, "  {BOLD}allowed ips{RESET}: ");
    if peer.allowed_ips.is_empty() {
        o.push_str("(none)\n");
    }
    for (i, ip) in peer.allowed_ips.iter().enumerate() {
        let end = if i + 1 < peer.allowed_ips.len() {
            ", "
        } else {
            "\n"
        };
        let _ = write!(o, "{}{CYAN}/{RESET}{}{end}", ntop(&ip.ip), ip.cidr);
    }
    if peer.last_handshake.sec != 0 {
        let _ = writeln!(
            o,
            "  {BOLD}latest handshake{RESET}: {}",
            ago(&peer.last_handshake, now)
        );
    }
    if peer.rx_bytes != 0 || peer.tx_bytes != 0 {
        let _ = writeln!(
            o,
            "  {BOLD}transfer{RESET}: {} received, {} sent",
            bytes(peer.rx_bytes),
            bytes(peer.tx_bytes)
        );
    }
    if peer.persistent_keepalive_interval != 0 {
        let _ = writeln!(
            o,
            "  {BOLD}persistent keepalive{RESET}: {}",
            every(peer.persistent_keepalive_interval)
        );
    }
}

/// Removes ANSI sequences as `terminal.c`'s `filter_ansi` does: `ESC [`, then everything up to
/// and including the next ASCII letter. (wg filters each `printf` on its own and so leaves an
/// `ESC [` in the last two bytes of one; none of wg's sequences sit there.)
pub fn strip_ansi(s: &str) -> Text {
    let b = s.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(b.len()));
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0x1b && b.get(i + 1) == Some(&b'[') && i + 2 < b.len() {
            i += 2;
            while i < b.len() && !b[i].is_ascii_alphabetic() {
                i += 1;
            }
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    // Only whole characters are removed (a run stops at an ASCII letter), so this is UTF-8.
    Zeroizing::new(String::from_utf8_lossy(&out).into_owned())
}

/// `wg show IFACE PARAM` (`ugly_print`): tab-separated fields, peers in the daemon's order,
/// each line led by `IFACE\t` when `with_interface` (`wg show all PARAM`). `None` for an
/// unknown `param`.
pub fn ugly(dev: &Device, param: &str, with_interface: bool) -> Option<Text> {
    let mut out = text_for(dev);
    let o = &mut *out;
    let prefix = if with_interface {
        format!("{}\t", dev.name)
    } else {
        String::new()
    };
    let private = dev.private_key.as_ref().map(PrivateKey::as_bytes);
    match param {
        "public-key" => {
            let _ = writeln!(
                o,
                "{prefix}{}",
                *maybe_key(dev.public_key.as_ref().map(PublicKey::as_bytes))
            );
        }
        "private-key" => {
            let _ = writeln!(o, "{prefix}{}", *maybe_key(private));
        }
        "listen-port" => {
            let _ = writeln!(o, "{prefix}{}", dev.listen_port);
        }
        "fwmark" => {
            let _ = writeln!(o, "{prefix}{}", fwmark(dev.fwmark));
        }
        "dump" => dump(o, dev, &prefix),
        "endpoints" => {
            // v1.0.20210914 prints the interface prefix once, before the peers (so also when
            // there are none, without a newline).
            o.push_str(&prefix);
            for peer in &dev.peers {
                let _ = writeln!(
                    o,
                    "{}\t{}",
                    *key(peer.public_key.as_bytes()),
                    ep_or_none(peer)
                );
            }
        }
        _ => {
            let field = peer_field(param)?;
            for peer in &dev.peers {
                let _ = writeln!(o, "{prefix}{}", *field(peer));
            }
        }
    }
    Some(out)
}

fn fwmark(mark: u32) -> String {
    if mark == 0 {
        "off".to_owned()
    } else {
        format!("0x{mark:x}")
    }
}

/// The per-peer line (without prefix and newline) of a peer `ugly_print` parameter.
fn peer_field(param: &str) -> Option<fn(&Peer) -> Text> {
    Some(match param {
        "peers" => |p| key(p.public_key.as_bytes()),
        "preshared-keys" => |p| {
            let psk = p.preshared_key.as_ref().map(PresharedKey::as_bytes);
            Zeroizing::new(format!(
                "{}\t{}",
                *key(p.public_key.as_bytes()),
                *maybe_key(psk)
            ))
        },
        "allowed-ips" => |p| {
            let ips = ips_or_none(p, " ");
            Zeroizing::new(format!("{}\t{ips}", *key(p.public_key.as_bytes())))
        },
        "latest-handshakes" => |p| {
            let sec = p.last_handshake.sec;
            Zeroizing::new(format!("{}\t{sec}", *key(p.public_key.as_bytes())))
        },
        "transfer" => |p| {
            let (rx, tx) = (p.rx_bytes, p.tx_bytes);
            Zeroizing::new(format!("{}\t{rx}\t{tx}", *key(p.public_key.as_bytes())))
        },
        "persistent-keepalive" => |p| {
            let ka = keepalive(p.persistent_keepalive_interval);
            Zeroizing::new(format!("{}\t{ka}", *key(p.public_key.as_bytes())))
        },
        _ => return None,
    })
}

fn ep_or_none(p: &Peer) -> String {
    p.endpoint
        .as_ref()
        .map_or_else(|| "(none)".to_owned(), endpoint)
}

fn ips_or_none(p: &Peer, sep: &str) -> String {
    if p.allowed_ips.is_empty() {
        return "(none)".to_owned();
    }
    let ips: Vec<String> = p
        .allowed_ips
        .iter()
        .map(|a| format!("{}/{}", ntop(&a.ip), a.cidr))
        .collect();
    ips.join(sep)
}

fn keepalive(seconds: u16) -> String {
    if seconds == 0 {
        "off".to_owned()
    } else {
        seconds.to_string()
    }
}

/// `dump_print`: the interface line, then one line per peer.
fn dump(o: &mut String, dev: &Device, prefix: &str) {
    let private = dev.private_key.as_ref().map(PrivateKey::as_bytes);
    let _ = writeln!(
        o,
        "{prefix}{}\t{}\t{}\t{}",
        *maybe_key(private),
        *maybe_key(dev.public_key.as_ref().map(PublicKey::as_bytes)),
        dev.listen_port,
        fwmark(dev.fwmark)
    );
    for p in &dev.peers {
        let psk = p.preshared_key.as_ref().map(PresharedKey::as_bytes);
        let _ = writeln!(
            o,
            "{prefix}{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            *key(p.public_key.as_bytes()),
            *maybe_key(psk),
            ep_or_none(p),
            ips_or_none(p, ","),
            p.last_handshake.sec,
            p.rx_bytes,
            p.tx_bytes,
            keepalive(p.persistent_keepalive_interval)
        );
    }
}

/// `wg showconf IFACE`: the interface's wg keys as a config file, peers in the daemon's order,
/// keys in full.
pub fn showconf(dev: &Device) -> Text {
    let mut out = text_for(dev);
    let o = &mut *out;
    o.push_str("[Interface]\n");
    if dev.listen_port != 0 {
        let _ = writeln!(o, "ListenPort = {}", dev.listen_port);
    }
    if dev.fwmark != 0 {
        let _ = writeln!(o, "FwMark = 0x{:x}", dev.fwmark);
    }
    if let Some(private) = &dev.private_key {
        let _ = writeln!(o, "PrivateKey = {}", *key(private.as_bytes()));
    }
    o.push('\n');
    for (i, p) in dev.peers.iter().enumerate() {
        if i != 0 {
            o.push('\n');
        }
        let _ = writeln!(o, "[Peer]\nPublicKey = {}", *key(p.public_key.as_bytes()));
        if let Some(psk) = &p.preshared_key {
            let _ = writeln!(o, "PresharedKey = {}", *key(psk.as_bytes()));
        }
        if !p.allowed_ips.is_empty() {
            let _ = writeln!(o, "AllowedIPs = {}", ips_or_none(p, ", "));
        }
        if let Some(ep) = &p.endpoint {
            let _ = writeln!(o, "Endpoint = {}", endpoint(ep));
        }
        if p.persistent_keepalive_interval != 0 {
            let _ = writeln!(
                o,
                "PersistentKeepalive = {}",
                p.persistent_keepalive_interval
            );
        }
    }
    out
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
