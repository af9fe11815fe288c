//! [`render`]: a [`Config`] back to text for `wg-quick save`: `wg showconf`'s layout with
//! wg-quick's keys inserted after `[Interface]` in `save_config()`'s order.

use super::types::{Config, Interface, Peer, Table};
use std::fmt;
use zeroize::Zeroizing;

/// Renders `cfg` as wg-quick's `save_config()` writes it:
///
/// ```text
/// [Interface]
/// Address = …        (each)      DNS = …   (name servers, then search domains)
/// MTU = …            Table = …   SaveConfig = true
/// PreUp = … / PostUp = … / PreDown = … / PostDown = …   (each, in that order)
/// ListenPort = …     FwMark = 0x…   PrivateKey = …      (as `wg showconf`)
///
/// [Peer]
/// PublicKey = …      PresharedKey = …   AllowedIPs = a, b   Endpoint = …
/// PersistentKeepalive = …
/// ```
///
/// A zero ListenPort, FwMark or PersistentKeepalive is left out, as `wg showconf` leaves it
/// out; `Table = auto` is left out. A line feed inside a hook becomes a space so that a hook can
/// never add a line. The text ends with one `\n`; it holds the private key, hence `Zeroizing`.
pub fn render(cfg: &Config) -> Zeroizing<String> {
    render_exact(|w| render_into(w, cfg))
}

/// Runs `write` twice: once to count the bytes, once into a `String` of exactly that capacity,
/// so that no reallocation leaves a copy of a secret behind in freed memory.
fn render_exact(write: impl Fn(&mut dyn fmt::Write) -> fmt::Result) -> Zeroizing<String> {
    let mut counter = ByteCounter(0);
    let _ = write(&mut counter);
    let mut out = Zeroizing::new(String::with_capacity(counter.0));
    let _ = write(&mut *out);
    out
}

struct ByteCounter(usize);

impl fmt::Write for ByteCounter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.saturating_add(s.len());
        Ok(())
    }
}

fn render_into(out: &mut dyn fmt::Write, cfg: &Config) -> fmt::Result {
    out.write_str("[Interface]\n")?;
    render_quick(out, &cfg.interface)?;
    render_wg_interface(out, &cfg.interface)?;
    for peer in &cfg.peers {
        out.write_str("\n")?;
        render_peer(out, peer)?;
    }
    Ok(())
}

fn render_quick(out: &mut dyn fmt::Write, iface: &Interface) -> fmt::Result {
    for address in &iface.addresses {
        writeln!(out, "Address = {address}")?;
    }
    for server in &iface.dns {
        writeln!(out, "DNS = {server}")?;
    }
    for domain in &iface.dns_search {
        writeln!(out, "DNS = {domain}")?;
    }
    if let Some(mtu) = iface.mtu {
        writeln!(out, "MTU = {mtu}")?;
    }
    if iface.table != Table::Auto {
        writeln!(out, "Table = {}", iface.table)?;
    }
    if iface.save_config {
        out.write_str("SaveConfig = true\n")?;
    }
    let hooks = [
        ("PreUp", &iface.pre_up),
        ("PostUp", &iface.post_up),
        ("PreDown", &iface.pre_down),
        ("PostDown", &iface.post_down),
    ];
    for (name, commands) in hooks {
        for command in commands {
            writeln!(out, "{name} = {}", command.replace('\n', " "))?;
        }
    }
    Ok(())
}

fn render_wg_interface(out: &mut dyn fmt::Write, iface: &Interface) -> fmt::Result {
    if let Some(port) = iface.listen_port.filter(|&p| p != 0) {
        writeln!(out, "ListenPort = {port}")?;
    }
    if let Some(mark) = iface.fwmark.filter(|&m| m != 0) {
        writeln!(out, "FwMark = 0x{mark:x}")?;
    }
    if let Some(key) = &iface.private_key {
        writeln!(out, "PrivateKey = {}", key.to_base64().as_str())?;
    }
    Ok(())
}

fn render_peer(out: &mut dyn fmt::Write, peer: &Peer) -> fmt::Result {
    writeln!(
        out,
        "[Peer]\nPublicKey = {}",
        peer.public_key.to_base64().as_str()
    )?;
    if let Some(psk) = &peer.preshared_key {
        writeln!(out, "PresharedKey = {}", psk.to_base64().as_str())?;
    }
    for (i, cidr) in peer.allowed_ips.iter().enumerate() {
        let lead = if i == 0 { "AllowedIPs = " } else { ", " };
        write!(out, "{lead}{cidr}")?;
    }
    if !peer.allowed_ips.is_empty() {
        out.write_str("\n")?;
    }
    if let Some(endpoint) = &peer.endpoint {
        writeln!(out, "Endpoint = {endpoint}")?;
    }
    if let Some(keepalive) = peer.persistent_keepalive.filter(|&k| k != 0) {
        writeln!(out, "PersistentKeepalive = {keepalive}")?;
    }
    Ok(())
}

/// The configuration `save` writes: the wg keys from `live` (the device's state, e.g. from
/// [`parse_uapi_get`](crate::uapi_text::parse_uapi_get)) and wg-quick's keys from `quick`
/// (Address, DNS, MTU, Table, hooks, SaveConfig). wg-quick takes Address, DNS and MTU from the
/// system at save time; a caller that wants that fills them into `quick` first.
pub fn merge_for_save(live: Config, quick: &Interface) -> Config {
    let mut cfg = live;
    let iface = &mut cfg.interface;
    iface.addresses = quick.addresses.clone();
    iface.dns = quick.dns.clone();
    iface.dns_search = quick.dns_search.clone();
    iface.mtu = quick.mtu;
    iface.table = quick.table;
    iface.pre_up = quick.pre_up.clone();
    iface.post_up = quick.post_up.clone();
    iface.pre_down = quick.pre_down.clone();
    iface.post_down = quick.post_down.clone();
    iface.save_config = quick.save_config;
    cfg
}
