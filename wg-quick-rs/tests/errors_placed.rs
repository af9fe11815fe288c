//! Errors name the place (issue 12 item 6), as the user reads them: an unresolvable Endpoint is
//! one error at its file:line, a refused ListenPort is the config's problem at its line (not a
//! `wg setconf` that never ran), and a repeated `[Peer]` is a warning naming both lines while
//! the routes follow what the interface ends up holding.

use std::collections::BTreeMap;
use std::net::IpAddr;
use wg_quick_rs::config::parse;
use wg_quick_rs::exec::{
    config_warnings, explain_refusal, gather, placed, ExecError, Mode, Probe, RunError,
};
use wg_quick_rs::plan::{device_peers, plan_up, repeated_peers, Facts, LinuxFacts, Os};
use zeroize::Zeroizing;

const FILE: &str = "/etc/wireguard/wg0.conf";
const PRIV: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const PUB1: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const PUB2: &str = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";

/// Answers nothing but name lookups, from a table.
struct Names(BTreeMap<&'static str, Result<IpAddr, &'static str>>);

impl Probe for Names {
    fn output(&mut self, _argv: &[&str]) -> Option<String> {
        None
    }
    fn which(&mut self, _program: &str) -> bool {
        true
    }
    fn read_file(&mut self, _path: &str) -> Option<String> {
        None
    }
    fn resolve(&mut self, host: &str, _port: u16) -> Result<IpAddr, String> {
        match self.0.get(host) {
            Some(r) => r.map_err(str::to_owned),
            None => Err("unexpected lookup".to_owned()),
        }
    }
    fn uapi_get(&mut self, _iface: &str) -> Option<Zeroizing<String>> {
        None
    }
    fn mtime(&mut self, _path: &str) -> Option<i64> {
        None
    }
}

#[test]
fn an_unresolvable_endpoint_is_one_error_at_its_line() {
    let text = format!(
        "[Interface]\nPrivateKey = {PRIV}\n\n[Peer]\nPublicKey = {PUB1}\nAllowedIPs = 10.0.0.2/32\n\
         Endpoint = vpn.example.com:51820\n\n[Peer]\nPublicKey = {PUB2}\nAllowedIPs = 10.0.0.3/32\n\
         Endpoint = nowhere.invalid:4500\n"
    );
    let cfg = parse(&text, FILE).expect("parse");
    let mut probe = Names(BTreeMap::from([
        ("vpn.example.com", Ok("192.0.2.7".parse().expect("ip"))),
        ("nowhere.invalid", Err("Name or service not known")),
    ]));
    let facts = gather(&cfg, "wg0", Mode::Up, Os::Linux, &mut probe);
    let err = plan_up(&cfg, "wg0", &facts).unwrap_err();
    assert_eq!(
        placed(err, FILE).to_string(),
        "/etc/wireguard/wg0.conf:12: Endpoint: Name or service not known: `nowhere.invalid:4500'"
    );
}

#[test]
fn down_does_not_wait_on_the_resolver() {
    let text = format!(
        "[Interface]\nPrivateKey = {PRIV}\n[Peer]\nPublicKey = {PUB1}\nEndpoint = vpn.example.com:1\n"
    );
    let cfg = parse(&text, FILE).expect("parse");
    let mut probe = Names(BTreeMap::new());
    let facts = gather(&cfg, "wg0", Mode::Down, Os::Linux, &mut probe);
    assert!(facts.resolved.is_empty() && facts.unresolved.is_empty());
}

fn refused(errno: Option<i64>) -> ExecError {
    ExecError {
        step: "wg setconf wg0 /dev/fd/63".to_owned(),
        error: RunError {
            errno,
            ..RunError::msg(format!(
                "Unable to modify interface: errno={}",
                errno.unwrap_or(0)
            ))
        },
        undo_failures: Vec::new(),
    }
}

#[test]
fn a_refused_listen_port_is_named_at_its_line() {
    let text = format!("[Interface]\nPrivateKey = {PRIV}\n# busy\nListenPort = 51820\n");
    let cfg = parse(&text, FILE).expect("parse");
    assert_eq!(
        explain_refusal(refused(Some(-98)), &cfg, FILE).to_string(),
        "/etc/wireguard/wg0.conf:4: ListenPort 51820: Address already in use"
    );
    assert_eq!(
        explain_refusal(refused(Some(-22)), &cfg, FILE).to_string(),
        "/etc/wireguard/wg0.conf: Unable to modify interface: errno=-22"
    );
    let no_port = parse(&format!("[Interface]\nPrivateKey = {PRIV}\n"), FILE).expect("parse");
    assert_eq!(
        explain_refusal(refused(Some(-98)), &no_port, FILE).to_string(),
        "/etc/wireguard/wg0.conf: Unable to modify interface: errno=-98"
    );
    // A command that failed keeps its own story.
    assert_eq!(
        explain_refusal(refused(None), &cfg, FILE).to_string(),
        "`wg setconf wg0 /dev/fd/63' failed: Unable to modify interface: errno=0"
    );
}

fn repeated() -> String {
    format!(
        "[Interface]\nPrivateKey = {PRIV}\nAddress = 10.5.0.1/32\n\n\
         [Peer]\nPublicKey = {PUB1}\nPresharedKey = {PRIV}\nAllowedIPs = 10.1.0.0/24, 10.9.0.0/24\n\
         Endpoint = 192.0.2.1:51820\n\n\
         [Peer]\nPublicKey = {PUB2}\nAllowedIPs = 10.3.0.0/24\n\n\
         [Peer]\nPublicKey = {PUB1}\nAllowedIPs = 10.2.0.0/24\nEndpoint = 192.0.2.2:51820\n"
    )
}

#[test]
fn a_repeated_peer_is_a_warning_naming_both_lines() {
    let cfg = parse(&repeated(), FILE).expect("parse");
    assert_eq!(repeated_peers(&cfg), [(5, 15)]);
    assert_eq!(
        config_warnings(&cfg, FILE),
        [
            "Warning: /etc/wireguard/wg0.conf:15: this [Peer] has the PublicKey of the [Peer] at \
          line 5; the interface holds one peer for both, with the AllowedIPs of line 15"
        ]
    );
}

#[test]
fn routes_follow_the_peers_the_interface_holds() {
    let cfg = parse(&repeated(), FILE).expect("parse");
    let held = device_peers(&cfg);
    assert_eq!(held.len(), 2);
    assert_eq!(
        held[0].allowed_ips,
        parse(&repeated(), FILE).expect("p").peers[2].allowed_ips
    );
    assert!(
        held[0].preshared_key.is_some(),
        "kept from the first section"
    );
    let endpoint = held[0].endpoint.as_ref().expect("endpoint");
    assert_eq!(
        endpoint.host, "192.0.2.2",
        "the later Endpoint replaces the earlier"
    );
    let facts = Facts::linux(LinuxFacts::default());
    let lines = plan_up(&cfg, "wg0", &facts).expect("plan").lines("wg0");
    let routes: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| l.contains(" route add "))
        .collect();
    assert_eq!(
        routes,
        [
            "[#] ip -4 route add 10.3.0.0/24 dev wg0",
            "[#] ip -4 route add 10.2.0.0/24 dev wg0",
        ]
    );
}
