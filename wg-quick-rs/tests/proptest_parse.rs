//! Properties: no input makes `parse`, `strip` or `parse_uapi_get` panic; whatever parses
//! survives render → parse; any typed `Config` survives render → parse.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use wg_quick_rs::config::{
    parse, render, strip, Cidr, Config, Endpoint, Interface, Line, Peer, PresharedKey, PrivateKey,
    PublicKey, Table,
};
use wg_quick_rs::uapi_text::parse_uapi_get;

fn normalize(mut cfg: Config) -> Config {
    let i = &mut cfg.interface;
    i.listen_port = i.listen_port.filter(|&p| p != 0);
    i.fwmark = i.fwmark.filter(|&m| m != 0);
    i.listen_port_line = Line(0);
    for p in &mut cfg.peers {
        p.persistent_keepalive = p.persistent_keepalive.filter(|&k| k != 0);
        p.line = Line(0);
        p.endpoint_line = Line(0);
    }
    cfg
}

/// Lines that look like config lines, so that the parser gets past the first error often.
fn config_like() -> impl Strategy<Value = String> {
    let head = prop::sample::select(vec![
        "[Interface]",
        "[Peer]",
        "[peer]",
        "[ Interface ]",
        "[x]",
        "",
    ]);
    let key = prop::sample::select(vec![
        "Address",
        "DNS",
        "MTU",
        "Table",
        "PreUp",
        "PostUp",
        "PreDown",
        "PostDown",
        "SaveConfig",
        "PrivateKey",
        "ListenPort",
        "FwMark",
        "PublicKey",
        "PresharedKey",
        "AllowedIPs",
        "Endpoint",
        "PersistentKeepalive",
        "address",
        "Post Up",
        "",
    ]);
    let value = prop::sample::select(vec![
        "10.0.0.1/24",
        "fd00::1/64, 1.1.1.1",
        "example.com",
        "1420",
        "off",
        "auto",
        "main",
        "true",
        "51820",
        "0x10",
        "YD+V8fh/WqcByTSEWDNQNzbjQabaSNMo07s8mqsn3F8=",
        "[::1]:5",
        "h:1",
        "25",
        "0.0.0.0/0, ::/0",
        "echo a # b",
        "",
        "=",
        "1.2.3",
        "::/129",
    ]);
    let noise = "[ \t\r#=,\\[\\]:/x0-9\u{b}\u{0}ü]{0,3}";
    let line = (head, key, noise, value, noise).prop_map(|(h, k, n1, v, n2)| {
        if h.is_empty() {
            format!("{k}{n1}= {v}{n2}")
        } else {
            format!("{h}{n1}")
        }
    });
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text, "f.conf");
        let _ = strip(&text);
        let _ = parse_uapi_get(&text);
    }

    #[test]
    fn config_like_text_never_panics_and_round_trips(text in config_like()) {
        let _ = strip(&text);
        if let Ok(cfg) = parse(&text, "f.conf") {
            let again = parse(&render(&cfg), "r.conf").expect("rendered config parses");
            prop_assert_eq!(normalize(again), normalize(cfg));
        }
    }

    #[test]
    fn typed_configs_round_trip(cfg in any_config()) {
        let text = render(&cfg);
        let again = parse(&text, "r.conf").expect("rendered config parses");
        prop_assert_eq!(normalize(again), normalize(cfg));
    }
}

fn private_key() -> impl Strategy<Value = PrivateKey> {
    any::<[u8; 32]>().prop_map(PrivateKey::from_bytes)
}

fn public_key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}

fn preshared_key() -> impl Strategy<Value = PresharedKey> {
    any::<[u8; 32]>().prop_map(PresharedKey::from_bytes)
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n))),
        any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n))),
    ]
}

fn cidr() -> impl Strategy<Value = Cidr> {
    (ip(), any::<u8>()).prop_map(|(addr, p)| Cidr {
        addr,
        prefix: p % (Cidr::max_prefix(addr) + 1),
    })
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    let host = prop_oneof![ip().prop_map(|ip| ip.to_string()), "[a-z][a-z0-9.-]{0,20}"];
    (host, any::<u16>()).prop_map(|(host, port)| Endpoint { host, port })
}

/// A hook as parse produces it: no `#`, no line feed, no NUL, trimmed.
fn hook() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 '\"=;|&$%./-]{0,30}".prop_map(|s| s.trim().to_owned())
}

fn interface() -> impl Strategy<Value = Interface> {
    let wg = (
        prop::option::of(private_key()),
        prop::option::of(any::<u16>()),
        prop::option::of(any::<u32>()),
    );
    let quick = (
        prop::collection::vec(cidr(), 0..3),
        prop::collection::vec(ip(), 0..3),
        prop::collection::vec("[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5})?", 0..3),
        prop::option::of(68u32..=65535),
        prop_oneof![
            Just(Table::Auto),
            Just(Table::Off),
            any::<u32>().prop_map(Table::Id)
        ],
        any::<bool>(),
    );
    let hooks = prop::collection::vec(prop::collection::vec(hook(), 0..3), 4);
    (wg, quick, hooks).prop_map(|((private_key, listen_port, fwmark), q, hooks)| Interface {
        private_key,
        listen_port,
        listen_port_line: Line(0),
        fwmark,
        addresses: q.0,
        dns: q.1,
        dns_search: q.2,
        mtu: q.3,
        table: q.4,
        pre_up: hooks[0].clone(),
        post_up: hooks[1].clone(),
        pre_down: hooks[2].clone(),
        post_down: hooks[3].clone(),
        save_config: q.5,
    })
}

fn peer() -> impl Strategy<Value = Peer> {
    (
        public_key(),
        prop::option::of(preshared_key()),
        prop::collection::vec(cidr(), 0..4),
        prop::option::of(endpoint()),
        prop::option::of(any::<u16>()),
    )
        .prop_map(
            |(public_key, preshared_key, allowed_ips, endpoint, persistent_keepalive)| Peer {
                public_key,
                preshared_key,
                allowed_ips,
                endpoint,
                endpoint_line: Line(0),
                persistent_keepalive,
                line: Line(0),
            },
        )
}

fn any_config() -> impl Strategy<Value = Config> {
    (interface(), prop::collection::vec(peer(), 0..4))
        .prop_map(|(interface, peers)| Config { interface, peers })
}
