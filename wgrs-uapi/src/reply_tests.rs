//! The answers below were also served from a fake UAPI socket to Debian's `wg` v1.0.20210914:
//! where these tests expect `EPROTO` or an errno, `wg show` failed with the same text.

use super::*;

const K1: &str = "2a60e56de4d709ab7167370aa7979d8e57b904e314b3e9d1ff3b3c0c32ee5a47";
const PRIV: &str = "48b345a644c478fc6f3d7ff4ee07b44504ba54101bb65928e94dd9516dfc7c61";

fn parse(text: &str) -> Result<Device, i32> {
    parse_get("wg0", text.as_bytes())
}

fn peer(lines: &str) -> Result<Peer, i32> {
    let mut dev = parse(&format!("public_key={K1}\n{lines}errno=0\n\n"))?;
    Ok(dev.peers.remove(0))
}

#[test]
fn reads_interface_and_peer_statistics() {
    let dev = parse(&format!(
        "private_key={PRIV}\nlisten_port=51820\nfwmark=4294967295\npublic_key={K1}\n\
         preshared_key={K1}\nprotocol_version=1\nendpoint=192.0.2.1:51820\n\
         last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=999999999\n\
         tx_bytes=148\nrx_bytes=92\npersistent_keepalive_interval=25\n\
         allowed_ip=10.0.0.0/8\nallowed_ip=fd00::/64\nerrno=0\n\n"
    ))
    .unwrap();
    assert_eq!(dev.name, "wg0");
    assert_eq!(dev.private_key.as_ref().unwrap().as_bytes()[0], 0x48);
    // wg derives the public key from the private one.
    let public = dev.public_key.unwrap();
    assert_eq!(
        public.to_base64(),
        "gA41ZkCIcxRl0bvH7F2ZezpUfXeiUyQHz8OZywCDig0="
    );
    assert_eq!((dev.listen_port, dev.fwmark), (51820, u32::MAX));
    let p = &dev.peers[0];
    assert_eq!(p.public_key.0[..2], [0x2a, 0x60]);
    assert!(p.preshared_key.is_some());
    assert_eq!(
        p.endpoint,
        Some(Endpoint {
            ip: "192.0.2.1".parse().unwrap(),
            port: 51820,
            scope: None
        })
    );
    assert_eq!(
        p.last_handshake,
        Timespec {
            sec: 1_700_000_000,
            nsec: 999_999_999
        }
    );
    assert_eq!((p.tx_bytes, p.rx_bytes), (148, 92));
    assert_eq!(p.persistent_keepalive_interval, 25);
    assert_eq!(p.allowed_ips.len(), 2);
    assert_eq!(p.allowed_ips[1].cidr, 64);
    assert_eq!(format!("{:?}", dev.private_key), "Some((hidden))");
}

#[test]
fn errno_decides_and_must_come_before_the_blank_line() {
    assert_eq!(parse("errno=0\n\n").map(|d| d.peers.len()), Ok(0));
    assert_eq!(parse("errno=5\n\n").err(), Some(5));
    // wireguard-go's negative errnos are not numbers to wg.
    assert_eq!(parse("errno=-22\n\n").err(), Some(libc::EPROTO));
    assert_eq!(parse("listen_port=1\n\n").err(), Some(libc::EPROTO));
    assert_eq!(parse("errno=0\n").err(), Some(libc::EPROTO));
    assert_eq!(parse("errno=0").err(), Some(libc::EPROTO));
    assert_eq!(parse("").err(), Some(libc::EPROTO));
    // The last errno line counts.
    assert_eq!(parse("errno=3\nerrno=0\n\n").map(|_| ()), Ok(()));
    // Nothing after the blank line is read.
    assert!(parse("errno=0\n\ngarbage\n").is_ok());
}

#[test]
fn malformed_lines_fail_the_whole_answer() {
    for bad in [
        "garbage\n",
        "listen_port=65536\n",
        "listen_port=\n",
        "listen_port=+1\n",
        "listen_port= 1\n",
        "fwmark=4294967296\n",
        "private_key=00\n",
        "public_key=zz\n",
        "errno=2147483648\n",
    ] {
        assert_eq!(
            parse(&format!("{bad}errno=0\n\n")).err(),
            Some(libc::EPROTO),
            "{bad}"
        );
    }
    for bad in [
        "preshared_key=123\n",
        "endpoint=1.2.3.4\n",
        "endpoint=1.2.3.4:\n",
        "endpoint=[::1]51820\n",
        "endpoint=[::1\n",
        "endpoint=\n",
        "allowed_ip=10.0.0.1\n",
        "allowed_ip=10.0.0.0/33\n",
        "allowed_ip=::/129\n",
        "allowed_ip=10.0.0.0/x\n",
        "allowed_ip=10.0.0.0/8x\n",
        "allowed_ip=010.0.0.0/8\n",
        "persistent_keepalive_interval=65536\n",
        "last_handshake_time_sec=9223372036854775808\n",
        "rx_bytes=-1\n",
    ] {
        assert_eq!(peer(bad).err(), Some(libc::EPROTO), "{bad}");
    }
}

#[test]
fn keys_count_only_where_wg_reads_them() {
    // Interface keys after the first peer and peer keys before it are ignored, as are
    // unknown keys.
    let dev = parse(&format!(
        "rx_bytes=9\npreshared_key=zz\nendpoint=x\nunknown=1\npublic_key={K1}\n\
         private_key={PRIV}\nlisten_port=7\nfwmark=bad\nprotocol_version=1\nerrno=0\n\n"
    ))
    .unwrap();
    assert!(dev.private_key.is_none() && dev.public_key.is_none());
    assert_eq!((dev.listen_port, dev.fwmark, dev.peers.len()), (0, 0, 1));
    assert_eq!(dev.peers[0].rx_bytes, 0);
}

#[test]
fn numbers_saturate_like_strtoull() {
    let p = peer("rx_bytes=99999999999999999999999\ntx_bytes=18446744073709551615\n").unwrap();
    assert_eq!((p.rx_bytes, p.tx_bytes), (u64::MAX, u64::MAX));
    let p = peer("last_handshake_time_sec=9223372036854775807\n").unwrap();
    assert_eq!(p.last_handshake.sec, i64::MAX);
    let p = peer("persistent_keepalive_interval=00025\n").unwrap();
    assert_eq!(p.persistent_keepalive_interval, 25);
}

#[test]
fn a_zero_preshared_key_is_none() {
    let zero = "0".repeat(64);
    assert!(peer(&format!("preshared_key={zero}\n"))
        .unwrap()
        .preshared_key
        .is_none());
    let upper = K1.to_uppercase();
    assert!(peer(&format!("preshared_key={upper}\n"))
        .unwrap()
        .preshared_key
        .is_some());
}

#[test]
fn endpoints_in_every_form_wireguard_go_prints() {
    let ep = |text: &str| {
        peer(&format!("endpoint={text}\n"))
            .unwrap()
            .endpoint
            .unwrap()
    };
    let v4 = ep("192.0.2.1:1");
    assert_eq!((v4.ip.to_string(), v4.port), ("192.0.2.1".to_owned(), 1));
    let v6 = ep("[2001:db8::1]:65535");
    assert_eq!(
        (v6.ip.to_string(), v6.port),
        ("2001:db8::1".to_owned(), 65535)
    );
    let zoned = ep("[fe80::1%eth0]:51820");
    assert_eq!(zoned.scope.as_deref(), Some("eth0"));
    // Brackets around IPv4 and bare IPv6 (split at the last colon) resolve too.
    assert!(ep("[192.0.2.1]:5").ip.is_ipv4());
    assert_eq!(ep("::1:51820").port, 51820);
    // getaddrinfo keeps the low 16 bits of the port.
    assert_eq!(ep("192.0.2.1:65537").port, 1);
}

#[test]
fn allowed_ips_keep_order_and_prefix_as_given() {
    let p = peer("allowed_ip=10.1.2.3/8\nallowed_ip=::/0\nallowed_ip=1.2.3.4/032\n").unwrap();
    let got: Vec<String> = p
        .allowed_ips
        .iter()
        .map(|a| format!("{}/{}", a.ip, a.cidr))
        .collect();
    assert_eq!(got, ["10.1.2.3/8", "::/0", "1.2.3.4/32"]);
}

#[test]
fn the_name_is_cut_to_fifteen_bytes() {
    let dev = parse_get("abcdefghijklmnopq", b"errno=0\n\n").unwrap();
    assert_eq!(dev.name, "abcdefghijklmno");
}

#[test]
fn lines_may_arrive_one_at_a_time() {
    let mut parser = Parser::new("wg0");
    assert!(parser.line(b"listen_port=9\n").is_none());
    assert!(parser.line(b"errno=0\n").is_none());
    let dev = parser.line(b"\n").unwrap().unwrap();
    assert_eq!(dev.listen_port, 9);
    let mut parser = Parser::new("wg0");
    assert_eq!(
        parser.line(b"no newline").map(|r| r.err()),
        Some(Some(libc::EPROTO))
    );
}
