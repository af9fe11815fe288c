//! Go `net/netip` parity tables (expected values follow Go's source, see NOTES.md).

use super::*;

fn prefix_str(s: &str) -> Result<String, &'static str> {
    parse_prefix(s.as_bytes()).map(|n| {
        let mut out = String::new();
        push_prefix(&mut out, &n);
        out
    })
}

fn endpoint_str(s: &str) -> Result<String, &'static str> {
    parse_addr_port(s.as_bytes()).map(|sa| {
        let mut out = String::new();
        push_socket_addr(&mut out, &sa);
        out
    })
}

#[test]
fn go_uint() {
    let table: &[(&str, u64, Option<u64>)] = &[
        ("0", 65535, Some(0)),
        ("51820", 65535, Some(51820)),
        ("0051820", 65535, Some(51820)),
        ("65535", 65535, Some(65535)),
        ("65536", 65535, None),
        ("70000", 65535, None),
        ("", 65535, None),
        ("+1", 65535, None),
        ("-1", 65535, None),
        ("1_000", 65535, None),
        (" 1", 65535, None),
        ("1 ", 65535, None),
        ("4294967295", u64::from(u32::MAX), Some(u64::from(u32::MAX))),
        ("4294967296", u64::from(u32::MAX), None),
        ("99999999999999999999999", u64::from(u32::MAX), None),
    ];
    for &(s, max, want) in table {
        assert_eq!(parse_go_uint(s.as_bytes(), max), want, "{s:?}");
    }
}

#[test]
fn prefixes_accepted_and_printed_masked() {
    let table: &[(&str, &str)] = &[
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.1/24", "10.0.0.0/24"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("192.168.1.1/32", "192.168.1.1/32"),
        ("::/0", "::/0"),
        ("fd00::1/64", "fd00::/64"),
        ("FD00:0:0:0:0:0:0:1/128", "fd00::1/128"),
        ("2001:db8:0:0:1:0:0:1/128", "2001:db8::1:0:0:1/128"),
        ("2001:0:0:1:0:0:0:1/128", "2001:0:0:1::1/128"),
        ("1:0:2:3:4:5:6:7/128", "1:0:2:3:4:5:6:7/128"),
        ("::ffff:1.2.3.4/128", "::ffff:1.2.3.4/128"),
        ("::1.2.3.4/128", "::102:304/128"),
        ("0000000000001::/16", "1::/16"),
        ("1::/0", "::/0"),
    ];
    for &(input, want) in table {
        assert_eq!(prefix_str(input).as_deref(), Ok(want), "{input:?}");
    }
}

#[test]
fn prefixes_rejected() {
    for bad in [
        "10.0.0.0",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "10.0.0.0/-0",
        "10.0.0.0/08",
        "10.0.0.0/ 8",
        "10.0.0.0/8 ",
        "10.0.0/8",
        "10.0.0.0.0/8",
        "010.0.0.0/8",
        "256.0.0.0/8",
        "1..2.3/8",
        ".1.2.3/8",
        "fe80::1%eth0/64",
        "fe80::1%1/64",
        "example.com/32",
        "/8",
        "",
        "::1::/128",
        "1:2:3:4:5:6:7:8:9/128",
        "1:2:3:4:5:6::7:8/128",
        "1:2:3:4:5:6:7/128",
        "12345::/16",
        "1.2.3.4::/128",
        "1:2:3:4:5:6:7:1.2.3.4/128",
        ":1::/16",
        "1:/16",
        "10.0.0.0/8/8",
    ] {
        assert!(prefix_str(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn endpoints_accepted_and_printed_like_go() {
    let table: &[(&str, &str)] = &[
        ("1.2.3.4:51820", "1.2.3.4:51820"),
        ("1.2.3.4:0", "1.2.3.4:0"),
        ("1.2.3.4:051820", "1.2.3.4:51820"),
        ("[::1]:51820", "[::1]:51820"),
        ("[2001:DB8::1]:65535", "[2001:db8::1]:65535"),
        ("[::ffff:1.2.3.4]:5", "[::ffff:1.2.3.4]:5"),
        ("[fe80::1%2]:51820", "[fe80::1%2]:51820"),
        ("[fe80::1%0]:51820", "[fe80::1]:51820"),
        ("[0:0:0:0:0:0:0:0]:1", "[::]:1"),
    ];
    for &(input, want) in table {
        assert_eq!(endpoint_str(input).as_deref(), Ok(want), "{input:?}");
    }
}

#[test]
fn endpoints_rejected() {
    for bad in [
        "example.com:51820",
        "localhost:51820",
        "1.2.3.4",
        "1.2.3.4:",
        ":51820",
        "1.2.3.4:65536",
        "1.2.3.4:70000",
        "1.2.3.4:+1",
        "1.2.3.4:-1",
        "::1:51820",
        "[1.2.3.4]:51820",
        "[::1:51820",
        "::1]:51820",
        "[::1]51820",
        "[::1]:",
        "[fe80::1%eth0]:51820",
        "[fe80::1%]:51820",
        "01.2.3.4:1",
        " 1.2.3.4:1",
        "1.2.3.4:1 ",
        "",
    ] {
        assert!(endpoint_str(bad).is_err(), "{bad:?} should be rejected");
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Addresses with runs of zero groups, where the `::` rules matter.
    fn v6() -> impl Strategy<Value = Ipv6Addr> {
        proptest::array::uniform8(prop_oneof![Just(0u16), Just(0xffff), any::<u16>()])
            .prop_map(Ipv6Addr::from)
    }

    proptest! {
        #[test]
        fn ipv6_text_round_trips_and_matches_std(a in v6(), bits in 0u8..=128) {
            let mut text = String::new();
            push_ipv6(&mut text, &a, 0);
            // Go and Rust both follow RFC 5952 and print IPv4-mapped as ::ffff:a.b.c.d.
            prop_assert_eq!(&text, &a.to_string());
            let net = parse_prefix(format!("{text}/{bits}").as_bytes()).expect("own output parses");
            prop_assert_eq!(net, IpNet::V6(Ipv6Net::new(a, bits).expect("bits").trunc()));
        }

        #[test]
        fn endpoint_text_round_trips(a in v6(), port: u16, v4: [u8; 4]) {
            for sa in [SocketAddr::from((a, port)), SocketAddr::from((v4, port))] {
                let mut text = String::new();
                push_socket_addr(&mut text, &sa);
                prop_assert_eq!(parse_addr_port(text.as_bytes()), Ok(sa));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_prefix(&s);
            let _ = parse_addr_port(&s);
        }

        #[test]
        fn address_like_text_never_panics(s in "[0-9a-fA-F:.%/\\[\\]]{0,48}") {
            let _ = parse_prefix(s.as_bytes());
            let _ = parse_addr_port(s.as_bytes());
        }
    }
}
