//! `wgrs up` / `wgrs down` end to end (issue: wg-quick-rs) in network namespaces, against a
//! Debian wireguard-go peer: split and full tunnel come up and carry pings (the full tunnel's
//! own encrypted packets must not loop into it), and `down` leaves addresses, rules, routes
//! and the nftables ruleset exactly as they were before `up`. Skips when not root.

mod common;
use common::netns::*;
use common::quick::*;
use common::tunnel::*;
use common::wg_daemon::*;
use std::time::Duration;

fn up_down(full: bool) {
    if skip_unless_root(&["nft", "sysctl"]) {
        return;
    }
    let WireguardGoPeer {
        a,
        b,
        veth,
        ka,
        kb,
        psk,
        db: _db,
    } = WireguardGoPeer::new("up");
    let a_if = unique_ifname();
    let allowed = if full {
        "0.0.0.0/0, ::/0"
    } else {
        "10.77.0.2/32, fd77::2/128"
    };
    let conf = format!(
        "# test tunnel\n[Interface]\nPrivateKey = {}\nAddress = 10.77.0.1/24\nAddress = fd77::1/64\nListenPort = {A_PORT}\n\
         PostUp = echo up %i > /dev/null\n\n[Peer]\nPublicKey = {}\nPresharedKey = {psk}\nAllowedIPs = {allowed}\nEndpoint = {}:{B_PORT}\n",
        ka.private, kb.public, veth.b4
    );
    let dir = TempDir::new("wgrs-up");
    let path = dir.file(&format!("{a_if}.conf"), &conf);
    let before = snapshot(&a, &a_if);

    let up = wgrs_quick(&a, "up", &path);
    assert!(up.success(), "wgrs up failed:\n{up}");
    assert!(
        up.stderr
            .contains(&format!("[#] ip -4 address add 10.77.0.1/24 dev {a_if}")),
        "{up}"
    );
    assert!(uapi_socket(&a_if).exists(), "daemon serving");
    for dst in [B4, B6] {
        assert_ping(&a, dst);
    }
    assert_ping(&b, A4);
    if full {
        assert!(
            up.stderr.contains("[#] nft -f"),
            "full tunnel installs wg-quick's nft rules: {up}"
        );
        assert_eq!(
            a.wg(&["show", &a_if, "fwmark"]).ok().stdout.trim(),
            "0xca6c"
        );
        // Only reachable through the tunnel; works only if the encrypted packets themselves
        // leave by the underlay (fwmark + rules) instead of looping into the tunnel.
        assert_ping(&a, "192.0.2.77");
    }
    let show = a.wg(&["show", &a_if]).ok().stdout;
    assert!(show.contains("latest handshake"), "{show}");

    // `save` writes the running configuration back, keeping wg-quick's own keys.
    a.wg(&[
        "set",
        &a_if,
        "peer",
        &kb.public,
        "persistent-keepalive",
        "17",
    ])
    .ok();
    let save = wgrs_quick(&a, "save", &path);
    assert!(save.success(), "wgrs save failed:\n{save}");
    let saved = std::fs::read_to_string(&path).expect("saved config");
    for want in [
        "Address = 10.77.0.1/24".to_owned(),
        "Address = fd77::1/64".to_owned(),
        "PostUp = echo up %i > /dev/null".to_owned(),
        format!("ListenPort = {A_PORT}"),
        format!("PrivateKey = {}", ka.private),
        format!("PublicKey = {}", kb.public),
        "PersistentKeepalive = 17".to_owned(),
    ] {
        assert!(
            saved.contains(&want),
            "saved config lacks {want:?}:\n{saved}"
        );
    }

    let down = wgrs_quick(&a, "down", &path);
    assert!(down.success(), "wgrs down failed:\n{down}");
    assert!(
        wait_until(Duration::from_secs(3), || !uapi_socket(&a_if).exists()),
        "daemon gone with its socket after down"
    );
    assert_eq!(
        snapshot(&a, &a_if),
        before,
        "down restores addresses, rules, routes and nft exactly"
    );

    let again = wgrs_quick(&a, "down", &path);
    assert!(!again.success());
    assert!(
        again.stderr.contains("is not a WireGuard interface"),
        "{again}"
    );
}

#[test]
fn wgrs_up_split_tunnel_ping_then_down_restores_everything() {
    up_down(false);
}

#[test]
fn wgrs_up_full_tunnel_does_not_loop_and_down_restores_everything() {
    up_down(true);
}

#[test]
fn wgrs_up_failure_rolls_back() {
    if skip_unless_root(&[]) {
        return;
    }
    let a = Netns::new("up-fail");
    let a_if = unique_ifname();
    let k = Keys::generate();
    let conf = format!(
        "[Interface]\nPrivateKey = {}\nAddress = 10.78.0.1/24\nPostUp = false\n\n[Peer]\nPublicKey = {}\nAllowedIPs = 10.78.0.0/24\n",
        k.private,
        Keys::generate().public
    );
    let dir = TempDir::new("wgrs-up-fail");
    let path = dir.file(&format!("{a_if}.conf"), &conf);
    let before = snapshot(&a, &a_if);
    let up = wgrs_quick(&a, "up", &path);
    assert!(!up.success(), "a failing PostUp fails the whole up");
    assert!(
        wait_until(Duration::from_secs(3), || !uapi_socket(&a_if).exists()),
        "rolled back: daemon gone"
    );
    assert_eq!(snapshot(&a, &a_if), before, "rollback restores everything");
}
