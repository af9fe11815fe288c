//! Gathers [`Facts`] through a [`Probe`] (the system, or a fake in tests): the same questions
//! wg-quick asks `ip`, `nft`, `wg show`, `netstat` and `networksetup`, asked before the plan.

use crate::config::{Config, Table};
use crate::plan::monitor::MonitorFacts;
use crate::plan::{Facts, LinuxFacts, MacFacts, MacService, MonitorSpec, Os, OsFacts, RUN_DIR};
use crate::state::{state_path, State};
use crate::uapi_text::parse_uapi_get;
use std::collections::BTreeMap;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// Questions about the system. Every answer may be missing (`None` / `false`).
pub trait Probe {
    /// Standard output of a command that exited 0.
    fn output(&mut self, argv: &[&str]) -> Option<String>;
    /// The program is in `PATH` (`command -v`).
    fn which(&mut self, program: &str) -> bool;
    /// A file's text.
    fn read_file(&mut self, path: &str) -> Option<String>;
    /// The first address a host name resolves to, or the resolver's reason why none.
    fn resolve(&mut self, host: &str, port: u16) -> Result<IpAddr, String>;
    /// The answer to a UAPI `get=1` on the interface's socket, when it ends with `errno=0`.
    fn uapi_get(&mut self, iface: &str) -> Option<Zeroizing<String>>;
    /// Modification time in seconds of a path that exists.
    fn mtime(&mut self, path: &str) -> Option<i64>;
}

/// Which command the facts are for (each needs different ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `up`.
    Up,
    /// `down`.
    Down,
    /// `save`.
    Save,
}

/// The MTU a new wgrs utun starts with (docs/ARCHITECTURE.md, protocol facts).
const NEW_TUN_MTU: u32 = 1420;

/// Asks `probe` what a plan for `mode` on `os` needs to know.
pub fn gather(cfg: &Config, iface: &str, mode: Mode, os: Os, probe: &mut dyn Probe) -> Facts {
    let (mut resolved, mut unresolved) = (BTreeMap::new(), BTreeMap::new());
    let mut endpoints = Vec::new();
    // Only `up` uses endpoints: `down` and `save` must not wait on a resolver.
    let peers = if mode == Mode::Up {
        &cfg.peers[..]
    } else {
        &[]
    };
    for ep in peers.iter().filter_map(|p| p.endpoint.as_ref()) {
        let host = ep.host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            endpoints.push(ip);
            continue;
        }
        if resolved.contains_key(&ep.host) || unresolved.contains_key(&ep.host) {
            continue;
        }
        match probe.resolve(host, ep.port) {
            Ok(ip) => {
                resolved.insert(ep.host.clone(), ip);
                endpoints.push(ip);
            }
            Err(reason) => {
                unresolved.insert(ep.host.clone(), reason);
            }
        }
    }
    let mut endpoint_mtus = BTreeMap::new();
    if mode == Mode::Up && cfg.interface.mtu.is_none() {
        for ip in endpoints {
            let mtu = match os {
                Os::Linux => probe
                    .output(&["ip", "route", "get", &ip.to_string()])
                    .and_then(|route| linux_route_mtu(probe, &route)),
                Os::MacOs => mac_route_mtu(probe, &ip.to_string()),
            };
            if let Some(m) = mtu {
                endpoint_mtus.insert(ip, m);
            }
        }
    }
    let os = match os {
        Os::Linux => OsFacts::Linux(linux(cfg, iface, mode, probe)),
        Os::MacOs => OsFacts::MacOs(macos(cfg, iface, mode, probe)),
    };
    Facts {
        resolved,
        unresolved,
        endpoint_mtus,
        os,
    }
}

/// The number of the first `mtu N` in `text` (wg-quick's `mtu\ ([0-9]+)`).
pub fn parse_mtu(text: &str) -> Option<u32> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find_map(|w| (w[0] == "mtu").then(|| w[1].parse().ok()).flatten())
}

/// The whitespace-separated word after the first word `key`.
fn word_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let mut words = text.split_whitespace();
    words.find(|w| *w == key)?;
    words.next()
}

/// wg-quick's route MTU from `ip route` output: its `mtu N`, else the MTU of its `dev`.
fn linux_route_mtu(probe: &mut dyn Probe, route: &str) -> Option<u32> {
    if let Some(m) = parse_mtu(route) {
        return Some(m);
    }
    let dev = word_after(route, "dev")?;
    parse_mtu(&probe.output(&["ip", "link", "show", "dev", dev])?)
}

/// Linux facts.
fn linux(cfg: &Config, iface: &str, mode: Mode, probe: &mut dyn Probe) -> LinuxFacts {
    let mut lf = LinuxFacts {
        resolvconf_interface_order: probe.read_file("/etc/resolvconf/interface-order"),
        state: probe
            .read_file(&state_path(iface))
            .map(|text| State::from_text(&text).map(Box::new)),
        socket_exists: probe.mtime(&format!("{RUN_DIR}/{iface}.sock")).is_some(),
        ..LinuxFacts::default()
    };
    if mode == Mode::Up {
        if lf.state.is_some() {
            lf.is_wireguard = probe.uapi_get(iface).is_some();
        }
        lf.iface_exists = probe
            .output(&["ip", "link", "show", "dev", iface])
            .is_some_and(|o| !o.trim().is_empty());
        if cfg.interface.mtu.is_none() {
            let default = probe.output(&["ip", "route", "show", "default"]);
            let first = default
                .as_deref()
                .and_then(|d| d.lines().next())
                .unwrap_or_default();
            lf.default_route_mtu = linux_route_mtu(probe, first);
        }
        if needs_free_table(cfg) {
            lf.busy_tables = busy_tables(probe);
        }
        lf.has_resolvconf = probe.which("resolvconf");
        lf.has_nft = probe.which("nft");
        lf.has_iptables = probe.which("iptables-restore");
        return lf;
    }
    if let Some(get) = probe.uapi_get(iface) {
        lf.is_wireguard = true;
        if let Ok(running) = parse_uapi_get(&get) {
            lf.running_fwmark = running.interface.fwmark;
            lf.running_has_default = running
                .peers
                .iter()
                .any(|p| p.allowed_ips.iter().any(|c| c.prefix == 0));
        }
    }
    if mode == Mode::Down {
        lf.rules4 = probe
            .output(&["ip", "-4", "rule", "show"])
            .unwrap_or_default();
        lf.rules6 = probe
            .output(&["ip", "-6", "rule", "show"])
            .unwrap_or_default();
        lf.has_nft = probe.which("nft");
        lf.has_iptables = probe.which("iptables");
        if lf.has_nft {
            lf.nft_tables = probe.output(&["nft", "list", "tables"]).unwrap_or_default();
        }
        if lf.has_iptables {
            lf.iptables_save = probe.output(&["iptables-save"]).unwrap_or_default();
            lf.ip6tables_save = probe.output(&["ip6tables-save"]).unwrap_or_default();
        }
    }
    lf
}

/// A /0 in the main table without a configured fwmark: wg-quick looks for a free table.
fn needs_free_table(cfg: &Config) -> bool {
    cfg.interface.table == Table::Auto
        && cfg.interface.fwmark.unwrap_or(0) == 0
        && cfg
            .peers
            .iter()
            .flat_map(|p| &p.allowed_ips)
            .any(|a| a.prefix == 0)
}

/// Tables from 51820 up that hold IPv4 or IPv6 routes, up to the first free one.
fn busy_tables(probe: &mut dyn Probe) -> std::collections::BTreeSet<u32> {
    let mut busy = std::collections::BTreeSet::new();
    for table in 51820..51820 + 65536 {
        let t = table.to_string();
        let used = ["-4", "-6"].iter().any(|proto| {
            probe
                .output(&["ip", proto, "route", "show", "table", &t])
                .is_some_and(|o| !o.trim().is_empty())
        });
        if !used {
            break;
        }
        busy.insert(table);
    }
    busy
}

/// macOS route MTU: the MTU of the interface `route -n get` names.
fn mac_route_mtu(probe: &mut dyn Probe, dest: &str) -> Option<u32> {
    let out = probe.output(&["route", "-n", "get", dest])?;
    let netif = word_after(&out, "interface:")?;
    parse_mtu(&probe.output(&["ifconfig", netif])?)
}

/// macOS facts.
fn macos(cfg: &Config, iface: &str, mode: Mode, probe: &mut dyn Probe) -> MacFacts {
    let mut mf = MacFacts {
        real_iface: real_interface(iface, probe),
        new_tun_mtu: NEW_TUN_MTU,
        ..MacFacts::default()
    };
    if let Some(real) = &mf.real_iface {
        mf.is_wireguard = probe.uapi_get(real).is_some();
    }
    if mode != Mode::Up {
        return mf;
    }
    if cfg.interface.mtu.is_none() {
        mf.default_if_mtu = mac_route_mtu(probe, "default");
    }
    mf.gateway4 = probe
        .output(&["netstat", "-nr", "-f", "inet"])
        .and_then(|o| default_gateway(&o));
    mf.gateway6 = probe
        .output(&["netstat", "-nr", "-f", "inet6"])
        .and_then(|o| default_gateway(&o));
    if !cfg.interface.dns.is_empty() {
        let list = probe
            .output(&["networksetup", "-listallnetworkservices"])
            .unwrap_or_default();
        for line in list.lines().skip(1) {
            let name = line.strip_prefix('*').unwrap_or(line).to_owned();
            let dns = probe
                .output(&["networksetup", "-getdnsservers", &name])
                .unwrap_or_default();
            let search = probe
                .output(&["networksetup", "-getsearchdomains", &name])
                .unwrap_or_default();
            mf.services.push(MacService { name, dns, search });
        }
    }
    mf
}

/// darwin.bash `get_real_interface`: the name file names a `utunN` whose socket exists and was
/// made within 2 s of the name file.
fn real_interface(iface: &str, probe: &mut dyn Probe) -> Option<String> {
    let name_file = format!("{RUN_DIR}/{iface}.name");
    let real = probe.read_file(&name_file)?.trim().to_owned();
    if real.is_empty() || !real.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let sock = probe.mtime(&format!("{RUN_DIR}/{real}.sock"))?;
    let name = probe.mtime(&name_file)?;
    ((sock - name).abs() < 2).then_some(real)
}

/// The gateway of the first `default` line of `netstat -nr` that is not `link#N`.
fn default_gateway(netstat: &str) -> Option<String> {
    netstat.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let (dest, gw) = (words.next()?, words.next()?);
        (dest == "default" && !gw.starts_with("link#")).then(|| gw.to_owned())
    })
}

/// What the route monitor needs after a routing change (darwin.bash asks `ifconfig`,
/// `netstat -nr`, `wg show endpoints` and `networksetup`). Services in `known` are listed
/// without asking for their DNS: the monitor only reads the DNS of new ones.
pub fn gather_monitor(spec: &MonitorSpec, known: &[String], probe: &mut dyn Probe) -> MonitorFacts {
    let Some(ifconfig) = probe.output(&["ifconfig", &spec.iface]) else {
        return MonitorFacts::default();
    };
    let mut facts = MonitorFacts {
        iface_present: true,
        iface_mtu: parse_mtu(&ifconfig),
        ..MonitorFacts::default()
    };
    if spec.auto_route4 || spec.auto_route6 || spec.mtu_auto {
        facts.endpoints = probe
            .uapi_get(&spec.iface)
            .map(|get| uapi_endpoints(&get))
            .unwrap_or_default();
    }
    if spec.auto_route4 || spec.auto_route6 {
        facts.gateway4 = probe
            .output(&["netstat", "-nr", "-f", "inet"])
            .and_then(|o| default_gateway(&o));
        facts.gateway6 = probe
            .output(&["netstat", "-nr", "-f", "inet6"])
            .and_then(|o| default_gateway(&o));
    }
    if spec.mtu_auto {
        facts.default_if_mtu = outside_route_mtu(probe, "default", &spec.iface);
        for ip in facts.endpoints.clone() {
            if let Some(m) = outside_route_mtu(probe, &ip.to_string(), &spec.iface) {
                facts.endpoint_mtus.insert(ip, m);
            }
        }
    }
    if !spec.dns.is_empty() {
        facts.services = probe
            .output(&["networksetup", "-listallnetworkservices"])
            .map(|list| {
                list.lines()
                    .skip(1)
                    .map(|line| {
                        let name = line.strip_prefix('*').unwrap_or(line).to_owned();
                        if known.contains(&name) {
                            return MacService {
                                name,
                                ..MacService::default()
                            };
                        }
                        let dns = probe
                            .output(&["networksetup", "-getdnsservers", &name])
                            .unwrap_or_default();
                        let search = probe
                            .output(&["networksetup", "-getsearchdomains", &name])
                            .unwrap_or_default();
                        MacService { name, dns, search }
                    })
                    .collect()
            });
    }
    facts
}

/// The addresses of a UAPI answer's endpoints (`wg show IFACE endpoints`), zones left off.
fn uapi_endpoints(get: &str) -> Vec<IpAddr> {
    let Ok(running) = parse_uapi_get(get) else {
        return Vec::new();
    };
    running
        .peers
        .iter()
        .filter_map(|p| p.endpoint.as_ref())
        .filter_map(|e| e.host.split('%').next()?.parse().ok())
        .collect()
}

/// [`mac_route_mtu`], unless the route goes through the tunnel itself or loopback (an endpoint
/// blackholed while there is no gateway): those say nothing about the path outside.
fn outside_route_mtu(probe: &mut dyn Probe, dest: &str, tunnel: &str) -> Option<u32> {
    let out = probe.output(&["route", "-n", "get", dest])?;
    let netif = word_after(&out, "interface:")?;
    if netif == tunnel || netif.starts_with("lo") {
        return None;
    }
    parse_mtu(&probe.output(&["ifconfig", netif])?)
}
