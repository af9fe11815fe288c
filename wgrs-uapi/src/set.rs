//! `set=1` request body -> [`SetRequest`], validated whole before anything is applied
//! (wireguard-go `device/uapi.go` `IpcSetOperation`, `handleDeviceLine`, `handlePeerLine`).

use ipnet::IpNet;
use std::net::SocketAddr;
use zeroize::Zeroize;

use crate::keys::{key_from_hex, PresharedKey, PrivateKey, PublicKey, KEY_LEN};
use crate::netip::{parse_addr_port, parse_go_uint, parse_prefix};
use crate::{UapiError, ERRNO_INVALID, ERRNO_IO, ERRNO_PROTOCOL};

/// Longest `set` line wireguard-go can read, in bytes, not counting its `\n` (a `\r` before the
/// `\n` counts). Its `bufio.Scanner` holds at most 64 KiB including the `\n`; a longer line
/// fails the request with `-EIO` ([`ERRNO_IO`]). A server may stop buffering a line once it is
/// longer than this and pass the first `MAX_LINE_LEN + 1` bytes: the answer is the same.
pub const MAX_LINE_LEN: usize = 64 * 1024 - 1;

/// A validated `set=1` request. `Debug` never prints key material.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetRequest {
    /// `None`: unchanged. `Some(None)`: clear (the all-zero key). `Some(Some(k))`: set `k`
    /// (clamped, as wireguard-go's `FromMaybeZeroHex` does).
    pub private_key: Option<Option<PrivateKey>>,
    /// New UDP port (0 = any); the driver rebinds.
    pub listen_port: Option<u16>,
    /// New fwmark; `Some(0)` removes it. The driver applies it.
    pub fwmark: Option<u32>,
    /// Remove every peer before the peer sections apply.
    pub replace_peers: bool,
    /// Peer sections in request order (a key may appear more than once).
    pub peers: Vec<PeerSet>,
}

/// One peer section: a `public_key=` line and the lines after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSet {
    /// The peer; equal to the device's own public key means the section is ignored.
    pub public_key: PublicKey,
    /// `remove=true`: remove the peer; every other line of the section is then moot.
    pub remove: bool,
    /// `update_only=true`: skip the section when the peer does not exist yet.
    pub update_only: bool,
    /// New preshared key (all zeros = none).
    pub preshared_key: Option<PresharedKey>,
    /// New endpoint.
    pub endpoint: Option<SocketAddr>,
    /// New persistent keepalive interval in seconds (0 = off).
    pub persistent_keepalive_interval: Option<u16>,
    /// `replace_allowed_ips=true`: drop the peer's allowed IPs before `allowed_ips` apply.
    pub replace_allowed_ips: bool,
    /// Allowed-IP changes in order (after the last `replace_allowed_ips`), host bits masked.
    pub allowed_ips: Vec<AllowedIpChange>,
}

impl PeerSet {
    /// A section that only names the peer (creates it if missing).
    pub fn new(public_key: PublicKey) -> Self {
        Self {
            public_key,
            remove: false,
            update_only: false,
            preshared_key: None,
            endpoint: None,
            persistent_keepalive_interval: None,
            replace_allowed_ips: false,
            allowed_ips: Vec::new(),
        }
    }
}

/// One `allowed_ip=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowedIpChange {
    /// `allowed_ip=PREFIX`: route the prefix to this peer (taking it from any other).
    Add(IpNet),
    /// `allowed_ip=-PREFIX`: stop routing the prefix, if this peer owns exactly it.
    Remove(IpNet),
}

/// Parse a `set=1` body: the text after the `set=1\n` line, up to (not including) the blank
/// line that ends it. Lines end in `\n` or `\r\n`; the first blank line ends the request (the
/// rest is ignored); a body that simply ends (EOF) is complete too. The first bad line decides
/// the errno, as in wireguard-go: no `=` is [`ERRNO_PROTOCOL`], a line longer than
/// [`MAX_LINE_LEN`] is [`ERRNO_IO`], anything else [`ERRNO_INVALID`].
pub fn parse_set(text: &str) -> Result<SetRequest, UapiError> {
    parse_set_bytes(text.as_bytes())
}

/// [`parse_set`] on raw bytes (as read from the socket; non-UTF-8 values are invalid).
pub fn parse_set_bytes(text: &[u8]) -> Result<SetRequest, UapiError> {
    let mut req = SetRequest::default();
    for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
        let n = i + 1;
        if raw.len() > MAX_LINE_LEN {
            let msg =
                format!("line {n}: failed to read input: line longer than {MAX_LINE_LEN} bytes");
            return Err(UapiError::new(ERRNO_IO, msg));
        }
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            break;
        }
        parse_line(&mut req, n, line)?;
    }
    Ok(req)
}

/// One `key=value` line: `public_key` opens a peer section; before the first one, lines are
/// device keys, after it peer keys.
fn parse_line(req: &mut SetRequest, n: usize, line: &[u8]) -> Result<(), UapiError> {
    let Some(eq) = line.iter().position(|&c| c == b'=') else {
        let msg = format!("line {n}: failed to parse line: no '=' in it");
        return Err(UapiError::new(ERRNO_PROTOCOL, msg));
    };
    let (key, value) = line.split_at(eq);
    let value = value.get(1..).unwrap_or_default();
    if key == b"public_key" {
        let pk = hex_key(value).map_err(|e| invalid(n, "failed to get peer by public key", e))?;
        req.peers.push(PeerSet::new(PublicKey(pk)));
        return Ok(());
    }
    if let Some(peer) = req.peers.last_mut() {
        return peer_line(peer, n, key, value);
    }
    device_line(req, n, key, value)
}

/// Device keys (wireguard-go `handleDeviceLine`).
fn device_line(req: &mut SetRequest, n: usize, key: &[u8], value: &[u8]) -> Result<(), UapiError> {
    match key {
        b"private_key" => {
            let key = private_key(value).map_err(|e| invalid(n, "failed to set private_key", e))?;
            req.private_key = Some(key);
        }
        b"listen_port" => {
            let port = parse_go_uint(value, u16::MAX.into())
                .ok_or_else(|| invalid(n, "failed to parse listen_port", &show(value)))?;
            req.listen_port = Some(port as u16);
        }
        b"fwmark" => {
            let mark = parse_go_uint(value, u32::MAX.into())
                .ok_or_else(|| invalid(n, "invalid fwmark", &show(value)))?;
            req.fwmark = Some(mark as u32);
        }
        b"replace_peers" => {
            expect_true(n, "failed to set replace_peers", value)?;
            req.replace_peers = true;
        }
        _ => return Err(invalid(n, "invalid UAPI device key", &show(key))),
    }
    Ok(())
}

/// Peer keys (wireguard-go `handlePeerLine`).
fn peer_line(peer: &mut PeerSet, n: usize, key: &[u8], value: &[u8]) -> Result<(), UapiError> {
    match key {
        b"update_only" => {
            expect_true(n, "failed to set update only", value)?;
            peer.update_only = true;
        }
        b"remove" => {
            expect_true(n, "failed to set remove", value)?;
            peer.remove = true;
        }
        b"preshared_key" => {
            let mut raw =
                hex_key(value).map_err(|e| invalid(n, "failed to set preshared key", e))?;
            peer.preshared_key = Some(PresharedKey::from_bytes(raw));
            raw.zeroize();
        }
        b"endpoint" => {
            let ep = parse_addr_port(value).map_err(|e| {
                invalid(
                    n,
                    "failed to set endpoint",
                    &format!("{}: {e}", show(value)),
                )
            })?;
            peer.endpoint = Some(ep);
        }
        b"persistent_keepalive_interval" => {
            let secs = parse_go_uint(value, u16::MAX.into()).ok_or_else(|| {
                invalid(
                    n,
                    "failed to set persistent keepalive interval",
                    &show(value),
                )
            })?;
            peer.persistent_keepalive_interval = Some(secs as u16);
        }
        b"replace_allowed_ips" => {
            expect_true(n, "failed to replace allowedips", value)?;
            peer.replace_allowed_ips = true;
            peer.allowed_ips.clear();
        }
        b"allowed_ip" => peer.allowed_ips.push(allowed_ip(n, value)?),
        b"protocol_version" => {
            if value != b"1" {
                return Err(invalid(n, "invalid protocol version", &show(value)));
            }
        }
        _ => return Err(invalid(n, "invalid UAPI peer key", &show(key))),
    }
    Ok(())
}

/// `PREFIX` adds, `-PREFIX` removes (wireguard-go master, 2025; see NOTES.md).
fn allowed_ip(n: usize, value: &[u8]) -> Result<AllowedIpChange, UapiError> {
    let (remove, text) = match value.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let net = parse_prefix(text).map_err(|e| {
        invalid(
            n,
            "failed to set allowed ip",
            &format!("{}: {e}", show(value)),
        )
    })?;
    Ok(if remove {
        AllowedIpChange::Remove(net)
    } else {
        AllowedIpChange::Add(net)
    })
}

/// 64 hex digits, either case (Go `hex.DecodeString` plus an exact-length check).
fn hex_key(value: &[u8]) -> Result<[u8; KEY_LEN], &'static str> {
    let s = std::str::from_utf8(value).map_err(|_| "not 64 hex digits")?;
    key_from_hex(s).map_err(|_| "not 64 hex digits")
}

/// A private key; all zeros means "clear" (wireguard-go `FromMaybeZeroHex`).
fn private_key(value: &[u8]) -> Result<Option<PrivateKey>, &'static str> {
    let mut raw = hex_key(value)?;
    let key = (raw != [0u8; KEY_LEN]).then(|| PrivateKey::from_bytes(raw));
    raw.zeroize();
    Ok(key)
}

/// wireguard-go accepts exactly `true` for the flag keys.
fn expect_true(n: usize, what: &str, value: &[u8]) -> Result<(), UapiError> {
    if value == b"true" {
        Ok(())
    } else {
        Err(invalid(n, what, &format!("invalid value: {}", show(value))))
    }
}

fn invalid(n: usize, what: &str, detail: &str) -> UapiError {
    UapiError::new(ERRNO_INVALID, format!("line {n}: {what}: {detail}"))
}

/// Quote untrusted text for a log message, cut to a readable length.
fn show(b: &[u8]) -> String {
    const MAX: usize = 64;
    let text = String::from_utf8_lossy(b.get(..MAX).unwrap_or(b));
    if b.len() > MAX {
        format!("{text:?}…")
    } else {
        format!("{text:?}")
    }
}

#[cfg(test)]
#[path = "set_tests.rs"]
mod tests;
