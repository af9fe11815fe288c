//! The pure half of darwin.bash's `monitor_daemon`: given the [`MonitorSpec`] that `up` planned,
//! what the monitor remembers ([`MonitorState`]) and what the system looks like after a routing
//! change ([`MonitorFacts`]), decide what to re-apply (`set_endpoint_direct_route`, `set_mtu`,
//! `set_dns`) or, once the interface is gone, what to undo (`del_routes; del_dns`).
//!
//! Also the spec file the background monitor process reads: a line-based text format,
//! `KEY<TAB>VALUE[<TAB>VALUE…]`, with `\\`, `\t`, `\n` and `\r` escaped in values.
//!
//! Differences from darwin.bash: an endpoint's route family follows its address (darwin.bash
//! would delete an IPv6 endpoint with `-inet` when only IPv4 was split); a failed
//! `networksetup -listallnetworkservices` keeps the known services instead of forgetting them;
//! the teardown does not scan `netstat` for routes through the gone interface (the kernel removes
//! those with the interface), it deletes the endpoint routes and restores DNS.

use super::common::auto_mtu_from;
use super::macos_routes::{delete, family, networksetup, route, saved_words};
use super::{Action, MacService, MonitorSpec, Step, Undo};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What the monitor remembers between routing changes (darwin.bash's globals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorState {
    /// `GATEWAY4` the endpoint routes go through.
    pub gateway4: Option<String>,
    /// `GATEWAY6`.
    pub gateway6: Option<String>,
    /// `ENDPOINTS`: the endpoints that have a host route.
    pub endpoints: Vec<IpAddr>,
    /// The keys of `SERVICE_DNS`: services whose DNS is replaced (and restored at the end).
    pub services: Vec<String>,
    /// What runs when the interface is gone: the spec's teardown, plus the undos of endpoint
    /// routes and services the monitor added since.
    pub teardown: Vec<Undo>,
}

impl MonitorState {
    /// The state `up` left behind.
    pub fn new(spec: &MonitorSpec) -> Self {
        MonitorState {
            gateway4: spec.gateway4.clone(),
            gateway6: spec.gateway6.clone(),
            endpoints: spec.endpoints.clone(),
            services: spec.services.clone(),
            teardown: spec.teardown.clone(),
        }
    }

    /// Adds `undo` to the teardown unless it is there already.
    fn remember(&mut self, undo: Undo) {
        if !self.teardown.contains(&undo) {
            self.teardown.push(undo);
        }
    }
}

/// The system after a routing change, as the monitor gathers it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MonitorFacts {
    /// `ifconfig IFACE` succeeds.
    pub iface_present: bool,
    /// The interface's MTU now (`ifconfig IFACE`).
    pub iface_mtu: Option<u32>,
    /// IPv4 default gateway (`netstat -nr -f inet`, not `link#N`).
    pub gateway4: Option<String>,
    /// IPv6 default gateway.
    pub gateway6: Option<String>,
    /// The peers' endpoint addresses now (`wg show IFACE endpoints`), in peer order.
    pub endpoints: Vec<IpAddr>,
    /// MTU of the route to each endpoint (routes through the tunnel or loopback left out).
    pub endpoint_mtus: BTreeMap<IpAddr, u32>,
    /// MTU of the interface of the default route.
    pub default_if_mtu: Option<u32>,
    /// `networksetup -listallnetworkservices` with each new service's DNS answers (`None`
    /// when the listing failed). Known services may carry empty answers: they are not read.
    pub services: Option<Vec<MacService>>,
}

/// What to do after a routing change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaction {
    /// The interface is still there: run these steps (each failure is ignored) and go on.
    Reapply(Vec<Step>),
    /// The interface is gone: run these undos and stop.
    Stop(Vec<Undo>),
}

/// One routing change (an `RTM_*` line of `route -n monitor`): the loop body of
/// `monitor_daemon`.
pub fn on_route_event(
    spec: &MonitorSpec,
    state: &mut MonitorState,
    now: &MonitorFacts,
) -> Reaction {
    if !now.iface_present {
        return Reaction::Stop(state.teardown.clone());
    }
    let mut steps = Vec::new();
    if spec.auto_route4 || spec.auto_route6 {
        steps.extend(endpoint_direct_route(spec, state, now));
    }
    if spec.mtu_auto {
        let mtu = auto_mtu_from(&now.endpoints, &now.endpoint_mtus, now.default_if_mtu);
        if now.iface_mtu != Some(mtu) {
            let argv = ["ifconfig", spec.iface.as_str(), "mtu", &mtu.to_string()];
            steps.push(Step::cmd(argv.join(" "), Action::run(&argv)));
        }
    }
    if !spec.dns.is_empty() {
        steps.extend(on_dns_timer(spec, state, now.services.as_deref()));
    }
    for step in &mut steps {
        step.ignore_failure = true;
    }
    Reaction::Reapply(steps)
}

/// `set_dns` alone: after a routing change, and again 2 s later (darwin.bash's `ALRM` trap),
/// since the system may rewrite DNS after the change. `services` as in [`MonitorFacts`].
pub fn on_dns_timer(
    spec: &MonitorSpec,
    state: &mut MonitorState,
    services: Option<&[MacService]>,
) -> Vec<Step> {
    if spec.dns.is_empty() {
        return Vec::new();
    }
    if let Some(services) = services {
        collect_new_service_dns(state, services);
    }
    let search = if spec.dns_search.is_empty() {
        vec!["Empty".to_owned()]
    } else {
        spec.dns_search.clone()
    };
    let mut steps = Vec::new();
    for name in &state.services {
        for set in [
            networksetup("-setdnsservers", name, &spec.dns),
            networksetup("-setsearchdomains", name, &search),
        ] {
            let mut step = Step::cmd(set.display, set.action);
            step.ignore_failure = true;
            steps.push(step);
        }
    }
    steps
}

/// `collect_new_service_dns`: remember the DNS of services that appeared (their restore joins
/// the teardown) and forget services that are gone.
fn collect_new_service_dns(state: &mut MonitorState, services: &[MacService]) {
    for svc in services {
        if state.services.contains(&svc.name) {
            continue;
        }
        let Some(old_dns) = saved_words(&svc.dns) else {
            continue;
        };
        let old_search = saved_words(&svc.search).unwrap_or_default();
        state.services.push(svc.name.clone());
        state.remember(networksetup("-setdnsservers", &svc.name, &old_dns));
        state.remember(networksetup("-setsearchdomains", &svc.name, &old_search));
    }
    let gone: Vec<String> = state
        .services
        .iter()
        .filter(|name| !services.iter().any(|s| &s.name == *name))
        .cloned()
        .collect();
    state.services.retain(|name| !gone.contains(name));
    state
        .teardown
        .retain(|u| !gone.iter().any(|name| restores_service(u, name)));
}

/// `undo` is a `networksetup -set… SERVICE …` restore.
fn restores_service(undo: &Undo, service: &str) -> bool {
    matches!(&undo.action, Action::Run { argv, .. }
        if argv.first().map(String::as_str) == Some("networksetup")
            && argv.get(2).map(String::as_str) == Some(service))
}

/// `set_endpoint_direct_route`: when a default gateway changed, every endpoint route is
/// deleted and added again through the new gateway (a blackhole without one, so the tunnel does
/// not route its own packets); otherwise only endpoints that came or went are handled.
fn endpoint_direct_route(
    spec: &MonitorSpec,
    state: &mut MonitorState,
    now: &MonitorFacts,
) -> Vec<Step> {
    let wanted = |ip: &IpAddr| {
        if ip.is_ipv4() {
            spec.auto_route4
        } else {
            spec.auto_route6
        }
    };
    let mut current: Vec<IpAddr> = Vec::new();
    for &ip in &now.endpoints {
        if !current.contains(&ip) {
            current.push(ip);
        }
    }
    let remove_all_old = state.gateway4 != now.gateway4 || state.gateway6 != now.gateway6;
    state.gateway4.clone_from(&now.gateway4);
    state.gateway6.clone_from(&now.gateway6);
    let mut old = std::mem::take(&mut state.endpoints);
    if remove_all_old {
        for ip in &current {
            if !old.contains(ip) {
                old.push(*ip);
            }
        }
    }
    let mut steps = Vec::new();
    for ip in old.iter().filter(|ip| wanted(ip)) {
        if !remove_all_old && current.contains(ip) {
            continue;
        }
        let d = delete(family(*ip), &ip.to_string());
        steps.push(Step::cmd(d.display, d.action));
    }
    for ip in &current {
        if !remove_all_old && old.contains(ip) {
            state.endpoints.push(*ip);
            continue;
        }
        if !wanted(ip) {
            continue;
        }
        let (fam, dest) = (family(*ip), ip.to_string());
        let (gateway, blackhole) = if ip.is_ipv4() {
            (&now.gateway4, "127.0.0.1")
        } else {
            (&now.gateway6, "::1")
        };
        let mut step = match gateway {
            Some(gw) => route(&["add", fam, &dest, "-gateway", gw], &dest, fam),
            None => route(&["add", fam, &dest, blackhole, "-blackhole"], &dest, fam),
        };
        for undo in step.undo.drain(..) {
            state.remember(undo);
        }
        steps.push(step);
        state.endpoints.push(*ip);
    }
    steps
}

/// First line of a spec file.
const MAGIC: &str = "wgrs-route-monitor 1";

/// The spec as the text of the monitor's spec file. Fails when a teardown action is not a plain
/// command (the planner makes only those).
pub fn spec_to_text(spec: &MonitorSpec) -> Result<String, String> {
    let mut out = format!("{MAGIC}\n");
    let mut line = |key: &str, values: &[&str]| {
        out.push_str(key);
        for v in values {
            out.push('\t');
            out.push_str(&escape(v));
        }
        out.push('\n');
    };
    let flag = |b: bool| if b { "1" } else { "0" };
    line("iface", &[&spec.iface]);
    line("auto_route4", &[flag(spec.auto_route4)]);
    line("auto_route6", &[flag(spec.auto_route6)]);
    line("mtu_auto", &[flag(spec.mtu_auto)]);
    for d in &spec.dns {
        line("dns", &[d]);
    }
    for d in &spec.dns_search {
        line("dns_search", &[d]);
    }
    if let Some(g) = &spec.gateway4 {
        line("gateway4", &[g]);
    }
    if let Some(g) = &spec.gateway6 {
        line("gateway6", &[g]);
    }
    for ip in &spec.endpoints {
        line("endpoint", &[&ip.to_string()]);
    }
    for s in &spec.services {
        line("service", &[s]);
    }
    for undo in &spec.teardown {
        match &undo.action {
            Action::Run { argv, stdin: None }
                if !argv.is_empty() && undo.display == argv.join(" ") =>
            {
                let args: Vec<&str> = argv.iter().map(String::as_str).collect();
                line("teardown", &args);
            }
            _ => return Err(format!("cannot store teardown step `{}'", undo.display)),
        }
    }
    Ok(out)
}

/// Reads a spec file's text (see [`spec_to_text`]).
pub fn spec_from_text(text: &str) -> Result<MonitorSpec, String> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err("not a wgrs route monitor spec".to_owned());
    }
    let mut spec = MonitorSpec {
        iface: String::new(),
        auto_route4: false,
        auto_route6: false,
        mtu_auto: false,
        dns: Vec::new(),
        dns_search: Vec::new(),
        gateway4: None,
        gateway6: None,
        endpoints: Vec::new(),
        services: Vec::new(),
        teardown: Vec::new(),
    };
    for (n, line) in lines.enumerate() {
        let bad = || format!("spec line {}: `{line}'", n + 2);
        let mut fields = line.split('\t');
        let key = fields.next().unwrap_or_default();
        let values = fields.map(unescape).collect::<Result<Vec<String>, ()>>();
        let values = values.map_err(|()| bad())?;
        let one = || match values.as_slice() {
            [v] => Ok(v.clone()),
            _ => Err(bad()),
        };
        let flag = || match one()?.as_str() {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(bad()),
        };
        match key {
            "iface" => spec.iface = one()?,
            "auto_route4" => spec.auto_route4 = flag()?,
            "auto_route6" => spec.auto_route6 = flag()?,
            "mtu_auto" => spec.mtu_auto = flag()?,
            "dns" => spec.dns.push(one()?),
            "dns_search" => spec.dns_search.push(one()?),
            "gateway4" => spec.gateway4 = Some(one()?),
            "gateway6" => spec.gateway6 = Some(one()?),
            "endpoint" => spec.endpoints.push(one()?.parse().map_err(|_| bad())?),
            "service" => spec.services.push(one()?),
            "teardown" if !values.is_empty() => spec.teardown.push(Undo {
                display: values.join(" "),
                action: Action::run(&values),
            }),
            _ => return Err(bad()),
        }
    }
    if spec.iface.is_empty() {
        return Err("spec names no interface".to_owned());
    }
    Ok(spec)
}

/// `\` `TAB` `LF` `CR` as `\\` `\t` `\n` `\r`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`escape`]; fails on an unknown or trailing escape.
fn unescape(s: &str) -> Result<String, ()> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('\\') => '\\',
            Some('t') => '\t',
            Some('n') => '\n',
            Some('r') => '\r',
            _ => return Err(()),
        });
    }
    Ok(out)
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
