//! `SaveConfig`: wg-quick's `save_config` — `wg showconf` (rendered here from a UAPI `get=1`
//! answer) with its `[Interface]` line replaced by the wg-quick keys read back from the system,
//! written to a mode-0600 temporary file and renamed over the config. Minimal stand-in until
//! the config renderer (`config::render`) lands.

use super::gather::{parse_mtu, Probe};
use super::RunError;
use crate::plan::{Os, SaveSpec};
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

/// `wg showconf` text for a UAPI `get=1` answer: parsed by [`crate::uapi_text::parse_uapi_get`],
/// rendered by [`crate::config::render`]. A malformed answer renders as an empty `[Interface]`.
pub fn render_showconf(get: &str) -> Zeroizing<String> {
    match crate::uapi_text::parse_uapi_get(get) {
        Ok(cfg) => crate::config::render(&cfg),
        Err(_) => Zeroizing::new("[Interface]\n".to_owned()),
    }
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
