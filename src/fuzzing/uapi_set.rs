//! Fuzz target `uapi_set`: UAPI `set=1` requests, parsed then applied to a device, a few in a
//! row. A refused request leaves the `get=1` answer unchanged; an accepted one is reflected in
//! it exactly as an independent model of wireguard-go's semantics says; and the answer, fed
//! back as a `set`, rebuilds the same device.

use arbitrary::{Result, Unstructured};
use ipnet::IpNet;
use std::net::SocketAddr;

use super::rng::FuzzRng;
use crate::proto::device::Device;
use crate::proto::keys::{PresharedKey, PrivateKey, PublicKey};
use crate::proto::time::Now;
use crate::uapi::{apply_set, device_view, format_get, parse_set_bytes, AllowedIpChange};
use crate::uapi::{DeviceView, PeerView};
use crate::uapi::{PeerSet, SetRequest};

/// A peer as the model sees it.
#[derive(Clone)]
struct ModelPeer {
    key: PublicKey,
    psk: PresharedKey,
    endpoint: Option<SocketAddr>,
    keepalive: u16,
    ips: Vec<IpNet>,
}

/// The device's configuration as `get` should show it.
#[derive(Clone, Default)]
struct Model {
    private: Option<PrivateKey>,
    port: u16,
    fwmark: u32,
    peers: Vec<ModelPeer>,
}

impl Model {
    fn apply(&mut self, req: &SetRequest) {
        self.port = req.listen_port.unwrap_or(self.port);
        self.fwmark = req.fwmark.unwrap_or(self.fwmark);
        if let Some(key) = &req.private_key {
            if key.as_ref() != self.private.as_ref() {
                self.private = key.clone();
                let own = self.own();
                self.peers.retain(|p| Some(p.key) != own);
            }
        }
        if req.replace_peers {
            self.peers.clear();
        }
        for s in &req.peers {
            self.apply_peer(s);
        }
    }

    fn own(&self) -> Option<PublicKey> {
        self.private.as_ref().map(PrivateKey::public_key)
    }

    fn apply_peer(&mut self, s: &PeerSet) {
        let at = self.peers.iter().position(|p| p.key == s.public_key);
        if Some(s.public_key) == self.own() || (at.is_none() && s.update_only) {
            return;
        }
        if s.remove {
            self.peers.retain(|p| p.key != s.public_key);
            return;
        }
        let at = at.unwrap_or_else(|| {
            let psk = PresharedKey::default();
            let (endpoint, ips) = (None, Vec::new());
            self.peers.push(ModelPeer {
                key: s.public_key,
                psk,
                endpoint,
                keepalive: 0,
                ips,
            });
            self.peers.len() - 1
        });
        let p = &mut self.peers[at];
        p.psk = s.preshared_key.clone().unwrap_or_else(|| p.psk.clone());
        p.endpoint = s.endpoint.or(p.endpoint);
        p.keepalive = s.persistent_keepalive_interval.unwrap_or(p.keepalive);
        if s.replace_allowed_ips {
            p.ips.clear();
        }
        for change in &s.allowed_ips {
            match *change {
                AllowedIpChange::Add(net) => {
                    let net = net.trunc();
                    for q in &mut self.peers {
                        q.ips.retain(|n| *n != net);
                    }
                    self.peers[at].ips.push(net);
                }
                AllowedIpChange::Remove(net) => self.peers[at].ips.retain(|n| *n != net.trunc()),
            }
        }
    }

    /// `get` as it should read; byte counters come from the device (traffic is not modelled).
    fn get(&self, dev: &Device) -> String {
        let peers = self.peers.iter().map(|p| PeerView {
            public_key: p.key,
            preshared_key: &p.psk,
            endpoint: p.endpoint,
            last_handshake: None,
            tx_bytes: dev
                .peer_id(&p.key)
                .and_then(|id| dev.peer(id))
                .map_or(0, |q| q.tx_bytes()),
            rx_bytes: 0,
            persistent_keepalive_interval: p.keepalive,
            allowed_ips: p.ips.clone(),
        });
        let view = DeviceView {
            private_key: self.private.as_ref(),
            listen_port: self.port,
            fwmark: self.fwmark,
            peers: peers.collect(),
        };
        format_get(&view).as_str().to_owned()
    }
}

fn get(dev: &Device, m: &Model) -> String {
    format_get(&device_view(dev, m.port, m.fwmark))
        .as_str()
        .to_owned()
}

/// Runs a few requests; panics when a property fails.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut dev = Device::new(Box::new(FuzzRng::new(5)));
    let mut model = Model::default();
    let now = Now::default();
    for _ in 0..4 {
        let Ok(text) = request(&mut u) else { break };
        let before = get(&dev, &model);
        let Ok(req) = parse_set_bytes(&text) else {
            assert_eq!(get(&dev, &model), before, "refused set changed the device");
            continue;
        };
        let mut next = model.clone();
        next.apply(&req);
        match apply_set(&mut dev, req, now) {
            Err(e) => {
                assert!(e.errno < 0, "errno {}", e.errno);
                assert_eq!(get(&dev, &model), before, "refused set changed the device");
            }
            Ok(_) => {
                model = next;
                assert_eq!(
                    get(&dev, &model),
                    model.get(&dev),
                    "set not reflected in get"
                );
            }
        }
    }
    rebuild(&dev, &model);
}

/// `get`'s answer turned into a `set` with `replace_peers` rebuilds the same configuration.
fn rebuild(dev: &Device, model: &Model) {
    let answer = get(dev, model);
    let keep = [
        "private_key",
        "listen_port",
        "fwmark",
        "public_key",
        "preshared_key",
    ];
    let keep2 = [
        "endpoint",
        "persistent_keepalive_interval",
        "allowed_ip",
        "protocol_version",
    ];
    let mut set = String::from("replace_peers=true\n");
    for line in answer.lines() {
        let key = line.split('=').next().unwrap_or("");
        if keep.contains(&key) || keep2.contains(&key) {
            set.push_str(line);
            set.push('\n');
        }
    }
    let req = parse_set_bytes(set.as_bytes()).expect("get's answer parses as a set");
    let mut fresh = Device::new(Box::new(FuzzRng::new(6)));
    apply_set(&mut fresh, req, Now::default()).expect("get's answer applies");
    let strip = |s: String| {
        s.lines()
            .filter(|l| !l.starts_with("tx_bytes="))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(get(&fresh, model)),
        strip(answer),
        "get -> set -> get differs"
    );
}

fn hex(seed: u8) -> String {
    PrivateKey::from_bytes([seed; 32]).public_key().to_hex()
}

/// One request: raw bytes, or lines from UAPI's grammar with values from small sets.
fn request(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    if u.ratio(1, 8)? {
        let len = u.int_in_range(0..=200)?;
        return Ok(u.bytes(len)?.to_vec());
    }
    let mut text = String::new();
    for _ in 0..u.int_in_range(1..=12)? {
        text.push_str(&line(u)?);
        text.push_str(if u.ratio(1, 16)? { "\r\n" } else { "\n" });
    }
    Ok(text.into_bytes())
}

fn line(u: &mut Unstructured<'_>) -> Result<String> {
    const ENDPOINTS: [&str; 6] = [
        "192.0.2.1:51820",
        "[2001:db8::1]:1",
        "[fe80::1%1]:5",
        "1.2.3.4:0",
        "x:1",
        "[::1]:65536",
    ];
    const PREFIXES: [&str; 8] = [
        "10.0.0.0/8",
        "10.1.2.3/32",
        "0.0.0.0/0",
        "::/0",
        "fd00::1/64",
        "10.0.0.0/33",
        "a",
        "10.1.0.0/16",
    ];
    let seed = u.int_in_range(0u8..=3)?;
    Ok(match u.int_in_range(0..=14)? {
        0 if seed == 0 => format!("private_key={}", "00".repeat(32)),
        0 => format!(
            "private_key={}",
            PrivateKey::from_bytes([seed; 32]).to_hex().as_str()
        ),
        1 => format!("listen_port={}", u.arbitrary::<u32>()? % 70000),
        2 => format!("fwmark={}", u.arbitrary::<u32>()?),
        3 => "replace_peers=true".to_owned(),
        4 | 5 => format!("public_key={}", hex(seed + 1)),
        6 => "remove=true".to_owned(),
        7 => "update_only=true".to_owned(),
        8 => format!("preshared_key={}", format!("{seed:02x}").repeat(32)),
        9 => format!("endpoint={}", ENDPOINTS[u.int_in_range(0..=5)?]),
        10 => format!(
            "persistent_keepalive_interval={}",
            [0, 1, 25, 65535][usize::from(seed)]
        ),
        11 => "replace_allowed_ips=true".to_owned(),
        12 | 13 => {
            let minus = if u.ratio(1, 3)? { "-" } else { "" };
            format!("allowed_ip={minus}{}", PREFIXES[u.int_in_range(0..=7)?])
        }
        _ => {
            let n = u.int_in_range(0..=40)?;
            String::from_utf8_lossy(u.bytes(n)?).into_owned()
        }
    })
}
