//! Errors of `wgrs up` that need the real kernel (issue 12 item 6), in network namespaces: a
//! busy ListenPort is named with the config's file:line and everything is rolled back; a
//! repeated `[Peer]` is a warning naming both lines, and the routes `up` adds are exactly the
//! allowed IPs the interface holds (`wg show IFACE allowed-ips`). Skips when not root.

mod common;
use common::netns::*;
use common::quick::*;
use common::wg_daemon::*;
use std::collections::BTreeSet;
use std::net::UdpSocket;

#[test]
fn a_busy_listen_port_names_the_port_and_the_config_line() {
    if skip_unless_root(&[]) {
        return;
    }
    let ns = Netns::new("busy");
    let iface = unique_ifname();
    let port = 51820;
    let holder = ns
        .spawn_in(move || UdpSocket::bind(("0.0.0.0", port)).expect("bind in the namespace"))
        .join()
        .expect("bound");
    let k = Keys::generate();
    let conf = format!(
        "[Interface]\nPrivateKey = {}\nListenPort = {port}\nAddress = 10.82.0.1/24\n\n\
         [Peer]\nPublicKey = {}\nAllowedIPs = 10.82.0.0/24\n",
        k.private,
        Keys::generate().public
    );
    let dir = TempDir::new("busy");
    let path = dir.file(&format!("{iface}.conf"), &conf);
    let before = snapshot(&ns, &iface);
    let up = wgrs_quick(&ns, "up", &path);
    assert_eq!(up.code, Some(1), "{up}");
    let path = path.canonicalize().expect("path");
    let want = format!(
        ": {}:3: ListenPort {port}: Address already in use\n",
        path.display()
    );
    assert!(up.stderr.ends_with(&want), "{want:?} at the end of\n{up}");
    assert!(!up.stderr.contains("failed"), "no step is blamed: {up}");
    assert_eq!(snapshot(&ns, &iface), before, "rolled back, record gone");
    drop(holder);
}

/// `wg show IFACE allowed-ips`, all prefixes of all peers.
fn held_prefixes(ns: &Netns, iface: &str) -> BTreeSet<String> {
    let out = ns.wg(&["show", iface, "allowed-ips"]).ok().stdout;
    out.lines()
        .flat_map(|l| l.split_whitespace().skip(1))
        .map(str::to_owned)
        .collect()
}

/// The prefixes routed through `iface` (IPv4 and IPv6, main table).
fn routed_prefixes(ns: &Netns, iface: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for family in ["-4", "-6"] {
        let out = ns.ip(&[family, "route", "show", "dev", iface]).ok().stdout;
        set.extend(
            out.lines()
                .filter(|l| !l.contains("proto kernel"))
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_owned),
        );
    }
    set
}

#[test]
fn a_repeated_peer_warns_and_the_routes_match_what_the_interface_holds() {
    if skip_unless_root(&[]) {
        return;
    }
    let ns = Netns::new("dup");
    let iface = unique_ifname();
    let (k, p1, p2) = (Keys::generate(), Keys::generate(), Keys::generate());
    let conf = format!(
        "[Interface]\nPrivateKey = {}\nAddress = 10.83.0.1/32\n\n\
         [Peer]\nPublicKey = {}\nAllowedIPs = 10.83.1.0/24, fd83:1::/64\n\n\
         [Peer]\nPublicKey = {}\nAllowedIPs = 10.83.3.0/24\n\n\
         [Peer]\nPublicKey = {}\nAllowedIPs = 10.83.2.0/24\n",
        k.private, p1.public, p2.public, p1.public
    );
    let dir = TempDir::new("dup");
    let path = dir.file(&format!("{iface}.conf"), &conf);
    let before = snapshot(&ns, &iface);
    let up = wgrs_quick(&ns, "up", &path);
    assert!(up.success(), "{up}");
    let canonical = path.canonicalize().expect("path");
    let warning = format!(
        "Warning: {}:13: this [Peer] has the PublicKey of the [Peer] at line 5; the interface \
         holds one peer for both, with the AllowedIPs of line 13\n",
        canonical.display()
    );
    assert!(
        up.stderr.starts_with(&warning),
        "{warning:?} first in\n{up}"
    );
    let held = held_prefixes(&ns, &iface);
    let want: BTreeSet<String> = ["10.83.2.0/24", "10.83.3.0/24"].map(String::from).into();
    assert_eq!(
        held, want,
        "the later section's AllowedIPs replace the earlier ones"
    );
    assert_eq!(
        routed_prefixes(&ns, &iface),
        held,
        "routes = what the interface holds"
    );
    let down = wgrs_quick(&ns, "down", &path);
    assert!(down.success(), "{down}");
    assert!(
        wait_until(std::time::Duration::from_secs(3), || run_dir_files(&iface)
            .is_empty()),
        "socket and record gone"
    );
    assert_eq!(snapshot(&ns, &iface), before);
}
