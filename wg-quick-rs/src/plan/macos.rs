//! Plans for macOS, step for step as `wg-quick/darwin.bash` `cmd_up`, `cmd_down`, `cmd_save`.
//! The daemon picks its `utunN` name itself, so up-plans name the interface [`REAL_IFACE`]
//! until the executor has read `/var/run/wireguard/IFACE.name`.

use super::common::{auto_mtu, cidr_text, endpoint_ips, hooks, sorted_allowed_ips};
use super::linux::save_tail;
use super::macos_routes::{endpoint_routes, routes, saved_words, set_dns};
use super::uapi::setconf_request;
use super::{
    Action, Facts, MacFacts, MonitorSpec, Os, Plan, PlanError, SaveSpec, Step, Tag, Undo,
    REAL_IFACE, RUN_DIR,
};
use crate::config::{Cidr, Config, Table};
use std::net::IpAddr;

/// Main routing table number (`Table = main`).
const MAIN_TABLE: u32 = 254;

/// `cmd_up`.
pub fn up(cfg: &Config, iface: &str, facts: &Facts, mf: &MacFacts) -> Result<Plan, PlanError> {
    if let Some(real) = &mf.real_iface {
        return Err(PlanError::AlreadyExistsAs {
            iface: iface.to_owned(),
            real: real.clone(),
        });
    }
    let ifc = &cfg.interface;
    if matches!(ifc.table, Table::Id(t) if t != MAIN_TABLE) && !sorted_allowed_ips(cfg).is_empty() {
        return Err(PlanError::DarwinTable);
    }
    let uapi_set = setconf_request(cfg, facts)?;
    let endpoints = endpoint_ips(cfg, facts)?;
    let r = REAL_IFACE;
    let mut steps = vec![add_if(iface)];
    steps.extend(hooks(&ifc.pre_up, r, Some(iface)));
    steps.push(Step::cmd(
        format!("wg addconf {r} /dev/fd/63"),
        Action::SetConfig {
            iface: r.to_owned(),
            uapi_set,
        },
    ));
    steps.extend(ifc.addresses.iter().map(|&a| add_addr(a)));
    steps.extend(set_mtu(cfg, &endpoints, facts, mf));
    steps.push(ifconfig(&[r, "up"]));
    let (route_steps, auto4, auto6) = routes(cfg)?;
    steps.extend(route_steps);
    let mut teardown = Vec::new();
    if auto4 || auto6 {
        let (ep_steps, ep_teardown) = endpoint_routes(&endpoints, mf, auto4, auto6);
        steps.extend(ep_steps);
        teardown.extend(ep_teardown);
    }
    if !ifc.dns.is_empty() {
        let (dns_steps, dns_teardown) = set_dns(cfg, mf);
        steps.extend(dns_steps);
        teardown.extend(dns_teardown);
    }
    steps.push(monitor(cfg, mf, &endpoints, (auto4, auto6), teardown));
    steps.extend(hooks(&ifc.post_up, r, Some(iface)));
    Ok(Plan {
        os: Os::MacOs,
        iface: iface.to_owned(),
        steps,
    })
}

/// `cmd_down`: the route monitor notices the interface going and undoes routes and DNS.
pub fn down(cfg: &Config, iface: &str, path: &str, mf: &MacFacts) -> Result<Plan, PlanError> {
    let real = running(iface, mf)?;
    let ifc = &cfg.interface;
    let mut steps = hooks(&ifc.pre_down, real, Some(iface));
    if ifc.save_config {
        steps.push(save_step(cfg, real, path));
    }
    steps.push(rm(&format!("{RUN_DIR}/{real}.sock")));
    steps.push(rm(&format!("{RUN_DIR}/{iface}.name")));
    steps.extend(hooks(&ifc.post_down, real, Some(iface)));
    Ok(Plan {
        os: Os::MacOs,
        iface: iface.to_owned(),
        steps,
    })
}

/// `cmd_save`.
pub fn save(cfg: &Config, iface: &str, path: &str, mf: &MacFacts) -> Result<Plan, PlanError> {
    let real = running(iface, mf)?;
    Ok(Plan {
        os: Os::MacOs,
        iface: iface.to_owned(),
        steps: vec![save_step(cfg, real, path)],
    })
}

/// `get_real_interface` and `wg show interfaces` both agree the interface runs.
fn running<'a>(iface: &str, mf: &'a MacFacts) -> Result<&'a str, PlanError> {
    match &mf.real_iface {
        Some(real) if mf.is_wireguard => Ok(real),
        _ => Err(PlanError::NotWireGuard(iface.to_owned())),
    }
}

/// `add_if`: start the daemon as `utun` with `WG_TUN_NAME_FILE`; undone by `del_if`.
fn add_if(iface: &str) -> Step {
    let name_file = format!("{RUN_DIR}/{iface}.name");
    let mut step = Step::cmd(
        "wgrs utun",
        Action::StartDaemon {
            arg: "utun".to_owned(),
            name_file: Some(name_file.clone()),
        },
    );
    for path in [format!("{RUN_DIR}/{REAL_IFACE}.sock"), name_file] {
        let rm = rm(&path);
        step.undo.push(Undo {
            display: rm.display,
            action: rm.action,
        });
    }
    step
}

/// `add_addr`: `ifconfig utunN inet A/N A alias` or `inet6 A/N alias`.
fn add_addr(a: Cidr) -> Step {
    let text = cidr_text(a);
    let argv = if a.addr.is_ipv4() {
        vec![
            "ifconfig".to_owned(),
            REAL_IFACE.into(),
            "inet".into(),
            text,
            a.addr.to_string(),
            "alias".into(),
        ]
    } else {
        vec![
            "ifconfig".to_owned(),
            REAL_IFACE.into(),
            "inet6".into(),
            text,
            "alias".into(),
        ]
    };
    Step::cmd(argv.join(" "), Action::run(&argv))
}

/// `set_mtu`: the configured MTU, or the automatic one when it differs from the new utun's.
fn set_mtu(cfg: &Config, endpoints: &[IpAddr], facts: &Facts, mf: &MacFacts) -> Option<Step> {
    let mtu = match cfg.interface.mtu {
        Some(m) => m,
        None => {
            Some(auto_mtu(endpoints, facts, mf.default_if_mtu)).filter(|&m| m != mf.new_tun_mtu)?
        }
    };
    Some(ifconfig(&[REAL_IFACE, "mtu", &mtu.to_string()]))
}

/// `rm -f PATH`.
fn rm(path: &str) -> Step {
    Step::cmd(
        format!("rm -f {path}"),
        Action::RemoveFile {
            path: path.to_owned(),
        },
    )
}

/// `ifconfig ARGS…`.
fn ifconfig(args: &[&str]) -> Step {
    let argv: Vec<&str> = std::iter::once("ifconfig")
        .chain(args.iter().copied())
        .collect();
    Step::cmd(argv.join(" "), Action::run(&argv))
}

/// `monitor_daemon`, with the state darwin.bash's background subshell inherits (`GATEWAY4`,
/// `GATEWAY6`, `ENDPOINTS`, the `SERVICE_DNS` keys).
fn monitor(
    cfg: &Config,
    mf: &MacFacts,
    endpoints: &[IpAddr],
    (auto4, auto6): (bool, bool),
    teardown: Vec<Undo>,
) -> Step {
    let ifc = &cfg.interface;
    let auto = auto4 || auto6;
    let mut routed: Vec<IpAddr> = Vec::new();
    for &ip in endpoints {
        let wanted = if ip.is_ipv4() { auto4 } else { auto6 };
        if wanted && !routed.contains(&ip) {
            routed.push(ip);
        }
    }
    let services = if ifc.dns.is_empty() {
        Vec::new()
    } else {
        mf.services
            .iter()
            .filter(|s| saved_words(&s.dns).is_some())
            .map(|s| s.name.clone())
            .collect()
    };
    let spec = MonitorSpec {
        iface: REAL_IFACE.to_owned(),
        auto_route4: auto4,
        auto_route6: auto6,
        mtu_auto: ifc.mtu.is_none(),
        dns: ifc.dns.iter().map(|d| d.to_string()).collect(),
        dns_search: ifc.dns_search.clone(),
        gateway4: mf.gateway4.clone().filter(|_| auto),
        gateway6: mf.gateway6.clone().filter(|_| auto),
        endpoints: routed,
        services,
        teardown,
    };
    let mut step = Step::cmd("Backgrounding route monitor", Action::RouteMonitor(spec));
    step.tag = Tag::Info;
    step
}

/// darwin.bash `save_config` (announced as its `wg showconf utunN`).
fn save_step(cfg: &Config, real: &str, path: &str) -> Step {
    let spec = SaveSpec {
        os: Os::MacOs,
        iface: real.to_owned(),
        path: path.to_owned(),
        resolvconf_name: None,
        dns: cfg.interface.dns.iter().map(|d| d.to_string()).collect(),
        mtu: cfg.interface.mtu,
        tail: save_tail(cfg),
    };
    Step::cmd(format!("wg showconf {real}"), Action::SaveConfig(spec))
}
