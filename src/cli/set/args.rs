//! `wg set`'s arguments after the interface name, read into a [`SetRequest`] as
//! wireguard-tools' `config_read_cmd` reads them: device options only before the first
//! `peer`, keys from files, `allowed-ips` with white space removed.

use wgrs::proto::keys::{PresharedKey, PrivateKey, PublicKey};
use wgrs_uapi::{AllowedIpChange, PeerSet, SetRequest};

use super::values::{self, is_space, Bad, Notes};

/// The request for `args` (everything after `set IFNAME`).
pub(crate) fn read(args: &[String], notes: Notes<'_>) -> Result<SetRequest, Bad> {
    let mut req = SetRequest::default();
    let mut rest = args;
    while let Some(option) = rest.first() {
        let value = rest.get(1);
        let in_peer = !req.peers.is_empty();
        let used = match (option.as_str(), value) {
            ("listen-port", Some(v)) if !in_peer => {
                req.listen_port = Some(values::port(v)?);
                2
            }
            ("fwmark", Some(v)) if !in_peer => {
                req.fwmark = Some(values::fwmark(v)?);
                2
            }
            ("private-key", Some(v)) if !in_peer => {
                let raw = values::keyfile(v)?;
                let zero = raw.iter().all(|&b| b == 0);
                req.private_key = Some((!zero).then(|| PrivateKey::from_bytes(*raw)));
                2
            }
            ("peer", Some(v)) => {
                req.peers.push(PeerSet::new(PublicKey(*values::key(v)?)));
                2
            }
            _ => match req.peers.last_mut() {
                Some(peer) => peer_option(peer, option, value, notes)?,
                None => 0,
            },
        };
        if used == 0 {
            return Err(Bad {
                text: format!("Invalid argument: {option}"),
                exit_now: false,
            });
        }
        rest = rest.get(used..).unwrap_or_default();
    }
    Ok(req)
}

/// A peer option: how many arguments it used (0: not a peer option).
fn peer_option(
    peer: &mut PeerSet,
    option: &str,
    value: Option<&String>,
    notes: Notes<'_>,
) -> Result<usize, Bad> {
    match (option, value) {
        ("remove", _) => {
            peer.remove = true;
            return Ok(1);
        }
        ("endpoint", Some(v)) => peer.endpoint = Some(values::endpoint(v, notes)?),
        ("allowed-ips", Some(v)) => {
            let stripped: String = v
                .chars()
                .filter(|&c| !(c.is_ascii() && is_space(c as u8)))
                .collect();
            let nets = values::allowed_ips(&stripped, notes)?;
            peer.replace_allowed_ips = true;
            peer.allowed_ips
                .extend(nets.into_iter().map(AllowedIpChange::Add));
        }
        ("persistent-keepalive", Some(v)) => {
            peer.persistent_keepalive_interval = Some(values::keepalive(v)?);
        }
        ("preshared-key", Some(v)) => {
            peer.preshared_key = Some(PresharedKey::from_bytes(*values::keyfile(v)?));
        }
        _ => return Ok(0),
    }
    Ok(2)
}
