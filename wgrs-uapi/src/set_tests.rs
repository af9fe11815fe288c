//! `parse_set` tables: every key, every rejection with its errno.

use super::*;
use crate::{ERRNO_INVALID, ERRNO_IO, ERRNO_PROTOCOL};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV6};

const PK1: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const PK2: &str = "0202020202020202020202020202020202020202020202020202020202020202";
const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const SK_HEX: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";

fn net(s: &str) -> IpNet {
    s.parse().expect("test prefix")
}

fn peer(body: &str) -> PeerSet {
    let req = parse_set(&format!("public_key={PK1}\n{body}")).expect("valid");
    req.peers.into_iter().next().expect("one peer")
}

#[test]
fn device_keys() {
    let req = parse_set(&format!(
        "private_key={SK_HEX}\nlisten_port=51820\nfwmark=4294967295\nreplace_peers=true\n"
    ))
    .expect("valid");
    let sk = req.private_key.clone().flatten().expect("key set");
    assert_eq!(
        sk.as_bytes(),
        PrivateKey::from_hex(SK_HEX).expect("hex").as_bytes()
    );
    assert_eq!(req.listen_port, Some(51820));
    assert_eq!(req.fwmark, Some(u32::MAX));
    assert!(req.replace_peers);
    assert!(req.peers.is_empty());

    let req = parse_set("fwmark=0\nlisten_port=0\n").expect("valid");
    assert_eq!(
        (req.fwmark, req.listen_port, req.private_key),
        (Some(0), Some(0), None)
    );
}

#[test]
fn private_key_zero_clears_and_uppercase_is_accepted() {
    let req = parse_set(&format!("private_key={ZERO}\n")).expect("valid");
    assert_eq!(req.private_key, Some(None));
    let req = parse_set(&format!("private_key={}\n", SK_HEX.to_uppercase())).expect("valid");
    assert_eq!(
        req.private_key,
        Some(Some(PrivateKey::from_hex(SK_HEX).expect("hex")))
    );
}

#[test]
fn private_key_is_clamped() {
    let req = parse_set(&format!("private_key={}\n", "ff".repeat(32))).expect("valid");
    let key = req.private_key.flatten().expect("set");
    assert_eq!(key.as_bytes()[0], 0xf8);
    assert_eq!(key.as_bytes()[31], 0x7f);
}

#[test]
fn peer_keys() {
    let p = peer(&format!(
        "update_only=true\npreshared_key={PK2}\nendpoint=[::1]:51820\n\
         persistent_keepalive_interval=25\nprotocol_version=1\nallowed_ip=10.0.0.1/24\n\
         allowed_ip=-fd00::/64\nremove=true\n"
    ));
    assert_eq!(p.public_key, PublicKey([1; 32]));
    assert!(p.update_only && p.remove && !p.replace_allowed_ips);
    assert_eq!(p.preshared_key, Some(PresharedKey::from_bytes([2; 32])));
    let v6 = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 51820, 0, 0));
    assert_eq!(p.endpoint, Some(v6));
    assert_eq!(p.persistent_keepalive_interval, Some(25));
    let want = vec![
        AllowedIpChange::Add(net("10.0.0.0/24")),
        AllowedIpChange::Remove(net("fd00::/64")),
    ];
    assert_eq!(p.allowed_ips, want);
}

#[test]
fn ipv4_endpoint_and_psk_zero() {
    let p = peer(&format!("endpoint=1.2.3.4:51820\npreshared_key={ZERO}\n"));
    assert_eq!(
        p.endpoint,
        Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)),
            51820
        ))
    );
    assert!(p.preshared_key.expect("set").is_zero());
}

#[test]
fn replace_allowed_ips_drops_earlier_changes() {
    let p = peer("allowed_ip=10.0.0.0/8\nreplace_allowed_ips=true\nallowed_ip=10.1.0.0/16\n");
    assert!(p.replace_allowed_ips);
    assert_eq!(
        p.allowed_ips,
        vec![AllowedIpChange::Add(net("10.1.0.0/16"))]
    );
}

#[test]
fn sections_in_order_and_device_keys_only_before_peers() {
    let req = parse_set(&format!(
        "listen_port=1\npublic_key={PK1}\nallowed_ip=10.0.0.1/32\npublic_key={PK2}\npublic_key={PK1}\n"
    ))
    .expect("valid");
    let keys: Vec<[u8; 32]> = req.peers.iter().map(|p| p.public_key.0).collect();
    assert_eq!(keys, vec![[1; 32], [2; 32], [1; 32]]);
    assert_eq!(req.peers[0].allowed_ips.len(), 1);
    assert!(req.peers[2].allowed_ips.is_empty());
}

#[test]
fn end_of_request() {
    // CRLF lines; a blank line (also "\r") ends the request, the rest is not parsed.
    let req = parse_set("listen_port=1\r\n\r\nbogus\n").expect("valid");
    assert_eq!(req.listen_port, Some(1));
    let req = parse_set("listen_port=2\n\nlisten_port=x\n").expect("valid");
    assert_eq!(req.listen_port, Some(2));
    // No blank line at all (EOF) and no final newline: still complete.
    assert_eq!(
        parse_set("listen_port=3").expect("valid").listen_port,
        Some(3)
    );
    assert_eq!(parse_set("").expect("valid"), SetRequest::default());
    // A lone "\r" before the '=' is part of the key, not a line end.
    assert_eq!(
        parse_set("listen\r_port=1\n").map_err(|e| e.errno),
        Err(ERRNO_INVALID)
    );
}

fn expect_errno(text: &str, errno: i32) {
    let got = parse_set(text).map_err(|e| e.errno);
    assert_eq!(got, Err(errno), "{:?}", text.get(..80).unwrap_or(text));
}

#[test]
fn device_level_rejections() {
    let table: &[(&str, i32)] = &[
        // No '=' at all.
        ("listen_port\n", ERRNO_PROTOCOL),
        ("garbage", ERRNO_PROTOCOL),
        // Unknown keys (exact, case-sensitive, no trimming), peer keys before any peer.
        ("foo=bar\n", ERRNO_INVALID),
        ("=\n", ERRNO_INVALID),
        ("Listen_port=1\n", ERRNO_INVALID),
        ("listen_port =1\n", ERRNO_INVALID),
        ("endpoint=1.2.3.4:1\n", ERRNO_INVALID),
        ("protocol_version=1\n", ERRNO_INVALID),
        ("errno=0\n", ERRNO_INVALID),
        // Numbers: Go ParseUint, no wrap-around.
        ("private_key=\n", ERRNO_INVALID),
        ("listen_port=\n", ERRNO_INVALID),
        ("listen_port=65536\n", ERRNO_INVALID),
        ("listen_port=70000\n", ERRNO_INVALID),
        ("listen_port=-1\n", ERRNO_INVALID),
        ("listen_port=+1\n", ERRNO_INVALID),
        ("listen_port= 1\n", ERRNO_INVALID),
        ("fwmark=\n", ERRNO_INVALID),
        ("fwmark=4294967296\n", ERRNO_INVALID),
        ("fwmark=0x10\n", ERRNO_INVALID),
        // Flags accept exactly "true".
        ("replace_peers=false\n", ERRNO_INVALID),
        ("replace_peers=\n", ERRNO_INVALID),
        ("replace_peers=TRUE\n", ERRNO_INVALID),
        // The first bad line decides.
        ("foo=1\nbar\n", ERRNO_INVALID),
        ("bar\nfoo=1\n", ERRNO_PROTOCOL),
    ];
    for &(text, errno) in table {
        expect_errno(text, errno);
    }
}

#[test]
fn peer_level_rejections() {
    // Each line follows a valid `public_key=` line.
    let table: &[(&str, i32)] = &[
        ("remove", ERRNO_PROTOCOL),
        // Unknown peer keys; device keys inside a peer section; get-only keys.
        ("foo=bar", ERRNO_INVALID),
        ("listen_port=1", ERRNO_INVALID),
        ("replace_peers=true", ERRNO_INVALID),
        ("last_handshake_time_sec=0", ERRNO_INVALID),
        ("last_handshake_time_nsec=0", ERRNO_INVALID),
        ("tx_bytes=0", ERRNO_INVALID),
        ("rx_bytes=0", ERRNO_INVALID),
        ("preshared_key=xyz", ERRNO_INVALID),
        ("preshared_key=", ERRNO_INVALID),
        ("persistent_keepalive_interval=65536", ERRNO_INVALID),
        ("persistent_keepalive_interval=", ERRNO_INVALID),
        ("remove=false", ERRNO_INVALID),
        ("update_only=1", ERRNO_INVALID),
        ("replace_allowed_ips=yes", ERRNO_INVALID),
        // Endpoints: hostnames are not resolved.
        ("endpoint=example.com:51820", ERRNO_INVALID),
        ("endpoint=1.2.3.4", ERRNO_INVALID),
        ("endpoint=::1:51820", ERRNO_INVALID),
        ("endpoint=", ERRNO_INVALID),
        // Allowed IPs.
        ("allowed_ip=10.0.0.0/33", ERRNO_INVALID),
        ("allowed_ip=10.0.0.1", ERRNO_INVALID),
        ("allowed_ip=", ERRNO_INVALID),
        ("allowed_ip=-", ERRNO_INVALID),
        ("allowed_ip=--10.0.0.0/8", ERRNO_INVALID),
        ("allowed_ip=+10.0.0.0/8", ERRNO_INVALID),
        // Protocol version: only "1".
        ("protocol_version=2", ERRNO_INVALID),
        ("protocol_version=", ERRNO_INVALID),
        ("protocol_version=01", ERRNO_INVALID),
    ];
    for &(line, errno) in table {
        expect_errno(&format!("public_key={PK1}\n{line}\n"), errno);
    }
}

#[test]
fn bad_hex_keys() {
    for text in [
        format!("private_key={}\n", &SK_HEX[1..]),
        format!("private_key={SK_HEX}00\n"),
        format!("private_key=g{}\n", &SK_HEX[1..]),
        "public_key=\n".to_owned(),
        format!("public_key={}\n", &PK1[2..]),
        format!("public_key= {}\n", &PK1[1..]),
        format!("public_key={PK1}\nprivate_key={SK_HEX}\n"),
    ] {
        expect_errno(&text, ERRNO_INVALID);
    }
}

#[test]
fn long_lines_are_io_errors_in_order() {
    let long_value = "1".repeat(MAX_LINE_LEN);
    expect_errno(&format!("listen_port={}\n", "1".repeat(1 << 20)), ERRNO_IO);
    expect_errno(&format!("x={long_value}\n"), ERRNO_IO);
    expect_errno(
        &format!("listen_port=1\npublic_key={PK1}\nx={long_value}"),
        ERRNO_IO,
    );
    // An earlier bad line answers first.
    expect_errno(&format!("foo\nx={long_value}\n"), ERRNO_PROTOCOL);
    expect_errno(&format!("foo=1\nx={long_value}\n"), ERRNO_INVALID);
}

#[test]
fn line_length_limit_is_exact() {
    // 64 KiB - 1 bytes before '\n' still fit wireguard-go's scanner buffer (with the '\n').
    let pad = MAX_LINE_LEN - "listen_port=".len() - 1;
    let ok = format!("listen_port={}1\n", "0".repeat(pad));
    assert_eq!(parse_set(&ok).expect("fits").listen_port, Some(1));
    let too_long = format!("listen_port={}1\n", "0".repeat(pad + 1));
    assert_eq!(parse_set(&too_long).map_err(|e| e.errno), Err(ERRNO_IO));
    // A '\r' counts toward the limit.
    let cr = format!("listen_port={}1\r\n", "0".repeat(pad));
    assert_eq!(parse_set(&cr).map_err(|e| e.errno), Err(ERRNO_IO));
}

#[test]
fn non_utf8_bytes_are_invalid_not_panics() {
    let mut text = b"public_key=".to_vec();
    text.extend_from_slice(&[0xff; 64]);
    assert_eq!(
        parse_set_bytes(&text).map_err(|e| e.errno),
        Err(ERRNO_INVALID)
    );
    assert_eq!(
        parse_set_bytes(b"\xff\xfe").map_err(|e| e.errno),
        Err(ERRNO_PROTOCOL)
    );
    assert_eq!(
        parse_set_bytes(b"\xff=1").map_err(|e| e.errno),
        Err(ERRNO_INVALID)
    );
}

#[test]
fn debug_and_errors_never_show_secrets() {
    let req = parse_set(&format!(
        "private_key={SK_HEX}\npublic_key={PK1}\npreshared_key={PK2}\n"
    ))
    .expect("valid");
    let dbg = format!("{req:?}");
    assert!(
        !dbg.contains(&SK_HEX[..16]) && !dbg.contains(&PK2[..16]),
        "{dbg}"
    );
    let sk = PrivateKey::from_hex(SK_HEX).expect("hex");
    assert!(!dbg.contains(&sk.to_base64()[..16]));
    assert!(dbg.contains("hidden"));
    let bad = format!("private_key={}zz\n", &SK_HEX[..62]);
    let err = parse_set(&bad).expect_err("bad hex");
    assert!(!err.message.contains(&SK_HEX[..16]), "{}", err.message);
    assert!(err.message.contains("line 1") && err.message.contains("private_key"));
}

#[test]
fn error_messages_name_line_and_key() {
    let err = parse_set(&format!("listen_port=1\npublic_key={PK1}\nwhat=1\n")).expect_err("bad");
    assert!(
        err.message.contains("line 3") && err.message.contains("what"),
        "{}",
        err.message
    );
    let err = parse_set(&format!("x={}\n", "y".repeat(1000))).expect_err("bad");
    assert!(err.message.len() < 200, "{}", err.message);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(s in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_set_bytes(&s);
        }

    }
}
