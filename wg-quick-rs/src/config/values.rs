//! Value parsers for every config key, strict where `wg` or `ip` would wrap or guess: ports and
//! keepalives past 65535, prefixes past the family's length, keys that are not canonical base64.
//! Each returns the message of a [`ConfigError`](super::ConfigError); none echoes a secret.

use super::types::{Cidr, Endpoint, PresharedKey, PrivateKey, PublicKey, Table};
use std::net::{IpAddr, Ipv6Addr};
use wgrs_uapi::keys::key_from_base64;
use zeroize::Zeroizing;

/// Message result: the caller adds file, line and key.
pub(crate) type ValueResult<T> = Result<T, String>;

/// `PrivateKey`, `PublicKey`, `PresharedKey`: the value is never quoted back.
fn key(value: &str) -> ValueResult<Zeroizing<[u8; 32]>> {
    key_from_base64(value).map(Zeroizing::new).map_err(|_| {
        "not a valid key (44 characters of base64 ending in `=', as `wg genkey' prints)".to_owned()
    })
}

/// `PrivateKey`: clamped, as every WireGuard implementation holds it; all zeros means none.
pub(crate) fn private_key(value: &str) -> ValueResult<Option<PrivateKey>> {
    let raw = key(value)?;
    Ok(raw
        .iter()
        .any(|&b| b != 0)
        .then(|| PrivateKey::from_bytes(*raw)))
}

/// `PublicKey`.
pub(crate) fn public_key(value: &str) -> ValueResult<PublicKey> {
    key(value).map(|raw| PublicKey(*raw))
}

/// `PresharedKey`.
pub(crate) fn preshared_key(value: &str) -> ValueResult<PresharedKey> {
    key(value).map(|raw| PresharedKey::from_bytes(*raw))
}

/// Decimal digits only, saturating (so a huge number is simply out of range).
pub(crate) fn decimal(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

fn digits_in_radix(value: &str, radix: u32) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.chars().try_fold(0u64, |acc, c| {
        let d = c.to_digit(radix)?;
        Some(
            acc.saturating_mul(u64::from(radix))
                .saturating_add(u64::from(d)),
        )
    })
}

/// `strtoul(value, &end, 0)` without sign or whitespace: `0x` hex, leading `0` octal, else
/// decimal, as iproute2 reads table ids and MTUs.
pub(crate) fn c_unsigned(value: &str) -> Option<u64> {
    if let Some(hex) = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        digits_in_radix(hex, 16)
    } else if value.len() > 1 && value.starts_with('0') {
        digits_in_radix(value.get(1..)?, 8)
    } else {
        decimal(value)
    }
}

/// A port as `getaddrinfo` reads a numeric service (`strtoul`: an optional `+`, decimal
/// digits), but 0–65535 only where glibc silently wraps larger numbers. Service names such as
/// `domain` are not looked up.
fn port(value: &str) -> ValueResult<u16> {
    decimal(value.strip_prefix('+').unwrap_or(value))
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| format!("`{value}' is not a port number (0-65535)"))
}

/// `ListenPort`: 0–65535 (0 lets the device choose).
pub(crate) fn listen_port(value: &str) -> ValueResult<u16> {
    port(value)
}

/// `FwMark`: `off`, decimal, or `0x` hex, at most 0xffffffff (as `wg`).
pub(crate) fn fwmark(value: &str) -> ValueResult<u32> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    let n = match value.strip_prefix("0x") {
        Some(hex) if !hex.is_empty() => digits_in_radix(hex, 16),
        _ => decimal(value),
    };
    n.and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("`{value}' is neither 0/off nor 0-0xffffffff"))
}

/// `PersistentKeepalive`: `off` or 0–65535 seconds.
pub(crate) fn keepalive(value: &str) -> ValueResult<u16> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    decimal(value)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| format!("`{value}' is neither 0/off nor 1-65535"))
}

/// An address with an optional `/prefix` (host bits kept): one entry of `AllowedIPs` or
/// `Address`. Without a prefix the whole address is meant (/32 or /128).
pub(crate) fn cidr(value: &str) -> ValueResult<Cidr> {
    let (ip, prefix) = match value.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (value, None),
    };
    let addr: IpAddr = ip
        .parse()
        .map_err(|_| format!("`{ip}' is not an IP address"))?;
    let max = Cidr::max_prefix(addr);
    let prefix = match prefix {
        None => max,
        Some(p) => decimal(p)
            .and_then(|n| u8::try_from(n).ok())
            .filter(|&n| n <= max)
            .ok_or_else(|| format!("`{value}' has a prefix length that is not 0-{max}"))?,
    };
    Ok(Cidr { addr, prefix })
}

/// `AllowedIPs` after `wg` removed the whitespace: a comma list, no empty entries.
pub(crate) fn allowed_ips(value: &str) -> ValueResult<Vec<Cidr>> {
    value
        .split(',')
        .map(|entry| {
            if entry.is_empty() {
                Err("empty entry in the list".to_owned())
            } else {
                cidr(entry)
            }
        })
        .collect()
}

/// wg-quick's `${value//,/ }` followed by word splitting.
pub(crate) fn quick_words(value: &str) -> impl Iterator<Item = &str> {
    value
        .split([',', ' ', '\t'])
        .filter(|word| !word.is_empty())
}

/// `Endpoint`: `host:port`, `[v6]:port`, or an unbracketed IPv6 address whose last `:` starts
/// the port (as `wg` splits it). The port must be numeric.
pub(crate) fn endpoint(value: &str) -> ValueResult<Endpoint> {
    let (host, port_text) = if let Some(inner) = value.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("`{value}' has no closing `]'"))?;
        let port = after.strip_prefix(':').filter(|p| !p.is_empty());
        (host, port.ok_or_else(|| format!("`{value}' has no port"))?)
    } else {
        match value.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() => (host, port),
            _ => return Err(format!("`{value}' has no port")),
        }
    };
    if host.is_empty() {
        return Err(format!("`{value}' has no host"));
    }
    if host.chars().any(char::is_control) {
        return Err(format!("{host:?} is not a host name (control character)"));
    }
    if !host.contains(':') && host.contains(['[', ']']) {
        // `[[x]:1` would be host `[x`, written back by `save` as `[x:1`, which does not parse.
        return Err(format!("`{host}' is not a host name (bracket)"));
    }
    if host.contains(':') && !is_ipv6_host(host) {
        return Err(format!("`{host}' is not an IPv6 address"));
    }
    Ok(Endpoint {
        host: host.to_owned(),
        port: port(port_text)?,
    })
}

/// An IPv6 literal, optionally with a `%scope` (getaddrinfo accepts `fe80::1%eth0`). The
/// scope is an interface name or number: at most 15 bytes (IFNAMSIZ - 1), without brackets,
/// `%`, `/`, `:` or whitespace, so that `[host]:port` (how `save` writes it) reads back as the
/// same host (`fe80::1%a]:1` would become `[fe80::1%a]]:1`).
fn is_ipv6_host(host: &str) -> bool {
    let (addr, scope) = match host.split_once('%') {
        Some((addr, scope)) => (addr, Some(scope)),
        None => (host, None),
    };
    let scope_ok = |s: &str| {
        (1..=15).contains(&s.len())
            && !s.chars().any(|c| {
                c.is_whitespace() || c.is_control() || matches!(c, '[' | ']' | '%' | '/' | ':')
            })
    };
    addr.parse::<Ipv6Addr>().is_ok() && scope.is_none_or(scope_ok)
}

/// `Table`: `auto`, `off` (both lowercase, as wg-quick compares them), a number (iproute2's
/// `strtoul` base 0), or a name from `names` (iproute2's built-ins plus rt_tables entries).
pub(crate) fn table(value: &str, names: &[(String, u32)]) -> ValueResult<Table> {
    match value {
        "" | "auto" => return Ok(Table::Auto),
        "off" => return Ok(Table::Off),
        _ => {}
    }
    let named = BUILTIN_TABLES
        .iter()
        .find(|(name, _)| *name == value)
        .map(|&(_, id)| id)
        .or_else(|| {
            names
                .iter()
                .find(|(name, _)| name == value)
                .map(|&(_, id)| id)
        });
    if let Some(id) = named {
        return Ok(Table::Id(id));
    }
    c_unsigned(value)
        .and_then(|n| u32::try_from(n).ok())
        .map(Table::Id)
        .ok_or_else(|| {
            format!("`{value}' is neither auto, off, a table number nor a known table name")
        })
}

/// iproute2's built-in table names.
pub(crate) const BUILTIN_TABLES: [(&str, u32); 3] =
    [("default", 253), ("main", 254), ("local", 255)];

/// `MTU`: iproute2 reads it with `strtoul` base 0; the kernel wants at least 68 (IPv4's
/// minimum) and a wireguard link cannot carry more than 65535.
pub(crate) fn mtu(value: &str) -> ValueResult<u32> {
    c_unsigned(value)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (68..=65535).contains(n))
        .ok_or_else(|| format!("`{value}' is not an MTU (68-65535)"))
}

/// `SaveConfig`: `true` or `false`, any case (wg-quick compares under `nocasematch`).
pub(crate) fn bool_value(value: &str) -> ValueResult<bool> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("`{value}' is neither true nor false"))
    }
}

/// One `DNS` word: wg-quick calls it a name server when it is all digits and dots or contains
/// a `:`, and a search domain otherwise.
pub(crate) enum DnsEntry {
    Server(IpAddr),
    Search(String),
}

pub(crate) fn dns_entry(word: &str) -> ValueResult<DnsEntry> {
    let looks_like_ip = word.bytes().all(|b| b.is_ascii_digit() || b == b'.') || word.contains(':');
    // `DNS = a,\vb` would give "\vb", which `save` writes as `DNS = \vb` and which reads back
    // as "b" (the value is trimmed): no whitespace or control character inside a word.
    if word.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{word:?} is not a search domain or IP address (whitespace or control character)"
        ));
    }
    if !looks_like_ip {
        return Ok(DnsEntry::Search(word.to_owned()));
    }
    word.parse()
        .map(DnsEntry::Server)
        .map_err(|_| format!("`{word}' is not an IP address"))
}
