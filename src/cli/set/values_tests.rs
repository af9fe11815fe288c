//! Value parsers against texts `wg` v1.0.20210914 printed for the same input.

use super::*;

fn text<T: std::fmt::Debug>(r: Result<T, Bad>) -> String {
    r.expect_err("refused").text
}

#[test]
fn fwmark_forms() {
    assert_eq!(fwmark("off").ok(), Some(0));
    assert_eq!(fwmark("Off").ok(), Some(0));
    assert_eq!(fwmark("0x10").ok(), Some(16));
    assert_eq!(fwmark("4294967295").ok(), Some(u32::MAX));
    assert_eq!(fwmark("0xffffffff").ok(), Some(u32::MAX));
    for bad in [
        "",
        "0x",
        "0X10",
        "12abc",
        "4294967296",
        "-1",
        " 1",
        "0x-1",
        "0x1g",
    ] {
        assert_eq!(
            text(fwmark(bad)),
            format!("Fwmark is neither 0/off nor 0-0xffffffff: `{bad}'")
        );
    }
}

#[test]
fn keepalive_forms() {
    assert_eq!(keepalive("OFF").ok(), Some(0));
    assert_eq!(keepalive("65535").ok(), Some(65535));
    assert_eq!(keepalive("007").ok(), Some(7));
    for bad in ["", "65536", "-1", "+1", "1s", "99999999999999999999999"] {
        assert_eq!(
            text(keepalive(bad)),
            format!("Persistent keepalive interval is neither 0/off nor 1-65535: `{bad}'")
        );
    }
}

#[test]
fn allowed_ips_forms_and_warnings() {
    let mut notes = Vec::new();
    let nets = allowed_ips("10.0.0.1/24,fd00::/64,10.1.1.1", &mut |n| {
        notes.push(n.to_owned())
    })
    .expect("valid");
    assert_eq!(nets.len(), 3);
    assert_eq!(
        nets[0].to_string(),
        "10.0.0.1/24",
        "host bits are kept for the daemon"
    );
    assert_eq!(nets[2].prefix_len(), 32);
    assert_eq!(
        notes,
        ["Warning: AllowedIP has nonzero host part: 10.0.0.1/24"]
    );
    let mut quiet = |_: &str| {};
    assert!(allowed_ips("", &mut quiet)
        .expect("empty clears")
        .is_empty());
    for (bad, msg) in [
        (
            "10.0.0.0/33",
            "AllowedIP is not in the correct format: `10.0.0.0/33'",
        ),
        (
            "10.0.0.0/",
            "AllowedIP is not in the correct format: `10.0.0.0/'",
        ),
        (
            "10.0.0.0/8/1",
            "AllowedIP is not in the correct format: `10.0.0.0/8/1'",
        ),
        ("10.0.0.256/8", "Unable to parse IP address: `10.0.0.256'"),
        ("10.0.0.0/8,", "Unable to parse IP address: `'"),
        (
            "fd00::/129",
            "AllowedIP is not in the correct format: `fd00::/129'",
        ),
    ] {
        assert_eq!(text(allowed_ips(bad, &mut quiet)), msg);
    }
}

#[test]
fn endpoint_shapes_are_checked_before_resolving() {
    let mut quiet = |_: &str| {};
    assert_eq!(
        endpoint("[::1]:7", &mut quiet).ok(),
        Some("[::1]:7".parse().expect("addr"))
    );
    assert_eq!(
        endpoint("127.0.0.1:7", &mut quiet).ok(),
        Some("127.0.0.1:7".parse().expect("addr"))
    );
    for (bad, msg) in [
        ("", "Unable to parse empty endpoint"),
        (
            "[::1:7",
            "Unable to find matching brace of endpoint: `[::1:7'",
        ),
        ("[::1]7", "Unable to find port of endpoint: `[::1]7'"),
        ("[::1]:", "Unable to find port of endpoint: `[::1]:'"),
        ("host", "Unable to find port of endpoint: `host'"),
        ("host:", "Unable to find port of endpoint: `host:'"),
    ] {
        assert_eq!(text(endpoint(bad, &mut quiet)), msg);
    }
}

#[test]
fn keys_inline() {
    assert!(key(&"A".repeat(43)).is_err());
    assert_eq!(
        text(key("abc")),
        "Key is not the correct length or format: `abc'"
    );
    let zero = format!("{}=", "A".repeat(43));
    assert_eq!(*key(&zero).expect("valid"), [0u8; KEY_LEN]);
}
