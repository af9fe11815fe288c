//! The UAPI `set=1` request `wg setconf` sends for a config: endpoints resolved at planning
//! time, text by [`crate::uapi_text::to_uapi_set`].

use super::common::endpoint_ip;
use super::PlanError;
use crate::config::Config;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use zeroize::Zeroizing;

/// The request that replaces the device's whole configuration with `cfg` (`wg setconf`);
/// host-name endpoints come from `resolved` (an unresolved one is an error before any change).
pub fn setconf_request(
    cfg: &Config,
    resolved: &BTreeMap<String, IpAddr>,
) -> Result<Zeroizing<String>, PlanError> {
    let endpoints = cfg
        .peers
        .iter()
        .map(|p| match &p.endpoint {
            Some(ep) => endpoint_ip(ep, resolved).map(|ip| Some(SocketAddr::new(ip, ep.port))),
            None => Ok(None),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::uapi_text::to_uapi_set(cfg, &endpoints))
}
