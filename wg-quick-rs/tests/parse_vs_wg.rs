//! The parser's verdict against Debian's `wg setconf` on a real wireguard-go device, line by
//! line: where wg accepts, we accept, and where wg rejects, we reject — except for the listed,
//! deliberate deviations (values wg silently wraps). Endpoints are literal (no DNS) and
//! `WG_ENDPOINT_RESOLUTION_RETRIES=0`. Skips without root / wireguard-go.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{start_device, TempDir, PRIV, PSK, PUB1};
use wg_quick_rs::config::{parse, strip};

/// (config text, wg accepts, we accept). `P` = `[Peer]` + PublicKey.
const CASES: &[(&str, bool, bool)] = &[
    ("[Interface]\nListenPort = 51820", true, true),
    ("[Interface]\nListenPort = 0", true, true),
    ("[Interface]\nListenPort = +5", true, true),
    ("[Interface]\nListenPort = 65536", true, false), // wg wraps to 0
    ("[Interface]\nListenPort = 99999", true, false), // wg wraps
    ("[Interface]\nListenPort = -1", false, false),
    ("[Interface]\nListenPort = 0x10", false, false),
    ("[Interface]\nListenPort =", false, false),
    ("[Interface]\nListen Port = 5", true, true),
    ("[Interface]\nLISTENPORT=5", true, true),
    ("[Interface]\nFwMark = 0x10", true, true),
    ("[Interface]\nFwMark = 0X10", false, false),
    ("[Interface]\nFwMark = 0x", false, false),
    ("[Interface]\nFwMark = 010", true, true),
    ("[Interface]\nFwMark = 4294967295", true, true),
    ("[Interface]\nFwMark = 4294967296", false, false),
    ("[Interface]\nFwMark = -1", false, false),
    ("[Interface]\nFwMark = off", true, true),
    ("[Interface]\nFwMark = Off", true, true),
    ("[Interface]\nFwMark = on", false, false),
    ("[Interface]\nPrivateKey = PRIV", true, true),
    (
        "[Interface]\nPrivateKey = YD+V8fh/WqcByTSEWDNQNzbjQabaSNMo07s8mqsn3F9=",
        false,
        false,
    ),
    (
        "[Interface]\nPrivateKey = YD+V8fh/WqcByTSEWDNQNzbjQabaSNMo07s8mqsn3F8==",
        false,
        false,
    ),
    (
        "[Interface]\nPrivateKey = YD+V8fh/WqcByTSEWDNQNzbjQabaSNMo07s8mqsn3F8",
        false,
        false,
    ),
    ("[Interface]\nPrivateKey =", false, false),
    ("[Interface]\nFoo = 1", false, false),
    ("[Interface]\nEndpoint = 127.0.0.1:1", false, false),
    ("[Interface]\n[Foo]", false, false),
    ("[Interface]\ngarbage", false, false),
    ("ListenPort = 1", false, false),
    ("[ Interface ]\nListenPort = 1", true, true),
    ("[interface]\r\nListenPort = 1\r\n", true, true),
    ("[Interface]\nListenPort = 1 # comment", true, true),
    ("P\nAllowedIPs = 10.0.0.0/8", true, true),
    ("P\nAllowedIPs = 10.0.0.1/24", true, true),
    ("P\nAllowedIPs = 10.0.0.0/08", true, true),
    ("P\nAllowedIPs = +10.0.0.0/8", false, false),
    ("P\nAllowedIPs = 10.0.0.0/8,,", false, false),
    ("P\nAllowedIPs = 10.0.0.0/8,", false, false),
    ("P\nAllowedIPs = 10/8", false, false),
    ("P\nAllowedIPs = 010.0.0.1", false, false),
    ("P\nAllowedIPs = ::ffff:1.2.3.4/128", true, true),
    ("P\nAllowedIPs = 1.2.3.4/+8", false, false),
    ("P\nAllowedIPs = 1.2.3.4/", false, false),
    ("P\nAllowedIPs = 10.0.0.0/33", false, false),
    ("P\nAllowedIPs = ::/129", false, false),
    (
        "P\nAllowedIPs = 10.0.0.0 / 8 , ::/0\nAllowedIPs = fd00::/8",
        true,
        true,
    ),
    ("P\nAllowedIPs =", false, false),
    ("P\nEndpoint = 127.0.0.1:51820", true, true),
    ("P\nEndpoint = [::1]:1", true, true),
    ("P\nEndpoint = ::1:51820", true, true),
    ("P\nEndpoint = 127.0.0.1", false, false),
    ("P\nEndpoint = [::1]", false, false),
    ("P\nEndpoint = [::1]:", false, false),
    ("P\nEndpoint = [::1]x5", false, false),
    ("P\nEndpoint = [::1", false, false),
    ("P\nEndpoint = [127.0.0.1]:5", true, true),
    ("P\nEndpoint = 127.0.0.1:0", true, true),
    ("P\nEndpoint = 127.0.0.1:+5", true, true),
    ("P\nEndpoint = 127.0.0.1:-1", false, false),
    ("P\nEndpoint = 127.0.0.1:65536", true, false), // wg wraps the port
    ("P\nEndpoint = 127.1:5", true, true),          // a "host name" getaddrinfo reads as 127.0.0.1
    ("P\nPersistentKeepalive = 25", true, true),
    ("P\nPersistentKeepalive = 0", true, true),
    ("P\nPersistentKeepalive = off", true, true),
    ("P\nPersistentKeepalive = OFF", true, true),
    ("P\nPersistentKeepalive = 65535", true, true),
    ("P\nPersistentKeepalive = 65536", false, false),
    ("P\nPersistentKeepalive = 0x10", false, false),
    ("P\nPersistentKeepalive = +5", false, false),
    ("P\nPersistentKeepalive = 010", true, true),
    ("P\nPersistentKeepalive = -1", false, false),
    ("P\nPresharedKey = PSK", true, true),
    ("P\nPresharedKey = PSK=", false, false),
    ("P\nListenPort = 1", false, false),
    ("P\nPublicKey = PUB1\n[Peer]\nPublicKey = PUB1", true, true),
    ("[Peer]\nAllowedIPs = 10.0.0.0/8", false, false),
    ("[ Peer ]\nPublicKey = PUB1", true, true),
    ("[peer]\nPublicKey=PUB1", true, true),
    ("PublicKey = PUB1", false, false),
];

#[test]
fn parser_verdicts_match_wg_setconf() {
    let device = match start_device() {
        Ok(d) => d,
        Err(why) => {
            println!("SKIP parser_verdicts_match_wg_setconf: {why}");
            return;
        }
    };
    let dir = TempDir::new("verdicts");
    let file = dir.path().join("c.conf");
    for &(template, wg_ok, ours_ok) in CASES {
        let text = template
            .replace("P\n", "[Peer]\nPublicKey = PUB1\n")
            .replace("PRIV", PRIV)
            .replace("PUB1", PUB1)
            .replace("PSK", PSK);
        std::fs::write(&file, strip(&text)).unwrap();
        let (ok, _, stderr) = device.try_wg(&["setconf", &device.name, file.to_str().unwrap()]);
        assert_eq!(ok, wg_ok, "wg on {template:?}: {stderr}");
        let ours = parse(&text, "c.conf");
        assert_eq!(ours.is_ok(), ours_ok, "parse on {template:?}: {ours:?}");
    }
    println!("{} parser verdicts checked against wg setconf", CASES.len());
}
