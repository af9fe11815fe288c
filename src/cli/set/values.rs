//! One value of `wg set` / `wg setconf` input, parsed as wireguard-tools' `config.c` parses it
//! (`parse_port`, `parse_fwmark`, `parse_key`, `parse_keyfile`, `parse_ip`, `parse_allowedips`,
//! `parse_endpoint`, `parse_persistent_keepalive`), with its exact messages.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use wgrs::platform::resolve::{getaddrinfo_udp, inet_pton, GaiError};
use wgrs::proto::keys::{key_from_base64, KEY_BASE64_LEN, KEY_LEN};
use zeroize::Zeroizing;

/// Refused input: the line `wg` prints for it. `exit_now`: `wg` exits at once (status 1)
/// without the caller's usual closing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bad {
    pub text: String,
    pub exit_now: bool,
}

impl Bad {
    fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            exit_now: false,
        }
    }
}

/// Where warnings and retry notes go as they happen (stderr; a buffer in tests).
pub(crate) type Notes<'a> = &'a mut dyn FnMut(&str);

/// A key's raw bytes, wiped on drop.
pub(crate) type RawKey = Zeroizing<[u8; KEY_LEN]>;

/// `char_is_space`: `\t \n \v \f \r` and space.
pub(crate) fn is_space(c: u8) -> bool {
    matches!(c, 9..=13 | 32)
}

/// `strtoul` on text that starts with a digit (so no sign or space): the value of the leading
/// digits in `radix` (saturating at `u64::MAX` as `strtoul` does) and whether they were all.
fn leading_number(text: &str, radix: u32) -> (u64, bool) {
    let digits = text.chars().take_while(|c| c.is_digit(radix)).count();
    let value = text.chars().take(digits).fold(0u64, |n, c| {
        n.saturating_mul(u64::from(radix))
            .saturating_add(u64::from(c.to_digit(radix).unwrap_or(0)))
    });
    (value, digits == text.len())
}

/// `ListenPort` / `listen-port`: anything `getaddrinfo` takes as a UDP service.
pub(crate) fn port(value: &str) -> Result<u16, Bad> {
    if value.is_empty() {
        return Err(Bad::new("Unable to parse empty port"));
    }
    match getaddrinfo_udp(None, value) {
        Ok(Some(addr)) => Ok(addr.port()),
        Ok(None) => Err(Bad::new(format!(
            "Neither IPv4 nor IPv6 address found: `{value}'"
        ))),
        Err(e) => Err(Bad::new(format!("{}: `{value}'", e.message))),
    }
}

/// `FwMark` / `fwmark`: `off`, or decimal, or `0x` hexadecimal, up to 2^32 - 1.
pub(crate) fn fwmark(value: &str) -> Result<u32, Bad> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    let bad = || {
        Bad::new(format!(
            "Fwmark is neither 0/off nor 0-0xffffffff: `{value}'"
        ))
    };
    if !value.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad());
    }
    let (radix, digits) = match value.strip_prefix("0x") {
        Some(hex) if value.len() > 2 => (16, hex),
        _ => (10, value),
    };
    match leading_number(digits, radix) {
        (n, true) if !digits.is_empty() => u32::try_from(n).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// `PersistentKeepalive` / `persistent-keepalive`: `off` or 0..=65535 seconds.
pub(crate) fn keepalive(value: &str) -> Result<u16, Bad> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    let bad = || {
        Bad::new(format!(
            "Persistent keepalive interval is neither 0/off nor 1-65535: `{value}'"
        ))
    };
    if !value.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad());
    }
    match leading_number(value, 10) {
        (n, true) => u16::try_from(n).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// A base64 key written inline.
pub(crate) fn key(value: &str) -> Result<RawKey, Bad> {
    key_from_base64(value).map(Zeroizing::new).map_err(|_| {
        Bad::new(format!(
            "Key is not the correct length or format: `{value}'"
        ))
    })
}

/// A key read from a file: 44 base64 characters, then only white space. An empty file (or
/// `/dev/null`) is the all-zero key, which clears a private or preshared key.
pub(crate) fn keyfile(path: &str) -> Result<RawKey, Bad> {
    let file = File::open(path).map_err(|e| Bad::new(format!("fopen: {}", strerror(&e))))?;
    let mut reader = BufReader::new(file);
    let mut text = Zeroizing::new([0u8; KEY_BASE64_LEN]);
    let (got, failed) = read_up_to(&mut reader, &mut text[..]);
    if got < KEY_BASE64_LEN {
        if got == 0 && !failed {
            return Ok(Zeroizing::new([0u8; KEY_LEN]));
        }
        return Err(Bad::new("Invalid length key in key file"));
    }
    let mut byte = [0u8; 1];
    while let (1, _) = read_up_to(&mut reader, &mut byte) {
        if !is_space(byte[0]) {
            let c = char::from(byte[0]);
            return Err(Bad::new(format!(
                "Found trailing character in key file: `{c}'"
            )));
        }
    }
    // wg passes the text as a C string: it ends at a NUL byte.
    let end = text.iter().position(|&b| b == 0).unwrap_or(KEY_BASE64_LEN);
    key(&String::from_utf8_lossy(&text[..end]))
}

/// Reads until `buf` is full, the end, or an error: (bytes read, whether an error stopped it).
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> (usize, bool) {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return (got, false),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (got, true),
        }
    }
    (got, false)
}

/// `AllowedIPs` / `allowed-ips`: comma-separated `ADDR[/CIDR]`, white space already removed.
/// Host bits are kept (the daemon masks them) after a warning, as `wg` does.
pub(crate) fn allowed_ips(value: &str, notes: Notes<'_>) -> Result<Vec<IpNet>, Bad> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in value.split(',') {
        let (ip_text, mask) = match entry.split_once('/') {
            Some((ip, mask)) => (ip, Some(mask)),
            None => (entry, None),
        };
        let ip = inet_pton(ip_text)
            .ok_or_else(|| Bad::new(format!("Unable to parse IP address: `{ip_text}'")))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let bad = || Bad::new(format!("AllowedIP is not in the correct format: `{entry}'"));
        let cidr = match mask {
            None => max,
            Some(m) if m.starts_with(|c: char| c.is_ascii_digit()) => match leading_number(m, 10) {
                (n, true) if n <= u64::from(max) => n as u8,
                _ => return Err(bad()),
            },
            Some(_) => return Err(bad()),
        };
        let net = IpNet::new(ip, cidr).map_err(|_| bad())?;
        if net.trunc().addr() != ip {
            notes(&format!(
                "Warning: AllowedIP has nonzero host part: {ip_text}/{}",
                mask.unwrap_or_default()
            ));
        }
        out.push(net);
    }
    Ok(out)
}

/// `WG_ENDPOINT_RESOLUTION_RETRIES`: unset 15, `infinity` (None), else `strtoul` up to
/// `INT_MAX`; anything else ends the program.
fn retries() -> Result<Option<u64>, Bad> {
    let Some(raw) = std::env::var_os("WG_ENDPOINT_RESOLUTION_RETRIES") else {
        return Ok(Some(15));
    };
    let text = raw.to_string_lossy();
    if text == "infinity" {
        return Ok(None);
    }
    let trimmed = text.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let (n, all) = leading_number(digits, 10);
    let converted = digits.starts_with(|c: char| c.is_ascii_digit());
    let ok = (all && converted) || text.is_empty();
    match (ok, negative) {
        (true, false) if n <= i32::MAX as u64 => Ok(Some(n)),
        (true, true) if n == 0 => Ok(Some(0)),
        _ => Err(Bad {
            text: format!("Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: `{text}'"),
            exit_now: true,
        }),
    }
}

/// `Endpoint` / `endpoint`: `HOST:PORT` or `[HOST]:PORT`, resolved now; transient resolver
/// failures are retried (`WG_ENDPOINT_RESOLUTION_RETRIES`) after a note, 1 s then 6/5 as long
/// each time, at most 20 s.
pub(crate) fn endpoint(value: &str, notes: Notes<'_>) -> Result<SocketAddr, Bad> {
    let mut retries = retries()?;
    if value.is_empty() {
        return Err(Bad::new("Unable to parse empty endpoint"));
    }
    let no_port = || Bad::new(format!("Unable to find port of endpoint: `{value}'"));
    let (host, service) = match value.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']').ok_or_else(|| {
                Bad::new(format!(
                    "Unable to find matching brace of endpoint: `{value}'"
                ))
            })?;
            match after.strip_prefix(':') {
                Some(port) if !port.is_empty() => (host, port),
                _ => return Err(no_port()),
            }
        }
        None => match value.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() => (host, port),
            _ => return Err(no_port()),
        },
    };
    let mut timeout_us: u64 = 1_000_000;
    loop {
        match getaddrinfo_udp(Some(host), service) {
            Ok(Some(addr)) => return Ok(addr),
            Ok(None) => {
                return Err(Bad::new(format!(
                    "Neither IPv4 nor IPv6 address found: `{value}'"
                )))
            }
            Err(e) if give_up(&e, &mut retries) => {
                return Err(Bad::new(format!("{}: `{value}'", e.message)))
            }
            Err(e) => {
                let secs = timeout_us as f64 / 1_000_000.0;
                notes(&format!(
                    "{}: `{value}'. Trying again in {secs:.2} seconds...",
                    e.message
                ));
                #[allow(clippy::disallowed_methods)] // the CLI waits as wg does
                std::thread::sleep(Duration::from_micros(timeout_us));
                timeout_us = (timeout_us * 6 / 5).min(20_000_000);
            }
        }
    }
}

/// Whether a failed lookup is final: a permanent error, or no retries left (one is used up).
fn give_up(e: &GaiError, retries: &mut Option<u64>) -> bool {
    if e.is_permanent() {
        return true;
    }
    match retries {
        None => false,
        Some(0) => true,
        Some(n) => {
            *n -= 1;
            false
        }
    }
}

fn strerror(e: &std::io::Error) -> String {
    wgrs_uapi::client::strerror(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
