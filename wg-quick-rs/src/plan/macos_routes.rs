//! darwin.bash routes and DNS: `add_route` (a /0 becomes two /1 routes), the first
//! `set_endpoint_direct_route`, and `set_dns` / `del_dns` over the network services.

use super::common::{cidr_text, covers, masked, sorted_allowed_ips};
use super::{Action, MacFacts, PlanError, Step, Undo, REAL_IFACE};
use crate::config::{Cidr, Config, Table};
use std::net::IpAddr;

/// `inet` or `inet6` (for `route -inet…`).
pub(super) fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "-inet"
    } else {
        "-inet6"
    }
}

/// A `route -q -n …` step; `undo` deletes `dest` again.
pub(super) fn route(args: &[&str], dest: &str, fam: &str) -> Step {
    let argv: Vec<&str> = ["route", "-q", "-n"]
        .iter()
        .copied()
        .chain(args.iter().copied())
        .collect();
    let mut step = Step::cmd(argv.join(" "), Action::run(&argv));
    step.undo.push(delete(fam, dest));
    step
}

/// `route -q -n delete FAMILY DEST`.
pub(super) fn delete(fam: &str, dest: &str) -> Undo {
    let argv = ["route", "-q", "-n", "delete", fam, dest];
    Undo {
        display: argv.join(" "),
        action: Action::run(&argv),
    }
}

/// `add_route` for every sorted allowed IP; also says whether an IPv4 / IPv6 /0 was split.
pub fn routes(cfg: &Config) -> Result<(Vec<Step>, bool, bool), PlanError> {
    let ifc = &cfg.interface;
    let (mut auto4, mut auto6) = (false, false);
    let mut steps = Vec::new();
    if ifc.table == Table::Off {
        return Ok((steps, false, false));
    }
    let r = REAL_IFACE;
    // The kernel routes an IPv6 address's prefix to the interface; `route -n get` finds it.
    let on_link: Vec<Cidr> = ifc
        .addresses
        .iter()
        .filter(|a| a.addr.is_ipv6() && a.prefix < 128)
        .map(|&a| masked(a))
        .collect();
    for p in sorted_allowed_ips(cfg) {
        let fam = family(p.addr);
        if p.prefix == 0 && ifc.table == Table::Auto {
            let halves = if p.addr.is_ipv4() {
                auto4 = true;
                ["0.0.0.0/1", "128.0.0.0/1"]
            } else {
                auto6 = true;
                ["::/1", "8000::/1"]
            };
            for half in halves {
                steps.push(route(&["add", fam, half, "-interface", r], half, fam));
            }
            continue;
        }
        if matches!(ifc.table, Table::Id(t) if t != 254) {
            return Err(PlanError::DarwinTable);
        }
        if on_link.iter().any(|&n| covers(n, p)) {
            continue;
        }
        let text = cidr_text(p);
        steps.push(route(&["add", fam, &text, "-interface", r], &text, fam));
    }
    Ok((steps, auto4, auto6))
}

/// The first `set_endpoint_direct_route`: each endpoint of a split family gets a host route
/// through the default gateway (a blackhole without one). When a gateway is known, wg-quick
/// first deletes any old route to each endpoint. Failures are ignored, as wg-quick's `|| true`.
/// Returns the steps and the monitor's teardown (delete the endpoint routes).
pub fn endpoint_routes(
    endpoints: &[IpAddr],
    mf: &MacFacts,
    auto4: bool,
    auto6: bool,
) -> (Vec<Step>, Vec<Undo>) {
    let wanted = |ip: &IpAddr| if ip.is_ipv4() { auto4 } else { auto6 };
    let mut unique: Vec<IpAddr> = Vec::new();
    for ip in endpoints.iter().filter(|ip| wanted(ip)) {
        if !unique.contains(ip) {
            unique.push(*ip);
        }
    }
    let mut steps = Vec::new();
    if mf.gateway4.is_some() || mf.gateway6.is_some() {
        for ip in &unique {
            let dest = ip.to_string();
            let d = delete(family(*ip), &dest);
            steps.push(Step::cmd(d.display, d.action));
        }
    }
    for ip in endpoints.iter().filter(|ip| wanted(ip)) {
        let (fam, dest) = (family(*ip), ip.to_string());
        let (gateway, blackhole) = if ip.is_ipv4() {
            (&mf.gateway4, "127.0.0.1")
        } else {
            (&mf.gateway6, "::1")
        };
        let step = match gateway {
            Some(gw) => route(&["add", fam, &dest, "-gateway", gw], &dest, fam),
            None => route(&["add", fam, &dest, blackhole, "-blackhole"], &dest, fam),
        };
        steps.push(step);
    }
    for step in &mut steps {
        step.ignore_failure = true;
    }
    let teardown = unique
        .iter()
        .map(|ip| delete(family(*ip), &ip.to_string()))
        .collect();
    (steps, teardown)
}

/// How darwin.bash keeps a `networksetup -get…` answer: a sentence (it has a space) means
/// none (`Empty`); empty output means the service is skipped.
pub(super) fn saved_words(response: &str) -> Option<Vec<String>> {
    let response = response.trim_end_matches('\n');
    if response.is_empty() {
        None
    } else if response.contains(' ') {
        Some(vec!["Empty".to_owned()])
    } else {
        Some(response.split_whitespace().map(str::to_owned).collect())
    }
}

/// A `networksetup` step or undo: `-setdnsservers` / `-setsearchdomains SERVICE VALUES…`.
pub(super) fn networksetup(option: &str, service: &str, values: &[String]) -> Undo {
    let mut argv = vec![
        "networksetup".to_owned(),
        option.to_owned(),
        service.to_owned(),
    ];
    argv.extend(values.iter().cloned());
    Undo {
        display: argv.join(" "),
        action: Action::run(&argv),
    }
}

/// `set_dns` for every service that had DNS servers; each is restored by the teardown (and by
/// a rollback). Failures are ignored, as in darwin.bash.
pub fn set_dns(cfg: &Config, mf: &MacFacts) -> (Vec<Step>, Vec<Undo>) {
    let ifc = &cfg.interface;
    let servers: Vec<String> = ifc.dns.iter().map(|d| d.to_string()).collect();
    let search = if ifc.dns_search.is_empty() {
        vec!["Empty".to_owned()]
    } else {
        ifc.dns_search.clone()
    };
    let (mut steps, mut teardown) = (Vec::new(), Vec::new());
    for svc in &mf.services {
        let Some(old_dns) = saved_words(&svc.dns) else {
            continue;
        };
        let old_search = saved_words(&svc.search).unwrap_or_default();
        let restore_dns = networksetup("-setdnsservers", &svc.name, &old_dns);
        let restore_search = networksetup("-setsearchdomains", &svc.name, &old_search);
        for (set, restore) in [
            (
                networksetup("-setdnsservers", &svc.name, &servers),
                restore_dns,
            ),
            (
                networksetup("-setsearchdomains", &svc.name, &search),
                restore_search,
            ),
        ] {
            let mut step = Step::cmd(set.display, set.action);
            step.ignore_failure = true;
            step.undo.push(restore.clone());
            steps.push(step);
            teardown.push(restore);
        }
    }
    (steps, teardown)
}
