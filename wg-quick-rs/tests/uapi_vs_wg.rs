//! Against a real device: Debian's `wireguard-go` (in its own network namespace) configured
//! once by `wg setconf` with `strip`'s output and once by our `to_uapi_set`, must end up the
//! same, and `render(parse_uapi_get(get=1))` must equal `wg showconf`. Needs root, `unshare`,
//! `wireguard-go`, `wg` and /dev/net/tun; skips with a message otherwise.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{start_device, TempDir, PRIV, PSK, PUB1, PUB2, PUB3};
use wg_quick_rs::config::{parse, render, strip};
use wg_quick_rs::uapi_text::{parse_uapi_get, to_uapi_set};

/// `wg showconf` as wg-quick's save reads it (`$(...)` then `echo`), peers sorted
/// (wireguard-go lists them in map order).
fn normalize_blocks(text: &str) -> String {
    let text = text.trim_end_matches('\n');
    let mut blocks: Vec<&str> = text.split("\n\n").collect();
    if blocks.len() > 2 {
        blocks[1..].sort_unstable();
    }
    blocks.join("\n\n") + "\n"
}

const CONFIGS: &[&str] = &[
    "[Interface]\nPrivateKey = {PRIV}\nListenPort = 40001\nFwMark = 0x1234\nAddress = 10.0.0.1/24\nPostUp = echo hi\n\
     [Peer]\nPublicKey = {PUB1}\nPresharedKey = {PSK}\nAllowedIPs = 10.0.0.2/32, 10.1.2.3/16, fd00::5/64\n\
     Endpoint = 127.0.0.1:51820\nPersistentKeepalive = 25\n\
     [Peer]\nPublicKey = {PUB2}\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = [::1]:51821\n",
    "[Interface]\nListenPort = 40002\n[Peer]\nPublicKey = {PUB3}\n",
    "[Interface]\nPrivateKey = {PRIV}\nListenPort = 40003\nFwMark = off\n[Peer]\nPublicKey = {PUB1}\nPersistentKeepalive = off\nAllowedIPs = 192.168.0.0/16\n",
    "[Interface]\nprivatekey={PRIV}\nlisten port = 40004\nDNS = 1.1.1.1\nTable = off\n\
     [peer]\npublickey={PUB2}\nallowedips=fd00::/8,fd01::1\nallowedips = 10.9.0.0/16\nendpoint=127.0.0.2:1\n",
];

fn fill(t: &str) -> String {
    t.replace("{PRIV}", PRIV)
        .replace("{PUB1}", PUB1)
        .replace("{PUB2}", PUB2)
        .replace("{PUB3}", PUB3)
        .replace("{PSK}", PSK)
}

#[test]
fn to_uapi_set_and_parse_uapi_get_match_wg_on_wireguard_go() {
    let device = match start_device() {
        Ok(d) => d,
        Err(why) => {
            println!("SKIP to_uapi_set_and_parse_uapi_get_match_wg_on_wireguard_go: {why}");
            return;
        }
    };
    let dir = TempDir::new("uapi");
    for (i, template) in CONFIGS.iter().enumerate() {
        let text = fill(template);
        let cfg = parse(&text, "wgt.conf").unwrap();
        // 1. wg setconf with wg-quick strip's output.
        let file = dir.path().join("stripped.conf");
        std::fs::write(&file, strip(&text)).unwrap();
        device.wg(&["setconf", &device.name, file.to_str().unwrap()]);
        let by_wg = normalize_blocks(&device.showconf());
        // parse_uapi_get + render = wg showconf.
        let live = parse_uapi_get(&device.uapi("get=1\n\n")).unwrap();
        assert_eq!(
            normalize_blocks(&render(&live)),
            by_wg,
            "config #{i}: render(get) vs showconf"
        );
        // 2. our set=1 body: the same device state.
        device.uapi("set=1\nreplace_peers=true\nlisten_port=1\n\n");
        let reply = device.uapi(&to_uapi_set(&cfg, &[]));
        assert_eq!(reply, "errno=0\n\n", "config #{i}");
        assert_eq!(
            normalize_blocks(&device.showconf()),
            by_wg,
            "config #{i}: to_uapi_set vs wg setconf"
        );
    }
    println!(
        "{} configs: to_uapi_set ≡ wg setconf, render(parse_uapi_get) ≡ wg showconf",
        CONFIGS.len()
    );
}
