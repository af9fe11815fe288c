//! The example configs in conf/ say what they are and work: each parses (wg-quick-rs), `wgrs
//! strip` prints what `wg-quick strip` prints, the public keys their comments state belong to
//! their private keys, server.conf and client.conf are each other's peers, and (as root, in
//! network namespaces) the server and the full-tunnel client come up together and ping across,
//! and the NAT gateway's hooks install its masquerade table, which `down` removes again.

// A panic is the failure report; waits are bounded.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;
use common::netns::*;
use common::tunnel::assert_ping;
use std::path::{Path, PathBuf};
use std::process::Command;
use wg_quick_rs::config::{parse, Config};

const WGRS: &str = env!("CARGO_BIN_EXE_wgrs");

fn conf(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conf")
        .join(name)
}

fn load(name: &str) -> (String, Config) {
    let text = std::fs::read_to_string(conf(name)).unwrap();
    let config = parse(&text, name).unwrap_or_else(|e| panic!("{e}"));
    (text, config)
}

fn pubkey(private: &str) -> String {
    let out = common::netns::run_input(10, &[WGRS, "pubkey"], private.as_bytes()).ok();
    out.stdout.trim().to_owned()
}

/// The value after `key = ` on the first line starting with `key`.
fn value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix('='))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn every_example_parses_and_strips_as_wg_quick_does() {
    let mut checked = 0;
    for entry in std::fs::read_dir(conf("")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // The quick start's templates hold @PLACEHOLDERS@ where keys go.
        if !name.ends_with(".conf") || name.starts_with("quickstart-") {
            continue;
        }
        load(&name);
        let path = format!("{}", conf(&name).display());
        let ours = Command::new(WGRS).args(["strip", &path]).output().unwrap();
        assert!(
            ours.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        match Command::new("wg-quick").args(["strip", &path]).output() {
            Ok(theirs) => assert_eq!(ours.stdout, theirs.stdout, "{name}"),
            Err(_) => assert!(
                std::env::var_os("WGRS_SKIP_INTEROP").is_some(),
                "install wireguard-tools"
            ),
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} examples found");
}

#[test]
fn stated_public_keys_belong_to_the_private_keys() {
    for name in ["wg0.conf", "server.conf", "client.conf", "gateway.conf"] {
        let (text, _) = load(name);
        let private = value(&text, "PrivateKey");
        let public = pubkey(private);
        assert!(
            text.contains(&public),
            "{name}: its public key {public} is not the one stated"
        );
    }
}

#[test]
fn server_and_full_tunnel_client_are_each_others_peers() {
    let (server_text, server) = load("server.conf");
    let (client_text, client) = load("client.conf");
    assert!(server.peers.len() >= 3 && server.interface.listen_port.is_some());
    assert_eq!(client.peers.len(), 1);
    let laptop = pubkey(value(&client_text, "PrivateKey"));
    let server_pub = pubkey(value(&server_text, "PrivateKey"));
    assert_eq!(value(&client_text, "PublicKey"), server_pub);
    assert_eq!(
        value(&server_text, "PublicKey"),
        laptop,
        "the laptop is the first peer"
    );
    assert_eq!(
        value(&client_text, "PresharedKey"),
        value(&server_text, "PresharedKey")
    );
    assert_eq!(value(&client_text, "AllowedIPs"), "0.0.0.0/0, ::/0");
    assert!(!client.interface.dns.is_empty() && client.interface.listen_port.is_none());
}

/// `name`'s text with `edits` applied, written as `IFNAME.conf` in `dir`.
fn copy(dir: &TempDir, name: &str, ifname: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(conf(name)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{name}: no `{from}`");
        text = text.replace(from, to);
    }
    dir.file(&format!("{ifname}.conf"), &text)
}

fn quick(ns: &Netns, cmd: &str, path: &Path) -> Run {
    ns.exec_for(30, &[WGRS, cmd, path.to_str().unwrap()])
}

#[test]
fn server_and_client_examples_come_up_and_ping_through_the_full_tunnel() {
    if skip_unless_root(&["nft", "sysctl"]) {
        return;
    }
    let (srv, cli) = (Netns::new("exsrv"), Netns::new("excli"));
    let veth = veth_pair(&srv, &cli, UNDERLAY_V4, UNDERLAY_V6);
    let dir = TempDir::new("examples");
    let (srv_if, cli_if) = (unique_ifname(), unique_ifname());
    let srv_conf = copy(&dir, "server.conf", &srv_if, &[]);
    // The only edits: where the server is (its host name stands for the veth address here), and
    // no DNS (the namespace has no resolvconf to hand it to).
    let endpoint = format!("Endpoint = {}:51820", veth.a4);
    let cli_conf = copy(
        &dir,
        "client.conf",
        &cli_if,
        &[
            ("Endpoint = vpn.example.net:51820", &endpoint),
            ("DNS = 10.8.0.1", ""),
        ],
    );
    quick(&srv, "up", &srv_conf).ok();
    quick(&cli, "up", &cli_conf).ok();
    assert_ping(&cli, "10.8.0.1");
    assert_ping(&cli, "fd00:8::1");
    let shown = cli
        .exec(&[WGRS, "show", &cli_if, "allowed-ips"])
        .ok()
        .stdout;
    assert!(shown.contains("0.0.0.0/0 ::/0"), "{shown}");
    quick(&cli, "down", &cli_conf).ok();
    quick(&srv, "down", &srv_conf).ok();
}

#[test]
fn gateway_example_installs_its_masquerade_table_and_down_removes_it() {
    if skip_unless_root(&["nft", "sysctl"]) {
        return;
    }
    let ns = Netns::new("exgw");
    let dir = TempDir::new("gateway");
    let ifname = unique_ifname();
    let path = copy(&dir, "gateway.conf", &ifname, &[]);
    let up = quick(&ns, "up", &path).ok();
    assert!(
        up.stderr.contains("[#] nft add table ip wgrs_gateway"),
        "{up}"
    );
    let table = ns
        .exec(&["nft", "list", "table", "ip", "wgrs_gateway"])
        .ok()
        .stdout;
    assert!(
        table.contains("hook postrouting") && table.contains("masquerade"),
        "{table}"
    );
    assert!(
        table.contains("ip saddr 10.9.0.0/24 oifname \"eth0\""),
        "{table}"
    );
    let forward = ns
        .exec(&["sysctl", "-n", "net.ipv4.ip_forward"])
        .ok()
        .stdout;
    assert_eq!(forward.trim(), "1");
    let shown = ns.exec(&[WGRS, "show", &ifname, "peers"]).ok().stdout;
    assert_eq!(shown.lines().count(), 2, "{shown}");
    quick(&ns, "down", &path).ok();
    let gone = ns.exec(&["nft", "list", "table", "ip", "wgrs_gateway"]);
    assert!(!gone.success(), "table left after down: {gone}");
}
