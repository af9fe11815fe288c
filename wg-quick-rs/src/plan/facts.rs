//! What the planner needs to know about the system, gathered beforehand by the executor
//! (`exec::gather`) or written by hand in tests. Raw command output is kept raw where wg-quick
//! matches text in it, so that matching stays in pure, tested code.

use crate::state::{State, StateError};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Facts for one `up`, `down` or `save`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Endpoint host names resolved to an address (literal addresses need no entry).
    pub resolved: BTreeMap<String, IpAddr>,
    /// Endpoint host names that did not resolve, with the resolver's reason.
    pub unresolved: BTreeMap<String, String>,
    /// MTU of the route to each endpoint address (the route's `mtu`, else its device's MTU).
    pub endpoint_mtus: BTreeMap<IpAddr, u32>,
    /// The per-system part.
    pub os: OsFacts,
}

/// Facts only one system has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OsFacts {
    /// Linux.
    Linux(LinuxFacts),
    /// macOS.
    MacOs(MacFacts),
}

impl Facts {
    /// Linux facts with no resolved names and no endpoint MTUs.
    pub fn linux(lf: LinuxFacts) -> Self {
        Facts {
            resolved: BTreeMap::new(),
            unresolved: BTreeMap::new(),
            endpoint_mtus: BTreeMap::new(),
            os: OsFacts::Linux(lf),
        }
    }

    /// macOS facts with no resolved names and no endpoint MTUs.
    pub fn macos(mf: MacFacts) -> Self {
        Facts {
            resolved: BTreeMap::new(),
            unresolved: BTreeMap::new(),
            endpoint_mtus: BTreeMap::new(),
            os: OsFacts::MacOs(mf),
        }
    }
}

/// Linux facts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinuxFacts {
    /// `ip link show dev IFACE` lists something.
    pub iface_exists: bool,
    /// `/var/run/wireguard/IFACE.sock` answers a UAPI `get=1` (`wg show interfaces`).
    pub is_wireguard: bool,
    /// The running interface's fwmark (`wg show IFACE fwmark`), for `down`.
    pub running_fwmark: Option<u32>,
    /// The running interface has a /0 allowed IP (`wg show IFACE allowed-ips`), for `down`.
    pub running_has_default: bool,
    /// MTU of the default route (`ip route show default`: its `mtu`, else its device's).
    pub default_route_mtu: Option<u32>,
    /// Routing tables from 51820 up that hold routes (`ip -4/-6 route show table N`).
    pub busy_tables: BTreeSet<u32>,
    /// `resolvconf` is in `PATH`.
    pub has_resolvconf: bool,
    /// `/etc/resolvconf/interface-order` text, if the file exists (gives the `tun.` prefix).
    pub resolvconf_interface_order: Option<String>,
    /// `nft` is in `PATH`.
    pub has_nft: bool,
    /// `iptables-restore` is in `PATH` (used when `nft` is not).
    pub has_iptables: bool,
    /// `ip -4 rule show` output, for `down`.
    pub rules4: String,
    /// `ip -6 rule show` output, for `down`.
    pub rules6: String,
    /// `nft list tables` output, for `down`.
    pub nft_tables: String,
    /// `iptables-save` output, for `down`.
    pub iptables_save: String,
    /// `ip6tables-save` output, for `down`.
    pub ip6tables_save: String,
    /// What an earlier `wgrs up` recorded in `/var/run/wireguard/IFACE.wgrs-quick.state`.
    pub state: Option<Result<Box<State>, StateError>>,
    /// `/var/run/wireguard/IFACE.sock` exists (answering or not).
    pub socket_exists: bool,
}

/// A macOS network service (`networksetup -listallnetworkservices`) and its DNS before `up`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MacService {
    /// Service name (without the `*` that marks a disabled one).
    pub name: String,
    /// `networksetup -getdnsservers NAME` output.
    pub dns: String,
    /// `networksetup -getsearchdomains NAME` output.
    pub search: String,
}

/// macOS facts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MacFacts {
    /// The `utunN` that `/var/run/wireguard/IFACE.name` names, when its socket exists and was
    /// made within 2 s of the name file (darwin.bash `get_real_interface`).
    pub real_iface: Option<String>,
    /// That interface's socket answers a UAPI `get=1`.
    pub is_wireguard: bool,
    /// MTU of the interface of the IPv4 default route.
    pub default_if_mtu: Option<u32>,
    /// MTU a new utun starts with (wgrs: 1420); automatic MTU is set only when it differs.
    pub new_tun_mtu: u32,
    /// IPv4 default gateway (`netstat -nr -f inet`, not `link#N`).
    pub gateway4: Option<String>,
    /// IPv6 default gateway.
    pub gateway6: Option<String>,
    /// Network services, in listing order.
    pub services: Vec<MacService>,
}
