//! Typed wg-quick configuration: the `[Interface]` and `[Peer]` keys that `wg` understands plus
//! the ones only wg-quick reads (Address, DNS, MTU, Table, hooks, SaveConfig).

use std::net::IpAddr;

/// The key types, shared with the daemon and the UAPI codec (`wgrs-uapi`): zeroized on drop,
/// compared in constant time, `(hidden)` in `Debug` for secrets.
pub use wgrs_uapi::keys::{PresharedKey, PrivateKey, PublicKey};

/// An address with its prefix length, host bits kept (`10.0.0.1/24`), as in `Address =` and
/// `AllowedIPs =`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The address as written.
    pub addr: IpAddr,
    /// Prefix length (≤ 32 for IPv4, ≤ 128 for IPv6).
    pub prefix: u8,
}

/// A peer endpoint: a literal address or a host name to resolve, and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host as written, without brackets (`192.0.2.1`, `2001:db8::1`, `vpn.example.com`).
    pub host: String,
    /// UDP port.
    pub port: u16,
}

/// wg-quick's `Table =`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Table {
    /// Routes in the main table; a /0 gets wg-quick's fwmark + policy-routing treatment.
    #[default]
    Auto,
    /// No routes at all.
    Off,
    /// Every route in this table (name resolved to a number by the caller, or a number).
    Id(u32),
}

/// Where a value came from, for error messages (`wg0.conf:12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Line(pub usize);

/// `[Interface]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interface {
    /// PrivateKey.
    pub private_key: Option<PrivateKey>,
    /// ListenPort.
    pub listen_port: Option<u16>,
    /// Line of the (last) `ListenPort =`, to name it in errors (0: none).
    pub listen_port_line: Line,
    /// FwMark (`off` = Some(0)).
    pub fwmark: Option<u32>,
    /// Address (repeated keys and comma lists add up, in order).
    pub addresses: Vec<Cidr>,
    /// DNS entries that are IP addresses (name servers).
    pub dns: Vec<IpAddr>,
    /// DNS entries that are not IP addresses (search domains).
    pub dns_search: Vec<String>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Table.
    pub table: Table,
    /// PreUp hooks, in order.
    pub pre_up: Vec<String>,
    /// PostUp hooks.
    pub post_up: Vec<String>,
    /// PreDown hooks.
    pub pre_down: Vec<String>,
    /// PostDown hooks.
    pub post_down: Vec<String>,
    /// SaveConfig.
    pub save_config: bool,
}

/// `[Peer]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// PublicKey (required).
    pub public_key: PublicKey,
    /// PresharedKey.
    pub preshared_key: Option<PresharedKey>,
    /// AllowedIPs (repeated keys and comma lists add up, in order).
    pub allowed_ips: Vec<Cidr>,
    /// Endpoint.
    pub endpoint: Option<Endpoint>,
    /// Line of the (last) `Endpoint =`, to name it in errors (0: none).
    pub endpoint_line: Line,
    /// PersistentKeepalive (`off` = Some(0)).
    pub persistent_keepalive: Option<u16>,
    /// Line of the `[Peer]` header, to name the peer in errors.
    pub line: Line,
}

/// A whole wg-quick configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// The `[Interface]` section.
    pub interface: Interface,
    /// `[Peer]` sections, in file order.
    pub peers: Vec<Peer>,
}
