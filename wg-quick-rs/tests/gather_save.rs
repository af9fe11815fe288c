//! Fact gathering through a fake probe (command output as `ip`, `netstat`, `networksetup`
//! print it), and `SaveConfig`: `wg showconf` rendered from a UAPI answer. The UAPI answer and
//! the `wg showconf` text below were taken from Debian's wireguard-go and wg.

mod common;

use common::{config, peer};
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use wg_quick_rs::exec::{
    gather, gather_monitor, parse_mtu, render_showconf, save_config, Mode, Probe,
};
use wg_quick_rs::plan::{plan_up, Facts, MonitorSpec, Os, OsFacts, SaveSpec};
use zeroize::Zeroizing;

const GET: &str = "private_key=109940a1ecbd0835feafde0861bcc76debb311a58cee820582627e9a8e47d066\nlisten_port=43556\nfwmark=51820\npublic_key=97b3e90723ec6efa670f8e503e109b7f2a91d90aea47c53491235091ada77406\npreshared_key=0000000000000000000000000000000000000000000000000000000000000000\nprotocol_version=1\nendpoint=127.0.0.1:51820\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\nallowed_ip=0.0.0.0/0\nallowed_ip=10.77.0.0/16\npublic_key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\npreshared_key=0101010101010101010101010101010101010101010101010101010101010101\nprotocol_version=1\nendpoint=[2001:db8::1]:443\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=25\nerrno=0\n";

const SHOWCONF: &str = "[Interface]\nListenPort = 43556\nFwMark = 0xca6c\nPrivateKey = EJlAoey9CDX+r94IYbzHbeuzEaWM7oIFgmJ+mo5H0GY=\n\n[Peer]\nPublicKey = l7PpByPsbvpnD45QPhCbfyqR2QrqR8U0kSNQka2ndAY=\nAllowedIPs = 0.0.0.0/0, 10.77.0.0/16\nEndpoint = 127.0.0.1:51820\n\n[Peer]\nPublicKey = AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nPresharedKey = AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\nEndpoint = [2001:db8::1]:443\nPersistentKeepalive = 25\n";

#[derive(Default)]
struct FakeProbe {
    outputs: HashMap<String, String>,
    programs: BTreeSet<String>,
    files: HashMap<String, String>,
    names: HashMap<String, IpAddr>,
    uapi: HashMap<String, String>,
    mtimes: HashMap<String, i64>,
    asked: Vec<String>,
}

impl FakeProbe {
    fn out(mut self, argv: &str, text: &str) -> Self {
        self.outputs.insert(argv.to_owned(), text.to_owned());
        self
    }
}

impl Probe for FakeProbe {
    fn output(&mut self, argv: &[&str]) -> Option<String> {
        let key = argv.join(" ");
        self.asked.push(key.clone());
        self.outputs.get(&key).cloned()
    }
    fn which(&mut self, program: &str) -> bool {
        self.programs.contains(program)
    }
    fn read_file(&mut self, path: &str) -> Option<String> {
        self.files.get(path).cloned()
    }
    fn resolve(&mut self, host: &str, _port: u16) -> Result<IpAddr, String> {
        self.names
            .get(host)
            .copied()
            .ok_or_else(|| "Name or service not known".to_owned())
    }
    fn uapi_get(&mut self, iface: &str) -> Option<Zeroizing<String>> {
        self.uapi.get(iface).cloned().map(Zeroizing::new)
    }
    fn mtime(&mut self, path: &str) -> Option<i64> {
        self.mtimes.get(path).copied()
    }
}

#[test]
fn linux_up_facts_feed_the_plan() {
    let cfg = config(
        &["10.0.0.2/24"],
        vec![
            peer(2, &["0.0.0.0/0"], Some(("192.0.2.1", 51820))),
            peer(3, &["10.1.0.0/16"], Some(("vpn.example.com", 51820))),
        ],
    );
    let mut probe = FakeProbe::default()
        .out(
            "ip route get 192.0.2.1",
            "192.0.2.1 via 10.0.0.1 dev eth0 src 10.0.0.5 uid 0 \n    cache mtu 1380 \n",
        )
        .out(
            "ip route get 198.51.100.9",
            "198.51.100.9 via 10.0.0.1 dev eth1 src 10.0.0.5 uid 0 \n    cache \n",
        )
        .out(
            "ip link show dev eth1",
            "3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9000 qdisc fq_codel state UP\n",
        )
        .out(
            "ip route show default",
            "default via 10.0.0.1 dev eth0 proto dhcp metric 100 \n",
        )
        .out(
            "ip link show dev eth0",
            "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP\n",
        )
        .out(
            "ip -4 route show table 51820",
            "default dev wg9 scope link \n",
        )
        .out(
            "ip -6 route show table 51821",
            "default dev wg8 metric 1024 pref medium\n",
        )
        .out("ip -4 route show table 51822", "");
    probe
        .names
        .insert("vpn.example.com".into(), "198.51.100.9".parse().unwrap());
    probe.programs.insert("nft".into());
    let facts = gather(&cfg, "wg0", Mode::Up, Os::Linux, &mut probe);
    assert_eq!(facts.resolved.len(), 1);
    assert_eq!(
        facts.endpoint_mtus.values().copied().collect::<Vec<_>>(),
        [1380, 9000]
    );
    let OsFacts::Linux(lf) = &facts.os else {
        panic!("not Linux");
    };
    assert!(!lf.iface_exists && lf.has_nft && !lf.has_resolvconf && !lf.has_iptables);
    assert_eq!(lf.default_route_mtu, Some(1500));
    assert_eq!(lf.busy_tables, [51820, 51821].into_iter().collect());
    let lines = plan_up(&cfg, "wg0", &facts).unwrap().lines("");
    assert!(lines.contains(&"[#] ip link set mtu 1300 up dev wg0".to_owned()));
    assert!(lines.contains(&"[#] wg set wg0 fwmark 51822".to_owned()));
}

#[test]
fn linux_up_sees_an_existing_interface_and_skips_needless_questions() {
    let mut cfg = config(
        &["10.0.0.2/24"],
        vec![peer(2, &["10.1.0.0/16"], Some(("192.0.2.1", 1)))],
    );
    cfg.interface.mtu = Some(1400);
    let mut probe =
        FakeProbe::default().out("ip link show dev wg0", "7: wg0: <POINTOPOINT> mtu 1420\n");
    let facts = gather(&cfg, "wg0", Mode::Up, Os::Linux, &mut probe);
    assert!(matches!(&facts.os, OsFacts::Linux(lf) if lf.iface_exists));
    assert_eq!(probe.asked, ["ip link show dev wg0"]);
    assert_eq!(
        plan_up(&cfg, "wg0", &facts).unwrap_err().to_string(),
        "`wg0' already exists"
    );
}

#[test]
fn linux_down_facts_from_uapi_and_rules() {
    let cfg = config(&["10.0.0.2/24"], vec![]);
    let mut probe = FakeProbe::default()
        .out(
            "ip -4 rule show",
            "32765:\tnot from all fwmark 0xca6c lookup 51820\n",
        )
        .out("nft list tables", "table ip wg-quick-wg0\n");
    probe.uapi.insert("wg0".into(), GET.into());
    probe.programs.insert("nft".into());
    let facts = gather(&cfg, "wg0", Mode::Down, Os::Linux, &mut probe);
    let OsFacts::Linux(lf) = &facts.os else {
        panic!("not Linux");
    };
    assert!(lf.is_wireguard && lf.running_has_default);
    assert_eq!(lf.running_fwmark, Some(51820));
    assert_eq!(lf.nft_tables, "table ip wg-quick-wg0\n");
    assert!(lf.rules4.contains("lookup 51820") && lf.rules6.is_empty());
    let none = gather(
        &cfg,
        "wg1",
        Mode::Save,
        Os::Linux,
        &mut FakeProbe::default(),
    );
    assert!(matches!(&none.os, OsFacts::Linux(lf) if !lf.is_wireguard));
}

#[test]
fn macos_facts() {
    let mut cfg = config(
        &["10.0.0.2/24"],
        vec![peer(2, &["0.0.0.0/0"], Some(("192.0.2.1", 1)))],
    );
    cfg.interface.dns = vec!["1.1.1.1".parse().unwrap()];
    let mut probe = FakeProbe::default()
        .out("route -n get default", "   route to: default\ndestination: default\n    gateway: 192.168.1.1\n  interface: en0\n")
        .out("route -n get 192.0.2.1", "   route to: 192.0.2.1\n  interface: en7\n")
        .out("ifconfig en0", "en0: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n")
        .out("ifconfig en7", "en7: flags=8863<UP,BROADCAST> mtu 1492\n")
        .out("netstat -nr -f inet", "Routing tables\n\nInternet:\nDestination        Gateway            Flags               Netif Expire\ndefault            link#17            UCSIg           bridge100      !\ndefault            192.168.1.1        UGScg                 en0       \n")
        .out("netstat -nr -f inet6", "Internet6:\nDestination Gateway Flags Netif Expire\ndefault fe80::1%en0 UGcg en0\n")
        .out("networksetup -listallnetworkservices", "An asterisk (*) denotes that a network service is disabled.\nWi-Fi\n*Thunderbolt Bridge\n")
        .out("networksetup -getdnsservers Wi-Fi", "192.168.1.1\n")
        .out("networksetup -getsearchdomains Wi-Fi", "There aren't any Search Domains set on Wi-Fi.\n");
    probe
        .files
        .insert("/var/run/wireguard/wg0.name".into(), "utun3\n".into());
    probe
        .mtimes
        .insert("/var/run/wireguard/wg0.name".into(), 1000);
    probe
        .mtimes
        .insert("/var/run/wireguard/utun3.sock".into(), 1001);
    probe.uapi.insert("utun3".into(), GET.into());
    let facts = gather(&cfg, "wg0", Mode::Up, Os::MacOs, &mut probe);
    let OsFacts::MacOs(mf) = &facts.os else {
        panic!("not macOS");
    };
    assert_eq!(mf.real_iface.as_deref(), Some("utun3"));
    assert!(mf.is_wireguard);
    assert_eq!((mf.default_if_mtu, mf.new_tun_mtu), (Some(1500), 1420));
    assert_eq!(
        facts.endpoint_mtus.get(&"192.0.2.1".parse().unwrap()),
        Some(&1492)
    );
    assert_eq!(mf.gateway4.as_deref(), Some("192.168.1.1"));
    assert_eq!(mf.gateway6.as_deref(), Some("fe80::1%en0"));
    let names: Vec<&str> = mf.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Wi-Fi", "Thunderbolt Bridge"]);
    assert_eq!(mf.services[0].dns, "192.168.1.1\n");
    // A name file older than the socket by 2 s or more is stale (darwin.bash).
    probe
        .mtimes
        .insert("/var/run/wireguard/utun3.sock".into(), 1002);
    let facts = gather(&cfg, "wg0", Mode::Down, Os::MacOs, &mut probe);
    assert!(matches!(&facts.os, OsFacts::MacOs(mf) if mf.real_iface.is_none() && !mf.is_wireguard));
}

#[test]
fn mtu_parsing() {
    assert_eq!(parse_mtu("1.2.3.4 dev eth0 \n cache mtu 1400"), Some(1400));
    assert_eq!(parse_mtu("1.2.3.4 dev eth0 mtu lock 1400"), None);
    assert_eq!(parse_mtu("2: eth0: <UP> mtu 9000 qdisc"), Some(9000));
    assert_eq!(parse_mtu(""), None);
}

#[test]
fn showconf_matches_wg() {
    assert_eq!(render_showconf(GET).as_str(), SHOWCONF);
    // wg prints a blank line after an empty [Interface]; `save` trims trailing newlines, so
    // the renderer need not.
    assert_eq!(
        render_showconf("listen_port=0\nerrno=0\n").trim_end(),
        "[Interface]"
    );
}

fn temp_path(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("wgq-plan-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name).to_string_lossy().into_owned()
}

#[test]
fn save_config_writes_what_wg_quick_writes() {
    // The namespace run's `wg-quick down` with SaveConfig = true (addresses shortened).
    let path = temp_path("wg0.conf");
    std::fs::write(&path, "old").unwrap();
    let mut probe = FakeProbe::default().out(
        "ip -all -brief address show dev wg0",
        "wg0              UNKNOWN        10.9.0.2/24 fd0a::3/64 fe80::af01:94f9:6e5f:f29f/64 \n",
    );
    probe.uapi.insert("wg0".into(), GET.into());
    probe.files.insert(
        "/etc/resolvconf/run/interface/tun.wg0".into(),
        "nameserver 1.1.1.1\nsearch example.com\n".into(),
    );
    let spec = SaveSpec {
        os: Os::Linux,
        iface: "wg0".into(),
        path: path.clone(),
        resolvconf_name: Some("tun.wg0".into()),
        dns: vec![],
        mtu: None,
        tail: vec!["SaveConfig = true".into(), "PostUp = echo %i".into()],
    };
    save_config(&spec, &mut probe).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let expected = SHOWCONF.replacen(
        "[Interface]\n",
        "[Interface]\nAddress = 10.9.0.2/24\nAddress = fd0a::3/64\nAddress = fe80::af01:94f9:6e5f:f29f/64\n\
         DNS = 1.1.1.1\nSaveConfig = true\nPostUp = echo %i\n",
        1,
    );
    assert_eq!(text, expected);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Nothing to read from: refused, file untouched.
    let err = save_config(
        &SaveSpec {
            iface: "wg9".into(),
            ..spec
        },
        &mut probe,
    )
    .unwrap_err();
    assert!(err.message.contains("wg9"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn facts_constructors() {
    let f = Facts::linux(Default::default());
    assert!(f.resolved.is_empty() && f.endpoint_mtus.is_empty());
}

#[test]
fn route_monitor_facts() {
    let spec = MonitorSpec {
        iface: "utun3".into(),
        auto_route4: true,
        auto_route6: false,
        mtu_auto: true,
        dns: vec!["1.1.1.1".into()],
        dns_search: Vec::new(),
        gateway4: None,
        gateway6: None,
        endpoints: Vec::new(),
        services: Vec::new(),
        teardown: Vec::new(),
    };
    let mut probe = FakeProbe::default()
        .out(
            "ifconfig utun3",
            "utun3: flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST> mtu 1420\n",
        )
        .out(
            "netstat -nr -f inet",
            "Routing tables\n\nInternet:\nDestination        Gateway            Flags               Netif Expire\ndefault            10.0.0.1           UGScg                 en0\n",
        )
        .out(
            "route -n get default",
            "   route to: default\n  gateway: 10.0.0.1\n  interface: en0\n",
        )
        .out("ifconfig en0", "en0: flags=8863<UP> mtu 1500\n")
        // The IPv6 endpoint is blackholed through loopback: its MTU says nothing.
        .out(
            "route -n get 2001:db8::1",
            "   route to: 2001:db8::1\n  interface: lo0\n",
        )
        .out("ifconfig lo0", "lo0: flags=8049<UP> mtu 16384\n")
        .out(
            "networksetup -listallnetworkservices",
            "An asterisk (*) denotes that a network service is disabled.\nWi-Fi\n*USB LAN\n",
        )
        .out("networksetup -getdnsservers USB LAN", "192.168.1.1\n");
    probe.uapi.insert("utun3".into(), GET.into());
    let facts = gather_monitor(&spec, &["Wi-Fi".to_owned()], &mut probe);
    assert!(facts.iface_present);
    assert_eq!(facts.iface_mtu, Some(1420));
    assert_eq!(facts.gateway4.as_deref(), Some("10.0.0.1"));
    let endpoints: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
    assert_eq!(facts.endpoints, endpoints);
    assert_eq!(facts.default_if_mtu, Some(1500));
    assert!(facts.endpoint_mtus.is_empty());
    let services = facts.services.unwrap();
    assert_eq!(services[1].name, "USB LAN");
    assert_eq!(services[1].dns, "192.168.1.1\n");
    // Known services are not asked about again.
    assert!(!probe
        .asked
        .iter()
        .any(|a| a == "networksetup -getdnsservers Wi-Fi"));

    // No interface: nothing else is asked.
    let mut probe = FakeProbe::default();
    let facts = gather_monitor(&spec, &[], &mut probe);
    assert!(!facts.iface_present);
    assert_eq!(probe.asked, ["ifconfig utun3"]);
}
