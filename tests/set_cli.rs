//! `wgrs set | setconf | addconf | syncconf` against Debian's `wg` (v1.0.20210914), side by
//! side on real wgrs daemons: two namespaces, one wgrs daemon in each; before every case both
//! devices get the same starting configuration, then `wg` changes one and `wgrs` the other
//! with the same arguments and environment. Exit status, stdout and stderr (program name
//! normalised) must be identical, and so must the resulting `wg showconf` of the two devices.
//! Needs root, `wg`; skips with a message otherwise.

// A panic is the failure report; every command runs under a timeout.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;
use common::netns::*;
use common::wg_daemon::*;
use std::path::Path;

const WGRS: &str = env!("CARGO_BIN_EXE_wgrs");

/// What a user sees from one command.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// `wg showconf` of the device afterwards, `[Peer]` blocks sorted (peer order is the
    /// daemon's insertion order, which the two clients may reach differently).
    showconf: String,
}

/// Two identical devices, one for each client, and the values a case may refer to.
struct Bench {
    ns: [Netns; 2],
    names: [String; 2],
    _daemons: [Daemon; 2],
    dir: TempDir,
    keys: Vec<Keys>,
    base: String,
}

impl Bench {
    fn new(tag: &str) -> Bench {
        let ns = [
            Netns::new(&format!("{tag}a")),
            Netns::new(&format!("{tag}b")),
        ];
        let names = [unique_ifname(), unique_ifname()];
        let daemons = [
            Daemon::start(&ns[0], Path::new(WGRS), &names[0]),
            Daemon::start(&ns[1], Path::new(WGRS), &names[1]),
        ];
        let keys: Vec<Keys> = (0..4).map(|_| Keys::generate()).collect();
        let dir = TempDir::new("set");
        let psk = genpsk();
        let base = format!(
            "[Interface]\nPrivateKey = {}\nListenPort = 51820\nFwMark = 0x42\n\n\
             [Peer]\nPublicKey = {}\nPresharedKey = {psk}\nAllowedIPs = 10.1.0.0/16, fd01::/64\n\
             Endpoint = 127.0.0.1:51821\nPersistentKeepalive = 25\n\n\
             [Peer]\nPublicKey = {}\nAllowedIPs = 10.2.0.0/16\nEndpoint = [::1]:51822\n",
            keys[0].private, keys[1].public, keys[2].public
        );
        let bench = Bench {
            ns,
            names,
            _daemons: daemons,
            dir,
            keys,
            base,
        };
        bench.files();
        bench
    }

    /// Key files and configuration files the cases name as `{DIR}/...`.
    fn files(&self) {
        let k = &self.keys;
        let d = &self.dir;
        d.file("priv", &format!("{}\n", k[3].private));
        d.file("priv-spaces", &format!("{}  \n\t\n", k[3].private));
        d.file("psk", &format!("{}\n", genpsk()));
        d.file("empty", "");
        d.file("short", "abc\n");
        d.file("trailing", &format!("{}\nx\n", k[3].private));
        d.file("badkey", &format!("{}\n", "!".repeat(43) + "="));
        d.file("base.conf", &self.base);
        d.file(
            "full.conf",
            &format!(
                "# a comment\n[interface]\nprivatekey={}\nlistenport = 51830 # port\n\
                 FwMark = off\n\n[PEER]\nPublicKey = {}\nallowedips = 10.3.0.1/24 , \
                 fd03::/64\nAllowedIPs = 10.4.0.0/16\nEndpoint = [::1]:1\n\
                 PersistentKeepalive = off\n[Peer]\nPublicKey={}\nPresharedKey = {}\n",
                k[3].private,
                k[2].public,
                k[1].public,
                genpsk()
            ),
        );
        d.file(
            "sync.conf",
            &format!(
                "[Interface]\nPrivateKey = {}\nListenPort = 51820\n[Peer]\nPublicKey = {}\n\
                 AllowedIPs = 10.9.0.0/16\n[Peer]\nPublicKey = {}\nAllowedIPs = 10.8.0.0/16\n\
                 Endpoint = 127.0.0.1:9\n",
                k[0].private, k[2].public, k[3].public
            ),
        );
        d.file("interface-only.conf", "[Interface]\nListenPort = 51840\n");
        small_configs(d, &k[3].public);
    }

    /// `{IF}`, `{K0}`..`{K3}` (public keys) and `{DIR}` filled in for client `i`.
    fn expand(&self, i: usize, arg: &str) -> String {
        let mut s = arg.replace("{IF}", &self.names[i]);
        for (n, k) in self.keys.iter().enumerate() {
            s = s.replace(&format!("{{K{n}}}"), &k.public);
        }
        s.replace("{DIR}", self.dir.path.to_str().unwrap())
    }

    /// Both devices back to the starting configuration.
    fn reset(&self) {
        let base = self.dir.path.join("base.conf");
        for i in 0..2 {
            let conf = base.to_str().unwrap();
            self.ns[i].wg(&["setconf", &self.names[i], conf]).ok();
        }
    }

    /// Runs `prog ARGS` (with `env`) on device `i` and records what it did.
    fn seen(&self, i: usize, prog: &str, env: &[&str], args: &[&str]) -> Seen {
        let mut full = vec!["env".to_owned()];
        full.extend(env.iter().map(|e| e.to_string()));
        full.push(prog.to_owned());
        full.extend(args.iter().map(|a| self.expand(i, a)));
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        let run = self.ns[i].exec(&full);
        let conf = self.ns[i].wg(&["showconf", &self.names[i]]);
        Seen {
            code: run.code,
            stdout: run.stdout,
            stderr: run.stderr.replace(WGRS, "wg"),
            showconf: sorted_peers(&format!("{}{}", conf.stdout, conf.stderr)),
        }
    }

    /// The case must look the same through `wg` and through `wgrs`.
    fn compare(&self, env: &[&str], args: &[&str]) {
        self.reset();
        let theirs = self.seen(0, "wg", env, args);
        let ours = self.seen(1, WGRS, env, args);
        assert_eq!(ours, theirs, "wgrs {args:?} (env {env:?}) differs from wg");
    }
}

/// One-line configuration files, each with one thing wrong (or wg-quick's own keys).
fn small_configs(d: &TempDir, peer: &str) {
    for (name, text) in [
        (
            "quick.conf",
            "[Interface]\nAddress = 10.0.0.1/24\n".to_owned(),
        ),
        ("nopub.conf", "[Peer]\nAllowedIPs = 10.0.0.0/8\n".to_owned()),
        ("nosection.conf", "ListenPort = 1\n".to_owned()),
        ("emptyvalue.conf", "[Interface]\nListenPort =\n".to_owned()),
        (
            "badport.conf",
            "[Interface]\nListenPort = port\n".to_owned(),
        ),
        ("badkey.conf", "[Interface]\nPrivateKey = abc\n".to_owned()),
        (
            "badcidr.conf",
            format!("[Peer]\nPublicKey = {peer}\nAllowedIPs = 10.0.0.0/40\n"),
        ),
        (
            "badip.conf",
            format!("[Peer]\nPublicKey = {peer}\nAllowedIPs = 10.0.0/8\n"),
        ),
        (
            "hostbits.conf",
            format!("[Peer]\nPublicKey = {peer}\nAllowedIPs = 10.7.7.7/8\n"),
        ),
        (
            "badendpoint.conf",
            format!("[Peer]\nPublicKey = {peer}\nEndpoint = [::1:5\n"),
        ),
        (
            "badka.conf",
            format!("[Peer]\nPublicKey = {peer}\nPersistentKeepalive = 70000\n"),
        ),
        (
            "badfwmark.conf",
            "[Interface]\nFwMark = 0x1ffffffff\n".to_owned(),
        ),
        ("typo.conf", "[Interface]\nListenPrt = 1\n".to_owned()),
        (
            "peerkey-in-iface.conf",
            format!("[Interface]\nPublicKey = {peer}\n"),
        ),
    ] {
        d.file(name, &text);
    }
}

/// `showconf` text with its `[Peer]` blocks in sorted order, and a port the kernel picked
/// (`listen-port 0`, from the ephemeral range) shown as such.
fn sorted_peers(text: &str) -> String {
    let text: String = text
        .lines()
        .map(
            |l| match l.strip_prefix("ListenPort = ").map(str::parse::<u16>) {
                Some(Ok(port)) if port >= 32768 => "ListenPort = (ephemeral)\n".to_owned(),
                _ => format!("{l}\n"),
            },
        )
        .collect();
    let mut blocks: Vec<&str> = text.split("\n\n").collect();
    if blocks.len() > 1 {
        blocks[1..].sort_unstable();
    }
    blocks.join("\n\n")
}

/// `wg set` cases, one a line, the arguments split at `|`: `{IF}` is the device, `{K0}`..`{K3}`
/// public keys (K0 the device's own, K1 and K2 its peers, K3 a stranger), `{DIR}` the
/// directory of key and config files.
const SET_CASES: &[&str] = &[
    // Usage and argument errors.
    "set",
    "set|{IF}",
    "set|--help",
    "set|{IF}|--help",
    "set|{IF}|bogus|1",
    "set|{IF}|listen-port",
    "set|{IF}|peer",
    "set|{IF}|remove",
    "set|{IF}|peer|{K3}|listen-port|1",
    "set|{IF}|peer|{K3}|private-key|{DIR}/priv",
    // Device settings.
    "set|{IF}|listen-port|51830",
    "set|{IF}|listen-port|0",
    "set|{IF}|listen-port|70000",
    "set|{IF}|listen-port|abc",
    "set|{IF}|listen-port|",
    "set|{IF}|listen-port|-1",
    "set|{IF}|fwmark|0x10",
    "set|{IF}|fwmark|1234",
    "set|{IF}|fwmark|off",
    "set|{IF}|fwmark|OFF",
    "set|{IF}|fwmark|0",
    "set|{IF}|fwmark|4294967296",
    "set|{IF}|fwmark|0x",
    "set|{IF}|fwmark|0X10",
    "set|{IF}|fwmark|12abc",
    "set|{IF}|fwmark|",
    "set|{IF}|private-key|{DIR}/priv",
    "set|{IF}|private-key|{DIR}/priv-spaces",
    "set|{IF}|private-key|{DIR}/empty",
    "set|{IF}|private-key|/dev/null",
    "set|{IF}|private-key|{DIR}/missing",
    "set|{IF}|private-key|{DIR}/short",
    "set|{IF}|private-key|{DIR}/trailing",
    "set|{IF}|private-key|{DIR}/badkey",
    "set|{IF}|private-key|{DIR}",
    "set|{IF}|listen-port|51831|fwmark|7|private-key|{DIR}/priv",
    // Peers.
    "set|{IF}|peer|{K3}",
    "set|{IF}|peer|abc",
    "set|{IF}|peer|{K3}x",
    "set|{IF}|peer|{K1}|remove",
    "set|{IF}|peer|{K3}|remove",
    "set|{IF}|peer|{K1}|remove|peer|{K2}|remove",
    "set|{IF}|peer|{K3}|allowed-ips|10.5.0.0/16,fd05::/64",
    "set|{IF}|peer|{K3}|allowed-ips| 10.5.0.0/16 , 10.6.0.1 ",
    "set|{IF}|peer|{K1}|allowed-ips|10.2.0.0/16",
    "set|{IF}|peer|{K1}|allowed-ips|",
    "set|{IF}|peer|{K1}|allowed-ips|10.5.5.5/8",
    "set|{IF}|peer|{K3}|allowed-ips|10.0.0.0/33",
    "set|{IF}|peer|{K3}|allowed-ips|fd00::/129",
    "set|{IF}|peer|{K3}|allowed-ips|10.0.0.0/x",
    "set|{IF}|peer|{K3}|allowed-ips|10.0.0.0/",
    "set|{IF}|peer|{K3}|allowed-ips|10.0.0.256/8",
    "set|{IF}|peer|{K3}|allowed-ips|10.0.0.0/8,",
    "set|{IF}|peer|{K3}|allowed-ips|010.0.0.0/8",
    "set|{IF}|peer|{K3}|allowed-ips|::ffff:1.2.3.4/128",
    "set|{IF}|peer|{K1}|allowed-ips|10.5.0.0/16|allowed-ips|10.6.0.0/16",
    "set|{IF}|peer|{K1}|preshared-key|{DIR}/psk",
    "set|{IF}|peer|{K1}|preshared-key|{DIR}/empty",
    "set|{IF}|peer|{K1}|preshared-key|/dev/null",
    "set|{IF}|peer|{K1}|preshared-key|{DIR}/missing",
    "set|{IF}|peer|{K1}|persistent-keepalive|off",
    "set|{IF}|peer|{K1}|persistent-keepalive|0",
    "set|{IF}|peer|{K2}|persistent-keepalive|65535",
    "set|{IF}|peer|{K2}|persistent-keepalive|65536",
    "set|{IF}|peer|{K2}|persistent-keepalive|-1",
    "set|{IF}|peer|{K2}|persistent-keepalive|",
    "set|{IF}|peer|{K2}|endpoint|127.0.0.1:9",
    "set|{IF}|peer|{K2}|endpoint|[::1]:9",
    "set|{IF}|peer|{K2}|endpoint|[fd00::1:2]:65535",
    "set|{IF}|peer|{K2}|endpoint|localhost:9",
    "set|{IF}|peer|{K2}|endpoint|127.0.0.1:70000",
    "set|{IF}|peer|{K2}|endpoint|",
    "set|{IF}|peer|{K2}|endpoint|127.0.0.1",
    "set|{IF}|peer|{K2}|endpoint|127.0.0.1:",
    "set|{IF}|peer|{K2}|endpoint|[::1:9",
    "set|{IF}|peer|{K2}|endpoint|[::1]9",
    "set|{IF}|peer|{K2}|endpoint|[::1]:",
    "set|{IF}|peer|{K2}|endpoint|127.0.0.1:port",
    "set|{IF}|peer|{K2}|endpoint|no.such.host.invalid:9",
    // The device refuses: its own public key as a peer is ignored, not an error.
    "set|{IF}|peer|{K0}|allowed-ips|10.9.0.0/16",
    // No such interface.
    "set|nosuchwg0|listen-port|1",
    "set|nosuchwg0|peer|abc",
];

#[test]
fn set_matches_wg() {
    if skip_unless_root(&["wg"]) {
        return;
    }
    let bench = Bench::new("set");
    for case in SET_CASES {
        let args: Vec<&str> = case.split('|').collect();
        bench.compare(&["WG_ENDPOINT_RESOLUTION_RETRIES=0"], &args);
    }
    // Endpoint resolution: a failure that may pass is retried, with a note per retry.
    let host = [
        "set",
        "{IF}",
        "peer",
        "{K2}",
        "endpoint",
        "no.such.host.invalid:9",
    ];
    bench.compare(&["WG_ENDPOINT_RESOLUTION_RETRIES=1"], &host);
    bench.compare(&["WG_ENDPOINT_RESOLUTION_RETRIES=abc"], &host);
    bench.compare(&["WG_ENDPOINT_RESOLUTION_RETRIES=-1"], &host);
    bench.compare(
        &["WG_ENDPOINT_RESOLUTION_RETRIES=abc"],
        &["set", "{IF}", "peer", "{K2}", "endpoint", ""],
    );
}

#[test]
fn setconf_addconf_syncconf_match_wg() {
    if skip_unless_root(&["wg"]) {
        return;
    }
    let bench = Bench::new("conf");
    let files = [
        "base.conf",
        "full.conf",
        "sync.conf",
        "interface-only.conf",
        "empty",
        "quick.conf",
        "nopub.conf",
        "nosection.conf",
        "emptyvalue.conf",
        "badport.conf",
        "badkey.conf",
        "badcidr.conf",
        "badip.conf",
        "hostbits.conf",
        "badendpoint.conf",
        "badka.conf",
        "badfwmark.conf",
        "typo.conf",
        "peerkey-in-iface.conf",
        "missing.conf",
        "",
    ];
    for cmd in ["setconf", "addconf", "syncconf"] {
        for file in files {
            let path = format!("{{DIR}}/{file}");
            bench.compare(&[], &[cmd, "{IF}", &path]);
        }
        bench.compare(&[], &[cmd]);
        bench.compare(&[], &[cmd, "{IF}"]);
        bench.compare(&[], &[cmd, "{IF}", "{DIR}/base.conf", "x"]);
        bench.compare(&[], &[cmd, "--help"]);
        bench.compare(&[], &[cmd, "nosuchwg0", "{DIR}/base.conf"]);
        bench.compare(&[], &[cmd, "nosuchwg0", "{DIR}/interface-only.conf"]);
    }
}

/// Where wg would read on until memory runs out (`getline` on `/dev/zero`), wgrs stops at a
/// line of 1 MiB and says so.
#[test]
fn an_endless_line_is_refused_not_read() {
    if skip_unless_root(&[]) {
        return;
    }
    let out = run(10, &[WGRS, "setconf", "nosuchwg0", "/dev/zero"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(
        out.stderr,
        "Line longer than 1048576 bytes\nConfiguration parsing error\n"
    );
}
