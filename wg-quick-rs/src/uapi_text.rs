//! UAPI text for a [`Config`]: the `set=1` body `wg setconf` would send, and a `get=1` reply
//! read back into a `Config` (wg keys only) so that `save` needs no `wg showconf`.
//! Formats follow wireguard-tools' `ipc-uapi.h`.

use crate::config::{Cidr, Config, Endpoint, Key, Line, Peer};
use std::error::Error;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use zeroize::Zeroizing;

/// The `set=1` request `wg setconf` sends for `cfg`, blank-line terminated, in `ipc-uapi.h`'s
/// order: `private_key` (64 zeros when the config has none: setconf clears it), `listen_port`
/// and `fwmark` (0 when unset), `replace_peers=true`; per peer `public_key`, `preshared_key`,
/// `endpoint`, `persistent_keepalive_interval`, `replace_allowed_ips=true`, `allowed_ip`s.
///
/// `endpoints[i]` is peer *i*'s resolved endpoint (see
/// [`resolve_all`](crate::resolve::resolve_all)). Where it is missing, an endpoint written as
/// an IP literal is used as is and a host name is left out.
pub fn to_uapi_set(cfg: &Config, endpoints: &[Option<SocketAddr>]) -> Zeroizing<String> {
    crate::config::render_exact(|w| write_set(w, cfg, endpoints))
}

fn write_set(
    w: &mut dyn fmt::Write,
    cfg: &Config,
    endpoints: &[Option<SocketAddr>],
) -> fmt::Result {
    let iface = &cfg.interface;
    let zero = Key([0u8; 32]);
    let private = iface.private_key.as_ref().unwrap_or(&zero);
    writeln!(w, "set=1\nprivate_key={}", private.to_hex().as_str())?;
    writeln!(w, "listen_port={}", iface.listen_port.unwrap_or(0))?;
    writeln!(w, "fwmark={}", iface.fwmark.unwrap_or(0))?;
    w.write_str("replace_peers=true\n")?;
    for (i, peer) in cfg.peers.iter().enumerate() {
        writeln!(w, "public_key={}", peer.public_key.to_hex().as_str())?;
        if let Some(psk) = &peer.preshared_key {
            writeln!(w, "preshared_key={}", psk.to_hex().as_str())?;
        }
        let resolved = endpoints.get(i).copied().flatten();
        if let Some(addr) = resolved.or_else(|| peer.endpoint.as_ref().and_then(literal)) {
            writeln!(w, "endpoint={addr}")?;
        }
        if let Some(keepalive) = peer.persistent_keepalive {
            writeln!(w, "persistent_keepalive_interval={keepalive}")?;
        }
        w.write_str("replace_allowed_ips=true\n")?;
        for cidr in &peer.allowed_ips {
            writeln!(w, "allowed_ip={cidr}")?;
        }
    }
    w.write_str("\n")
}

fn literal(endpoint: &Endpoint) -> Option<SocketAddr> {
    let ip: IpAddr = endpoint.host.parse().ok()?;
    Some(SocketAddr::new(ip, endpoint.port))
}

/// A malformed or failed `get=1` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UapiTextError {
    /// 1-based line of the reply (0: the reply as a whole).
    pub line: usize,
    /// What is wrong; never a key's value.
    pub message: String,
}

impl fmt::Display for UapiTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UAPI reply line {}: {}", self.line, self.message)
    }
}

impl Error for UapiTextError {}

/// Reads a `get=1` reply (up to the blank line) into a [`Config`] holding what `wg showconf`
/// shows: private key, listen port, fwmark, and per peer public key, preshared key (an all-zero
/// one means none), endpoint, keepalive and allowed IPs. Statistics and unknown keys are
/// checked or skipped as `wg` does; `errno` must be present and 0.
pub fn parse_uapi_get(text: &str) -> Result<Config, UapiTextError> {
    let mut cfg = Config::default();
    let mut errno = None;
    for (idx, line) in text.split('\n').enumerate() {
        let no = idx + 1;
        if line.is_empty() {
            break;
        }
        let err = |message: &str| UapiTextError {
            line: no,
            message: message.to_owned(),
        };
        let (key, value) = line.split_once('=').ok_or_else(|| err("no `=' in line"))?;
        if key == "errno" {
            // Kernel-style replies carry a positive errno, wireguard-go a negative one.
            let digits = value.strip_prefix('-').unwrap_or(value);
            errno = Some(number(digits, u64::from(u32::MAX >> 1)).ok_or_else(|| err("bad errno"))?);
            continue;
        }
        get_key(&mut cfg, no, key, value).map_err(|m| err(&format!("{key}: {m}")))?;
    }
    match errno {
        None => Err(UapiTextError {
            line: 0,
            message: "reply has no errno line".to_owned(),
        }),
        Some(0) => Ok(cfg),
        Some(_) => Err(UapiTextError {
            line: 0,
            message: format!("device replied {}", errno_line(text)),
        }),
    }
}

fn errno_line(text: &str) -> &str {
    text.split('\n')
        .find(|l| l.starts_with("errno="))
        .unwrap_or("errno=?")
}

fn number(value: &str, max: u64) -> Option<u64> {
    crate::config::decimal(value).filter(|&n| n <= max)
}

fn get_key(cfg: &mut Config, no: usize, key: &str, value: &str) -> Result<(), &'static str> {
    let iface = &mut cfg.interface;
    if cfg.peers.is_empty() {
        match key {
            "private_key" => iface.private_key = Some(Key::from_hex(value).ok_or(NOT_HEX)?),
            "listen_port" => iface.listen_port = Some(num_u16(value)?),
            "fwmark" => {
                let n = number(value, u64::from(u32::MAX)).ok_or(NOT_NUMBER)?;
                iface.fwmark = u32::try_from(n).ok();
            }
            _ => {}
        }
    }
    if key == "public_key" {
        cfg.peers.push(Peer {
            public_key: Key::from_hex(value).ok_or(NOT_HEX)?,
            preshared_key: None,
            allowed_ips: Vec::new(),
            endpoint: None,
            endpoint_line: Line(0),
            persistent_keepalive: None,
            line: Line(no),
        });
        return Ok(());
    }
    match cfg.peers.last_mut() {
        Some(peer) => peer_key(peer, key, value),
        None => Ok(()),
    }
}

const NOT_HEX: &str = "not 64 hex digits";
const NOT_NUMBER: &str = "not a number in range";

fn num_u16(value: &str) -> Result<u16, &'static str> {
    number(value, u64::from(u16::MAX))
        .and_then(|n| u16::try_from(n).ok())
        .ok_or(NOT_NUMBER)
}

fn peer_key(peer: &mut Peer, key: &str, value: &str) -> Result<(), &'static str> {
    match key {
        "preshared_key" => {
            let psk = Key::from_hex(value).ok_or(NOT_HEX)?;
            peer.preshared_key = (!psk.is_zero()).then_some(psk);
        }
        "endpoint" => {
            peer.endpoint = Some(uapi_endpoint(value).ok_or("not an IP address and port")?)
        }
        "persistent_keepalive_interval" => peer.persistent_keepalive = Some(num_u16(value)?),
        "allowed_ip" => peer
            .allowed_ips
            .push(uapi_cidr(value).ok_or("not an address/prefix")?),
        "last_handshake_time_sec" | "last_handshake_time_nsec" => {
            number(value, i64::MAX.unsigned_abs()).ok_or(NOT_NUMBER)?;
        }
        "rx_bytes" | "tx_bytes" => {
            number(value, u64::MAX).ok_or(NOT_NUMBER)?;
        }
        _ => {}
    }
    Ok(())
}

fn uapi_endpoint(value: &str) -> Option<Endpoint> {
    let endpoint = crate::config::parse_endpoint(value).ok()?;
    let host = endpoint.host.split('%').next().unwrap_or("");
    host.parse::<IpAddr>().is_ok().then_some(endpoint)
}

fn uapi_cidr(value: &str) -> Option<Cidr> {
    value.contains('/').then_some(())?;
    crate::config::parse_cidr(value).ok()
}
