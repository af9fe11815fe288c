//! Linux `down` and `save` plans against wg-quick's `cmd_down` / `cmd_save`; the full-tunnel
//! case was checked against a real `wg-quick down` in a network namespace.

mod common;

use common::{config, peer, strings};
use wg_quick_rs::config::{Config, Table};
use wg_quick_rs::plan::{plan_down, plan_save, Action, Facts, LinuxFacts, Os, SaveSpec};

const PATH: &str = "/etc/wireguard/wgqp0.conf";

/// `ip -4 rule show` after the namespace `up`.
const RULES4: &str = "0:\tfrom all lookup local\n\
    32764:\tfrom all lookup main suppress_prefixlength 0\n\
    32765:\tnot from all fwmark 0xca6c lookup 51820\n\
    32766:\tfrom all lookup main\n\
    32767:\tfrom all lookup default\n";

fn running() -> LinuxFacts {
    LinuxFacts {
        is_wireguard: true,
        running_fwmark: Some(51820),
        running_has_default: true,
        has_nft: true,
        rules4: RULES4.into(),
        rules6: "0:\tfrom all lookup local\n\
                 32764:\tfrom all lookup main suppress_prefixlength 0\n\
                 32765:\tnot from all fwmark 0xca6c lookup 51820\n\
                 32766:\tfrom all lookup main\n"
            .into(),
        nft_tables: "table ip6 wg-quick-wgqp0\ntable ip wg-quick-wgqp0\ntable inet filter\n".into(),
        ..LinuxFacts::default()
    }
}

fn full() -> Config {
    config(
        &["10.9.0.2/24", "fd09::2/64"],
        vec![peer(2, &["0.0.0.0/0", "::/0"], Some(("127.0.0.1", 51820)))],
    )
}

#[test]
fn full_tunnel_down_matches_wg_quick() {
    let plan = plan_down(&full(), "wgqp0", PATH, &Facts::linux(running())).unwrap();
    assert_eq!(
        plan.lines(""),
        [
            "[#] ip -4 rule delete table 51820",
            "[#] ip -4 rule delete table main suppress_prefixlength 0",
            "[#] ip -6 rule delete table 51820",
            "[#] ip -6 rule delete table main suppress_prefixlength 0",
            "[#] ip link delete dev wgqp0",
            "[#] nft -f /dev/fd/63",
        ]
    );
    let nft = plan.steps.last().unwrap();
    assert!(nft.ignore_failure);
    assert_eq!(
        nft.action,
        Action::Run {
            argv: strings(&["nft", "-f", "/dev/stdin"]),
            stdin: Some("delete table ip6 wg-quick-wgqp0\ndelete table ip wg-quick-wgqp0\n".into()),
        }
    );
    assert!(plan.steps.iter().all(|s| s.undo.is_empty()));
}

#[test]
fn every_listed_rule_is_deleted() {
    // Two tunnels' suppress rules and a near-miss table number: wg-quick loops while
    // `ip rule show` still lists `lookup 51820` / the suppress rule.
    let mut facts = running();
    facts.rules4 = format!("{RULES4}32763:\tfrom all lookup main suppress_prefixlength 0\n32762:\tfrom all lookup 518200\n");
    facts.rules6 = String::new();
    let plan = plan_down(&full(), "wgqp0", PATH, &Facts::linux(facts)).unwrap();
    assert_eq!(
        plan.lines("")[..4],
        [
            "[#] ip -4 rule delete table 51820",
            "[#] ip -4 rule delete table main suppress_prefixlength 0",
            "[#] ip -4 rule delete table main suppress_prefixlength 0",
            "[#] ip link delete dev wgqp0",
        ]
    );
}

#[test]
fn rules_are_kept_without_fwmark_default_route_or_auto_table() {
    let expect = ["[#] ip link delete dev wgqp0", "[#] nft -f /dev/fd/63"];
    let mut f = running();
    f.running_fwmark = None;
    assert_eq!(
        plan_down(&full(), "wgqp0", PATH, &Facts::linux(f))
            .unwrap()
            .lines(""),
        expect
    );
    let mut f = running();
    f.running_has_default = false;
    assert_eq!(
        plan_down(&full(), "wgqp0", PATH, &Facts::linux(f))
            .unwrap()
            .lines(""),
        expect
    );
    let mut cfg = full();
    cfg.interface.table = Table::Id(1234);
    assert_eq!(
        plan_down(&cfg, "wgqp0", PATH, &Facts::linux(running()))
            .unwrap()
            .lines(""),
        expect
    );
}

#[test]
fn down_with_hooks_dns_save_and_iptables() {
    let mut cfg = config(&["10.0.0.2/24"], vec![peer(2, &["10.1.0.0/16"], None)]);
    cfg.interface.pre_down = strings(&["echo bye %i"]);
    cfg.interface.post_down = strings(&["echo gone %i"]);
    cfg.interface.dns = vec!["1.1.1.1".parse().unwrap()];
    cfg.interface.save_config = true;
    let marker = "-m comment --comment \"wg-quick(8) rule for wg0\"";
    let facts = LinuxFacts {
        is_wireguard: true,
        has_iptables: true,
        resolvconf_interface_order: Some("tun*\n".into()),
        iptables_save: format!(
            "# Generated\n*raw\n:PREROUTING ACCEPT [0:0]\n\
             -A PREROUTING ! -i wg0 -d 10.0.0.2/32 -m addrtype ! --src-type LOCAL -j DROP {marker}\n\
             -A PREROUTING -j ACCEPT\nCOMMIT\n*mangle\nCOMMIT\n"
        ),
        ip6tables_save: "*raw\nCOMMIT\n".into(),
        ..LinuxFacts::default()
    };
    let plan = plan_down(&cfg, "wg0", "/etc/wireguard/wg0.conf", &Facts::linux(facts)).unwrap();
    assert_eq!(
        plan.lines(""),
        [
            "[#] echo bye wg0",
            "[#] wg showconf wg0",
            "[#] ip link delete dev wg0",
            "[#] resolvconf -d tun.wg0 -f",
            "[#] iptables-restore -n",
            "[#] echo gone wg0",
        ]
    );
    assert!(plan.steps[3].ignore_failure && plan.steps[4].ignore_failure);
    assert_eq!(
        plan.steps[4].action,
        Action::Run {
            argv: strings(&["iptables-restore", "-n"]),
            stdin: Some(format!(
                "*raw\n-D PREROUTING ! -i wg0 -d 10.0.0.2/32 -m addrtype ! --src-type LOCAL -j DROP {marker}\n\
                 COMMIT\n*mangle\nCOMMIT\n"
            )),
        }
    );
    let Action::SaveConfig(spec) = &plan.steps[1].action else {
        panic!("no SaveConfig");
    };
    assert_eq!(spec.resolvconf_name.as_deref(), Some("tun.wg0"));
    assert_eq!(
        spec.tail,
        [
            "SaveConfig = true",
            "PreDown = echo bye %i",
            "PostDown = echo gone %i"
        ]
    );
}

#[test]
fn save_plan_carries_the_wg_quick_keys() {
    let mut cfg = config(&["10.0.0.2/24"], vec![]);
    cfg.interface.mtu = Some(1380);
    cfg.interface.table = Table::Off;
    cfg.interface.pre_up = strings(&["a"]);
    cfg.interface.post_up = strings(&["b", "c"]);
    let facts = Facts::linux(LinuxFacts {
        is_wireguard: true,
        ..LinuxFacts::default()
    });
    let plan = plan_save(&cfg, "wg0", "/etc/wireguard/wg0.conf", &facts).unwrap();
    assert_eq!(plan.lines(""), ["[#] wg showconf wg0"]);
    assert_eq!(
        plan.steps[0].action,
        Action::SaveConfig(SaveSpec {
            os: Os::Linux,
            iface: "wg0".into(),
            path: "/etc/wireguard/wg0.conf".into(),
            resolvconf_name: Some("wg0".into()),
            dns: vec![],
            mtu: Some(1380),
            tail: strings(&["Table = off", "PreUp = a", "PostUp = b", "PostUp = c"]),
        })
    );
}
