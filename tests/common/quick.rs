//! `wgrs up | down | save` in a namespace, and a text snapshot of everything they may touch
//! there (addresses, policy rules, routes of all tables, the nftables ruleset, and the
//! interface's files in the shared socket directory), to compare before `up` and after `down`.

#![allow(dead_code, clippy::unwrap_used, clippy::disallowed_methods)]

use super::netns::*;
use super::wg_daemon::UAPI_DIR;
use std::path::Path;
use std::time::Duration;

/// `wgrs CMD PATH` in `ns`, bounded by 30 s.
pub fn wgrs_quick(ns: &Netns, cmd: &str, path: &Path) -> Run {
    let wgrs = env!("CARGO_BIN_EXE_wgrs");
    ns.exec_for(30, &[wgrs, cmd, path.to_str().expect("utf-8 path")])
}

/// The files of `iface` in the socket directory (`wg0.sock`, `wg0.wgrs-quick.state`...).
pub fn run_dir_files(iface: &str) -> Vec<String> {
    let prefix = format!("{iface}.");
    let mut names: Vec<String> = std::fs::read_dir(UAPI_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    names.sort();
    names
}

/// Everything `up` may touch in a namespace, as text, once IPv6 duplicate address detection on
/// the underlay has settled (a "tentative" link-local address would differ later on its own).
pub fn snapshot(ns: &Netns, iface: &str) -> String {
    wait_until(Duration::from_secs(5), || {
        !ns.ip(&["-6", "addr"]).ok().stdout.contains("tentative")
    });
    let mut out = rules_and_firewall(ns);
    for args in [
        &["-o", "addr"][..],
        &["route", "show", "table", "all"],
        &["-6", "route", "show", "table", "all"],
    ] {
        out += &format!("## ip {}\n{}", args.join(" "), ns.ip(args).ok().stdout);
    }
    out += &format!("## {UAPI_DIR}\n{:?}\n", run_dir_files(iface));
    out
}

/// The policy rules of both families and the nftables ruleset.
pub fn rules_and_firewall(ns: &Netns) -> String {
    let mut out = String::new();
    for args in [&["rule"][..], &["-6", "rule"]] {
        out += &format!("## ip {}\n{}", args.join(" "), ns.ip(args).ok().stdout);
    }
    out += &format!(
        "## nft\n{}",
        ns.exec(&["nft", "list", "ruleset"]).ok().stdout
    );
    out
}
