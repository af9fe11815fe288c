//! Tests of the macOS route monitor's decisions and its spec file.
use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn del(fam: &str, dest: &str) -> Undo {
    delete(fam, dest)
}

/// Full tunnel over IPv4 and IPv6, automatic MTU, DNS on two services.
fn spec() -> MonitorSpec {
    MonitorSpec {
        iface: "utun3".into(),
        auto_route4: true,
        auto_route6: true,
        mtu_auto: true,
        dns: vec!["1.1.1.1".into()],
        dns_search: Vec::new(),
        gateway4: Some("192.168.1.1".into()),
        gateway6: None,
        endpoints: vec![ip("198.51.100.1")],
        services: vec!["Wi-Fi".into(), "USB LAN".into()],
        teardown: vec![
            del("-inet", "198.51.100.1"),
            networksetup("-setdnsservers", "Wi-Fi", &["Empty".into()]),
            networksetup("-setsearchdomains", "Wi-Fi", &["Empty".into()]),
            networksetup("-setdnsservers", "USB LAN", &["192.168.1.1".into()]),
            networksetup("-setsearchdomains", "USB LAN", &["lan".into()]),
        ],
    }
}

fn svc(name: &str, dns: &str) -> MacService {
    MacService {
        name: name.into(),
        dns: dns.into(),
        search: String::new(),
    }
}

/// Nothing changed since `up`.
fn facts() -> MonitorFacts {
    MonitorFacts {
        iface_present: true,
        iface_mtu: Some(1420),
        gateway4: Some("192.168.1.1".into()),
        gateway6: None,
        endpoints: vec![ip("198.51.100.1")],
        endpoint_mtus: BTreeMap::new(),
        default_if_mtu: Some(1500),
        services: Some(vec![svc("Wi-Fi", ""), svc("USB LAN", "")]),
    }
}

fn lines(r: &Reaction) -> Vec<String> {
    match r {
        Reaction::Reapply(steps) => steps.iter().map(|s| s.display.clone()).collect(),
        Reaction::Stop(undos) => undos
            .iter()
            .map(|u| format!("undo {}", u.display))
            .collect(),
    }
}

const DNS: [&str; 4] = [
    "networksetup -setdnsservers Wi-Fi 1.1.1.1",
    "networksetup -setsearchdomains Wi-Fi Empty",
    "networksetup -setdnsservers USB LAN 1.1.1.1",
    "networksetup -setsearchdomains USB LAN Empty",
];

#[test]
fn nothing_changed_reapplies_only_dns() {
    let spec = spec();
    let mut state = MonitorState::new(&spec);
    let r = on_route_event(&spec, &mut state, &facts());
    assert_eq!(lines(&r), DNS);
    let Reaction::Reapply(steps) = r else {
        unreachable!()
    };
    assert!(steps.iter().all(|s| s.ignore_failure));
    assert_eq!(state, MonitorState::new(&spec));
}

#[test]
fn new_gateway_moves_the_endpoint_routes() {
    let spec = MonitorSpec {
        dns: Vec::new(),
        ..spec()
    };
    let mut state = MonitorState::new(&spec);
    let now = MonitorFacts {
        gateway4: Some("10.0.0.1".into()),
        ..facts()
    };
    let r = on_route_event(&spec, &mut state, &now);
    assert_eq!(
        lines(&r),
        [
            "route -q -n delete -inet 198.51.100.1",
            "route -q -n add -inet 198.51.100.1 -gateway 10.0.0.1",
        ]
    );
    assert_eq!(state.gateway4.as_deref(), Some("10.0.0.1"));
    assert_eq!(state.endpoints, [ip("198.51.100.1")]);
    // The same event again changes nothing.
    assert_eq!(
        lines(&on_route_event(&spec, &mut state, &now)),
        Vec::<String>::new()
    );
}

#[test]
fn lost_gateway_blackholes_and_new_endpoints_are_routed() {
    let spec = MonitorSpec {
        dns: Vec::new(),
        ..spec()
    };
    let mut state = MonitorState::new(&spec);
    let now = MonitorFacts {
        gateway4: None,
        endpoints: vec![ip("198.51.100.1"), ip("2001:db8::1")],
        ..facts()
    };
    let r = on_route_event(&spec, &mut state, &now);
    assert_eq!(
        lines(&r),
        [
            "route -q -n delete -inet 198.51.100.1",
            "route -q -n delete -inet6 2001:db8::1",
            "route -q -n add -inet 198.51.100.1 127.0.0.1 -blackhole",
            "route -q -n add -inet6 2001:db8::1 ::1 -blackhole",
        ]
    );
    // The new endpoint's route is deleted at the end, once.
    assert_eq!(state.teardown.len(), spec.teardown.len() + 1);
    assert_eq!(state.teardown.last(), Some(&del("-inet6", "2001:db8::1")));
    // Same gateway, an endpoint went away: only its route goes.
    let later = MonitorFacts {
        endpoints: vec![ip("2001:db8::1")],
        ..now
    };
    let r = on_route_event(&spec, &mut state, &later);
    assert_eq!(lines(&r), ["route -q -n delete -inet 198.51.100.1"]);
    assert_eq!(state.endpoints, [ip("2001:db8::1")]);
}

#[test]
fn unsplit_family_is_left_alone() {
    let spec = MonitorSpec {
        auto_route6: false,
        dns: Vec::new(),
        mtu_auto: false,
        ..spec()
    };
    let mut state = MonitorState::new(&spec);
    let now = MonitorFacts {
        gateway4: Some("10.0.0.1".into()),
        gateway6: Some("fe80::1%en0".into()),
        endpoints: vec![ip("2001:db8::1")],
        ..facts()
    };
    let r = on_route_event(&spec, &mut state, &now);
    assert_eq!(lines(&r), ["route -q -n delete -inet 198.51.100.1"]);
    assert!(state.endpoints.is_empty());
}

#[test]
fn automatic_mtu_follows_the_default_interface() {
    let spec = MonitorSpec {
        dns: Vec::new(),
        ..spec()
    };
    let mut state = MonitorState::new(&spec);
    let now = MonitorFacts {
        default_if_mtu: Some(1400),
        ..facts()
    };
    assert_eq!(
        lines(&on_route_event(&spec, &mut state, &now)),
        ["ifconfig utun3 mtu 1320"]
    );
    // The smallest endpoint route MTU wins, as in `up`.
    let now = MonitorFacts {
        endpoint_mtus: BTreeMap::from([(ip("198.51.100.1"), 1280)]),
        ..facts()
    };
    assert_eq!(
        lines(&on_route_event(&spec, &mut state, &now)),
        ["ifconfig utun3 mtu 1200"]
    );
    let fixed = MonitorSpec {
        mtu_auto: false,
        ..spec.clone()
    };
    assert!(lines(&on_route_event(&fixed, &mut state, &now)).is_empty());
}

#[test]
fn interface_gone_runs_the_teardown() {
    let spec = spec();
    let mut state = MonitorState::new(&spec);
    let now = MonitorFacts {
        iface_present: false,
        ..MonitorFacts::default()
    };
    let r = on_route_event(&spec, &mut state, &now);
    assert_eq!(
        lines(&r),
        [
            "undo route -q -n delete -inet 198.51.100.1",
            "undo networksetup -setdnsservers Wi-Fi Empty",
            "undo networksetup -setsearchdomains Wi-Fi Empty",
            "undo networksetup -setdnsservers USB LAN 192.168.1.1",
            "undo networksetup -setsearchdomains USB LAN lan",
        ]
    );
}

#[test]
fn dns_follows_services_that_come_and_go() {
    let spec = spec();
    let mut state = MonitorState::new(&spec);
    let services = [
        svc("Wi-Fi", ""),
        svc("Thunderbolt Bridge", "10.0.0.53\n"),
        svc("Bluetooth PAN", ""),
    ];
    let steps = on_dns_timer(&spec, &mut state, Some(&services));
    let shown: Vec<&str> = steps.iter().map(|s| s.display.as_str()).collect();
    assert_eq!(
        shown,
        [
            "networksetup -setdnsservers Wi-Fi 1.1.1.1",
            "networksetup -setsearchdomains Wi-Fi Empty",
            "networksetup -setdnsservers Thunderbolt Bridge 1.1.1.1",
            "networksetup -setsearchdomains Thunderbolt Bridge Empty",
        ]
    );
    let restores: Vec<&str> = state.teardown.iter().map(|u| u.display.as_str()).collect();
    assert_eq!(
        restores,
        [
            "route -q -n delete -inet 198.51.100.1",
            "networksetup -setdnsservers Wi-Fi Empty",
            "networksetup -setsearchdomains Wi-Fi Empty",
            "networksetup -setdnsservers Thunderbolt Bridge 10.0.0.53",
            "networksetup -setsearchdomains Thunderbolt Bridge",
        ]
    );
    // A failed listing forgets nothing.
    assert_eq!(on_dns_timer(&spec, &mut state, None).len(), 4);
}

#[test]
fn spec_file_round_trip() {
    let mut spec = spec();
    spec.gateway6 = Some("fe80::1%en0".into());
    spec.dns_search = vec!["corp.example".into(), "odd\tname\\x\n".into()];
    spec.endpoints.push(ip("2001:db8::1"));
    spec.services.push("USB 10/100 LAN".into());
    let text = spec_to_text(&spec).unwrap();
    assert!(text.starts_with("wgrs-route-monitor 1\niface\tutun3\n"));
    assert!(text.contains("teardown\tnetworksetup\t-setdnsservers\tUSB LAN\t192.168.1.1\n"));
    assert_eq!(spec_from_text(&text).unwrap(), spec);
    let minimal = MonitorSpec {
        dns: Vec::new(),
        gateway4: None,
        endpoints: Vec::new(),
        services: Vec::new(),
        teardown: Vec::new(),
        ..spec
    };
    assert_eq!(
        spec_from_text(&spec_to_text(&minimal).unwrap()).unwrap(),
        minimal
    );
}

#[test]
fn spec_file_rejects_garbage() {
    assert!(spec_from_text("").is_err());
    assert!(spec_from_text("wgrs-route-monitor 1\n").is_err());
    assert!(spec_from_text("wgrs-route-monitor 1\niface\tutun3\nmtu_auto\tyes\n").is_err());
    assert!(spec_from_text("wgrs-route-monitor 1\niface\tutun3\nbogus\tx\n").is_err());
    assert!(spec_from_text("wgrs-route-monitor 1\niface\tutun3\ndns\ta\\q\n").is_err());
    assert!(spec_from_text("wgrs-route-monitor 1\niface\tutun3\nendpoint\tnope\n").is_err());
    let stdin = MonitorSpec {
        teardown: vec![Undo {
            display: "x".into(),
            action: Action::Run {
                argv: vec!["x".into()],
                stdin: Some("y".into()),
            },
        }],
        ..spec()
    };
    assert!(spec_to_text(&stdin).is_err());
}
