//! Expected strings come from wireguard-tools' own functions: `pretty_time`, `bytes` and glibc
//! `inet_ntop` compiled from `show.c` and run (glibc 2.36), and `wg show` / `wg showconf`
//! v1.0.20210914 on the same UAPI answers.

use super::*;
use wgrs_uapi::reply::parse_get;

/// Strip colours, for readable expectations.
fn plain(s: &str) -> String {
    strip_ansi(s).to_string()
}

#[test]
fn pretty_time_matches_show_c() {
    let cases: [(u64, &str); 17] = [
        (1, "1 second"),
        (2, "2 seconds"),
        (59, "59 seconds"),
        (60, "1 minute"),
        (61, "1 minute, 1 second"),
        (3599, "59 minutes, 59 seconds"),
        (3600, "1 hour"),
        (3661, "1 hour, 1 minute, 1 second"),
        (86399, "23 hours, 59 minutes, 59 seconds"),
        (86400, "1 day"),
        (90061, "1 day, 1 hour, 1 minute, 1 second"),
        (31_535_999, "364 days, 23 hours, 59 minutes, 59 seconds"),
        (31_536_000, "1 year"),
        (31_536_001, "1 year, 1 second"),
        (63_158_401, "2 years, 1 day, 1 second"),
        (
            1_234_567_890,
            "39 years, 53 days, 23 hours, 31 minutes, 30 seconds",
        ),
        (u64::MAX, "584942417355 years, 26 days, 7 hours, 15 seconds"),
    ];
    for (secs, want) in cases {
        assert_eq!(plain(&pretty_time(secs)), want, "{secs}");
    }
    assert_eq!(pretty_time(0), "");
    assert_eq!(
        pretty_time(61),
        "1 \x1b[36mminute\x1b[0m, 1 \x1b[36msecond\x1b[0m"
    );
}

#[test]
fn ago_and_every_match_show_c() {
    let at = |sec| Timespec { sec, nsec: 5 };
    assert_eq!(ago(&at(1000), 1000), "Now");
    assert_eq!(plain(&ago(&at(1000), 1001)), "1 second ago");
    assert_eq!(
        plain(&ago(&at(1000), 1000 + 3725)),
        "1 hour, 2 minutes, 5 seconds ago"
    );
    assert_eq!(
        ago(&at(1001), 1000),
        "(\x1b[31mSystem clock wound backward; connection problems may ensue.\x1b[0m)"
    );
    assert_eq!(plain(&every(25)), "every 25 seconds");
    assert_eq!(plain(&every(1)), "every 1 second");
    assert_eq!(
        plain(&every(65535)),
        "every 18 hours, 12 minutes, 15 seconds"
    );
}

#[test]
fn bytes_matches_show_c() {
    let cases: [(u64, &str); 22] = [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.00 KiB"),
        (1025, "1.00 KiB"),
        // 1.0625 exactly: printf rounds the tie to even.
        (1088, "1.06 KiB"),
        (1029, "1.00 KiB"),
        (1535, "1.50 KiB"),
        (1536, "1.50 KiB"),
        (10240, "10.00 KiB"),
        (1_048_575, "1024.00 KiB"),
        (1_048_576, "1.00 MiB"),
        (1_073_741_823, "1024.00 MiB"),
        (1_073_741_824, "1.00 GiB"),
        (1_099_511_627_775, "1024.00 GiB"),
        (1_099_511_627_776, "1.00 TiB"),
        (5_000_000_000_000, "4.55 TiB"),
        (9_007_199_254_740_993, "8192.00 TiB"),
        (u64::MAX, "16777216.00 TiB"),
        (1_053_819, "1.01 MiB"),
        (123_456_789, "117.74 MiB"),
        (5_497_558_528, "5.12 GiB"),
    ];
    for (b, want) in cases {
        assert_eq!(plain(&bytes(b)), want, "{b}");
    }
    assert_eq!(bytes(1088), "1.06 \x1b[36mKiB\x1b[0m");
}

#[test]
fn ntop_matches_glibc() {
    let cases = [
        ("::", "::"),
        ("::1", "::1"),
        ("::1.2.3.4", "::1.2.3.4"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("::ffff:0.0.0.0", "::ffff:0.0.0.0"),
        ("1::", "1::"),
        ("1:0:0:1::1", "1:0:0:1::1"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
        ("2001:db8::ff00:42:8329", "2001:db8::ff00:42:8329"),
        ("fe80::1", "fe80::1"),
        ("0:0:0:0:0:1:0:0", "::1:0:0"),
        ("::0.0.1.0", "::100"),
        ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
        ("::fffe:1.2.3.4", "::fffe:102:304"),
        ("0:0:0:0:1:ffff:1.2.3.4", "::1:ffff:102:304"),
        ("10.0.0.1", "10.0.0.1"),
    ];
    for (input, want) in cases {
        let ip: IpAddr = input.parse().unwrap();
        assert_eq!(ntop(&ip), want, "{input}");
    }
}

fn ts(sec: i64, nsec: i64) -> Timespec {
    Timespec { sec, nsec }
}

#[test]
fn peers_sort_newest_handshake_first_and_stably() {
    let times = [
        ts(0, 0),
        ts(10, 5),
        ts(10, 7),
        ts(0, 0),
        ts(20, 0),
        ts(0, 1),
    ];
    let peers: Vec<Peer> = times
        .iter()
        .enumerate()
        .map(|(i, &t)| Peer {
            public_key: PublicKey([u8::try_from(i).unwrap(); KEY_LEN]),
            last_handshake: t,
            ..Peer::default()
        })
        .collect();
    let order: Vec<u8> = sorted_peers(&peers)
        .iter()
        .map(|p| p.public_key.0[0])
        .collect();
    // (0, 1) has a handshake as far as peer_cmp goes: only an all-zero time sorts last.
    assert_eq!(order, [4, 2, 1, 5, 0, 3]);
    assert_eq!(peer_cmp(&ts(0, 0), &ts(0, 0)), Ordering::Equal);
    assert_eq!(peer_cmp(&ts(5, 1), &ts(5, 1)), Ordering::Equal);
    assert_eq!(peer_cmp(&ts(0, 0), &ts(1, 0)), Ordering::Greater);
}

#[test]
fn strip_ansi_removes_sequences_like_filter_ansi() {
    assert_eq!(plain("\x1b[0m\x1b[32m\x1b[1mx\x1b[0m: y"), "x: y");
    assert_eq!(plain("a\x1b[1;31mb"), "ab");
    // wg's loop stops two bytes before the end: a trailing `ESC [` stays.
    assert_eq!(plain("a\x1b["), "a\x1b[");
    assert_eq!(plain("no codes"), "no codes");
}

const PRIV_HEX: &str = "48b345a644c478fc6f3d7ff4ee07b44504ba54101bb65928e94dd9516dfc7c61";
const PUB1_HEX: &str = "2a60e56de4d709ab7167370aa7979d8e57b904e314b3e9d1ff3b3c0c32ee5a47";
const PUB2_HEX: &str = "38a1ca4bd4e7fd4d40c63c2ab8d9d9400da5168f38c425bae203690bf41f0e2e";
const PSK_HEX: &str = "50e6fc7f1cf90681d20c8501fd9574f04d5aa8a8b195985902d6a9dd6a1c0777";

/// Two peers as wireguard-go answers `get=1`: the first without a handshake, the second with.
fn reply() -> String {
    format!(
        "private_key={PRIV_HEX}\nlisten_port=51820\nfwmark=52\n\
         public_key={PUB1_HEX}\npreshared_key={PSK_HEX}\nprotocol_version=1\n\
         endpoint=[2001:db8::1]:12345\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n\
         tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n\
         public_key={PUB2_HEX}\npreshared_key={}\nprotocol_version=1\n\
         endpoint=192.0.2.7:51821\nlast_handshake_time_sec=1700000000\n\
         last_handshake_time_nsec=123\ntx_bytes=1088\nrx_bytes=148\n\
         persistent_keepalive_interval=25\nallowed_ip=10.0.0.2/32\nallowed_ip=::1.2.3.4/128\n\
         allowed_ip=fd00::/64\nerrno=0\n\n",
        "0".repeat(64)
    )
}

const PUB: &str = "gA41ZkCIcxRl0bvH7F2ZezpUfXeiUyQHz8OZywCDig0=";
const PRIV: &str = "SLNFpkTEePxvPX/07ge0RQS6VBAbtlko6U3ZUW38fGE=";
const PUB1: &str = "KmDlbeTXCatxZzcKp5edjle5BOMUs+nR/zs8DDLuWkc=";
const PUB2: &str = "OKHKS9Tn/U1AxjwquNnZQA2lFo84xCW64gNpC/QfDi4=";
const PSK: &str = "UOb8fxz5BoHSDIUB/ZV08E1aqKixlZhZAtap3WocB3c=";

#[test]
fn pretty_prints_sorted_peers_and_hides_keys() {
    let dev = parse_get("wg0", reply().as_bytes()).unwrap();
    let want = format!(
        "interface: wg0\n  public key: {PUB}\n  private key: (hidden)\n  listening port: 51820\n  \
         fwmark: 0x34\n\npeer: {PUB2}\n  endpoint: 192.0.2.7:51821\n  allowed ips: 10.0.0.2/32, \
         ::1.2.3.4/128, fd00::/64\n  latest handshake: 1 minute, 40 seconds ago\n  transfer: 148 \
         B received, 1.06 KiB sent\n  persistent keepalive: every 25 seconds\n\npeer: {PUB1}\n  \
         preshared key: (hidden)\n  endpoint: [2001:db8::1]:12345\n  allowed ips: (none)\n"
    );
    assert_eq!(*strip_ansi(&pretty(&dev, 1_700_000_100, false)), want);
    let shown = plain(&pretty(&dev, 1_700_000_100, true));
    assert!(shown.contains(&format!("  private key: {PRIV}\n")));
    assert!(shown.contains(&format!("  preshared key: {PSK}\n")));
}

#[test]
fn pretty_colours_are_wgs() {
    let dev = parse_get("wg0", b"listen_port=1\npublic_key=2a60e56de4d709ab7167370aa7979d8e57b904e314b3e9d1ff3b3c0c32ee5a47\nallowed_ip=10.0.0.0/8\nerrno=0\n\n").unwrap();
    let want = format!(
        "\x1b[0m\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mwg0\x1b[0m\n  \x1b[1mlistening port\x1b[0m: \
         1\n\n\x1b[33m\x1b[1mpeer\x1b[0m: \x1b[33m{PUB1}\x1b[0m\n  \x1b[1mallowed ips\x1b[0m: \
         10.0.0.0\x1b[36m/\x1b[0m8\n"
    );
    assert_eq!(*pretty(&dev, 0, false), want);
}

#[test]
fn dump_and_params_keep_the_daemons_order() {
    let dev = parse_get("wg0", reply().as_bytes()).unwrap();
    let want = format!(
        "{PRIV}\t{PUB}\t51820\t0x34\n\
         {PUB1}\t{PSK}\t[2001:db8::1]:12345\t(none)\t0\t0\t0\toff\n\
         {PUB2}\t(none)\t192.0.2.7:51821\t10.0.0.2/32,::1.2.3.4/128,fd00::/64\t1700000000\t148\t\
         1088\t25\n"
    );
    assert_eq!(*ugly(&dev, "dump", false).unwrap(), want);
    let with_name: String = want.lines().map(|l| format!("wg0\t{l}\n")).collect();
    assert_eq!(*ugly(&dev, "dump", true).unwrap(), with_name);
    let table = [
        ("public-key", format!("{PUB}\n")),
        ("private-key", format!("{PRIV}\n")),
        ("listen-port", "51820\n".to_owned()),
        ("fwmark", "0x34\n".to_owned()),
        ("peers", format!("{PUB1}\n{PUB2}\n")),
        ("preshared-keys", format!("{PUB1}\t{PSK}\n{PUB2}\t(none)\n")),
        (
            "endpoints",
            format!("{PUB1}\t[2001:db8::1]:12345\n{PUB2}\t192.0.2.7:51821\n"),
        ),
        (
            "allowed-ips",
            format!("{PUB1}\t(none)\n{PUB2}\t10.0.0.2/32 ::1.2.3.4/128 fd00::/64\n"),
        ),
        (
            "latest-handshakes",
            format!("{PUB1}\t0\n{PUB2}\t1700000000\n"),
        ),
        ("transfer", format!("{PUB1}\t0\t0\n{PUB2}\t148\t1088\n")),
        ("persistent-keepalive", format!("{PUB1}\toff\n{PUB2}\t25\n")),
    ];
    for (param, want) in table {
        assert_eq!(*ugly(&dev, param, false).unwrap(), want, "{param}");
    }
    assert!(ugly(&dev, "bogus", false).is_none());
    // v1.0.20210914 prefixes only the first endpoint line with the interface.
    assert_eq!(
        *ugly(&dev, "endpoints", true).unwrap(),
        format!("wg0\t{PUB1}\t[2001:db8::1]:12345\n{PUB2}\t192.0.2.7:51821\n")
    );
    let empty = parse_get("wg1", b"errno=0\n\n").unwrap();
    assert_eq!(*ugly(&empty, "endpoints", true).unwrap(), "wg1\t");
    assert_eq!(*ugly(&empty, "peers", true).unwrap(), "");
    assert_eq!(
        *ugly(&empty, "dump", true).unwrap(),
        "wg1\t(none)\t(none)\t0\toff\n"
    );
}

#[test]
fn showconf_prints_keys_in_full() {
    let dev = parse_get("wg0", reply().as_bytes()).unwrap();
    let want = format!(
        "[Interface]\nListenPort = 51820\nFwMark = 0x34\nPrivateKey = {PRIV}\n\n\
         [Peer]\nPublicKey = {PUB1}\nPresharedKey = {PSK}\nEndpoint = [2001:db8::1]:12345\n\n\
         [Peer]\nPublicKey = {PUB2}\nAllowedIPs = 10.0.0.2/32, ::1.2.3.4/128, fd00::/64\n\
         Endpoint = 192.0.2.7:51821\nPersistentKeepalive = 25\n"
    );
    assert_eq!(*showconf(&dev), want);
    let empty = parse_get("wg1", b"errno=0\n\n").unwrap();
    assert_eq!(*showconf(&empty), "[Interface]\n\n");
}
