//! The UAPI `set=1` request `wg setconf` sends for a config: endpoints resolved at planning
//! time, text by [`crate::uapi_text::to_uapi_set`].

use super::common::endpoint_ip;
use super::{Facts, PlanError};
use crate::config::Config;
use std::net::SocketAddr;
use zeroize::Zeroizing;

/// The request that replaces the device's whole configuration with `cfg` (`wg setconf`);
/// host-name endpoints come from the facts (an unresolved one is an error before any change).
pub fn setconf_request(cfg: &Config, facts: &Facts) -> Result<Zeroizing<String>, PlanError> {
    let endpoints = cfg
        .peers
        .iter()
        .map(|p| {
            let ip = endpoint_ip(p, facts)?;
            Ok(ip
                .zip(p.endpoint.as_ref())
                .map(|(ip, ep)| SocketAddr::new(ip, ep.port)))
        })
        .collect::<Result<Vec<_>, PlanError>>()?;
    Ok(crate::uapi_text::to_uapi_set(cfg, &endpoints))
}

/// What the interface's refusal (`errno`, negative) of `cfg`'s `set=1` means, as
/// (config line, text): `ListenPort 51820: Address already in use`. `None` for errnos that
/// point at no one key.
pub fn refused_setconf(cfg: &Config, errno: i64) -> Option<(usize, String)> {
    let port = cfg.interface.listen_port.filter(|&p| p != 0)?;
    let why = match errno {
        -98 => "Address already in use",
        -99 => "Cannot assign requested address",
        -13 => "Permission denied",
        _ => return None,
    };
    Some((
        cfg.interface.listen_port_line.0,
        format!("ListenPort {port}: {why}"),
    ))
}
