//! `SaveConfig`: wg-quick's `save_config` — `wg showconf` (rendered here from a UAPI `get=1`
//! answer) with its `[Interface]` line replaced by the wg-quick keys read back from the system,
//! written to a mode-0600 temporary file and renamed over the config. Minimal stand-in until
//! the config renderer (`config::render`) lands.

use super::gather::{parse_mtu, Probe};
use super::RunError;
use crate::plan::{Os, SaveSpec};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use zeroize::Zeroizing;

/// Writes the live configuration of `spec.iface` over `spec.path`.
pub fn save_config(spec: &SaveSpec, probe: &mut dyn Probe) -> Result<(), RunError> {
    let get = probe
        .uapi_get(&spec.iface)
        .ok_or_else(|| RunError::msg(format!("Unable to access interface {}", spec.iface)))?;
    let body = render_showconf(&get);
    let header = interface_header(spec, probe);
    let mut text = Zeroizing::new(String::with_capacity(header.len() + body.len() + 1));
    match body.split_once("[Interface]\n") {
        Some((before, after)) => {
            text.push_str(before);
            text.push_str(&header);
            text.push_str(after);
        }
        None => text.push_str(&body),
    }
    let end = text.trim_end_matches('\n').len();
    text.truncate(end);
    text.push('\n');
    write_file(&spec.path, &text)
}

/// The `[Interface]` section start that `save_config` builds.
fn interface_header(spec: &SaveSpec, probe: &mut dyn Probe) -> String {
    let mut h = String::from("[Interface]\n");
    let iface = spec.iface.as_str();
    match spec.os {
        Os::Linux => {
            let brief = probe
                .output(&["ip", "-all", "-brief", "address", "show", "dev", iface])
                .unwrap_or_default();
            for a in brief_addresses(&brief, iface) {
                let _ = writeln!(h, "Address = {a}");
            }
            let name = spec.resolvconf_name.as_deref().unwrap_or(iface);
            let record = probe
                .output(&["resolvconf", "-l", name])
                .or_else(|| probe.read_file(&format!("/etc/resolvconf/run/interface/{name}")))
                .unwrap_or_default();
            for ns in record.lines().filter_map(nameserver) {
                let _ = writeln!(h, "DNS = {ns}");
            }
            if spec.mtu.is_some() {
                let link = probe
                    .output(&["ip", "link", "show", "dev", iface])
                    .unwrap_or_default();
                if let Some(m) = parse_mtu(&link) {
                    let _ = writeln!(h, "MTU = {m}");
                }
            }
        }
        Os::MacOs => {
            let ifconfig = probe.output(&["ifconfig", iface]).unwrap_or_default();
            for a in ifconfig.lines().filter_map(inet_address) {
                let _ = writeln!(h, "Address = {a}");
            }
            for d in &spec.dns {
                let _ = writeln!(h, "DNS = {d}");
            }
            if let Some(m) = spec.mtu {
                let _ = writeln!(h, "MTU = {m}");
            }
        }
    }
    for line in &spec.tail {
        let _ = writeln!(h, "{line}");
    }
    h
}

/// The addresses of `ip -brief address show dev IFACE` (`IFACE  STATE  ADDR…`).
fn brief_addresses<'a>(brief: &'a str, iface: &str) -> Vec<&'a str> {
    let Some(line) = brief.lines().next() else {
        return Vec::new();
    };
    let mut words = line.split_whitespace();
    let state_ok = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase());
    match (words.next(), words.next()) {
        (Some(name), Some(state)) if name == iface && state_ok(state) => words.collect(),
        _ => Vec::new(),
    }
}

/// `nameserver X` lines of a resolvconf record.
fn nameserver(line: &str) -> Option<&str> {
    let ns = line.strip_prefix("nameserver ")?;
    let ok = |c: char| c.is_ascii_alphanumeric() || "_=+:%.-".contains(c);
    (!ns.is_empty() && ns.chars().all(ok)).then_some(ns)
}

/// darwin.bash's `inet6?\ ([^ ]+)` on an `ifconfig` line.
fn inet_address(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == "inet" || *w == "inet6")?;
    words.next()
}

/// `wg showconf` text for a UAPI `get=1` answer (wireguard-tools `showconf.c` order).
pub fn render_showconf(get: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(get.len() + 1024));
    let (device, peers) = match get.find("\npublic_key=") {
        Some(at) => get.split_at(at + 1),
        None => (get, ""),
    };
    out.push_str("[Interface]\n");
    let value = |key: &str| {
        device
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    };
    if let Some(port) = value("listen_port").filter(|p| *p != "0") {
        let _ = writeln!(out, "ListenPort = {port}");
    }
    if let Some(mark) = value("fwmark")
        .and_then(|m| m.parse::<u32>().ok())
        .filter(|&m| m != 0)
    {
        let _ = writeln!(out, "FwMark = 0x{mark:x}");
    }
    if let Some(key) = value("private_key") {
        push_key(&mut out, "PrivateKey", key);
    }
    out.push('\n');
    for (i, peer) in peers.split("public_key=").skip(1).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_peer(&mut out, peer);
    }
    out
}

/// One `[Peer]` from the lines after its `public_key=`.
fn render_peer(out: &mut String, peer: &str) {
    out.push_str("[Peer]\n");
    let mut lines = peer.lines();
    push_key(out, "PublicKey", lines.next().unwrap_or_default());
    let value = |key: &str| {
        peer.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    };
    if let Some(psk) = value("preshared_key").filter(|k| k.chars().any(|c| c != '0')) {
        push_key(out, "PresharedKey", psk);
    }
    let ips: Vec<&str> = peer
        .lines()
        .filter_map(|l| l.strip_prefix("allowed_ip="))
        .collect();
    if !ips.is_empty() {
        let _ = writeln!(out, "AllowedIPs = {}", ips.join(", "));
    }
    if let Some(ep) = value("endpoint") {
        let _ = writeln!(out, "Endpoint = {ep}");
    }
    if let Some(k) = value("persistent_keepalive_interval").filter(|k| *k != "0") {
        let _ = writeln!(out, "PersistentKeepalive = {k}");
    }
}

/// `NAME = base64(hex key)`; a malformed key is skipped.
fn push_key(out: &mut String, name: &str, hex: &str) {
    let mut key = Zeroizing::new([0u8; 32]);
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return;
    }
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digit = |b: u8| char::from(b).to_digit(16);
        match (
            pair.first().copied().and_then(digit),
            pair.get(1).copied().and_then(digit),
        ) {
            (Some(h), Some(l)) => key[i] = (h * 16 + l) as u8,
            _ => return,
        }
    }
    let _ = write!(out, "{name} = ");
    STANDARD.encode_string(key.as_slice(), out);
    out.push('\n');
}

/// Writes `text` to `PATH.tmp` (mode 0600), syncs it and renames it over `path`.
fn write_file(path: &str, text: &str) -> Result<(), RunError> {
    let tmp = format!("{path}.tmp");
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(RunError::msg(format!(
            "Could not write configuration file: {e}"
        )));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        RunError::msg(format!("Could not move configuration file: {e}"))
    })
}
