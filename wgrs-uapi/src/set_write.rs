//! [`SetRequest`] -> `set=1` text, in the order wireguard-tools' `userspace_set_device`
//! (`ipc-uapi.h`) writes it: device keys, `replace_peers`, then per peer `public_key`,
//! `remove` (and nothing else), `preshared_key`, `endpoint`, `persistent_keepalive_interval`,
//! `replace_allowed_ips`, the `allowed_ip`s; a blank line ends it.

use std::fmt::Write;
use zeroize::Zeroizing;

use crate::keys::{push_key, KEY_LEN};
use crate::netip::push_socket_addr;
use crate::set::{AllowedIpChange, PeerSet, SetRequest};

impl SetRequest {
    /// The request as UAPI text, `set=1\n` to the final blank line. It may hold the private
    /// and preshared keys, so it is wiped when dropped; send it, never log it.
    pub fn to_uapi(&self) -> Zeroizing<String> {
        let ips: usize = self.peers.iter().map(|p| p.allowed_ips.len()).sum();
        // Room for everything up front: a reallocation would leave unwiped copies of keys.
        let mut out = Zeroizing::new(String::with_capacity(
            256 + self.peers.len() * 512 + ips * 64,
        ));
        out.push_str("set=1\n");
        if let Some(key) = &self.private_key {
            let zero = [0u8; KEY_LEN];
            push_key(
                &mut out,
                "private_key",
                key.as_ref().map_or(&zero, |k| k.as_bytes()),
            );
        }
        if let Some(port) = self.listen_port {
            let _ = writeln!(out, "listen_port={port}");
        }
        if let Some(mark) = self.fwmark {
            let _ = writeln!(out, "fwmark={mark}");
        }
        if self.replace_peers {
            out.push_str("replace_peers=true\n");
        }
        for peer in &self.peers {
            push_peer(&mut out, peer);
        }
        out.push('\n');
        out
    }
}

fn push_peer(out: &mut String, p: &PeerSet) {
    push_key(out, "public_key", p.public_key.as_bytes());
    if p.remove {
        out.push_str("remove=true\n");
        return;
    }
    if p.update_only {
        out.push_str("update_only=true\n");
    }
    if let Some(psk) = &p.preshared_key {
        push_key(out, "preshared_key", psk.as_bytes());
    }
    if let Some(ep) = &p.endpoint {
        out.push_str("endpoint=");
        push_socket_addr(out, ep);
        out.push('\n');
    }
    if let Some(secs) = p.persistent_keepalive_interval {
        let _ = writeln!(out, "persistent_keepalive_interval={secs}");
    }
    if p.replace_allowed_ips {
        out.push_str("replace_allowed_ips=true\n");
    }
    for change in &p.allowed_ips {
        // Host bits are kept, as wg sends them; the daemon masks them.
        let _ = match change {
            AllowedIpChange::Add(net) => {
                writeln!(out, "allowed_ip={}/{}", net.addr(), net.prefix_len())
            }
            AllowedIpChange::Remove(net) => {
                writeln!(out, "allowed_ip=-{}/{}", net.addr(), net.prefix_len())
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{PresharedKey, PrivateKey, PublicKey};
    use crate::parse_set;

    /// What `wg set wg0 private-key F listen-port 51820 fwmark 0x10 peer K remove peer L ...`
    /// sends (captured from wg v1.0.20210914 on a fake socket, keys replaced).
    #[test]
    fn writes_wgs_order_and_parses_back() {
        let mut a = PeerSet::new(PublicKey([0xaa; 32]));
        a.remove = true;
        a.preshared_key = Some(PresharedKey::from_bytes([1; 32]));
        let mut b = PeerSet::new(PublicKey([0xbb; 32]));
        b.preshared_key = Some(PresharedKey::from_bytes([0; 32]));
        b.endpoint = Some("[fe80::1]:51820".parse().expect("addr"));
        b.persistent_keepalive_interval = Some(0);
        b.replace_allowed_ips = true;
        b.allowed_ips = vec![
            AllowedIpChange::Add("10.0.0.1/24".parse().expect("net")),
            AllowedIpChange::Add("::/0".parse().expect("net")),
        ];
        let req = SetRequest {
            private_key: Some(None),
            listen_port: Some(51820),
            fwmark: Some(16),
            replace_peers: true,
            peers: vec![a, b],
        };
        let text = req.to_uapi();
        let zero = "00".repeat(32);
        let want = format!(
            "set=1\nprivate_key={zero}\nlisten_port=51820\nfwmark=16\nreplace_peers=true\n\
             public_key={aa}\nremove=true\n\
             public_key={bb}\npreshared_key={zero}\nendpoint=[fe80::1]:51820\n\
             persistent_keepalive_interval=0\nreplace_allowed_ips=true\n\
             allowed_ip=10.0.0.1/24\nallowed_ip=::/0\n\n",
            aa = "aa".repeat(32),
            bb = "bb".repeat(32),
        );
        assert_eq!(text.as_str(), want);
        let body = text.strip_prefix("set=1\n").expect("op line");
        let back = parse_set(body).expect("the daemon's parser takes it");
        assert_eq!(back.peers.len(), 2);
        assert_eq!(back.listen_port, Some(51820));
        let key = PrivateKey::from_bytes([7; 32]);
        let with_key = SetRequest {
            private_key: Some(Some(key.clone())),
            ..SetRequest::default()
        };
        let body = with_key.to_uapi();
        let back = parse_set(body.strip_prefix("set=1\n").expect("op")).expect("parses");
        assert_eq!(back.private_key, Some(Some(key)));
    }
}
