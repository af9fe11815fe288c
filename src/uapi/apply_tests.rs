//! `apply_set`: effects in wireguard-go's order; a refused request changes nothing.

use super::*;
use crate::proto::device::Output;
use crate::proto::keys::PrivateKey;
use crate::uapi::{format_get, parse_set, ERRNO_PROTOCOL};
use ipnet::IpNet;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn hex(b: u8) -> String {
    format!("{b:02x}").repeat(32)
}

fn new_dev() -> Device {
    Device::new(Box::new(StdRng::seed_from_u64(7)))
}

fn set(dev: &mut Device, text: &str) -> Result<AppliedSet, i32> {
    let req = parse_set(text).map_err(|e| e.errno)?;
    apply_set(dev, req, Now::default()).map_err(|e| e.errno)
}

fn get(dev: &Device) -> String {
    format_get(&crate::uapi::device_view(dev, 0, 0))
        .as_str()
        .to_owned()
}

fn ips(dev: &Device, peer: u8) -> Vec<String> {
    let id = dev.peer_id(&PublicKey([peer; 32])).expect("peer exists");
    dev.allowed_ips_of(id)
        .iter()
        .map(IpNet::to_string)
        .collect()
}

fn peers(dev: &Device) -> Vec<u8> {
    dev.peers().map(|p| p.public_key().0[0]).collect()
}

/// A device with a key and peers 0xaa (10.0.0.0/24, 10.0.1.0/24) and 0xbb (10.0.2.0/24).
fn populated() -> Device {
    let mut dev = new_dev();
    let text = format!(
        "private_key={}\npublic_key={}\nendpoint=192.0.2.1:1\nallowed_ip=10.0.0.0/24\n\
         allowed_ip=10.0.1.0/24\npublic_key={}\nallowed_ip=10.0.2.0/24\n",
        hex(1),
        hex(0xaa),
        hex(0xbb)
    );
    set(&mut dev, &text).expect("setup");
    dev.drain_outputs().for_each(drop);
    dev
}

#[test]
fn refused_request_changes_nothing() {
    let mut dev = populated();
    let before = get(&dev);
    let bad = [
        // wireguard-go would have set the key, dropped all peers and created 0xcc first.
        format!(
            "private_key={}\nreplace_peers=true\npublic_key={}\nallowed_ip=10.0.0.0/8\nendpoint=nope\n",
            hex(2),
            hex(0xcc)
        ),
        format!("public_key={}\nremove=true\npublic_key={}\nallowed_ip=10.0.0.0/33\n", hex(0xaa), hex(0xbb)),
        format!("listen_port=1\npublic_key={}\nreplace_allowed_ips=true\nbogus\n", hex(0xaa)),
        format!("public_key={}\nallowed_ip=-10.0.0.0/24\nx={}\n", hex(0xaa), "1".repeat(MAX_LINE)),
    ];
    for text in &bad {
        assert!(set(&mut dev, text).is_err(), "{:?}", text.get(..60));
        assert_eq!(get(&dev), before);
        assert!(dev.poll_output().is_none());
    }
}

const MAX_LINE: usize = crate::uapi::MAX_LINE_LEN;

#[test]
fn peer_limit_is_checked_before_any_change() {
    let dev = populated();
    let before = get(&dev);
    // Two peers exist; with a limit of 3 one more fits, two more do not.
    let one = parse_set(&format!("public_key={}\n", hex(0xcc))).expect("valid");
    assert!(check_peer_limit(&dev, &one, 3).is_ok());
    let two = parse_set(&format!(
        "public_key={}\npublic_key={}\n",
        hex(0xcc),
        hex(0xdd)
    ))
    .expect("valid");
    assert_eq!(
        check_peer_limit(&dev, &two, 3).map_err(|e| e.errno),
        Err(ERRNO_INVALID)
    );
    // wireguard-go creates a missing peer before `remove`/`update_only` drop it again.
    let text = format!(
        "public_key={}\npublic_key={}\nupdate_only=true\n",
        hex(0xcc),
        hex(0xdd)
    );
    let req = parse_set(&text).expect("valid");
    assert!(check_peer_limit(&dev, &req, 3).is_err());
    // Removing first makes room; replace_peers makes room for everything.
    let text = format!(
        "public_key={}\nremove=true\npublic_key={}\npublic_key={}\n",
        hex(0xaa),
        hex(0xcc),
        hex(0xdd)
    );
    assert!(check_peer_limit(&dev, &parse_set(&text).expect("valid"), 3).is_ok());
    let text = format!(
        "replace_peers=true\npublic_key={}\npublic_key={}\npublic_key={}\n",
        hex(1),
        hex(2),
        hex(3)
    );
    assert!(check_peer_limit(&dev, &parse_set(&text).expect("valid"), 3).is_ok());
    // Sections for an existing peer, or for our own key, never count.
    let own = PrivateKey::from_bytes([1; 32]).public_key().to_hex();
    let text = format!(
        "public_key={}\npublic_key={own}\npublic_key={}\n",
        hex(0xaa),
        hex(0xcc)
    );
    assert!(check_peer_limit(&dev, &parse_set(&text).expect("valid"), 3).is_ok());
    assert_eq!(get(&dev), before);
}

#[test]
fn replace_peers_removes_all_first() {
    let mut dev = populated();
    let done = set(
        &mut dev,
        &format!("replace_peers=true\npublic_key={}\n", hex(0xaa)),
    )
    .expect("ok");
    assert_eq!(peers(&dev), vec![0xaa]);
    assert!(ips(&dev, 0xaa).is_empty(), "a re-created peer starts empty");
    assert_eq!(done.removed.len(), 2);
    assert_eq!(done.created, vec![PublicKey([0xaa; 32])]);
}

#[test]
fn update_only_updates_existing_and_skips_missing() {
    let mut dev = populated();
    let text = format!(
        "public_key={}\nupdate_only=true\nendpoint=192.0.2.9:9\npublic_key={}\nupdate_only=true\nallowed_ip=10.0.2.0/24\n",
        hex(0xaa),
        hex(0xcc)
    );
    let done = set(&mut dev, &text).expect("ok");
    assert!(done.created.is_empty());
    assert_eq!(peers(&dev), vec![0xaa, 0xbb]);
    let aa = dev
        .peer(dev.peer_id(&PublicKey([0xaa; 32])).expect("aa"))
        .expect("aa");
    assert_eq!(aa.endpoint(), Some("192.0.2.9:9".parse().expect("addr")));
    assert_eq!(
        ips(&dev, 0xbb),
        vec!["10.0.2.0/24"],
        "the skipped section took nothing"
    );
}

#[test]
fn remove_removes_and_ignores_missing() {
    let mut dev = populated();
    let text = format!(
        "public_key={}\nremove=true\npublic_key={}\nremove=true\n",
        hex(0xaa),
        hex(0xcc)
    );
    let done = set(&mut dev, &text).expect("ok");
    assert_eq!(peers(&dev), vec![0xbb]);
    assert_eq!(done.removed, vec![PublicKey([0xaa; 32])]);
    assert!(done.created.is_empty());
}

#[test]
fn allowed_ip_removal_only_from_its_owner() {
    let mut dev = populated();
    let text = format!(
        "public_key={}\nallowed_ip=-10.0.0.5/24\nallowed_ip=-10.0.2.0/24\n",
        hex(0xaa)
    );
    set(&mut dev, &text).expect("ok");
    assert_eq!(ips(&dev, 0xaa), vec!["10.0.1.0/24"]);
    assert_eq!(
        ips(&dev, 0xbb),
        vec!["10.0.2.0/24"],
        "owned by another peer: untouched"
    );
}

#[test]
fn allowed_ip_add_moves_prefix_between_peers() {
    let mut dev = populated();
    set(
        &mut dev,
        &format!("public_key={}\nallowed_ip=10.0.2.0/24\n", hex(0xaa)),
    )
    .expect("ok");
    assert_eq!(
        ips(&dev, 0xaa),
        vec!["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    );
    assert!(ips(&dev, 0xbb).is_empty());
}

#[test]
fn replace_allowed_ips() {
    let mut dev = populated();
    let text = format!(
        "public_key={}\nreplace_allowed_ips=true\nallowed_ip=fd00::1/64\n",
        hex(0xaa)
    );
    set(&mut dev, &text).expect("ok");
    assert_eq!(ips(&dev, 0xaa), vec!["fd00::/64"]);
    assert_eq!(ips(&dev, 0xbb), vec!["10.0.2.0/24"]);
}

#[test]
fn own_key_section_is_ignored() {
    let mut dev = populated();
    let own = PrivateKey::from_bytes([1; 32]).public_key().to_hex();
    let done = set(
        &mut dev,
        &format!("public_key={own}\nallowed_ip=10.0.2.0/24\n"),
    )
    .expect("ok");
    assert!(done.created.is_empty());
    assert_eq!(peers(&dev), vec![0xaa, 0xbb]);
    assert_eq!(ips(&dev, 0xbb), vec!["10.0.2.0/24"]);
}

#[test]
fn new_private_key_drops_the_peer_it_would_be() {
    let mut dev = populated();
    let key = PrivateKey::from_bytes([9; 32]);
    let pk = key.public_key();
    set(&mut dev, &format!("public_key={}\n", pk.to_hex())).expect("ok");
    assert_eq!(peers(&dev).len(), 3);
    let done = set(&mut dev, &format!("private_key={}\n", hex(9))).expect("ok");
    assert_eq!(done.removed, vec![pk]);
    assert_eq!(peers(&dev), vec![0xaa, 0xbb]);
    let cleared = set(&mut dev, &format!("private_key={}\n", hex(0))).expect("ok");
    assert!(cleared.removed.is_empty());
    assert!(dev.private_key().is_none());
    assert!(!get(&dev).contains("private_key="));
}

#[test]
fn keepalive_goes_out_when_turned_on() {
    let mut dev = populated();
    while dev.poll_output().is_some() {}
    let text = format!(
        "public_key={}\npersistent_keepalive_interval=25\n",
        hex(0xaa)
    );
    set(&mut dev, &text).expect("ok");
    let out: Vec<Output> = dev.drain_outputs().collect();
    let to = "192.0.2.1:1".parse().expect("addr");
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Transmit { to: t, .. } if *t == to)),
        "{out:?}"
    );
    // Already on: changing the interval sends nothing more.
    set(
        &mut dev,
        &format!(
            "public_key={}\npersistent_keepalive_interval=30\n",
            hex(0xaa)
        ),
    )
    .expect("ok");
    assert!(dev.poll_output().is_none());
}

#[test]
fn new_peer_gets_psk_before_its_first_keepalive() {
    let mut dev = populated();
    let text = format!(
        "public_key={}\npersistent_keepalive_interval=5\npreshared_key={}\nendpoint=192.0.2.3:3\n",
        hex(0xcc),
        hex(0x33)
    );
    let done = set(&mut dev, &text).expect("ok");
    assert_eq!(done.created, vec![PublicKey([0xcc; 32])]);
    let id = dev.peer_id(&PublicKey([0xcc; 32])).expect("cc");
    let p = dev.peer(id).expect("cc");
    assert_eq!(p.remote.psk().as_bytes(), &[0x33; 32]);
    let to = "192.0.2.3:3".parse().expect("addr");
    assert!(dev
        .drain_outputs()
        .any(|o| matches!(o, Output::Transmit { to: t, .. } if t == to)));
}

#[test]
fn device_level_settings_are_handed_to_the_driver() {
    let mut dev = new_dev();
    let done = set(&mut dev, "listen_port=51820\nfwmark=0\n").expect("ok");
    assert_eq!((done.listen_port, done.fwmark), (Some(51820), Some(0)));
    let done = set(&mut dev, "").expect("ok");
    assert_eq!(done, AppliedSet::default());
    assert_eq!(set(&mut dev, "listen_port"), Err(ERRNO_PROTOCOL));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn peer_line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("remove=true".to_owned()),
            Just("update_only=true".to_owned()),
            Just("replace_allowed_ips=true".to_owned()),
            Just("protocol_version=1".to_owned()),
            (0u8..3).prop_map(|b| format!("preshared_key={}", hex(b))),
            Just("endpoint=192.0.2.7:7".to_owned()),
            Just("endpoint=[2001:db8::7]:7".to_owned()),
            prop_oneof![Just(0u16), Just(25)]
                .prop_map(|s| format!("persistent_keepalive_interval={s}")),
            (0u8..4, any::<bool>()).prop_map(|(x, rm)| {
                format!("allowed_ip={}10.{x}.0.0/16", if rm { "-" } else { "" })
            }),
        ]
    }

    fn section() -> impl Strategy<Value = String> {
        let own = PrivateKey::from_bytes([1; 32]).public_key().to_hex();
        let key = prop_oneof![Just(hex(0xaa)), Just(hex(0xbb)), Just(hex(0xcc)), Just(own)];
        (key, proptest::collection::vec(peer_line(), 0..5)).prop_map(|(k, lines)| {
            lines
                .iter()
                .fold(format!("public_key={k}\n"), |t, l| t + l + "\n")
        })
    }

    fn request() -> impl Strategy<Value = Vec<String>> {
        let device = proptest::collection::vec(
            prop_oneof![
                (0u8..3).prop_map(|b| format!("private_key={}\n", hex(b))),
                Just("listen_port=1\n".to_owned()),
                Just("replace_peers=true\n".to_owned()),
            ],
            0..3,
        );
        (device, proptest::collection::vec(section(), 0..5)).prop_map(|(mut d, s)| {
            d.extend(s);
            d
        })
    }

    proptest! {
        #[test]
        fn valid_requests_apply_and_corrupt_ones_change_nothing(
            first in request(),
            second in request(),
            at in any::<prop::sample::Index>(),
            junk in prop_oneof![Just("bogus"), Just("allowed_ip=10.0.0.0/33"), Just("remove=yes")],
        ) {
            let mut dev = populated();
            prop_assert!(set(&mut dev, &first.concat()).is_ok());
            dev.drain_outputs().for_each(drop);
            let before = get(&dev);
            let mut bad = second.clone();
            bad.insert(at.index(bad.len() + 1), format!("{junk}\n"));
            prop_assert!(set(&mut dev, &bad.concat()).is_err());
            prop_assert_eq!(get(&dev), before);
            prop_assert!(dev.poll_output().is_none());
            prop_assert!(set(&mut dev, &second.concat()).is_ok());
        }
    }
}

/// Whatever `parse_set` accepts, `apply_set` applies without panicking or refusing.
mod soup {
    use super::*;
    use proptest::prelude::*;

    const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    /// Mostly valid values (so requests parse and get applied), some noise.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            (1u8..4).prop_map(|b| format!("{b:02x}").repeat(32)),
            Just(ZERO.to_owned()),
            Just("true".to_owned()),
            Just("1".to_owned()),
            Just("25".to_owned()),
            Just("10.0.0.0/8".to_owned()),
            Just("-10.0.0.0/8".to_owned()),
            Just("fd00::1/64".to_owned()),
            Just("1.2.3.4:5".to_owned()),
            "[-0-9a-f:.%/\\[\\]=]{0,70}",
        ]
    }

    proptest! {
        #[test]
        fn key_value_soup_never_panics(lines in proptest::collection::vec(
            ("(public_key|private_key|preshared_key|endpoint|allowed_ip|listen_port|fwmark|remove|\
              update_only|replace_peers|replace_allowed_ips|protocol_version|persistent_keepalive_interval|x)",
             value()),
            0..12,
        )) {
            let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            if let Ok(req) = crate::uapi::parse_set(&text) {
                // Whatever parses, applies without panicking or refusing.
                let mut dev = crate::proto::device::Device::new(Box::new(
                    <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3),
                ));
                prop_assert!(apply_set(&mut dev, req, Default::default()).is_ok());
            }
        }
    }
}
