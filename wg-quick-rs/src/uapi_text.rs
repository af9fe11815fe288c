//! UAPI text for a [`Config`]: the `set=1` request `wg setconf` would send, and a `get=1` reply
//! read back into a `Config` (wg keys only) so that `save` needs no `wg showconf`. Both go
//! through the shared codec in `wgrs-uapi` (the daemon's and `wgrs set`'s).

use crate::config::{Cidr, Config, Endpoint, Line, Peer};
use ipnet::IpNet;
use std::error::Error;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use wgrs_uapi::reply::{self, Parser};
use wgrs_uapi::{AllowedIpChange, PeerSet, SetRequest};
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
    setconf_request(cfg, endpoints).to_uapi()
}

/// The typed request behind [`to_uapi_set`].
pub fn setconf_request(cfg: &Config, endpoints: &[Option<SocketAddr>]) -> SetRequest {
    let iface = &cfg.interface;
    let private_key = iface.private_key.clone();
    let peers = cfg
        .peers
        .iter()
        .enumerate()
        .map(|(i, peer)| {
            let mut set = PeerSet::new(peer.public_key);
            set.preshared_key = peer.preshared_key.clone();
            let resolved = endpoints.get(i).copied().flatten();
            set.endpoint = resolved.or_else(|| peer.endpoint.as_ref().and_then(literal));
            set.persistent_keepalive_interval = peer.persistent_keepalive;
            set.replace_allowed_ips = true;
            set.allowed_ips = peer
                .allowed_ips
                .iter()
                .filter_map(|c| IpNet::new(c.addr, c.prefix).ok())
                .map(AllowedIpChange::Add)
                .collect();
            set
        })
        .collect();
    SetRequest {
        private_key: Some(private_key),
        listen_port: Some(iface.listen_port.unwrap_or(0)),
        fwmark: Some(iface.fwmark.unwrap_or(0)),
        replace_peers: true,
        peers,
    }
}

fn literal(endpoint: &Endpoint) -> Option<SocketAddr> {
    let ip: IpAddr = endpoint.host.parse().ok()?;
    Some(SocketAddr::new(ip, endpoint.port))
}

/// A malformed or failed `get=1` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UapiTextError {
    /// The errno the reply amounts to, as `wg` reads it (`EPROTO` when malformed).
    pub errno: i32,
}

impl fmt::Display for UapiTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = wgrs_uapi::client::strerror(self.errno);
        write!(f, "UAPI reply: {text} (errno {})", self.errno)
    }
}

impl Error for UapiTextError {}

/// Reads a `get=1` reply (up to the blank line, which may be missing) into a [`Config`]
/// holding what `wg showconf` shows: private key, listen port, fwmark, and per peer public
/// key, preshared key (an all-zero one means none), endpoint, keepalive and allowed IPs. The
/// reply is read exactly as `wg` reads it (the shared [`reply::Parser`]): `errno` must be 0.
pub fn parse_uapi_get(text: &str) -> Result<Config, UapiTextError> {
    let mut parser = Parser::new("");
    let mut lines = text.split_inclusive('\n');
    let done = loop {
        match lines.next() {
            Some(line) => {
                if let Some(done) = parser.line(line.as_bytes()) {
                    break done;
                }
            }
            // The caller may have cut the blank line off.
            None if !text.ends_with("\n\n") && text.ends_with('\n') => {
                break parser.line(b"\n").unwrap_or(Err(libc::EPROTO));
            }
            None => break parser.eof(),
        }
    };
    done.map(to_config).map_err(|errno| UapiTextError { errno })
}

fn to_config(dev: reply::Device) -> Config {
    let mut cfg = Config::default();
    let iface = &mut cfg.interface;
    iface.private_key = dev.private_key;
    iface.listen_port = (dev.listen_port != 0).then_some(dev.listen_port);
    iface.fwmark = (dev.fwmark != 0).then_some(dev.fwmark);
    cfg.peers = dev
        .peers
        .into_iter()
        .map(|p| Peer {
            public_key: p.public_key,
            preshared_key: p.preshared_key,
            allowed_ips: p
                .allowed_ips
                .iter()
                .map(|a| Cidr {
                    addr: a.ip,
                    prefix: a.cidr,
                })
                .collect(),
            endpoint: p.endpoint.map(|e| Endpoint {
                host: match e.scope {
                    Some(scope) => format!("{}%{scope}", e.ip),
                    None => e.ip.to_string(),
                },
                port: e.port,
            }),
            endpoint_line: Line(0),
            persistent_keepalive: Some(p.persistent_keepalive_interval),
            line: Line(0),
        })
        .collect();
    cfg
}
