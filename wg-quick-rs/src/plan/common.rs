//! Planning pieces both scripts share: name check, hooks, the route list in wg-quick's order
//! (`sort -nr -k 2 -t /` over `wg show allowed-ips`), endpoints and the automatic MTU.

use super::{Action, Facts, PlanError, Step};
use crate::config::{Cidr, Config, Peer};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// WireGuard's overhead over the underlying MTU (docs/ARCHITECTURE.md, protocol facts).
pub const OVERHEAD: u32 = 80;

/// MTU assumed when no route tells one.
pub const FALLBACK_MTU: u32 = 1500;

/// wg-quick's interface name rule: `^[a-zA-Z0-9_=+.-]{1,15}$`.
pub fn check_iface_name(iface: &str) -> Result<(), PlanError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_=+.-".contains(c);
    if (1..=15).contains(&iface.len()) && iface.chars().all(ok_char) {
        Ok(())
    } else {
        Err(PlanError::InvalidInterfaceName(iface.to_owned()))
    }
}

/// Hook steps: `%i` becomes `i`, and `%I` becomes `big_i` when given (darwin.bash); each runs
/// with `sh -c` and aborts on failure.
pub fn hooks(hooks: &[String], i: &str, big_i: Option<&str>) -> Vec<Step> {
    hooks
        .iter()
        .map(|hook| {
            let mut text = hook.replace("%i", i);
            if let Some(name) = big_i {
                text = text.replace("%I", name);
            }
            let action = Action::run(&["sh", "-c", text.as_str()]);
            Step::cmd(text, action)
        })
        .collect()
}

/// A CIDR with its host bits cleared, as `wg show` prints allowed IPs.
pub fn masked(c: Cidr) -> Cidr {
    let addr = match c.addr {
        IpAddr::V4(a) => {
            let len = u32::from(c.prefix.min(32));
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let len = u32::from(c.prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    };
    Cidr {
        addr,
        prefix: c.prefix,
    }
}

/// `ADDR/LEN`.
pub fn cidr_text(c: Cidr) -> String {
    format!("{}/{}", c.addr, c.prefix)
}

/// Every allowed IP of every peer, masked, once each, in wg-quick's order: longest prefix
/// first, ties by the whole text in reverse byte order (`LC_ALL=C sort -nr -k 2 -t /`).
pub fn sorted_allowed_ips(cfg: &Config) -> Vec<Cidr> {
    let mut all: Vec<(Cidr, String)> = device_peers(cfg)
        .iter()
        .flat_map(|p| p.allowed_ips.iter())
        .map(|&c| {
            let m = masked(c);
            (m, cidr_text(m))
        })
        .collect();
    all.sort_by(|a, b| match b.0.prefix.cmp(&a.0.prefix) {
        Ordering::Equal => b.1.as_bytes().cmp(a.1.as_bytes()),
        other => other,
    });
    all.dedup_by(|a, b| a.1 == b.1);
    all.into_iter().map(|(c, _)| c).collect()
}

/// The peers as the device holds them after `wg setconf`: a `[Peer]` whose PublicKey an
/// earlier one had updates that peer (set=1 selects it again), each key set anew replaces the
/// old value, and `replace_allowed_ips=true` makes the later section's AllowedIPs the only
/// ones. Routes and endpoints are planned from these, as wg-quick reads them back.
pub fn device_peers(cfg: &Config) -> Vec<Peer> {
    let mut peers: Vec<Peer> = Vec::with_capacity(cfg.peers.len());
    for p in &cfg.peers {
        let Some(held) = peers.iter_mut().find(|h| h.public_key == p.public_key) else {
            peers.push(p.clone());
            continue;
        };
        if p.preshared_key.is_some() {
            held.preshared_key.clone_from(&p.preshared_key);
        }
        if p.endpoint.is_some() {
            held.endpoint.clone_from(&p.endpoint);
            held.endpoint_line = p.endpoint_line;
        }
        if p.persistent_keepalive.is_some() {
            held.persistent_keepalive = p.persistent_keepalive;
        }
        held.allowed_ips.clone_from(&p.allowed_ips);
    }
    peers
}

/// `[Peer]` sections that repeat an earlier one's PublicKey, as (earlier line, later line).
pub fn repeated_peers(cfg: &Config) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (i, p) in cfg.peers.iter().enumerate() {
        if let Some(first) = cfg.peers[..i].iter().find(|q| q.public_key == p.public_key) {
            pairs.push((first.line.0, p.line.0));
        }
    }
    pairs
}

/// `network` (a masked prefix) contains the prefix `p`.
pub fn covers(network: Cidr, p: Cidr) -> bool {
    network.addr.is_ipv4() == p.addr.is_ipv4()
        && p.prefix >= network.prefix
        && masked(Cidr {
            addr: p.addr,
            prefix: network.prefix,
        }) == network
}

/// The address a peer's endpoint stands for (`None`: it has none): a literal, or the facts'
/// resolution of the host name; a name that did not resolve is an error naming its line.
pub fn endpoint_ip(peer: &Peer, facts: &Facts) -> Result<Option<IpAddr>, PlanError> {
    let Some(ep) = &peer.endpoint else {
        return Ok(None);
    };
    let host = ep.host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Some(ip));
    }
    match facts.resolved.get(&ep.host) {
        Some(&ip) => Ok(Some(ip)),
        None => Err(PlanError::Unresolved {
            host: ep.host.clone(),
            port: ep.port,
            reason: facts
                .unresolved
                .get(&ep.host)
                .cloned()
                .unwrap_or_else(|| "Name or service not known".to_owned()),
            line: peer.endpoint_line.0,
        }),
    }
}

/// The endpoint addresses the device will hold, in peer order (`wg show endpoints`).
pub fn endpoint_ips(cfg: &Config, facts: &Facts) -> Result<Vec<IpAddr>, PlanError> {
    let mut ips = Vec::new();
    for peer in device_peers(cfg) {
        ips.extend(endpoint_ip(&peer, facts)?);
    }
    Ok(ips)
}

/// Automatic MTU: the smallest MTU among the routes to the endpoints (our issue; wg-quick takes
/// the largest), else the default route's, else 1500; minus the 80-byte overhead.
pub fn auto_mtu(endpoints: &[IpAddr], facts: &Facts, default_mtu: Option<u32>) -> u32 {
    auto_mtu_from(endpoints, &facts.endpoint_mtus, default_mtu)
}

/// [`auto_mtu`] over a map of endpoint route MTUs (the route monitor gathers its own).
pub fn auto_mtu_from(
    endpoints: &[IpAddr],
    endpoint_mtus: &BTreeMap<IpAddr, u32>,
    default_mtu: Option<u32>,
) -> u32 {
    let smallest = endpoints
        .iter()
        .filter_map(|ip| endpoint_mtus.get(ip).copied())
        .filter(|&m| m > 0)
        .min();
    let base = smallest
        .or(default_mtu.filter(|&m| m > 0))
        .unwrap_or(FALLBACK_MTU);
    base.saturating_sub(OVERHEAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        let (a, p) = s.split_once('/').unwrap();
        Cidr {
            addr: a.parse().unwrap(),
            prefix: p.parse().unwrap(),
        }
    }

    #[test]
    fn names() {
        assert!(check_iface_name("wg0").is_ok());
        assert!(check_iface_name("a_b=c+d.e-f0123").is_ok());
        assert!(check_iface_name("").is_err());
        assert!(check_iface_name("0123456789abcdef").is_err());
        assert!(check_iface_name("../x").is_err());
        assert!(check_iface_name("wg 0").is_err());
    }

    #[test]
    fn masking_and_covering() {
        assert_eq!(masked(c("10.1.2.3/8")), c("10.0.0.0/8"));
        assert_eq!(masked(c("10.1.2.3/0")), c("0.0.0.0/0"));
        assert_eq!(masked(c("fd00::1:2/112")), c("fd00::1:0/112"));
        assert_eq!(masked(c("fd00::1/128")), c("fd00::1/128"));
        assert!(covers(c("10.0.0.0/24"), c("10.0.0.5/32")));
        assert!(covers(c("10.0.0.0/24"), c("10.0.0.0/24")));
        assert!(!covers(c("10.0.0.0/24"), c("10.0.0.0/16")));
        assert!(!covers(c("10.0.0.0/24"), c("10.0.1.0/24")));
        assert!(!covers(c("0.0.0.0/0"), c("::/0")));
    }
}
