//! The full-tunnel part of `wg-quick/linux.bash`: `add_default` (fwmark, policy rules, the
//! `wg-quick-IFACE` nftables table or the iptables fallback) and `remove_firewall`.

use super::common::cidr_text;
use super::linux::{run_step, undo_run};
use super::{Action, LinuxFacts, PlanError, Step, Undo};
use crate::config::{Cidr, Config};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The first table wg-quick tries.
pub const FIRST_TABLE: u32 = 51820;

/// What `get_fwmark` would answer while routes are added.
pub struct DefaultState {
    fwmark: Option<u32>,
}

impl DefaultState {
    /// Starts from the config's `FwMark` (`off`/0 means none).
    pub fn new(fwmark: Option<u32>) -> Self {
        DefaultState {
            fwmark: fwmark.filter(|&m| m != 0),
        }
    }
}

/// The first table from 51820 up that holds no route.
pub fn first_free_table(busy: &BTreeSet<u32>) -> u32 {
    let mut table = FIRST_TABLE;
    while busy.contains(&table) && table < u32::MAX {
        table += 1;
    }
    table
}

/// `add_default` for the /0 prefix `p`.
pub fn add_default(
    cfg: &Config,
    iface: &str,
    lf: &LinuxFacts,
    p: Cidr,
    state: &mut DefaultState,
) -> Result<Vec<Step>, PlanError> {
    if !lf.has_nft && !lf.has_iptables {
        return Err(PlanError::NoFirewall(iface.to_owned()));
    }
    let mut steps = Vec::new();
    let table = match state.fwmark {
        Some(t) => t,
        None => {
            let t = first_free_table(&lf.busy_tables);
            let action = Action::SetFwmark {
                iface: iface.to_owned(),
                fwmark: t,
            };
            steps.push(Step::cmd(format!("wg set {iface} fwmark {t}"), action));
            state.fwmark = Some(t);
            t
        }
    };
    let v4 = p.addr.is_ipv4();
    let proto = if v4 { "-4" } else { "-6" };
    let t = table.to_string();
    let text = cidr_text(p);
    steps.push(run_step(&[
        "ip", proto, "route", "add", &text, "dev", iface, "table", &t,
    ]));
    let mut rule = run_step(&["ip", proto, "rule", "add", "not", "fwmark", &t, "table", &t]);
    rule.undo
        .push(undo_run(&["ip", proto, "rule", "delete", "table", &t]));
    steps.push(rule);
    let suppress = ["table", "main", "suppress_prefixlength", "0"];
    let mut rule = run_step(&[&["ip", proto, "rule", "add"][..], &suppress[..]].concat());
    rule.undo.push(undo_run(
        &[&["ip", proto, "rule", "delete"][..], &suppress[..]].concat(),
    ));
    steps.push(rule);
    if v4 {
        steps.push(run_step(&[
            "sysctl",
            "-q",
            "net.ipv4.conf.all.src_valid_mark=1",
        ]));
    }
    let addrs = listed_addresses(&cfg.interface.addresses, v4);
    steps.push(if lf.has_nft {
        nft_step(iface, v4, table, &addrs)
    } else {
        iptables_step(iface, v4, table, &addrs)
    });
    Ok(steps)
}

/// The interface's addresses of one family in `ip -o addr show` order: IPv4 primaries in the
/// order added, then secondaries (same mask and subnet as an earlier address); IPv6 newest
/// first. (The kernel's IPv6 link-local, unknown before `up`, is not included.)
pub fn listed_addresses(addrs: &[Cidr], v4: bool) -> Vec<IpAddr> {
    let mut seen: Vec<Cidr> = Vec::new();
    let (mut primary, mut secondary) = (Vec::new(), Vec::new());
    for &a in addrs.iter().filter(|a| a.addr.is_ipv4() == v4) {
        let duplicate = seen
            .iter()
            .any(|s| s.addr == a.addr && (!v4 || s.prefix == a.prefix));
        if duplicate {
            continue;
        }
        let same_subnet = v4
            && seen.iter().any(|s| {
                s.prefix == a.prefix && super::common::covers(super::common::masked(*s), a)
            });
        if same_subnet {
            secondary.push(a.addr);
        } else {
            primary.push(a.addr);
        }
        seen.push(a);
    }
    if !v4 {
        primary.reverse();
    }
    primary.extend(secondary);
    primary
}

/// `nft -f` with the `wg-quick-IFACE` table of one family; undone by deleting the table.
fn nft_step(iface: &str, v4: bool, table: u32, addrs: &[IpAddr]) -> Step {
    let pf = if v4 { "ip" } else { "ip6" };
    let name = format!("wg-quick-{iface}");
    let mut s = format!("add table {pf} {name}\n");
    for (chain, hook, prio) in [
        ("preraw", "prerouting", -300),
        ("premangle", "prerouting", -150),
        ("postmangle", "postrouting", -150),
    ] {
        s.push_str(&format!(
            "add chain {pf} {name} {chain} {{ type filter hook {hook} priority {prio}; }}\n"
        ));
    }
    for a in addrs {
        s.push_str(&format!(
            "add rule {pf} {name} preraw iifname != \"{iface}\" {pf} daddr {a} fib saddr type != local drop\n"
        ));
    }
    s.push_str(&format!(
        "add rule {pf} {name} postmangle meta l4proto udp mark {table} ct mark set mark \n"
    ));
    s.push_str(&format!(
        "add rule {pf} {name} premangle meta l4proto udp meta mark set ct mark \n"
    ));
    let mut step = nft(s);
    step.undo.push(Undo {
        display: step.display.clone(),
        action: nft(format!("delete table {pf} {name}\n")).action,
    });
    step
}

/// `nft -f /dev/fd/63` as wg-quick shows it; the script goes to nft's standard input.
fn nft(script: String) -> Step {
    Step::cmd(
        "nft -f /dev/fd/63",
        Action::Run {
            argv: vec!["nft".into(), "-f".into(), "/dev/stdin".into()],
            stdin: Some(script),
        },
    )
}

/// `iptables-restore -n` (or `ip6tables-`) with wg-quick's marked rules, when nft is missing;
/// undone by the same rules with `-I` turned into `-D`.
fn iptables_step(iface: &str, v4: bool, table: u32, addrs: &[IpAddr]) -> Step {
    let program = if v4 {
        "iptables-restore"
    } else {
        "ip6tables-restore"
    };
    let marker = format!("-m comment --comment \"wg-quick(8) rule for {iface}\"");
    let mut s = String::from("*raw\n");
    for a in addrs {
        s.push_str(&format!(
            "-I PREROUTING ! -i {iface} -d {a} -m addrtype ! --src-type LOCAL -j DROP {marker}\n"
        ));
    }
    s.push_str(&format!(
        "COMMIT\n*mangle\n-I POSTROUTING -m mark --mark {table} -p udp -j CONNMARK --save-mark {marker}\n\
         -I PREROUTING -p udp -j CONNMARK --restore-mark {marker}\nCOMMIT\n"
    ));
    let undo: String = s
        .lines()
        .map(|l| match l.strip_prefix("-I ") {
            Some(rest) => format!("-D {rest}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    let mut step = restore(program, s);
    let undo = restore(program, undo);
    step.undo.push(Undo {
        display: undo.display,
        action: undo.action,
    });
    step
}

/// `PROGRAM -n` fed `text`.
fn restore(program: &str, text: String) -> Step {
    Step::cmd(
        format!("{program} -n"),
        Action::Run {
            argv: vec![program.to_owned(), "-n".to_owned()],
            stdin: Some(text),
        },
    )
}

/// `remove_firewall`: delete every `wg-quick-IFACE` nftables table that `nft list tables`
/// lists, and every iptables rule carrying the interface's wg-quick comment. Failures are
/// ignored, as wg-quick's `remove_firewall || true`.
pub fn remove_firewall(iface: &str, lf: &LinuxFacts) -> Vec<Step> {
    let mut steps = Vec::new();
    if lf.has_nft {
        let suffix = format!(" wg-quick-{iface}");
        let script: String = lf
            .nft_tables
            .lines()
            .filter(|l| l.ends_with(&suffix))
            .map(|l| format!("delete {l}\n"))
            .collect();
        if !script.is_empty() {
            steps.push(nft(script));
        }
    }
    if lf.has_iptables {
        let marker = format!("-m comment --comment \"wg-quick(8) rule for {iface}\"");
        for (program, save) in [
            ("iptables-restore", &lf.iptables_save),
            ("ip6tables-restore", &lf.ip6tables_save),
        ] {
            let mut found = false;
            let mut text = String::new();
            for line in save.lines() {
                if let Some(rest) = line.strip_prefix("-A ").filter(|r| r.contains(&marker)) {
                    found = true;
                    text.push_str(&format!("-D {rest}\n"));
                } else if line.starts_with('*') || line == "COMMIT" {
                    text.push_str(&format!("{line}\n"));
                }
            }
            if found {
                steps.push(restore(program, text));
            }
        }
    }
    for step in &mut steps {
        step.ignore_failure = true;
    }
    steps
}
