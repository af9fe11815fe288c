//! Apply a parsed [`SetRequest`] to the pure [`Device`], in wireguard-go's order of effects.
//! Everything that can refuse the request is checked first, so a refused request leaves the
//! device exactly as it was (wireguard-go applies line by line and keeps a partial change).

use std::collections::HashSet;

use super::{AllowedIpChange, PeerSet, SetRequest};
use super::{UapiError, ERRNO_INVALID, ERRNO_UNKNOWN};
use crate::proto::device::{ConfigError, Device};
use crate::proto::keys::PublicKey;
use crate::proto::peer::PeerId;
use crate::proto::time::Now;

/// Most peers a device may have (wireguard-go `MaxPeers`); creating one more is `-EINVAL`.
pub const MAX_PEERS: usize = 1 << 16;

/// What the driver still has to carry out, and what changed (for its log).
///
/// The driver should try `req.listen_port` / `req.fwmark` on its sockets *before* calling
/// [`apply_set`] and answer [`ERRNO_PORT_IN_USE`](super::ERRNO_PORT_IN_USE) without applying
/// if that fails, so a refused request still changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedSet {
    /// Rebind to this port (0 = any).
    pub listen_port: Option<u16>,
    /// Set this mark on the sockets (0 = none).
    pub fwmark: Option<u32>,
    /// Peers created, in order.
    pub created: Vec<PublicKey>,
    /// Peers removed (by `replace_peers`, `remove=true`, or a new private key matching them).
    pub removed: Vec<PublicKey>,
}

/// Apply `req` to `dev`. The only refusal (too many peers) comes before the first change.
pub fn apply_set(dev: &mut Device, req: SetRequest, now: Now) -> Result<AppliedSet, UapiError> {
    check_peer_limit(dev, &req, MAX_PEERS)?;
    let mut done = AppliedSet {
        listen_port: req.listen_port,
        fwmark: req.fwmark,
        ..Default::default()
    };
    if let Some(key) = req.private_key {
        if let Some(pk) = key.as_ref().map(|k| k.public_key()) {
            if dev.peer_id(&pk).is_some() && key.as_ref() != dev.private_key() {
                done.removed.push(pk);
            }
        }
        tracing::debug!("UAPI: Updating private key");
        dev.set_private_key(key);
    }
    if req.replace_peers {
        tracing::debug!("UAPI: Removing all peers");
        done.removed.extend(dev.peers().map(|p| *p.public_key()));
        dev.clear_peers();
    }
    for section in req.peers {
        apply_peer(dev, section, now, &mut done)?;
    }
    Ok(done)
}

/// The public key the device will have once `req`'s private key (if any) is set.
fn own_public_after(dev: &Device, req: &SetRequest) -> Option<PublicKey> {
    match &req.private_key {
        None => dev.public_key(),
        Some(key) => key.as_ref().map(|k| k.public_key()),
    }
}

/// Replay the peer sections on the set of keys alone: wireguard-go creates a missing peer at
/// its `public_key` line (even one a later `remove` or `update_only` drops again) and refuses
/// the creation when `limit` ([`MAX_PEERS`]) peers exist.
fn check_peer_limit(dev: &Device, req: &SetRequest, limit: usize) -> Result<(), UapiError> {
    let own = own_public_after(dev, req);
    let mut present: HashSet<PublicKey> = HashSet::new();
    if !req.replace_peers {
        present.extend(
            dev.peers()
                .map(|p| *p.public_key())
                .filter(|k| Some(*k) != own),
        );
    }
    for section in &req.peers {
        let key = section.public_key;
        if Some(key) == own {
            continue;
        }
        let exists = present.contains(&key);
        if !exists && present.len() >= limit {
            let msg = format!("failed to create new peer {key:?}: too many peers");
            return Err(UapiError::new(ERRNO_INVALID, msg));
        }
        if section.remove || (!exists && section.update_only) {
            present.remove(&key);
        } else {
            present.insert(key);
        }
    }
    Ok(())
}

/// One peer section, with wireguard-go's net effect: our own key is ignored; `remove` removes;
/// `update_only` skips a missing peer; otherwise create if needed and apply the settings.
fn apply_peer(
    dev: &mut Device,
    s: PeerSet,
    now: Now,
    done: &mut AppliedSet,
) -> Result<(), UapiError> {
    if Some(s.public_key) == dev.public_key() {
        return Ok(());
    }
    let name = crate::proto::link::peer_name(&s.public_key);
    if s.remove {
        tracing::debug!("{name} - UAPI: Removing");
        if dev.remove_peer(&s.public_key) {
            done.removed.push(s.public_key);
        }
        return Ok(());
    }
    let id = match dev.peer_id(&s.public_key) {
        Some(id) => id,
        None if s.update_only => return Ok(()),
        None => match dev.add_peer(s.public_key) {
            Some(id) => {
                tracing::debug!("{name} - UAPI: Created");
                done.created.push(s.public_key);
                id
            }
            None => return Ok(()),
        },
    };
    apply_settings(dev, id, s, &name, now).map_err(|e| {
        // Unreachable: `id` was just looked up or created on this device.
        UapiError::new(
            ERRNO_UNKNOWN,
            format!("peer vanished while being configured: {e:?}"),
        )
    })
}

/// A peer's settings. The keepalive goes last: wireguard-go sends the "turned on" keepalive in
/// `handlePostConfig`, after the whole section (so with its preshared key and endpoint).
fn apply_settings(
    dev: &mut Device,
    id: PeerId,
    s: PeerSet,
    name: &str,
    now: Now,
) -> Result<(), ConfigError> {
    if let Some(psk) = s.preshared_key {
        tracing::debug!("{name} - UAPI: Updating preshared key");
        dev.set_preshared_key(id, psk)?;
    }
    if let Some(ep) = s.endpoint {
        tracing::debug!("{name} - UAPI: Updating endpoint");
        dev.set_endpoint(id, ep)?;
    }
    if s.replace_allowed_ips {
        tracing::debug!("{name} - UAPI: Removing all allowedips");
        dev.clear_allowed_ips(id)?;
    }
    for change in s.allowed_ips {
        match change {
            AllowedIpChange::Add(net) => {
                tracing::debug!("{name} - UAPI: Adding allowedip");
                dev.add_allowed_ip(id, net)?
            }
            AllowedIpChange::Remove(net) => {
                tracing::debug!("{name} - UAPI: Removing allowedip");
                dev.remove_allowed_ip(id, net)?
            }
        }
    }
    if let Some(secs) = s.persistent_keepalive_interval {
        tracing::debug!("{name} - UAPI: Updating persistent keepalive interval");
        dev.set_persistent_keepalive(id, secs, now)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
