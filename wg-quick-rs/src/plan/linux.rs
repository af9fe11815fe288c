//! Plans for Linux, step for step as `wg-quick/linux.bash` `cmd_up`, `cmd_down`, `cmd_save`,
//! with wgrs as the userspace implementation (`[#] wgrs wg0` where wg-quick falls back to
//! `wireguard-go wg0`).

use super::common::{auto_mtu, cidr_text, covers, endpoint_ips, hooks, masked, sorted_allowed_ips};
use super::linux_default::{add_default, remove_firewall, DefaultState};
use super::uapi::setconf_request;
use super::{Action, Facts, LinuxFacts, Os, Plan, PlanError, SaveSpec, Step, Undo};
use crate::config::{Cidr, Config, Table};

/// `cmd_up`.
pub fn up(cfg: &Config, iface: &str, facts: &Facts, lf: &LinuxFacts) -> Result<Plan, PlanError> {
    if lf.iface_exists {
        return Err(PlanError::AlreadyExists(iface.to_owned()));
    }
    let ifc = &cfg.interface;
    if !ifc.dns.is_empty() && !lf.has_resolvconf {
        return Err(PlanError::NoResolvconf(iface.to_owned()));
    }
    let uapi_set = setconf_request(cfg, facts)?;
    let mut steps = hooks(&ifc.pre_up, iface, None);
    steps.push(add_if(iface));
    steps.push(Step::cmd(
        format!("wg setconf {iface} /dev/fd/63"),
        Action::SetConfig {
            iface: iface.to_owned(),
            uapi_set,
        },
    ));
    for &a in &ifc.addresses {
        let text = cidr_text(a);
        steps.push(run_step(&[
            "ip",
            family(a),
            "address",
            "add",
            &text,
            "dev",
            iface,
        ]));
    }
    steps.push(set_mtu_up(cfg, iface, facts, lf)?);
    steps.extend(set_dns(cfg, iface, lf));
    steps.extend(routes(cfg, iface, lf)?);
    steps.extend(hooks(&ifc.post_up, iface, None));
    Ok(Plan {
        os: Os::Linux,
        iface: iface.to_owned(),
        steps,
    })
}

/// `cmd_down`.
pub fn down(cfg: &Config, iface: &str, path: &str, lf: &LinuxFacts) -> Result<Plan, PlanError> {
    if let Some(state) = super::linux_state::recorded(iface, lf)? {
        return Ok(super::linux_state::down(
            iface,
            lf,
            state,
            Some((cfg, path)),
        ));
    }
    if !lf.is_wireguard {
        return Err(PlanError::NotWireGuard(iface.to_owned()));
    }
    let ifc = &cfg.interface;
    let mut steps = hooks(&ifc.pre_down, iface, None);
    if ifc.save_config {
        steps.push(save_step(cfg, iface, path, lf));
    }
    steps.extend(delete_rules(cfg, lf));
    steps.push(run_step(&["ip", "link", "delete", "dev", iface]));
    if !ifc.dns.is_empty() {
        let name = resolvconf_name(iface, lf);
        let mut step = run_step(&["resolvconf", "-d", &name, "-f"]);
        step.ignore_failure = true;
        steps.push(step);
    }
    steps.extend(remove_firewall(iface, lf));
    steps.extend(hooks(&ifc.post_down, iface, None));
    Ok(Plan {
        os: Os::Linux,
        iface: iface.to_owned(),
        steps,
    })
}

/// `cmd_save`.
pub fn save(cfg: &Config, iface: &str, path: &str, lf: &LinuxFacts) -> Result<Plan, PlanError> {
    if !lf.is_wireguard {
        return Err(PlanError::NotWireGuard(iface.to_owned()));
    }
    Ok(Plan {
        os: Os::Linux,
        iface: iface.to_owned(),
        steps: vec![save_step(cfg, iface, path, lf)],
    })
}

/// A `[#]` step running `argv`, shown as the words joined by spaces.
pub fn run_step(argv: &[&str]) -> Step {
    Step::cmd(argv.join(" "), Action::run(argv))
}

/// An undo running `argv`.
pub fn undo_run(argv: &[&str]) -> Undo {
    Undo {
        display: argv.join(" "),
        action: Action::run(argv),
    }
}

/// `-4` or `-6` for `ip`.
pub fn family(c: Cidr) -> &'static str {
    if c.addr.is_ipv4() {
        "-4"
    } else {
        "-6"
    }
}

/// `resolvconf_iface_prefix` + interface: `tun.` when `/etc/resolvconf/interface-order` has a
/// `NAME*` line, the first such `NAME.` in general.
pub fn resolvconf_name(iface: &str, lf: &LinuxFacts) -> String {
    let prefix = lf.resolvconf_interface_order.as_deref().and_then(|text| {
        text.lines().map(str::trim).find_map(|line| {
            let name = line.strip_suffix('*')?;
            let ok =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            ok.then(|| format!("{name}."))
        })
    });
    format!("{}{iface}", prefix.unwrap_or_default())
}

/// `add_if`: start wgrs for the interface; undone by deleting the link (`del_if`).
fn add_if(iface: &str) -> Step {
    let mut step = Step::cmd(
        format!("wgrs {iface}"),
        Action::StartDaemon {
            arg: iface.to_owned(),
            name_file: None,
        },
    );
    step.undo
        .push(undo_run(&["ip", "link", "delete", "dev", iface]));
    step
}

/// `set_mtu_up`: the configured MTU, else the automatic one; and the link goes up.
fn set_mtu_up(
    cfg: &Config,
    iface: &str,
    facts: &Facts,
    lf: &LinuxFacts,
) -> Result<Step, PlanError> {
    let mtu = match cfg.interface.mtu {
        Some(m) => m,
        None => auto_mtu(&endpoint_ips(cfg, facts)?, facts, lf.default_route_mtu),
    };
    let mtu = mtu.to_string();
    Ok(run_step(&[
        "ip", "link", "set", "mtu", &mtu, "up", "dev", iface,
    ]))
}

/// `set_dns`: `resolvconf -a NAME -m 0 -x` fed the name servers and search domains.
fn set_dns(cfg: &Config, iface: &str, lf: &LinuxFacts) -> Option<Step> {
    let ifc = &cfg.interface;
    if ifc.dns.is_empty() {
        return None;
    }
    let mut text: String = ifc
        .dns
        .iter()
        .map(|d| format!("nameserver {d}\n"))
        .collect();
    if !ifc.dns_search.is_empty() {
        text.push_str(&format!("search {}\n", ifc.dns_search.join(" ")));
    }
    let name = resolvconf_name(iface, lf);
    let argv = ["resolvconf", "-a", name.as_str(), "-m", "0", "-x"];
    let mut step = Step::cmd(
        argv.join(" "),
        Action::Run {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            stdin: Some(text),
        },
    );
    step.undo.push(undo_run(&["resolvconf", "-d", &name, "-f"]));
    Some(step)
}

/// The `add_route` loop over the sorted allowed IPs.
fn routes(cfg: &Config, iface: &str, lf: &LinuxFacts) -> Result<Vec<Step>, PlanError> {
    let ifc = &cfg.interface;
    let mut steps = Vec::new();
    let mut state = DefaultState::new(ifc.fwmark);
    // Routes the kernel made for the addresses (`ip route show dev IF match P` finds them).
    let mut on_link: Vec<Cidr> = ifc
        .addresses
        .iter()
        .filter(|a| a.prefix < if a.addr.is_ipv4() { 32 } else { 128 })
        .map(|&a| masked(a))
        .collect();
    for p in sorted_allowed_ips(cfg) {
        let text = cidr_text(p);
        match ifc.table {
            Table::Off => {}
            Table::Id(t) => {
                let t = t.to_string();
                steps.push(run_step(&[
                    "ip",
                    family(p),
                    "route",
                    "add",
                    &text,
                    "dev",
                    iface,
                    "table",
                    &t,
                ]));
            }
            Table::Auto if p.prefix == 0 => {
                steps.extend(add_default(cfg, iface, lf, p, &mut state)?);
            }
            Table::Auto => {
                if !on_link.iter().any(|&n| covers(n, p)) {
                    steps.push(run_step(&[
                        "ip",
                        family(p),
                        "route",
                        "add",
                        &text,
                        "dev",
                        iface,
                    ]));
                    on_link.push(p);
                }
            }
        }
    }
    Ok(steps)
}

/// `del_if`'s rule clean-up: when the table is automatic, the interface has a fwmark and a /0,
/// delete every rule that looks up the fwmark's table, and every `suppress_prefixlength 0`
/// rule, once per listed rule (wg-quick loops while `ip rule show` still lists one).
fn delete_rules(cfg: &Config, lf: &LinuxFacts) -> Vec<Step> {
    let fwmark = match lf.running_fwmark {
        Some(m) if m != 0 => m,
        _ => return Vec::new(),
    };
    if cfg.interface.table != Table::Auto || !lf.running_has_default {
        return Vec::new();
    }
    let table = fwmark.to_string();
    let lookup = format!("lookup {table}");
    let suppress = "from all lookup main suppress_prefixlength 0";
    let mut steps = Vec::new();
    for (proto, rules) in [("-4", &lf.rules4), ("-6", &lf.rules6)] {
        let n = rules.lines().filter(|l| has_word_seq(l, &lookup)).count();
        for _ in 0..n {
            steps.push(run_step(&["ip", proto, "rule", "delete", "table", &table]));
        }
        let n = rules.lines().filter(|l| l.contains(suppress)).count();
        for _ in 0..n {
            steps.push(run_step(&[
                "ip",
                proto,
                "rule",
                "delete",
                "table",
                "main",
                "suppress_prefixlength",
                "0",
            ]));
        }
    }
    steps
}

/// `line` contains `needle` followed by the end or a space (`lookup 5182` is not in
/// `lookup 51820`).
fn has_word_seq(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(at, _)| {
        let rest = &line[at + needle.len()..];
        rest.is_empty() || rest.starts_with(char::is_whitespace)
    })
}

/// `save_config` (announced as its `wg showconf IFACE`).
pub fn save_step(cfg: &Config, iface: &str, path: &str, lf: &LinuxFacts) -> Step {
    let spec = SaveSpec {
        os: Os::Linux,
        iface: iface.to_owned(),
        path: path.to_owned(),
        resolvconf_name: Some(resolvconf_name(iface, lf)),
        dns: Vec::new(),
        mtu: cfg.interface.mtu,
        tail: save_tail(cfg),
    };
    Step::cmd(format!("wg showconf {iface}"), Action::SaveConfig(spec))
}

/// The `[Interface]` lines after Address/DNS/MTU that `save_config` writes from the config.
pub fn save_tail(cfg: &Config) -> Vec<String> {
    let ifc = &cfg.interface;
    let mut tail = Vec::new();
    match ifc.table {
        Table::Auto => {}
        Table::Off => tail.push("Table = off".to_owned()),
        Table::Id(t) => tail.push(format!("Table = {t}")),
    }
    if ifc.save_config {
        tail.push("SaveConfig = true".to_owned());
    }
    for (key, list) in [
        ("PreUp", &ifc.pre_up),
        ("PostUp", &ifc.post_up),
        ("PreDown", &ifc.pre_down),
        ("PostDown", &ifc.post_down),
    ] {
        tail.extend(list.iter().map(|h| format!("{key} = {h}")));
    }
    tail
}
