//! Fuzz target `conf_roundtrip`: the wg0.conf parser (wg-quick-rs). A file that parses renders
//! (what `wgrs save` writes) to text that parses back to the same typed configuration and
//! renders to the same text; what `wgrs strip` prints parses to the same `wg` part. A file
//! that does not parse is refused with an error naming the file and a line in it.

use wg_quick_rs::config::{parse, render, strip, Config, Interface, Line};

const FILE: &str = "fuzz.conf";

/// The configuration without what does not survive rendering by design: the line numbers
/// kept for error messages, and the difference between a zero ListenPort, FwMark or
/// PersistentKeepalive and none (rendering leaves zeros out, as `wg showconf` does).
fn normalized(mut cfg: Config) -> Config {
    let iface = &mut cfg.interface;
    iface.listen_port = iface.listen_port.filter(|&p| p != 0);
    iface.fwmark = iface.fwmark.filter(|&m| m != 0);
    iface.listen_port_line = Line(0);
    for peer in &mut cfg.peers {
        peer.line = Line(0);
        peer.endpoint_line = Line(0);
        peer.persistent_keepalive = peer.persistent_keepalive.filter(|&k| k != 0);
    }
    cfg
}

/// Only the keys `wg` reads: what `strip` keeps.
fn wg_part(mut cfg: Config) -> Config {
    let iface = &cfg.interface;
    cfg.interface = Interface {
        private_key: iface.private_key.clone(),
        listen_port: iface.listen_port,
        fwmark: iface.fwmark,
        ..Interface::default()
    };
    normalized(cfg)
}

/// Runs one file; panics when a property fails.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cfg = match parse(text, FILE) {
        Ok(cfg) => cfg,
        Err(e) => {
            let lines = text.split('\n').count();
            assert!(
                (1..=lines).contains(&e.line),
                "error line {} of {lines}",
                e.line
            );
            assert!(e.to_string().starts_with("fuzz.conf:"), "error {e}");
            return;
        }
    };
    let rendered = render(&cfg);
    let again = parse(&rendered, FILE)
        .unwrap_or_else(|e| panic!("rendering does not parse: {e}\n{}", rendered.as_str()));
    assert_eq!(
        render(&again).as_str(),
        rendered.as_str(),
        "rendering not stable"
    );
    let stripped = strip(text);
    let wg = parse(&stripped, FILE)
        .unwrap_or_else(|e| panic!("strip output does not parse: {e}\n{stripped}"));
    assert_eq!(
        wg_part(cfg.clone()),
        wg_part(wg),
        "strip changed the wg keys"
    );
    assert_eq!(
        normalized(again),
        normalized(cfg),
        "render -> parse changed the config"
    );
}
