//! Linux plans against what `wg-quick` (linux.bash) prints. The full-tunnel cases were checked
//! against a real `wg-quick up/down` with wireguard-go in a network namespace; the only
//! intended difference is `[#] wgrs IFACE` where wg-quick tries `ip link add IFACE type
//! wireguard` and falls back to `wireguard-go IFACE`.

mod common;

use common::{cidr, config, peer, strings};
use std::net::IpAddr;
use wg_quick_rs::config::{Config, Table};
use wg_quick_rs::plan::{
    plan_down, plan_save, plan_up, Action, Facts, LinuxFacts, Plan, PlanError, Step,
};

fn lf() -> LinuxFacts {
    LinuxFacts {
        has_resolvconf: true,
        has_nft: true,
        has_iptables: true,
        ..LinuxFacts::default()
    }
}

fn up(cfg: &Config, facts: &Facts) -> Plan {
    plan_up(cfg, "wg0", facts).expect("plan")
}

fn lines(plan: &Plan) -> Vec<String> {
    plan.lines("unused")
}

fn step<'a>(plan: &'a Plan, display: &str) -> Vec<&'a Step> {
    plan.steps.iter().filter(|s| s.display == display).collect()
}

fn stdin(step: &Step) -> &str {
    match &step.action {
        Action::Run { stdin: Some(s), .. } => s,
        other => panic!("no stdin in {other:?}"),
    }
}

/// The namespace run: v4 + v6 full tunnel, a subnet covered by an address, hooks, fixed MTU.
fn oracle_full() -> Config {
    let mut cfg = config(
        &["10.9.0.2/24", "fd09::2/64", "10.9.1.5/32"],
        vec![peer(
            2,
            &["0.0.0.0/0", "::/0", "10.9.0.0/24", "192.168.7.0/24"],
            Some(("127.0.0.1", 51820)),
        )],
    );
    cfg.interface.mtu = Some(1400);
    cfg.interface.pre_up = strings(&["echo pre %i"]);
    cfg.interface.post_up = strings(&["echo post %i"]);
    cfg
}

#[test]
fn full_tunnel_matches_wg_quick() {
    let plan = plan_up(&oracle_full(), "wgqp0", &Facts::linux(lf())).unwrap();
    let expected = [
        "[#] echo pre wgqp0",
        "[#] wgrs wgqp0",
        "[#] wg setconf wgqp0 /dev/fd/63",
        "[#] ip -4 address add 10.9.0.2/24 dev wgqp0",
        "[#] ip -6 address add fd09::2/64 dev wgqp0",
        "[#] ip -4 address add 10.9.1.5/32 dev wgqp0",
        "[#] ip link set mtu 1400 up dev wgqp0",
        "[#] ip -4 route add 192.168.7.0/24 dev wgqp0",
        "[#] wg set wgqp0 fwmark 51820",
        "[#] ip -6 route add ::/0 dev wgqp0 table 51820",
        "[#] ip -6 rule add not fwmark 51820 table 51820",
        "[#] ip -6 rule add table main suppress_prefixlength 0",
        "[#] nft -f /dev/fd/63",
        "[#] ip -4 route add 0.0.0.0/0 dev wgqp0 table 51820",
        "[#] ip -4 rule add not fwmark 51820 table 51820",
        "[#] ip -4 rule add table main suppress_prefixlength 0",
        "[#] sysctl -q net.ipv4.conf.all.src_valid_mark=1",
        "[#] nft -f /dev/fd/63",
        "[#] echo post wgqp0",
    ];
    assert_eq!(lines(&plan), expected);
    let nft = step(&plan, "nft -f /dev/fd/63");
    assert_eq!(
        stdin(nft[0]),
        "add table ip6 wg-quick-wgqp0\n\
         add chain ip6 wg-quick-wgqp0 preraw { type filter hook prerouting priority -300; }\n\
         add chain ip6 wg-quick-wgqp0 premangle { type filter hook prerouting priority -150; }\n\
         add chain ip6 wg-quick-wgqp0 postmangle { type filter hook postrouting priority -150; }\n\
         add rule ip6 wg-quick-wgqp0 preraw iifname != \"wgqp0\" ip6 daddr fd09::2 fib saddr type != local drop\n\
         add rule ip6 wg-quick-wgqp0 postmangle meta l4proto udp mark 51820 ct mark set mark \n\
         add rule ip6 wg-quick-wgqp0 premangle meta l4proto udp meta mark set ct mark \n"
    );
    assert_eq!(
        stdin(nft[1]),
        "add table ip wg-quick-wgqp0\n\
         add chain ip wg-quick-wgqp0 preraw { type filter hook prerouting priority -300; }\n\
         add chain ip wg-quick-wgqp0 premangle { type filter hook prerouting priority -150; }\n\
         add chain ip wg-quick-wgqp0 postmangle { type filter hook postrouting priority -150; }\n\
         add rule ip wg-quick-wgqp0 preraw iifname != \"wgqp0\" ip daddr 10.9.0.2 fib saddr type != local drop\n\
         add rule ip wg-quick-wgqp0 preraw iifname != \"wgqp0\" ip daddr 10.9.1.5 fib saddr type != local drop\n\
         add rule ip wg-quick-wgqp0 postmangle meta l4proto udp mark 51820 ct mark set mark \n\
         add rule ip wg-quick-wgqp0 premangle meta l4proto udp meta mark set ct mark \n"
    );
    assert_eq!(
        nft[1].undo[0].action,
        Action::Run {
            argv: strings(&["nft", "-f", "/dev/stdin"]),
            stdin: Some("delete table ip wg-quick-wgqp0\n".into()),
        }
    );
    let hook = step(&plan, "echo pre wgqp0");
    assert_eq!(hook[0].action, Action::run(&["sh", "-c", "echo pre wgqp0"]));
}

#[test]
fn undo_actions_of_the_full_tunnel() {
    let plan = plan_up(&oracle_full(), "wgqp0", &Facts::linux(lf())).unwrap();
    let undos: Vec<(String, Vec<String>)> = plan
        .steps
        .iter()
        .filter(|s| !s.undo.is_empty())
        .map(|s| {
            (
                s.display.clone(),
                s.undo.iter().map(|u| u.display.clone()).collect(),
            )
        })
        .collect();
    let expect = |a: &str, b: &[&str]| (a.to_owned(), strings(b));
    assert_eq!(
        undos,
        [
            expect("wgrs wgqp0", &["ip link delete dev wgqp0"]),
            expect(
                "ip -6 rule add not fwmark 51820 table 51820",
                &["ip -6 rule delete table 51820"]
            ),
            expect(
                "ip -6 rule add table main suppress_prefixlength 0",
                &["ip -6 rule delete table main suppress_prefixlength 0"]
            ),
            expect("nft -f /dev/fd/63", &["nft -f /dev/fd/63"]),
            expect(
                "ip -4 rule add not fwmark 51820 table 51820",
                &["ip -4 rule delete table 51820"]
            ),
            expect(
                "ip -4 rule add table main suppress_prefixlength 0",
                &["ip -4 rule delete table main suppress_prefixlength 0"]
            ),
            expect("nft -f /dev/fd/63", &["nft -f /dev/fd/63"]),
        ]
    );
}

#[test]
fn address_order_in_preraw_rules_follows_the_kernel() {
    // Namespace run: IPv4 primaries in order then secondaries; IPv6 newest first.
    let cfg = config(
        &[
            "fd09::2/64",
            "fd0a::3/64",
            "10.9.0.2/24",
            "10.9.0.3/24",
            "10.8.0.1/16",
        ],
        vec![peer(2, &["0.0.0.0/0", "::/0"], None)],
    );
    let plan = up(&cfg, &Facts::linux(lf()));
    let nft = step(&plan, "nft -f /dev/fd/63");
    let daddrs = |s: &Step| -> Vec<String> {
        stdin(s)
            .lines()
            .filter_map(|l| l.split(" daddr ").nth(1))
            .map(|rest| rest.split(' ').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(daddrs(nft[0]), ["fd0a::3", "fd09::2"]);
    assert_eq!(daddrs(nft[1]), ["10.9.0.2", "10.8.0.1", "10.9.0.3"]);
}

#[test]
fn automatic_mtu_takes_the_smallest_endpoint_route() {
    let cfg = config(
        &["10.0.0.2/24"],
        vec![
            peer(2, &["10.1.0.0/16"], Some(("192.0.2.1", 51820))),
            peer(3, &["10.2.0.0/16"], Some(("2001:db8::1", 51820))),
            peer(4, &["10.3.0.0/16"], None),
        ],
    );
    let mtu_line = |facts: &Facts| -> String {
        up(&cfg, facts)
            .lines("")
            .into_iter()
            .find(|l| l.contains(" mtu "))
            .unwrap()
    };
    let mut facts = Facts::linux(LinuxFacts {
        default_route_mtu: Some(9000),
        ..lf()
    });
    facts
        .endpoint_mtus
        .insert("192.0.2.1".parse().unwrap(), 1500);
    facts
        .endpoint_mtus
        .insert("2001:db8::1".parse().unwrap(), 1400);
    assert_eq!(mtu_line(&facts), "[#] ip link set mtu 1320 up dev wg0");
    facts.endpoint_mtus.clear();
    assert_eq!(mtu_line(&facts), "[#] ip link set mtu 8920 up dev wg0");
    assert_eq!(
        mtu_line(&Facts::linux(lf())),
        "[#] ip link set mtu 1420 up dev wg0"
    );
    // The namespace run: endpoint 127.0.0.1 routes over lo (MTU 65536).
    let mut facts = Facts::linux(lf());
    facts
        .endpoint_mtus
        .insert("192.0.2.1".parse().unwrap(), 65536);
    assert_eq!(mtu_line(&facts), "[#] ip link set mtu 65456 up dev wg0");
}

#[test]
fn split_tunnel_routes_longest_prefix_first() {
    let cfg = config(
        &["10.0.0.2/24", "fd00::2/64"],
        vec![
            peer(2, &["10.0.0.0/24", "10.0.0.7/32", "10.10.0.0/16"], None),
            peer(
                3,
                &[
                    "192.168.1.77/24",
                    "2001:db8::/32",
                    "fd00:1::/48",
                    "1.2.3.4/32",
                ],
                None,
            ),
            peer(4, &["10.10.0.0/16"], None),
        ],
    );
    let plan = up(&cfg, &Facts::linux(lf()));
    let routes: Vec<String> = lines(&plan)
        .into_iter()
        .filter(|l| l.contains(" route "))
        .collect();
    assert_eq!(
        routes,
        [
            "[#] ip -6 route add fd00:1::/48 dev wg0",
            "[#] ip -6 route add 2001:db8::/32 dev wg0",
            "[#] ip -4 route add 1.2.3.4/32 dev wg0",
            "[#] ip -4 route add 192.168.1.0/24 dev wg0",
            "[#] ip -4 route add 10.10.0.0/16 dev wg0",
        ]
    );
    assert!(!lines(&plan)
        .iter()
        .any(|l| l.contains("rule") || l.contains("nft")));
}

#[test]
fn table_off_adds_no_routes() {
    let mut cfg = config(
        &["10.0.0.2/24"],
        vec![peer(2, &["0.0.0.0/0", "10.5.0.0/16"], None)],
    );
    cfg.interface.table = Table::Off;
    let plan = up(&cfg, &Facts::linux(lf()));
    assert_eq!(
        lines(&plan),
        [
            "[#] wgrs wg0",
            "[#] wg setconf wg0 /dev/fd/63",
            "[#] ip -4 address add 10.0.0.2/24 dev wg0",
            "[#] ip link set mtu 1420 up dev wg0",
        ]
    );
}

#[test]
fn numbered_table_routes_everything_there_without_rules() {
    let mut cfg = config(
        &["10.0.0.2/24", "fd00::2/64"],
        vec![peer(2, &["0.0.0.0/0", "::/0", "10.0.0.0/24"], None)],
    );
    cfg.interface.table = Table::Id(1234);
    let plan = up(&cfg, &Facts::linux(lf()));
    assert_eq!(
        lines(&plan)[5..],
        [
            "[#] ip -4 route add 10.0.0.0/24 dev wg0 table 1234",
            "[#] ip -6 route add ::/0 dev wg0 table 1234",
            "[#] ip -4 route add 0.0.0.0/0 dev wg0 table 1234",
        ]
    );
}

#[test]
fn first_free_table_and_configured_fwmark() {
    let cfg = config(&["10.0.0.2/24"], vec![peer(2, &["0.0.0.0/0"], None)]);
    let facts = Facts::linux(LinuxFacts {
        busy_tables: [51820, 51821, 51823].into_iter().collect(),
        ..lf()
    });
    let l = lines(&up(&cfg, &facts));
    assert_eq!(l[4], "[#] wg set wg0 fwmark 51822");
    assert_eq!(l[5], "[#] ip -4 route add 0.0.0.0/0 dev wg0 table 51822");
    let mut cfg = cfg;
    cfg.interface.fwmark = Some(4242);
    let l = lines(&up(&cfg, &facts));
    assert_eq!(
        l[4..],
        [
            "[#] ip -4 route add 0.0.0.0/0 dev wg0 table 4242",
            "[#] ip -4 rule add not fwmark 4242 table 4242",
            "[#] ip -4 rule add table main suppress_prefixlength 0",
            "[#] sysctl -q net.ipv4.conf.all.src_valid_mark=1",
            "[#] nft -f /dev/fd/63",
        ]
    );
}

#[test]
fn several_address_lines_and_hooks() {
    let mut cfg = config(&["10.0.0.2/32", "10.0.1.2/32", "fd00::2/128"], vec![]);
    cfg.interface.pre_up = strings(&["echo %i up > /tmp/%i", "true"]);
    cfg.interface.post_up = strings(&["iptables -A FORWARD -i %i -j ACCEPT; echo %I"]);
    let plan = up(&cfg, &Facts::linux(lf()));
    assert_eq!(
        lines(&plan),
        [
            "[#] echo wg0 up > /tmp/wg0",
            "[#] true",
            "[#] wgrs wg0",
            "[#] wg setconf wg0 /dev/fd/63",
            "[#] ip -4 address add 10.0.0.2/32 dev wg0",
            "[#] ip -4 address add 10.0.1.2/32 dev wg0",
            "[#] ip -6 address add fd00::2/128 dev wg0",
            "[#] ip link set mtu 1420 up dev wg0",
            "[#] iptables -A FORWARD -i wg0 -j ACCEPT; echo %I",
        ]
    );
}

#[test]
fn dns_through_resolvconf_with_the_tun_prefix() {
    let mut cfg = config(&["10.0.0.2/24"], vec![]);
    cfg.interface.dns = vec![
        "1.1.1.1".parse().unwrap(),
        "2606:4700::1111".parse().unwrap(),
    ];
    cfg.interface.dns_search = strings(&["example.com", "corp"]);
    let facts = Facts::linux(LinuxFacts {
        resolvconf_interface_order: Some("# order\nlo.inet6\nlo.inet\ntun*\ntap*\nhso*\n".into()),
        ..lf()
    });
    let plan = up(&cfg, &facts);
    let l = lines(&plan);
    assert_eq!(l[4], "[#] resolvconf -a tun.wg0 -m 0 -x");
    let dns = step(&plan, "resolvconf -a tun.wg0 -m 0 -x")[0];
    assert_eq!(
        stdin(dns),
        "nameserver 1.1.1.1\nnameserver 2606:4700::1111\nsearch example.com corp\n"
    );
    assert_eq!(dns.undo[0].display, "resolvconf -d tun.wg0 -f");
    // Without interface-order there is no prefix.
    let l = lines(&up(&cfg, &Facts::linux(lf())));
    assert_eq!(l[4], "[#] resolvconf -a wg0 -m 0 -x");
}

#[test]
fn dns_without_resolvconf_is_refused_before_anything_runs() {
    let mut cfg = config(&["10.0.0.2/24"], vec![]);
    cfg.interface.dns = vec!["1.1.1.1".parse().unwrap()];
    let facts = Facts::linux(LinuxFacts {
        has_resolvconf: false,
        ..lf()
    });
    let err = plan_up(&cfg, "wg0", &facts).unwrap_err();
    assert_eq!(err, PlanError::NoResolvconf("wg0".into()));
    assert!(err.to_string().contains("`resolvconf' is not installed"));
    // Search domains alone set nothing (wg-quick needs a name server).
    cfg.interface.dns.clear();
    cfg.interface.dns_search = strings(&["example.com"]);
    assert!(plan_up(&cfg, "wg0", &facts).is_ok());
}

#[test]
fn iptables_fallback_without_nft() {
    let cfg = config(&["10.0.0.2/24"], vec![peer(2, &["0.0.0.0/0"], None)]);
    let facts = Facts::linux(LinuxFacts {
        has_nft: false,
        ..lf()
    });
    let plan = up(&cfg, &facts);
    let s = step(&plan, "iptables-restore -n")[0];
    let marker = "-m comment --comment \"wg-quick(8) rule for wg0\"";
    assert_eq!(
        stdin(s),
        format!(
            "*raw\n-I PREROUTING ! -i wg0 -d 10.0.0.2 -m addrtype ! --src-type LOCAL -j DROP {marker}\n\
             COMMIT\n*mangle\n-I POSTROUTING -m mark --mark 51820 -p udp -j CONNMARK --save-mark {marker}\n\
             -I PREROUTING -p udp -j CONNMARK --restore-mark {marker}\nCOMMIT\n"
        )
    );
    match &s.undo[0].action {
        Action::Run { stdin: Some(t), .. } => {
            assert!(t.contains("-D PREROUTING ! -i wg0") && !t.contains("-I "))
        }
        other => panic!("{other:?}"),
    }
    let none = Facts::linux(LinuxFacts {
        has_nft: false,
        has_iptables: false,
        ..lf()
    });
    assert_eq!(
        plan_up(&cfg, "wg0", &none).unwrap_err(),
        PlanError::NoFirewall("wg0".into())
    );
}

#[test]
fn setconf_request_is_what_wg_setconf_sends() {
    let mut cfg = config(
        &["10.0.0.2/24"],
        vec![
            peer(
                2,
                &["10.1.0.1/16", "fd00::/64"],
                Some(("vpn.example.com", 51820)),
            ),
            peer(3, &[], Some(("2001:db8::7", 443))),
        ],
    );
    cfg.interface.listen_port = Some(51821);
    cfg.peers[0].preshared_key = Some(wg_quick_rs::config::PresharedKey::from_bytes([0xab; 32]));
    cfg.peers[0].persistent_keepalive = Some(25);
    let mut facts = Facts::linux(lf());
    let err = plan_up(&cfg, "wg0", &facts).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Endpoint: Name or service not known: `vpn.example.com:51820'"
    );
    let ip: IpAddr = "198.51.100.9".parse().unwrap();
    facts.resolved.insert("vpn.example.com".into(), ip);
    let plan = up(&cfg, &facts);
    let Action::SetConfig { iface, uapi_set } = &plan.steps[1].action else {
        panic!("no SetConfig");
    };
    assert_eq!(iface, "wg0");
    let h = |b: u8| format!("{b:02x}").repeat(32);
    // The private key goes out clamped (wg sends the bytes as written; every WireGuard
    // implementation clamps them on receipt, so the device ends up the same).
    let private = format!("00{}41", "01".repeat(30));
    let expected = format!(
        "set=1\nprivate_key={}\nlisten_port=51821\nfwmark=0\nreplace_peers=true\n\
         public_key={}\npreshared_key={}\nendpoint=198.51.100.9:51820\n\
         persistent_keepalive_interval=25\nreplace_allowed_ips=true\n\
         allowed_ip=10.1.0.1/16\nallowed_ip=fd00::/64\n\
         public_key={}\nendpoint=[2001:db8::7]:443\nreplace_allowed_ips=true\n\n",
        private,
        h(2),
        h(0xab),
        h(3)
    );
    assert_eq!(uapi_set.as_str(), expected);
    assert!(
        !format!("{plan:?}").contains(&private),
        "Debug leaks the private key"
    );
}

#[test]
fn refusals() {
    let cfg = config(&["10.0.0.2/24"], vec![]);
    let exists = Facts::linux(LinuxFacts {
        iface_exists: true,
        ..lf()
    });
    let err = plan_up(&cfg, "wg0", &exists).unwrap_err();
    assert_eq!(err.to_string(), "`wg0' already exists");
    let err = plan_down(&cfg, "wg0", "/etc/wireguard/wg0.conf", &Facts::linux(lf())).unwrap_err();
    assert_eq!(err.to_string(), "`wg0' is not a WireGuard interface");
    let err = plan_save(&cfg, "wg0", "/etc/wireguard/wg0.conf", &Facts::linux(lf())).unwrap_err();
    assert_eq!(err, PlanError::NotWireGuard("wg0".into()));
    let err = plan_up(&cfg, "../../etc", &Facts::linux(lf())).unwrap_err();
    assert!(matches!(err, PlanError::InvalidInterfaceName(_)));
    let _ = cidr("10.0.0.0/8");
}
