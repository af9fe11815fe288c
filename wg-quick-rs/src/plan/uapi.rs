//! The UAPI `set=1` request `wg setconf` sends for a config (wireguard-tools `ipc-uapi.h`
//! `userspace_set_device`, flags from `config.c`). Stand-in until `config::uapi_text` lands:
//! [`setconf_request`] is the one place to swap.

use super::common::{cidr_text, endpoint_ip};
use super::PlanError;
use crate::config::{Config, Key};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// The request that replaces the device's whole configuration with `cfg` (`wg setconf`):
/// private key (zero when absent), listen port, fwmark, `replace_peers=true`, then each peer
/// with `replace_allowed_ips=true`; host-name endpoints come from `resolved`.
pub fn setconf_request(
    cfg: &Config,
    resolved: &BTreeMap<String, IpAddr>,
) -> Result<Zeroizing<String>, PlanError> {
    let mut out = Zeroizing::new(String::with_capacity(256 + 256 * cfg.peers.len()));
    let iface = &cfg.interface;
    out.push_str("set=1\nprivate_key=");
    match &iface.private_key {
        Some(k) => push_hex(&mut out, k),
        None => out.push_str(&"0".repeat(64)),
    }
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "\nlisten_port={}\nfwmark={}\nreplace_peers=true\n",
        iface.listen_port.unwrap_or(0),
        iface.fwmark.unwrap_or(0)
    );
    for peer in &cfg.peers {
        out.push_str("public_key=");
        push_hex(&mut out, &peer.public_key);
        out.push('\n');
        if let Some(psk) = &peer.preshared_key {
            out.push_str("preshared_key=");
            push_hex(&mut out, psk);
            out.push('\n');
        }
        if let Some(ep) = &peer.endpoint {
            let _ = match endpoint_ip(ep, resolved)? {
                IpAddr::V4(a) => writeln!(out, "endpoint={a}:{}", ep.port),
                IpAddr::V6(a) => writeln!(out, "endpoint=[{a}]:{}", ep.port),
            };
        }
        if let Some(k) = peer.persistent_keepalive {
            let _ = writeln!(out, "persistent_keepalive_interval={k}");
        }
        out.push_str("replace_allowed_ips=true\n");
        for &ip in &peer.allowed_ips {
            let _ = writeln!(out, "allowed_ip={}", cidr_text(ip));
        }
    }
    out.push('\n');
    Ok(out)
}

/// Appends the key in lowercase hex, one character at a time (no temporary copy).
fn push_hex(out: &mut String, key: &Key) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in &key.0 {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
}
