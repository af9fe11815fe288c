//! Table-driven parser error tests: every error names file:line and the key, and no message
//! (nor Debug output) ever shows a secret.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{PRIV, PSK, PUB1};
use wg_quick_rs::config::parse;

/// (input, line, key, message fragment). The input starts in `[Interface]` unless it says
/// otherwise; `PEER` stands for a `[Peer]` header plus its PublicKey line.
#[rustfmt::skip]
const ERRORS: &[(&str, usize, Option<&str>, &str)] = &[
    ("ListenPort = 65536", 2, Some("ListenPort"), "`65536' is not a port number (0-65535)"),
    ("ListenPort = 99999999999999999999999", 2, Some("ListenPort"), "not a port number"),
    ("ListenPort = -1", 2, Some("ListenPort"), "not a port number"),
    ("ListenPort = http", 2, Some("ListenPort"), "not a port number"),
    ("ListenPort =", 2, Some("ListenPort"), "empty value"),
    ("FwMark = 0x100000000", 2, Some("FwMark"), "neither 0/off nor 0-0xffffffff"),
    ("FwMark = 4294967296", 2, Some("FwMark"), "neither 0/off nor"),
    ("FwMark = 0X10", 2, Some("FwMark"), "neither 0/off nor"),
    ("FwMark = 0x", 2, Some("FwMark"), "neither 0/off nor"),
    ("FwMark = on", 2, Some("FwMark"), "neither 0/off nor"),
    ("PrivateKey = YD+V8fh/WqcByTSEWDNQNzbjQabaSNMo07s8mqsn3F8", 2, Some("PrivateKey"), "not a valid key"),
    ("PrivateKey = YD+V8fh/WqcByTSEWDNQNzbjQabaSNMo07s8mqsn3F9=", 2, Some("PrivateKey"), "not a valid key"),
    ("PrivateKey = YD+V8fh/WqcByTSEWDNQNzbjQabaSNMo07s8mqsn3F*=", 2, Some("PrivateKey"), "not a valid key"),
    ("PrivateKey = YD+V8fh/WqcByTSEWDNQNzbjQabaSNMo07s8mqsn3F8==", 2, Some("PrivateKey"), "not a valid key"),
    ("PrivateKey = ", 2, Some("PrivateKey"), "empty value"),
    ("Address = 10.0.0.1/33", 2, Some("Address"), "prefix length that is not 0-32"),
    ("Address = fd00::1/129", 2, Some("Address"), "prefix length that is not 0-128"),
    ("Address = 10.0.0.1/", 2, Some("Address"), "prefix length"),
    ("Address = 10.0.0.256/24", 2, Some("Address"), "`10.0.0.256' is not an IP address"),
    ("Address = wg.example.com", 2, Some("Address"), "is not an IP address"),
    ("Address", 2, Some("Address"), "missing `='"),
    ("DNS = 1.2.3", 2, Some("DNS"), "`1.2.3' is not an IP address"),
    ("DNS = fe80::1%eth0", 2, Some("DNS"), "not an IP address"),
    ("MTU = abc", 2, Some("MTU"), "`abc' is not an MTU (68-65535)"),
    ("MTU = 67", 2, Some("MTU"), "not an MTU"),
    ("MTU = 65536", 2, Some("MTU"), "not an MTU"),
    ("Table = Off", 2, Some("Table"), "`Off' is neither auto, off, a table number nor a known table name"),
    ("Table = nosuchtable", 2, Some("Table"), "neither auto, off"),
    ("Table = 4294967296", 2, Some("Table"), "neither auto, off"),
    ("SaveConfig = yes", 2, Some("SaveConfig"), "`yes' is neither true nor false"),
    ("SaveConfig =", 2, Some("SaveConfig"), "`' is neither true nor false"),
    ("PostUp", 2, Some("PostUp"), "missing `='"),
    ("Foo = bar", 2, Some("Foo"), "unknown key"),
    ("Post Up = echo", 2, Some("PostUp"), "wg-quick matches its keys exactly"),
    ("Endpoint = 192.0.2.1:1", 2, Some("Endpoint"), "belongs in [Peer], not [Interface]"),
    ("PublicKey = PUB1", 2, Some("PublicKey"), "belongs in [Peer]"),
    ("garbage", 2, None, "neither a [section] header nor `Key = value'"),
    ("[Foo]", 2, None, "unknown section [Foo]"),
    ("[Interface]]", 2, None, "malformed section header (expected [Interface] or [Peer])"),
    ("[Inter face]x", 2, None, "malformed section header"),
    ("PEER\nListenPort = 1", 4, Some("ListenPort"), "belongs in [Interface], not [Peer]"),
    ("PEER\nAddress = 10.0.0.1/24", 4, Some("Address"), "is a wg-quick key of [Interface], not [Peer]"),
    ("PEER\nAllowedIPs = 10.0.0.0/33", 4, Some("AllowedIPs"), "prefix length that is not 0-32"),
    ("PEER\nAllowedIPs = ::/129", 4, Some("AllowedIPs"), "not 0-128"),
    ("PEER\nAllowedIPs = 10.0.0.0/x", 4, Some("AllowedIPs"), "prefix length"),
    ("PEER\nAllowedIPs = 10.0.0.0/8/9", 4, Some("AllowedIPs"), "prefix length"),
    ("PEER\nAllowedIPs = 10.0.0.0/8,,10.1.0.0/16", 4, Some("AllowedIPs"), "empty entry"),
    ("PEER\nAllowedIPs = 10.0.0.0/8,", 4, Some("AllowedIPs"), "empty entry"),
    ("PEER\nAllowedIPs = +10.0.0.0/8", 4, Some("AllowedIPs"), "not an IP address"),
    ("PEER\nAllowedIPs = 1.2.3.4.5", 4, Some("AllowedIPs"), "not an IP address"),
    ("PEER\nAllowedIPs =", 4, Some("AllowedIPs"), "empty value"),
    ("PEER\nEndpoint = 192.0.2.1", 4, Some("Endpoint"), "has no port"),
    ("PEER\nEndpoint = 192.0.2.1:", 4, Some("Endpoint"), "has no port"),
    ("PEER\nEndpoint = [2001:db8::1]", 4, Some("Endpoint"), "has no port"),
    ("PEER\nEndpoint = [2001:db8::1]:", 4, Some("Endpoint"), "has no port"),
    ("PEER\nEndpoint = [2001:db8::1:5", 4, Some("Endpoint"), "no closing `]'"),
    ("PEER\nEndpoint = :51820", 4, Some("Endpoint"), "has no host"),
    ("PEER\nEndpoint = host:65536", 4, Some("Endpoint"), "`65536' is not a port number"),
    ("PEER\nEndpoint = host:https", 4, Some("Endpoint"), "not a port number"),
    ("PEER\nEndpoint = 2001:db8::1", 4, Some("Endpoint"), "`2001:db8:' is not an IPv6 address"),
    // Found by fuzzing (fuzz/artifacts/conf_roundtrip): `save` would write what cannot be read.
    ("PEER\nEndpoint = fe80::1%a]:1", 4, Some("Endpoint"), "`fe80::1%a]' is not an IPv6 address"),
    ("PEER\nEndpoint = fe80::1%eth0/1:1", 4, Some("Endpoint"), "is not an IPv6 address"),
    ("PEER\nEndpoint = fe80::1%0123456789abcdef:1", 4, Some("Endpoint"), "is not an IPv6 address"),
    ("PEER\nEndpoint = [[fx]:1", 4, Some("Endpoint"), "`[fx' is not a host name (bracket)"),
    ("PEER\nEndpoint = f]x:1", 4, Some("Endpoint"), "`f]x' is not a host name (bracket)"),
    ("PEER\nEndpoint = a\u{1}b:1", 4, Some("Endpoint"), "is not a host name (control character)"),
    ("DNS = a,\u{b}b", 2, Some("DNS"), "\"\\u{b}b\" is not a search domain or IP address (whitespace or control character)"),
    ("DNS = a\u{c}b", 2, Some("DNS"), "whitespace or control character"),
    ("PEER\nPersistentKeepalive = 65536", 4, Some("PersistentKeepalive"), "neither 0/off nor 1-65535"),
    ("PEER\nPersistentKeepalive = -1", 4, Some("PersistentKeepalive"), "neither 0/off nor"),
    ("PEER\nPersistentKeepalive = on", 4, Some("PersistentKeepalive"), "neither 0/off nor"),
    ("PEER\nPresharedKey = short", 4, Some("PresharedKey"), "not a valid key"),
    ("PEER\nPublicKey = short", 4, Some("PublicKey"), "not a valid key"),
    ("PEER\nMystery = 1", 4, Some("Mystery"), "unknown key"),
    ("[Peer]\nAllowedIPs = 10.0.0.0/8", 2, Some("PublicKey"), "this [Peer] has no PublicKey"),
    ("PEER\n[Peer]\nEndpoint = 192.0.2.1:5\n[Peer]\nPublicKey = PUB1", 4, Some("PublicKey"), "no PublicKey"),
    ("[ Interface ]\nAddress = 10.0.0.1/24", 3, Some("Address"), "wg-quick reads this key only in a section whose header is exactly `[Interface]'"),
];

#[test]
fn errors_name_file_line_and_key() {
    for &(body, line, key, fragment) in ERRORS {
        let body = body
            .replace("PEER", &format!("[Peer]\nPublicKey = {PUB1}"))
            .replace("PUB1", PUB1);
        let text = format!("[Interface]\n{body}\n");
        let err = match parse(&text, "/etc/wireguard/wg0.conf") {
            Ok(cfg) => panic!("{body:?} parsed: {cfg:?}"),
            Err(e) => e,
        };
        assert_eq!(err.file, "/etc/wireguard/wg0.conf", "{body:?}");
        assert_eq!(
            (err.line, err.key.as_deref()),
            (line, key),
            "{body:?}: {err}"
        );
        assert!(
            err.message.contains(fragment),
            "{body:?}: {err} lacks {fragment:?}"
        );
        let shown = err.to_string();
        let prefix = match key {
            Some(k) => format!("/etc/wireguard/wg0.conf:{line}: {k}: "),
            None => format!("/etc/wireguard/wg0.conf:{line}: "),
        };
        assert!(shown.starts_with(&prefix), "{shown}");
    }
    println!("{} error cases", ERRORS.len());
}

#[test]
fn errors_before_any_section() {
    let err = parse(&format!("PrivateKey = {PRIV}\n"), "a.conf").unwrap_err();
    assert_eq!(
        err.to_string(),
        "a.conf:1: PrivateKey: key before any [Interface] or [Peer] section"
    );
    let err = parse("\n\nAddress = 10.0.0.1/24\n[Interface]\n", "a.conf").unwrap_err();
    assert_eq!((err.line, err.key.as_deref()), (3, Some("Address")));
}

#[test]
fn errors_never_show_secrets() {
    let secret_lines = [
        format!("PrivatKey = {PRIV}"),
        format!("PrivateKey {PRIV}"),
        format!("PrivateKey = {PRIV}x"),
        PRIV.to_string(),
        format!("[{PRIV}]"),
        format!("PrivateKey = {}", &PRIV[..43]),
        format!("[Peer]\nPresharedKey = {PSK}x"),
        format!("[Peer]\nPublicKey = {PUB1}\nPresharedKey = {}", &PSK[1..]),
    ];
    for line in &secret_lines {
        let text = format!("[Interface]\n{line}\n");
        let err = parse(&text, "wg0.conf").unwrap_err();
        let shown = format!("{err} {err:?}");
        for secret in [PRIV, &PRIV[..20], &PSK[..20], &PSK[1..21]] {
            assert!(!shown.contains(secret), "{shown} shows a secret");
        }
    }
}

#[test]
fn debug_hides_keys() {
    let text = format!(
        "[Interface]\nPrivateKey = {PRIV}\n[Peer]\nPublicKey = {PUB1}\nPresharedKey = {PSK}\n"
    );
    let cfg = parse(&text, "wg0.conf").unwrap();
    let shown = format!("{cfg:?}");
    assert!(!shown.contains(&PRIV[..10]) && !shown.contains(&PSK[..10]));
    assert!(shown.contains("(hidden)"));
}
