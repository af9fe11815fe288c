//! `get=1` answer: a plain [`DeviceView`] printed exactly as wireguard-go's `IpcGetOperation`
//! prints it (key order, conditional keys, lowercase hex, Go address forms), plus the final
//! `errno=0` and blank line that its `IpcHandle` appends.

use ipnet::IpNet;
use std::fmt::Write;
use std::net::SocketAddr;
use std::time::Duration;
use zeroize::Zeroizing;

use crate::keys::{push_key, PresharedKey, PrivateKey, PublicKey};
use crate::netip::{push_prefix, push_socket_addr};

/// What `get=1` reports about the interface (the daemon builds it from its device, the bound
/// port and the fwmark).
#[derive(Debug, Clone)]
pub struct DeviceView<'a> {
    /// Printed when set and not all zeros.
    pub private_key: Option<&'a PrivateKey>,
    /// The port actually bound; printed when nonzero.
    pub listen_port: u16,
    /// Printed when nonzero.
    pub fwmark: u32,
    /// Peers in the order to print them (wireguard-go's order is its map's, i.e. random).
    pub peers: Vec<PeerView<'a>>,
}

/// What `get=1` reports about one peer.
#[derive(Debug, Clone)]
pub struct PeerView<'a> {
    /// The peer's public key.
    pub public_key: PublicKey,
    /// Always printed, all zeros when there is none.
    pub preshared_key: &'a PresharedKey,
    /// Printed when known.
    pub endpoint: Option<SocketAddr>,
    /// Unix time of the last handshake; `None` prints as 0 and 0.
    pub last_handshake: Option<Duration>,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Seconds; 0 = off.
    pub persistent_keepalive_interval: u16,
    /// In the order they were added.
    pub allowed_ips: Vec<IpNet>,
}

/// The full `get=1` answer, ending `errno=0\n\n`. It holds the private and preshared keys, so
/// it is wiped when dropped; write it to the socket, never to a log.
pub fn format_get(dev: &DeviceView<'_>) -> Zeroizing<String> {
    // Reserve the worst case up front so the buffer never reallocates (which would leave
    // unwiped copies of the keys in freed memory).
    let ips: usize = dev.peers.iter().map(|p| p.allowed_ips.len()).sum();
    let mut out = Zeroizing::new(String::with_capacity(
        256 + dev.peers.len() * 512 + ips * 64,
    ));
    if let Some(k) = dev.private_key.filter(|k| !k.is_zero()) {
        push_key(&mut out, "private_key", k.as_bytes());
    }
    if dev.listen_port != 0 {
        let _ = writeln!(out, "listen_port={}", dev.listen_port);
    }
    if dev.fwmark != 0 {
        let _ = writeln!(out, "fwmark={}", dev.fwmark);
    }
    for peer in &dev.peers {
        push_peer(&mut out, peer);
    }
    out.push_str("errno=0\n\n");
    out
}

/// One peer's lines, in wireguard-go's order.
fn push_peer(out: &mut String, p: &PeerView<'_>) {
    push_key(out, "public_key", p.public_key.as_bytes());
    push_key(out, "preshared_key", p.preshared_key.as_bytes());
    out.push_str("protocol_version=1\n");
    if let Some(ep) = &p.endpoint {
        out.push_str("endpoint=");
        push_socket_addr(out, ep);
        out.push('\n');
    }
    let hs = p.last_handshake.unwrap_or_default();
    let _ = writeln!(out, "last_handshake_time_sec={}", hs.as_secs());
    let _ = writeln!(out, "last_handshake_time_nsec={}", hs.subsec_nanos());
    let _ = writeln!(out, "tx_bytes={}", p.tx_bytes);
    let _ = writeln!(out, "rx_bytes={}", p.rx_bytes);
    let _ = writeln!(
        out,
        "persistent_keepalive_interval={}",
        p.persistent_keepalive_interval
    );
    for net in &p.allowed_ips {
        out.push_str("allowed_ip=");
        push_prefix(out, net);
        out.push('\n');
    }
}

/// The status line that ends every answer: `errno=N\n\n` (N zero or negative).
pub fn format_errno(errno: i32) -> String {
    format!("errno={errno}\n\n")
}

#[cfg(test)]
#[path = "get_tests.rs"]
mod tests;
