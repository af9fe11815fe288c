//! Argument resolution (config path, interface name, world-accessible warning) against
//! wg-quick's rules and, where installed, its exact messages; endpoint resolution's retry
//! schedule with an injected resolver and clock.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{real_wg_quick, TempDir, PUB1};
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use wg_quick_rs::config::Endpoint;
use wg_quick_rs::resolve::{
    candidate_path, interface_from_path, is_interface_name, load_config, locate_config_in,
    resolve_endpoint, resolve_endpoint_with, EndpointError, LoadError, LocateError, Retries,
};

#[test]
fn interface_names() {
    for ok in ["wg0", "a", "WG_0=+.-x", "123456789012345", "wg0.conf"] {
        assert!(is_interface_name(ok), "{ok}");
    }
    for bad in ["", "1234567890123456", "wg 0", "wg/0", "wg0@", "wgü"] {
        assert!(!is_interface_name(bad), "{bad}");
    }
    assert_eq!(interface_from_path("/etc/wireguard/wg0.conf"), Some("wg0"));
    assert_eq!(interface_from_path("wg0.conf"), Some("wg0"));
    assert_eq!(interface_from_path("./a.b.conf"), Some("a.b"));
    assert_eq!(
        interface_from_path("/etc/wireguard/wg0.conf.conf"),
        Some("wg0.conf")
    );
    assert_eq!(interface_from_path("/x/.conf"), None);
    assert_eq!(interface_from_path("/x/wg0.conf/"), None);
    assert_eq!(interface_from_path("/x/wg0.txt"), None);
    assert_eq!(interface_from_path("/x/bad name.conf"), None);
    assert_eq!(interface_from_path("/x/1234567890123456.conf"), None);
}

#[test]
fn candidate_paths_follow_wg_quick() {
    let none = |_: &Path| false;
    assert_eq!(
        candidate_path("wg0", &["/etc/wireguard"], none),
        "/etc/wireguard/wg0.conf"
    );
    // A valid interface name, even ending .conf, is looked up in the directories.
    assert_eq!(
        candidate_path("wg0.conf", &["/etc/wireguard"], none),
        "/etc/wireguard/wg0.conf.conf"
    );
    assert_eq!(
        candidate_path("./wg0.conf", &["/etc/wireguard"], none),
        "./wg0.conf"
    );
    assert_eq!(
        candidate_path("/tmp/x/wg0.conf", &["/etc/wireguard"], none),
        "/tmp/x/wg0.conf"
    );
    // darwin.bash: first directory where it exists, else the last one tried.
    let dirs = ["/etc/wireguard", "/usr/local/etc/wireguard"];
    assert_eq!(
        candidate_path("wg0", &dirs, none),
        "/usr/local/etc/wireguard/wg0.conf"
    );
    let first = |p: &Path| p == Path::new("/etc/wireguard/wg0.conf");
    assert_eq!(
        candidate_path("wg0", &dirs, first),
        "/etc/wireguard/wg0.conf"
    );
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn locate_checks_existence_name_and_permissions() {
    let tmp = TempDir::new("locate");
    let dir = tmp.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dirs = [dir.to_str().unwrap()];
    write(&dir.join("wgt1.conf"), "", 0o600);
    let loc = locate_config_in("wgt1", &dirs).unwrap();
    assert_eq!(loc.interface, "wgt1");
    assert_eq!(loc.path, dir.canonicalize().unwrap().join("wgt1.conf"));
    assert_eq!(loc.warning(), None);

    write(&dir.join("wgt2.conf"), "", 0o644);
    let loc = locate_config_in(dir.join("wgt2.conf").to_str().unwrap(), &dirs).unwrap();
    let expected = format!("Warning: `{}' is world accessible", loc.path.display());
    assert_eq!(loc.warning(), Some(expected));

    // Symlink: the name comes from the link, the path from its target.
    std::os::unix::fs::symlink(dir.join("wgt1.conf"), dir.join("alias.conf")).unwrap();
    let loc = locate_config_in(dir.join("alias.conf").to_str().unwrap(), &dirs).unwrap();
    assert_eq!(loc.interface, "alias");
    assert_eq!(loc.path.file_name().unwrap(), "wgt1.conf");

    let missing = locate_config_in("nosuchwgq9", &dirs).unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!("`{}/nosuchwgq9.conf' does not exist", dirs[0])
    );
    write(&dir.join("bad name.conf"), "", 0o600);
    let bad = locate_config_in(dir.join("bad name.conf").to_str().unwrap(), &dirs).unwrap_err();
    assert!(matches!(bad, LocateError::InvalidName));
    assert_eq!(
        bad.to_string(),
        "The config file must be a valid interface name, followed by .conf"
    );
}

/// Messages and warnings are wg-quick's, word for word.
#[test]
fn messages_match_real_wg_quick() {
    let Some(wg_quick) = real_wg_quick("messages_match_real_wg_quick") else {
        return;
    };
    let tmp = TempDir::new("msgs");
    let dir = tmp.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    write(&dir.join("wgt3.conf"), "[Interface]\n", 0o644);
    write(&dir.join("toolongnameforwg.conf"), "[Interface]\n", 0o600);
    write(&dir.join("x.txt"), "[Interface]\n", 0o600);
    let args = [
        dir.join("wgt3.conf"),
        dir.join("toolongnameforwg.conf"),
        dir.join("x.txt"),
        dir.join("absent.conf"),
        "nosuchwgq9".into(),
    ];
    for arg in args {
        let arg = arg.to_str().unwrap();
        let out = std::process::Command::new(&wg_quick)
            .args(["strip", arg])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let ours = match locate_config_in(arg, &["/etc/wireguard"]) {
            Ok(loc) => loc.warning().map(|w| w + "\n").unwrap_or_default(),
            Err(e) => format!("wg-quick: {e}\n"),
        };
        assert_eq!(ours, stderr, "{arg}");
    }
}

#[test]
fn load_config_names_the_file_in_errors() {
    let tmp = TempDir::new("load");
    let file = tmp.path().join("wgt4.conf");
    write(
        &file,
        &format!(
            "[Interface]\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = {PUB1}\nListenPort = 1\n"
        ),
        0o600,
    );
    let err = match load_config(file.to_str().unwrap()) {
        Err(LoadError::Parse(e)) => e,
        other => panic!("{:?}", other.map(|l| l.config)),
    };
    let canonical = file.canonicalize().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:5: ListenPort: belongs in [Interface], not [Peer]",
            canonical.display()
        )
    );
    write(&file, "[Interface]\nTable = main\n", 0o600);
    let loaded = load_config(file.to_str().unwrap()).unwrap();
    assert_eq!(loaded.location.interface, "wgt4");
    assert_eq!(
        loaded.config.interface.table,
        wg_quick_rs::config::Table::Id(254)
    );
}

fn ep(host: &str, port: u16) -> Endpoint {
    Endpoint {
        host: host.to_owned(),
        port,
    }
}

fn transient() -> io::Error {
    io::Error::other("failed to lookup address information: Temporary failure in name resolution")
}

#[test]
fn retries_follow_wg_schedule() {
    let mut attempts = 0;
    let mut sleeps = Vec::new();
    let mut logs = Vec::new();
    let addr: SocketAddr = "192.0.2.9:51820".parse().unwrap();
    let got = resolve_endpoint_with(
        &ep("vpn.example", 51820),
        Retries::Limited(15),
        &mut |host, port| {
            assert_eq!((host, port), ("vpn.example", 51820));
            attempts += 1;
            if attempts < 4 {
                Err(transient())
            } else {
                Ok(vec![addr])
            }
        },
        &mut |d| sleeps.push(d),
        &mut |l| logs.push(l.to_owned()),
    );
    assert_eq!(got, Ok(addr));
    assert_eq!(
        sleeps,
        [1_000_000, 1_200_000, 1_440_000].map(Duration::from_micros)
    );
    assert_eq!(logs[0], "Temporary failure in name resolution: `vpn.example:51820'. Trying again in 1.00 seconds...");
    assert_eq!(logs[2], "Temporary failure in name resolution: `vpn.example:51820'. Trying again in 1.44 seconds...");
}

#[test]
fn retries_are_bounded_and_capped() {
    // Limited(n): n + 1 attempts; the sleep grows by 6/5 up to 20 s.
    let mut attempts = 0;
    let mut sleeps = Vec::new();
    let err = resolve_endpoint_with(
        &ep("vpn.example", 1),
        Retries::Limited(20),
        &mut |_, _| {
            attempts += 1;
            Err(transient())
        },
        &mut |d| sleeps.push(d),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(attempts, 21);
    assert_eq!(sleeps.len(), 20);
    assert_eq!(*sleeps.last().unwrap(), Duration::from_secs(20));
    assert!(sleeps.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(
        err.to_string(),
        "Temporary failure in name resolution: `vpn.example:1'"
    );
    // Limited(0): one attempt, no sleep.
    let mut attempts = 0;
    let _ = resolve_endpoint_with(
        &ep("h", 1),
        Retries::Limited(0),
        &mut |_, _| {
            attempts += 1;
            Err(transient())
        },
        &mut |_| panic!("slept"),
        &mut |_| {},
    );
    assert_eq!(attempts, 1);
    // Infinite: keeps going until the name resolves.
    let mut attempts = 0;
    let got = resolve_endpoint_with(
        &ep("h", 1),
        Retries::Infinite,
        &mut |_, _| {
            attempts += 1;
            if attempts < 50 {
                Err(transient())
            } else {
                Ok(vec!["[::1]:1".parse().unwrap()])
            }
        },
        &mut |_| {},
        &mut |_| {},
    );
    assert_eq!(got, Ok("[::1]:1".parse().unwrap()));
}

#[test]
fn permanent_failures_and_literals_do_not_retry() {
    for message in [
        "Name or service not known",
        "No address associated with hostname",
        "nodename nor servname provided, or not known",
    ] {
        let mut attempts = 0;
        let err = resolve_endpoint_with(
            &ep("nx.example", 5),
            Retries::Infinite,
            &mut |_, _| {
                attempts += 1;
                Err(io::Error::other(format!(
                    "failed to lookup address information: {message}"
                )))
            },
            &mut |_| panic!("slept"),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(attempts, 1);
        assert_eq!(
            err,
            EndpointError::Failed {
                endpoint: "nx.example:5".into(),
                message: message.into()
            }
        );
    }
    let err = resolve_endpoint_with(
        &ep("empty.example", 5),
        Retries::Infinite,
        &mut |_, _| Ok(vec![]),
        &mut |_| {},
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Neither IPv4 nor IPv6 address found: `empty.example:5'"
    );
    let mut no_lookup =
        |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> { panic!("looked up a literal") };
    let got = resolve_endpoint_with(
        &ep("2001:db8::1", 7),
        Retries::Limited(0),
        &mut no_lookup,
        &mut |_| {},
        &mut |_| {},
    );
    assert_eq!(got, Ok("[2001:db8::1]:7".parse().unwrap()));
}

#[test]
fn retries_from_env_values() {
    assert_eq!(Retries::from_env_value(None), Ok(Retries::Limited(15)));
    assert_eq!(
        Retries::from_env_value(Some("infinity")),
        Ok(Retries::Infinite)
    );
    assert_eq!(Retries::from_env_value(Some("0")), Ok(Retries::Limited(0)));
    assert_eq!(
        Retries::from_env_value(Some("2147483647")),
        Ok(Retries::Limited(i32::MAX as u32))
    );
    for bad in ["2147483648", "-1", "Infinity", "", "5s"] {
        let err = Retries::from_env_value(Some(bad)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: `{bad}'")
        );
    }
}

#[test]
fn system_resolver_handles_localhost() {
    // /etc/hosts only: no network.
    let addr = resolve_endpoint(&ep("localhost", 51820)).unwrap();
    assert!(addr.ip().is_loopback() && addr.port() == 51820);
}
