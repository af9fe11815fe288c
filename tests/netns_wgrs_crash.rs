//! `wgrs down` always cleans up (issue 12 item 5), in network namespaces with a full tunnel
//! (AllowedIPs 0.0.0.0/0 and ::/0: fwmark, policy rules, nftables tables) and hooks that NAT:
//! after `kill -9` of the daemon, and after an `up` that was killed half-way, `down` runs
//! PreDown/PostDown, exits 0 and leaves rules, routes, nft and the socket directory as they were
//! before `up`; an `up` after a crash first undoes the leftovers and duplicates nothing.
//! Skips when not root.

mod common;
use common::netns::*;
use common::quick::*;
use common::wg_daemon::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::PathBuf;
use std::time::Duration;

/// A full-tunnel config whose PostUp adds a NAT table that PostDown removes; the
/// PreDown and PostDown hooks also append to `log`. `post_up_extra` runs after the NAT.
fn full_tunnel(log: &str, post_up_extra: &str) -> String {
    let k = Keys::generate();
    let peer = Keys::generate();
    format!(
        "[Interface]\nPrivateKey = {}\nAddress = 10.79.0.1/24, fd79::1/64\n\
         PostUp = nft add table ip nat-%i && nft 'add chain ip nat-%i post {{ type nat hook postrouting priority 100; }}' && nft add rule ip nat-%i post masquerade\n\
         {post_up_extra}\
         PreDown = echo predown %i >> {log}\n\
         PostDown = nft delete table ip nat-%i && echo postdown %i >> {log}\n\n\
         [Peer]\nPublicKey = {}\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 192.0.2.1:51820\n",
        k.private, peer.public
    )
}

struct Case {
    ns: Netns,
    iface: String,
    conf: PathBuf,
    log: PathBuf,
    _dir: TempDir,
}

fn case(tag: &str, post_up_extra: &str) -> Case {
    let ns = Netns::new(tag);
    let iface = unique_ifname();
    let dir = TempDir::new(tag);
    let log = dir.path.join("hooks.log");
    let text = full_tunnel(log.to_str().expect("utf-8"), post_up_extra);
    let conf = dir.file(&format!("{iface}.conf"), &text);
    Case {
        ns,
        iface,
        conf,
        log,
        _dir: dir,
    }
}

/// SIGKILL to every process in the namespace (the daemon is the only one), then waits.
fn kill_daemon(ns: &Netns) {
    let pids = ns.pids();
    assert_eq!(pids.len(), 1, "one daemon runs in the namespace: {pids:?}");
    for &pid in &pids {
        kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill -9");
        assert!(wait_gone(pid, Duration::from_secs(5)), "daemon {pid} gone");
    }
}

/// What `up` leaves that a dead daemon cannot take with it.
fn assert_leftovers(c: &Case) {
    let rules = c.ns.ip(&["rule"]).ok().stdout;
    assert!(rules.contains("lookup 51820"), "{rules}");
    let nft = c.ns.exec(&["nft", "list", "tables"]).ok().stdout;
    assert!(nft.contains(&format!("table ip nat-{}", c.iface)), "{nft}");
    assert!(
        nft.contains(&format!("table ip6 wg-quick-{}", c.iface)),
        "{nft}"
    );
    assert!(
        uapi_socket(&c.iface).exists(),
        "a killed daemon leaves its socket"
    );
}

fn assert_down_cleans_up(c: &Case, before: &str) {
    let down = wgrs_quick(&c.ns, "down", &c.conf);
    assert!(down.success(), "down after the crash exits 0:\n{down}");
    for line in [
        format!("[#] echo predown {} >> ", c.iface),
        format!("[#] nft delete table ip nat-{} && echo postdown", c.iface),
    ] {
        assert!(down.stderr.contains(&line), "{line:?} in\n{down}");
    }
    let log = std::fs::read_to_string(&c.log).expect("hooks ran");
    assert_eq!(log, format!("predown {0}\npostdown {0}\n", c.iface));
    assert_eq!(
        snapshot(&c.ns, &c.iface),
        before,
        "down restores rules, routes, nft and the socket directory exactly"
    );
    let again = wgrs_quick(&c.ns, "down", &c.conf);
    assert_eq!(again.code, Some(1), "{again}");
    assert!(
        again.stderr.contains("is not a WireGuard interface"),
        "{again}"
    );
}

#[test]
fn down_after_kill_9_of_the_daemon_restores_everything_and_runs_the_hooks() {
    if skip_unless_root(&["nft", "sysctl"]) {
        return;
    }
    let c = case("crash", "");
    let before = snapshot(&c.ns, &c.iface);
    let up = wgrs_quick(&c.ns, "up", &c.conf);
    assert!(up.success(), "{up}");
    assert_eq!(
        run_dir_files(&c.iface),
        [
            format!("{}.sock", c.iface),
            format!("{}.wgrs-quick.state", c.iface)
        ]
    );
    kill_daemon(&c.ns);
    assert_leftovers(&c);
    assert_down_cleans_up(&c, &before);
}

#[test]
fn up_after_a_crash_undoes_the_leftovers_first_and_duplicates_nothing() {
    if skip_unless_root(&["nft", "sysctl"]) {
        return;
    }
    let c = case("reup", "");
    let before = snapshot(&c.ns, &c.iface);
    assert!(wgrs_quick(&c.ns, "up", &c.conf).success());
    let first = rules_and_firewall(&c.ns);
    kill_daemon(&c.ns);
    assert_leftovers(&c);
    let up = wgrs_quick(&c.ns, "up", &c.conf);
    assert!(up.success(), "{up}");
    assert!(
        up.stderr.contains(&format!(
            "[+] Undoing what the last `up' of {} left behind",
            c.iface
        )),
        "{up}"
    );
    assert_eq!(
        rules_and_firewall(&c.ns),
        first,
        "the second up holds exactly the rules and tables of the first"
    );
    assert!(uapi_socket(&c.iface).exists(), "the new daemon serves");
    std::fs::remove_file(&c.log).expect("the clean-up ran the hooks");
    let down = wgrs_quick(&c.ns, "down", &c.conf);
    assert!(down.success(), "{down}");
    assert!(
        wait_until(Duration::from_secs(3), || !uapi_socket(&c.iface).exists()),
        "daemon gone with its socket after down"
    );
    assert_eq!(snapshot(&c.ns, &c.iface), before);
}

#[test]
fn down_after_up_was_killed_half_way_restores_everything() {
    if skip_unless_root(&["nft", "sysctl"]) {
        return;
    }
    // The second PostUp kills `wgrs up` itself (the hook's parent) after the NAT is in place.
    let c = case("halfway", "PostUp = kill -9 $PPID\n");
    let before = snapshot(&c.ns, &c.iface);
    let up = wgrs_quick(&c.ns, "up", &c.conf);
    assert!(!up.success(), "up was killed: {up}");
    assert_leftovers(&c);
    assert!(
        wait_until(Duration::from_secs(3), || {
            c.ns.wg(&["show", &c.iface, "fwmark"]).success()
        }),
        "the daemon outlives the killed up"
    );
    assert_down_cleans_up(&c, &before);
    assert!(
        wait_until(Duration::from_secs(3), || c.ns.pids().is_empty()),
        "the daemon went with its link"
    );
}
