//! macOS plans against what `wg-quick` (darwin.bash) prints; `utun3` stands for the name the
//! daemon picks.

mod common;

use common::{config, peer, strings};
use wg_quick_rs::config::{Config, Table};
use wg_quick_rs::plan::{
    plan_down, plan_save, plan_up, Action, Facts, MacFacts, MacService, Os, Plan, PlanError, Tag,
    REAL_IFACE,
};

fn mf() -> MacFacts {
    MacFacts {
        default_if_mtu: Some(1500),
        new_tun_mtu: 1420,
        gateway4: Some("192.168.1.1".into()),
        gateway6: Some("fe80::1%en0".into()),
        services: vec![
            MacService {
                name: "Wi-Fi".into(),
                dns: "There aren't any DNS Servers set on Wi-Fi.\n".into(),
                search: "There aren't any Search Domains set on Wi-Fi.\n".into(),
            },
            MacService {
                name: "USB LAN".into(),
                dns: "192.168.1.1\n8.8.8.8\n".into(),
                search: "lan\n".into(),
            },
            MacService {
                name: "Bluetooth PAN".into(),
                dns: String::new(),
                search: String::new(),
            },
        ],
        ..MacFacts::default()
    }
}

fn up(cfg: &Config, facts: &MacFacts) -> Plan {
    plan_up(cfg, "wg0", &Facts::macos(facts.clone())).expect("plan")
}

fn full() -> Config {
    let mut cfg = config(
        &["10.9.0.2/24", "fd09::2/64"],
        vec![peer(
            2,
            &["0.0.0.0/0", "::/0"],
            Some(("198.51.100.1", 51820)),
        )],
    );
    cfg.interface.dns = vec!["1.1.1.1".parse().expect("ip")];
    cfg
}

#[test]
fn full_tunnel_with_dns() {
    let plan = up(&full(), &mf());
    assert_eq!(plan.os, Os::MacOs);
    assert_eq!(
        plan.lines("utun3"),
        [
            "[#] wgrs utun",
            "[#] wg addconf utun3 /dev/fd/63",
            "[#] ifconfig utun3 inet 10.9.0.2/24 10.9.0.2 alias",
            "[#] ifconfig utun3 inet6 fd09::2/64 alias",
            "[#] ifconfig utun3 up",
            "[#] route -q -n add -inet6 ::/1 -interface utun3",
            "[#] route -q -n add -inet6 8000::/1 -interface utun3",
            "[#] route -q -n add -inet 0.0.0.0/1 -interface utun3",
            "[#] route -q -n add -inet 128.0.0.0/1 -interface utun3",
            "[#] route -q -n delete -inet 198.51.100.1",
            "[#] route -q -n add -inet 198.51.100.1 -gateway 192.168.1.1",
            "[#] networksetup -setdnsservers Wi-Fi 1.1.1.1",
            "[#] networksetup -setsearchdomains Wi-Fi Empty",
            "[#] networksetup -setdnsservers USB LAN 1.1.1.1",
            "[#] networksetup -setsearchdomains USB LAN Empty",
            "[+] Backgrounding route monitor",
        ]
    );
    assert_eq!(
        plan.steps[0].action,
        Action::StartDaemon {
            arg: "utun".into(),
            name_file: Some("/var/run/wireguard/wg0.name".into()),
        }
    );
    let bound = plan.steps[0].bind("utun3");
    let undo: Vec<&str> = bound.undo.iter().map(|u| u.display.as_str()).collect();
    assert_eq!(
        undo,
        [
            "rm -f /var/run/wireguard/utun3.sock",
            "rm -f /var/run/wireguard/wg0.name"
        ]
    );
    // The USB LAN argument is one word: `USB LAN`.
    assert_eq!(
        plan.steps[13].action,
        Action::run(&["networksetup", "-setdnsservers", "USB LAN", "1.1.1.1"])
    );
}

#[test]
fn monitor_carries_the_teardown() {
    let plan = up(&full(), &mf());
    let monitor = plan.steps.last().unwrap().bind("utun3");
    assert_eq!(monitor.tag, Tag::Info);
    let Action::RouteMonitor(spec) = &monitor.action else {
        panic!("no monitor");
    };
    assert_eq!(spec.iface, "utun3");
    assert!(spec.auto_route4 && spec.auto_route6 && spec.mtu_auto);
    assert_eq!(spec.dns, ["1.1.1.1"]);
    // The state darwin.bash's monitor subshell inherits.
    assert_eq!(spec.gateway4.as_deref(), Some("192.168.1.1"));
    assert_eq!(spec.gateway6.as_deref(), Some("fe80::1%en0"));
    assert_eq!(
        spec.endpoints,
        ["198.51.100.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(spec.services, ["Wi-Fi", "USB LAN"]);
    let teardown: Vec<&str> = spec.teardown.iter().map(|u| u.display.as_str()).collect();
    assert_eq!(
        teardown,
        [
            "route -q -n delete -inet 198.51.100.1",
            "networksetup -setdnsservers Wi-Fi Empty",
            "networksetup -setsearchdomains Wi-Fi Empty",
            "networksetup -setdnsservers USB LAN 192.168.1.1 8.8.8.8",
            "networksetup -setsearchdomains USB LAN lan",
        ]
    );
    // Rollback restores DNS too; the set commands' failures are ignored like darwin.bash.
    let dns = &plan.steps[11];
    assert!(dns.ignore_failure);
    assert_eq!(
        dns.undo[0].display,
        "networksetup -setdnsservers Wi-Fi Empty"
    );
}

#[test]
fn without_gateways_endpoints_are_blackholed() {
    let mut cfg = full();
    cfg.interface.dns.clear();
    cfg.peers
        .push(peer(3, &["10.7.0.0/16"], Some(("2001:db8::9", 51820))));
    cfg.peers
        .push(peer(4, &["10.8.0.0/16"], Some(("198.51.100.1", 51820))));
    let facts = MacFacts {
        gateway4: None,
        gateway6: None,
        ..mf()
    };
    let lines = up(&cfg, &facts).lines("utun3");
    let ep: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| l.contains("198.51") || l.contains("2001:db8::9"))
        .collect();
    assert_eq!(
        ep,
        [
            "[#] route -q -n add -inet 198.51.100.1 127.0.0.1 -blackhole",
            "[#] route -q -n add -inet6 2001:db8::9 ::1 -blackhole",
            "[#] route -q -n add -inet 198.51.100.1 127.0.0.1 -blackhole",
        ]
    );
}

#[test]
fn split_tunnel_explicit_mtu_and_hooks() {
    let mut cfg = config(
        &["10.9.0.2/24", "fd09::2/64"],
        vec![peer(
            2,
            &["10.9.0.0/24", "fd09::/64", "fd09::5/128", "192.168.0.0/16"],
            Some(("198.51.100.1", 51820)),
        )],
    );
    cfg.interface.mtu = Some(1380);
    cfg.interface.pre_up = strings(&["echo %i %I"]);
    cfg.interface.post_up = strings(&["echo up %i"]);
    assert_eq!(
        up(&cfg, &mf()).lines("utun3"),
        [
            "[#] wgrs utun",
            "[#] echo utun3 wg0",
            "[#] wg addconf utun3 /dev/fd/63",
            "[#] ifconfig utun3 inet 10.9.0.2/24 10.9.0.2 alias",
            "[#] ifconfig utun3 inet6 fd09::2/64 alias",
            "[#] ifconfig utun3 mtu 1380",
            "[#] ifconfig utun3 up",
            "[#] route -q -n add -inet 10.9.0.0/24 -interface utun3",
            "[#] route -q -n add -inet 192.168.0.0/16 -interface utun3",
            "[+] Backgrounding route monitor",
            "[#] echo up utun3",
        ]
    );
}

#[test]
fn automatic_mtu_is_set_only_when_it_differs() {
    let cfg = config(
        &["10.9.0.2/24"],
        vec![peer(2, &[], Some(("198.51.100.1", 1)))],
    );
    let has_mtu = |facts: &Facts| {
        plan_up(&cfg, "wg0", facts)
            .unwrap()
            .lines("utun3")
            .into_iter()
            .find(|l| l.contains(" mtu "))
    };
    assert_eq!(has_mtu(&Facts::macos(mf())), None);
    let mut facts = Facts::macos(mf());
    facts
        .endpoint_mtus
        .insert("198.51.100.1".parse().unwrap(), 1400);
    assert_eq!(
        has_mtu(&facts).as_deref(),
        Some("[#] ifconfig utun3 mtu 1320")
    );
}

#[test]
fn tables() {
    let mut cfg = full();
    cfg.interface.dns.clear();
    cfg.interface.table = Table::Id(254);
    let lines = up(&cfg, &mf()).lines("utun3");
    assert_eq!(lines[5], "[#] route -q -n add -inet6 ::/0 -interface utun3");
    assert_eq!(
        lines[6],
        "[#] route -q -n add -inet 0.0.0.0/0 -interface utun3"
    );
    assert_eq!(lines.len(), 8, "{lines:#?}");
    cfg.interface.table = Table::Id(1234);
    let err = plan_up(&cfg, "wg0", &Facts::macos(mf())).unwrap_err();
    assert_eq!(err.to_string(), "Darwin only supports TABLE=auto|main|off");
    cfg.interface.table = Table::Off;
    let lines = up(&cfg, &mf()).lines("utun3");
    assert!(!lines.iter().any(|l| l.contains("route -q")));
}

#[test]
fn down_and_save() {
    let mut cfg = full();
    cfg.interface.save_config = true;
    cfg.interface.pre_down = strings(&["echo %i %I"]);
    cfg.interface.post_down = strings(&["echo done"]);
    let running = MacFacts {
        real_iface: Some("utun3".into()),
        is_wireguard: true,
        ..MacFacts::default()
    };
    let plan = plan_down(
        &cfg,
        "wg0",
        "/etc/wireguard/wg0.conf",
        &Facts::macos(running.clone()),
    );
    let plan = plan.unwrap();
    assert_eq!(
        plan.lines("unused"),
        [
            "[#] echo utun3 wg0",
            "[#] wg showconf utun3",
            "[#] rm -f /var/run/wireguard/utun3.sock",
            "[#] rm -f /var/run/wireguard/wg0.name",
            "[#] echo done",
        ]
    );
    assert!(!plan.lines("x").concat().contains(REAL_IFACE));
    let Action::SaveConfig(spec) = &plan.steps[1].action else {
        panic!("no SaveConfig");
    };
    assert_eq!((spec.iface.as_str(), spec.os), ("utun3", Os::MacOs));
    assert_eq!(spec.dns, ["1.1.1.1"]);
    let save = plan_save(&cfg, "wg0", "/x/wg0.conf", &Facts::macos(running.clone())).unwrap();
    assert_eq!(save.lines(""), ["[#] wg showconf utun3"]);

    let err = plan_up(&cfg, "wg0", &Facts::macos(running)).unwrap_err();
    assert_eq!(err.to_string(), "`wg0' already exists as `utun3'");
    let stale = MacFacts {
        real_iface: Some("utun3".into()),
        ..MacFacts::default()
    };
    for facts in [stale, MacFacts::default()] {
        let err = plan_down(&cfg, "wg0", "/x", &Facts::macos(facts)).unwrap_err();
        assert_eq!(err, PlanError::NotWireGuard("wg0".into()));
    }
}
