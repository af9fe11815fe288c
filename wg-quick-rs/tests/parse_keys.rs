//! Table-driven parser tests: every key's accepted forms (errors are in `parse_errors.rs`).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{PRIV, PSK, PUB1, PUB2};
use std::net::IpAddr;
use wg_quick_rs::config::{
    parse, parse_rt_tables, parse_with, Cidr, Config, Endpoint, ParseOptions, PresharedKey,
    PrivateKey, PublicKey, Table,
};

fn key(b64: &str) -> PublicKey {
    PublicKey::from_base64(b64).unwrap()
}

fn private(b64: &str) -> PrivateKey {
    PrivateKey::from_base64(b64).unwrap()
}

fn psk(b64: &str) -> PresharedKey {
    PresharedKey::from_base64(b64).unwrap()
}

fn cidr(text: &str) -> Cidr {
    let (ip, prefix) = text.split_once('/').unwrap();
    Cidr {
        addr: ip.parse().unwrap(),
        prefix: prefix.parse().unwrap(),
    }
}

/// (config body, check on the parsed config).
type Case = (&'static str, fn(&Config) -> bool);
type BoxedCase = (&'static str, Box<dyn Fn(&Config) -> bool>);

fn ok(text: &str) -> Config {
    match parse(text, "wg0.conf") {
        Ok(cfg) => cfg,
        Err(e) => panic!("unexpected error {e} for {text:?}"),
    }
}

fn iface(body: &str) -> Config {
    ok(&format!("[Interface]\n{body}\n"))
}

fn peer(body: &str) -> Config {
    ok(&format!(
        "[Interface]\n[Peer]\nPublicKey = {PUB1}\n{body}\n"
    ))
}

#[test]
fn interface_wg_keys() {
    let cases: &[Case] = &[
        ("PrivateKey = PRIV", |c| {
            c.interface.private_key == Some(private(PRIV))
        }),
        ("ListenPort = 0", |c| c.interface.listen_port == Some(0)),
        ("ListenPort = 51820", |c| {
            c.interface.listen_port == Some(51820)
        }),
        ("ListenPort = 65535", |c| {
            c.interface.listen_port == Some(65535)
        }),
        ("Listen Port = 7", |c| c.interface.listen_port == Some(7)),
        ("listenport=8", |c| c.interface.listen_port == Some(8)),
        ("FwMark = off", |c| c.interface.fwmark == Some(0)),
        ("FwMark = OFF", |c| c.interface.fwmark == Some(0)),
        ("FwMark = 0", |c| c.interface.fwmark == Some(0)),
        ("FwMark = 1234", |c| c.interface.fwmark == Some(1234)),
        ("FwMark = 0x10", |c| c.interface.fwmark == Some(16)),
        ("FwMark = 0xffffffff", |c| {
            c.interface.fwmark == Some(u32::MAX)
        }),
        ("FwMark = 4294967295", |c| {
            c.interface.fwmark == Some(u32::MAX)
        }),
        ("FwMark = 010", |c| c.interface.fwmark == Some(10)),
    ];
    for (body, check) in cases {
        let cfg = iface(&body.replace("PRIV", PRIV));
        assert!(check(&cfg), "{body}: {cfg:?}");
    }
}

#[test]
fn interface_quick_keys() {
    let cases: &[Case] = &[
        ("Address = 10.0.0.1/24", |c| c.interface.addresses == [cidr("10.0.0.1/24")]),
        ("Address = 10.0.0.1", |c| c.interface.addresses == [cidr("10.0.0.1/32")]),
        ("Address = fd00::1", |c| c.interface.addresses == [cidr("fd00::1/128")]),
        ("Address = 10.0.0.1/24, fd00::1/64\nAddress = 10.0.0.2/8 10.0.0.3/8", |c| {
            c.interface.addresses
                == [cidr("10.0.0.1/24"), cidr("fd00::1/64"), cidr("10.0.0.2/8"), cidr("10.0.0.3/8")]
        }),
        ("Address =", |c| c.interface.addresses.is_empty()),
        ("DNS = 1.1.1.1, 2606:4700::1111, example.com\nDNS = corp.example 9.9.9.9", |c| {
            c.interface.dns == ["1.1.1.1".parse::<IpAddr>().unwrap(), "2606:4700::1111".parse().unwrap(), "9.9.9.9".parse().unwrap()]
                && c.interface.dns_search == ["example.com", "corp.example"]
        }),
        ("MTU = 1420", |c| c.interface.mtu == Some(1420)),
        ("MTU = 0x500", |c| c.interface.mtu == Some(1280)),
        ("MTU = 1420\nMTU =", |c| c.interface.mtu.is_none()),
        ("Table = auto", |c| c.interface.table == Table::Auto),
        ("Table = off", |c| c.interface.table == Table::Off),
        ("Table = 1234", |c| c.interface.table == Table::Id(1234)),
        ("Table = 0x10", |c| c.interface.table == Table::Id(16)),
        ("Table = main", |c| c.interface.table == Table::Id(254)),
        ("Table = local", |c| c.interface.table == Table::Id(255)),
        ("Table = default", |c| c.interface.table == Table::Id(253)),
        ("Table = off\nTable =", |c| c.interface.table == Table::Auto),
        ("PreUp = a\nPostUp = b = c\nPreDown = d\nPostDown = e", |c| {
            c.interface.pre_up == ["a"]
                && c.interface.post_up == ["b = c"]
                && c.interface.pre_down == ["d"]
                && c.interface.post_down == ["e"]
        }),
        ("PostUp = iptables -A FORWARD -i %i -j ACCEPT # note\nPostUp =   two   words  ", |c| {
            c.interface.post_up == ["iptables -A FORWARD -i %i -j ACCEPT", "two   words"]
        }),
        ("PostUp = echo '#' cut", |c| c.interface.post_up == ["echo '"]),
        ("PostUp =", |c| c.interface.post_up == [""]),
        ("SaveConfig = true", |c| c.interface.save_config),
        ("SaveConfig = TRUE", |c| c.interface.save_config),
        ("SaveConfig = true\nSaveConfig = False", |c| !c.interface.save_config),
        ("address = 10.0.0.1/24\ndns = 1.1.1.1\nmtu = 1400\ntable = off\npostup = x\nsaveconfig = true", |c| {
            c.interface.addresses.len() == 1 && c.interface.dns.len() == 1 && c.interface.mtu == Some(1400)
                && c.interface.table == Table::Off && c.interface.post_up == ["x"] && c.interface.save_config
        }),
    ];
    for (body, check) in cases {
        let cfg = iface(body);
        assert!(check(&cfg), "{body}: {cfg:?}");
    }
}

#[test]
fn peer_keys() {
    let ep = |host: &str, port| {
        Some(Endpoint {
            host: host.to_owned(),
            port,
        })
    };
    let cases: &[BoxedCase] = &[
        (
            "",
            Box::new(|c| c.peers[0].public_key == key(PUB1) && c.peers[0].allowed_ips.is_empty()),
        ),
        (
            "PresharedKey = PSK",
            Box::new(|c| c.peers[0].preshared_key == Some(psk(PSK))),
        ),
        (
            "AllowedIPs = 10.0.0.0/24",
            Box::new(|c| c.peers[0].allowed_ips == [cidr("10.0.0.0/24")]),
        ),
        (
            "AllowedIPs = 10.0.0.1, ::1",
            Box::new(|c| c.peers[0].allowed_ips == [cidr("10.0.0.1/32"), cidr("::1/128")]),
        ),
        (
            "AllowedIPs = 0.0.0.0/0, ::/0\nAllowedIPs=10.1.0.0/16 , 10.2.0.0/16",
            Box::new(|c| {
                c.peers[0].allowed_ips
                    == [
                        cidr("0.0.0.0/0"),
                        cidr("::/0"),
                        cidr("10.1.0.0/16"),
                        cidr("10.2.0.0/16"),
                    ]
            }),
        ),
        (
            "AllowedIPs = 10.0.0.1/008",
            Box::new(|c| c.peers[0].allowed_ips == [cidr("10.0.0.1/8")]),
        ),
        (
            "Endpoint = 192.0.2.1:51820",
            Box::new(move |c| c.peers[0].endpoint == ep("192.0.2.1", 51820)),
        ),
        (
            "Endpoint = [2001:db8::1]:51820",
            Box::new(move |c| c.peers[0].endpoint == ep("2001:db8::1", 51820)),
        ),
        (
            "Endpoint = 2001:db8::1:51820",
            Box::new(move |c| c.peers[0].endpoint == ep("2001:db8::1", 51820)),
        ),
        (
            "Endpoint = [fe80::1%eth0]:1",
            Box::new(move |c| c.peers[0].endpoint == ep("fe80::1%eth0", 1)),
        ),
        (
            "Endpoint = vpn.example.com:51820",
            Box::new(move |c| c.peers[0].endpoint == ep("vpn.example.com", 51820)),
        ),
        (
            "Endpoint = vpn example.com : 0",
            Box::new(move |c| c.peers[0].endpoint == ep("vpnexample.com", 0)),
        ),
        (
            "PersistentKeepalive = off",
            Box::new(|c| c.peers[0].persistent_keepalive == Some(0)),
        ),
        (
            "PersistentKeepalive = 0",
            Box::new(|c| c.peers[0].persistent_keepalive == Some(0)),
        ),
        (
            "PersistentKeepalive = 25",
            Box::new(|c| c.peers[0].persistent_keepalive == Some(25)),
        ),
        (
            "PersistentKeepalive = 65535",
            Box::new(|c| c.peers[0].persistent_keepalive == Some(65535)),
        ),
        (
            "Endpoint = 1.2.3.4:1\nEndpoint = 1.2.3.5:2",
            Box::new(move |c| c.peers[0].endpoint == ep("1.2.3.5", 2)),
        ),
        (
            "publickey = PUB2",
            Box::new(|c| c.peers[0].public_key == key(PUB2)),
        ),
    ];
    for (body, check) in cases {
        let cfg = peer(&body.replace("PSK", PSK).replace("PUB2", PUB2));
        assert!(check(&cfg), "{body}: {cfg:?}");
    }
}

#[test]
fn whole_files() {
    // CRLF, comments, mixed case, several peers, keys repeated.
    let text = format!(
        "# c\r\n[INTERFACE] # x\r\nprivatekey = {PRIV}\r\nAddress = 10.0.0.1/24\r\n\r\n[peer]\r\nPublicKey = {PUB1}\r\n\
         AllowedIPs = 10.0.0.2/32\r\n[Peer]\r\nPublicKey = {PUB2}\r\nAllowedIPs = 10.0.0.3/32"
    );
    let cfg = ok(&text);
    assert_eq!(cfg.interface.private_key, Some(private(PRIV)));
    assert_eq!(cfg.interface.addresses, [cidr("10.0.0.1/24")]);
    assert_eq!(cfg.peers.len(), 2);
    assert_eq!(cfg.peers[0].line.0, 6);
    assert_eq!(cfg.peers[1].line.0, 9);
    assert_eq!(cfg.peers[1].allowed_ips, [cidr("10.0.0.3/32")]);
    // Empty input, peers only, and a second [Interface] are all fine for wg.
    assert_eq!(ok(""), Config::default());
    assert_eq!(ok(&format!("[Peer]\nPublicKey={PUB1}")).peers.len(), 1);
    let cfg = ok(&format!("[Interface]\nListenPort=1\n[Peer]\nPublicKey={PUB1}\n[Interface]\nListenPort=2\nAddress=10.0.0.1"));
    assert_eq!(cfg.interface.listen_port, Some(2));
    assert_eq!(cfg.interface.addresses, [cidr("10.0.0.1/32")]);
}

#[test]
fn table_names_from_rt_tables() {
    let tables =
        parse_rt_tables("# comment\n255\tlocal\n254 main\n 100  vpn # mine\n0x20 hexy\nbad line\n");
    assert!(tables.contains(&("vpn".to_owned(), 100)));
    assert!(tables.contains(&("hexy".to_owned(), 32)));
    let opts = ParseOptions { rt_tables: tables };
    let cfg = parse_with("[Interface]\nTable = vpn\n", "wg0.conf", &opts).unwrap();
    assert_eq!(cfg.interface.table, Table::Id(100));
    assert!(parse("[Interface]\nTable = vpn\n", "wg0.conf").is_err());
}
