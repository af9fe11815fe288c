//! render / parse / to_uapi_set / parse_uapi_get agree with each other and with the formats of
//! `wg showconf`, wg-quick's `save_config()` and wireguard-tools' `ipc-uapi.h`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{PRIV, PSK, PUB1, PUB2};
use std::net::SocketAddr;
use wg_quick_rs::config::{
    merge_for_save, parse, render, Config, Line, PresharedKey, PrivateKey, PublicKey,
};
use wg_quick_rs::uapi_text::{parse_uapi_get, to_uapi_set};

fn hex(b64: &str) -> String {
    PublicKey::from_base64(b64).unwrap().to_hex()
}

/// Zero ListenPort/FwMark/keepalive are not rendered (`wg showconf` leaves them out), and peer
/// lines are where the text put them.
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

fn full_text() -> String {
    format!(
        "[Interface]\nPrivateKey = {PRIV}\nListenPort = 51820\nFwMark = 1234\nAddress = 10.0.0.1/24, fd00::1/64\n\
         DNS = 1.1.1.1, example.com, 2606:4700::1111\nMTU = 1420\nTable = 1000\nSaveConfig = true\n\
         PostDown = d\nPostUp = iptables -A FORWARD -i %i -j ACCEPT\nPreUp = a = b\nPreDown = c\n\n\
         [Peer]\nPublicKey = {PUB1}\nPresharedKey = {PSK}\nAllowedIPs = 10.0.0.2/32, fd00::2/128\n\
         Endpoint = [2001:db8::1]:51820\nPersistentKeepalive = 25\n\n\
         [Peer]\nPublicKey = {PUB2}\nAllowedIPs = 10.0.1.0/24\nEndpoint = vpn.example.com:4500\nPersistentKeepalive = off\n"
    )
}

#[test]
fn render_has_save_config_layout() {
    let cfg = parse(&full_text(), "wg0.conf").unwrap();
    let expected = format!(
        "[Interface]\nAddress = 10.0.0.1/24\nAddress = fd00::1/64\nDNS = 1.1.1.1\nDNS = 2606:4700::1111\n\
         DNS = example.com\nMTU = 1420\nTable = 1000\nSaveConfig = true\nPreUp = a = b\n\
         PostUp = iptables -A FORWARD -i %i -j ACCEPT\nPreDown = c\nPostDown = d\nListenPort = 51820\n\
         FwMark = 0x4d2\nPrivateKey = {PRIV}\n\n[Peer]\nPublicKey = {PUB1}\nPresharedKey = {PSK}\n\
         AllowedIPs = 10.0.0.2/32, fd00::2/128\nEndpoint = [2001:db8::1]:51820\nPersistentKeepalive = 25\n\n\
         [Peer]\nPublicKey = {PUB2}\nAllowedIPs = 10.0.1.0/24\nEndpoint = vpn.example.com:4500\n"
    );
    assert_eq!(render(&cfg).as_str(), expected);
    assert_eq!(
        normalize(parse(&render(&cfg), "x").unwrap()),
        normalize(cfg)
    );
}

#[test]
fn render_minimal_and_table_off() {
    assert_eq!(render(&Config::default()).as_str(), "[Interface]\n");
    let cfg = parse(
        "[Interface]\nTable = off\nListenPort = 0\nFwMark = off\n",
        "x",
    )
    .unwrap();
    assert_eq!(render(&cfg).as_str(), "[Interface]\nTable = off\n");
    let cfg = parse("[Interface]\nTable = main\n", "x").unwrap();
    assert_eq!(render(&cfg).as_str(), "[Interface]\nTable = 254\n");
}

#[test]
fn render_keeps_hooks_on_one_line() {
    let mut cfg = Config::default();
    cfg.interface
        .post_up
        .push("echo a\nListenPort = 1".to_owned());
    let text = render(&cfg);
    assert_eq!(
        text.as_str(),
        "[Interface]\nPostUp = echo a ListenPort = 1\n"
    );
    assert_eq!(
        parse(&text, "x").unwrap().interface.post_up,
        ["echo a ListenPort = 1"]
    );
}

#[test]
fn uapi_set_matches_ipc_uapi_order() {
    let cfg = parse(&full_text(), "wg0.conf").unwrap();
    let resolved: SocketAddr = "192.0.2.7:4500".parse().unwrap();
    let body = to_uapi_set(&cfg, &[None, Some(resolved)]);
    let expected = format!(
        "set=1\nprivate_key={}\nlisten_port=51820\nfwmark=1234\nreplace_peers=true\n\
         public_key={}\npreshared_key={}\nendpoint=[2001:db8::1]:51820\npersistent_keepalive_interval=25\n\
         replace_allowed_ips=true\nallowed_ip=10.0.0.2/32\nallowed_ip=fd00::2/128\n\
         public_key={}\nendpoint=192.0.2.7:4500\npersistent_keepalive_interval=0\nreplace_allowed_ips=true\n\
         allowed_ip=10.0.1.0/24\n\n",
        hex(PRIV),
        hex(PUB1),
        hex(PSK),
        hex(PUB2)
    );
    assert_eq!(body.as_str(), expected);
}

#[test]
fn uapi_set_defaults_like_setconf() {
    // setconf always sends a private key (zeros clear it), listen_port and fwmark.
    let cfg = parse(
        &format!("[Peer]\nPublicKey = {PUB1}\nEndpoint = host.example:1\n"),
        "x",
    )
    .unwrap();
    let body = to_uapi_set(&cfg, &[]);
    let expected = format!(
        "set=1\nprivate_key={}\nlisten_port=0\nfwmark=0\nreplace_peers=true\npublic_key={}\nreplace_allowed_ips=true\n\n",
        "0".repeat(64),
        hex(PUB1)
    );
    assert_eq!(body.as_str(), expected);
}

/// What a device answers to `get=1` for `cfg` (wireguard-go's order).
fn get_reply(cfg: &Config) -> String {
    let mut out = String::new();
    if let Some(k) = &cfg.interface.private_key {
        out += &format!("private_key={}\n", k.to_hex().as_str());
    }
    out += &format!("listen_port={}\n", cfg.interface.listen_port.unwrap_or(0));
    if let Some(m) = cfg.interface.fwmark.filter(|&m| m != 0) {
        out += &format!("fwmark={m}\n");
    }
    for p in &cfg.peers {
        out += &format!("public_key={}\n", p.public_key.to_hex().as_str());
        let psk = p.preshared_key.clone().unwrap_or_default();
        out += &format!(
            "preshared_key={}\nprotocol_version=1\n",
            psk.to_hex().as_str()
        );
        if let Some(e) = &p.endpoint {
            out += &format!("endpoint={e}\n");
        }
        out += "last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n";
        out += &format!(
            "persistent_keepalive_interval={}\n",
            p.persistent_keepalive.unwrap_or(0)
        );
        for c in &p.allowed_ips {
            out += &format!("allowed_ip={c}\n");
        }
    }
    out + "errno=0\n\n"
}

#[test]
fn uapi_get_reads_back_wg_keys() {
    let text = full_text().replace("vpn.example.com", "192.0.2.7");
    let cfg = parse(&text, "wg0.conf").unwrap();
    let live = parse_uapi_get(&get_reply(&cfg)).unwrap();
    let mut wg_only = cfg.clone();
    wg_only.interface = Default::default();
    wg_only.interface.private_key = cfg.interface.private_key.clone();
    wg_only.interface.listen_port = cfg.interface.listen_port;
    wg_only.interface.fwmark = cfg.interface.fwmark;
    assert_eq!(normalize(live.clone()), normalize(wg_only));
    // merge_for_save puts the wg-quick keys back: the saved file is the original, re-rendered.
    let saved = merge_for_save(live, &cfg.interface);
    assert_eq!(render(&saved).as_str(), render(&cfg).as_str());
}

#[test]
fn uapi_get_edge_cases() {
    let cfg = parse_uapi_get("errno=0\n\n").unwrap();
    assert_eq!(cfg, Config::default());
    // A zero preshared key means none; unknown keys are skipped; listen_port 0 is none.
    let reply = format!(
        "listen_port=0\nfuture_key=1\npublic_key={}\npreshared_key={}\nallowed_ip=10.0.0.0/8\nerrno=0\n",
        hex(PUB1),
        "0".repeat(64)
    );
    let cfg = parse_uapi_get(&reply).unwrap();
    assert_eq!(cfg.interface.listen_port, None);
    assert_eq!(cfg.peers[0].preshared_key, None);
    assert_eq!(
        render(&cfg).as_str(),
        format!("[Interface]\n\n[Peer]\nPublicKey = {PUB1}\nAllowedIPs = 10.0.0.0/8\n")
    );
    // Read as wg reads it: anything malformed, a missing errno and a negative one (wg's
    // reader takes digits only) are protocol errors; a positive errno is that error.
    for reply in [
        "errno=-22\n\n",
        "listen_port=1\n\n",
        "private_key=zz\nerrno=0\n",
        "listen_port=65536\nerrno=0\n",
        "noequals\nerrno=0\n",
    ] {
        let err = parse_uapi_get(reply).unwrap_err();
        assert_eq!(err.errno, libc::EPROTO, "{reply:?}: {err}");
        assert!(err.to_string().contains("Protocol error"), "{err}");
    }
    assert_eq!(parse_uapi_get("errno=22\n").unwrap_err().errno, 22);
    let peer = format!("public_key={}\n", hex(PUB1));
    for line in [
        "allowed_ip=10.0.0.0\n",
        "allowed_ip=10.0.0.0/33\n",
        "endpoint=host.example:1\n",
        "endpoint=1.2.3.4\n",
        "tx_bytes=x\n",
    ] {
        assert!(
            parse_uapi_get(&format!("{peer}{line}errno=0\n")).is_err(),
            "{line}"
        );
    }
    // Secrets never appear in errors.
    let err = parse_uapi_get(&format!("private_key={}0\nerrno=0\n", hex(PRIV))).unwrap_err();
    assert!(!err.to_string().contains(&hex(PRIV)[..16]));
}

#[test]
fn keys_round_trip_through_base64_and_hex() {
    for b64 in [PUB1, PUB2] {
        let key = PublicKey::from_base64(b64).unwrap();
        assert_eq!(key.to_base64().as_str(), b64);
        assert_eq!(PublicKey::from_hex(&key.to_hex()).unwrap(), key);
        assert_eq!(
            PublicKey::from_hex(&key.to_hex().to_uppercase()).unwrap(),
            key
        );
    }
    // PRIV is a `wg genkey` key, so already clamped: it reads back as written.
    let sk = PrivateKey::from_base64(PRIV).unwrap();
    assert_eq!(sk.to_base64().as_str(), PRIV);
    assert_eq!(PrivateKey::from_hex(&sk.to_hex()).unwrap(), sk);
    let psk = PresharedKey::from_base64(PSK).unwrap();
    assert_eq!(psk.to_base64().as_str(), PSK);
    assert_eq!(PresharedKey::from_hex(&psk.to_hex()).unwrap(), psk);
    assert!(PresharedKey::default().is_zero());
    assert!(!sk.is_zero());
}
