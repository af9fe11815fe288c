//! `format_get`: exact expected text, key order as wireguard-go prints it.

use super::*;

/// [1; 32] clamped: first byte 0x01 & 248 = 0x00, last (0x01 & 127) | 64 = 0x41.
const SK1_HEX: &str = "0001010101010101010101010101010101010101010101010101010101010141";
const ZERO_HEX: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn net(s: &str) -> IpNet {
    s.parse().expect("test prefix")
}

#[test]
fn empty_device_prints_only_errno() {
    let view = DeviceView {
        private_key: None,
        listen_port: 0,
        fwmark: 0,
        peers: vec![],
    };
    assert_eq!(format_get(&view).as_str(), "errno=0\n\n");
}

#[test]
fn device_keys_no_peers() {
    let sk = PrivateKey::from_bytes([1; 32]);
    let view = DeviceView {
        private_key: Some(&sk),
        listen_port: 51820,
        fwmark: 4660,
        peers: vec![],
    };
    let want = format!("private_key={SK1_HEX}\nlisten_port=51820\nfwmark=4660\nerrno=0\n\n");
    assert_eq!(format_get(&view).as_str(), want);
}

fn bare_peer(psk: &PresharedKey) -> PeerView<'_> {
    PeerView {
        public_key: PublicKey([0xaa; 32]),
        preshared_key: psk,
        endpoint: None,
        last_handshake: None,
        tx_bytes: 0,
        rx_bytes: 0,
        persistent_keepalive_interval: 0,
        allowed_ips: vec![],
    }
}

#[test]
fn one_peer_without_endpoint_psk_or_handshake() {
    let psk = PresharedKey::default();
    let view = DeviceView {
        private_key: None,
        listen_port: 0,
        fwmark: 0,
        peers: vec![bare_peer(&psk)],
    };
    let want = format!(
        "public_key={}\npreshared_key={ZERO_HEX}\nprotocol_version=1\n\
         last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n\
         persistent_keepalive_interval=0\nerrno=0\n\n",
        "aa".repeat(32)
    );
    assert_eq!(format_get(&view).as_str(), want);
}

#[test]
fn two_peers_full() {
    let sk = PrivateKey::from_bytes([1; 32]);
    let zero = PresharedKey::default();
    let psk = PresharedKey::from_bytes([0x11; 32]);
    let second = PeerView {
        public_key: PublicKey([0xbb; 32]),
        preshared_key: &psk,
        endpoint: Some("[fe80::1%3]:51820".parse().expect("addr")),
        last_handshake: Some(Duration::new(1_700_000_000, 123_456_789)),
        tx_bytes: 1234,
        rx_bytes: 18_446_744_073_709_551_615,
        persistent_keepalive_interval: 25,
        allowed_ips: vec![
            net("10.0.0.1/24"),
            net("fd00::/64"),
            net("::ffff:1.2.3.0/120"),
        ],
    };
    let mut first = bare_peer(&zero);
    first.endpoint = Some("192.0.2.1:51820".parse().expect("addr"));
    first.allowed_ips = vec![net("0.0.0.0/0")];
    let view = DeviceView {
        private_key: Some(&sk),
        listen_port: 1,
        fwmark: 0,
        peers: vec![first, second],
    };
    let want = format!(
        "private_key={SK1_HEX}\nlisten_port=1\n\
         public_key={aa}\npreshared_key={ZERO_HEX}\nprotocol_version=1\nendpoint=192.0.2.1:51820\n\
         last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n\
         persistent_keepalive_interval=0\nallowed_ip=0.0.0.0/0\n\
         public_key={bb}\npreshared_key={psk}\nprotocol_version=1\nendpoint=[fe80::1%3]:51820\n\
         last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=123456789\ntx_bytes=1234\n\
         rx_bytes=18446744073709551615\npersistent_keepalive_interval=25\n\
         allowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\nallowed_ip=::ffff:1.2.3.0/120\n\
         errno=0\n\n",
        aa = "aa".repeat(32),
        bb = "bb".repeat(32),
        psk = "11".repeat(32),
    );
    assert_eq!(format_get(&view).as_str(), want);
}

#[test]
fn errno_line() {
    assert_eq!(format_errno(0), "errno=0\n\n");
    assert_eq!(format_errno(-22), "errno=-22\n\n");
}

#[test]
fn view_debug_hides_keys() {
    let sk = PrivateKey::from_bytes([1; 32]);
    let psk = PresharedKey::from_bytes([0x11; 32]);
    let view = DeviceView {
        private_key: Some(&sk),
        listen_port: 0,
        fwmark: 0,
        peers: vec![bare_peer(&psk)],
    };
    let dbg = format!("{view:?}");
    assert!(
        !dbg.contains("0101010101") && !dbg.contains("1111111111"),
        "{dbg}"
    );
}
