//! Why a plan cannot be made. `Display` gives wg-quick's text without its `wg-quick: ` prefix;
//! the caller prefixes the program name (`wgrs: `).

use std::fmt;

/// A reason not to start: nothing has been changed on the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// The name is not 1–15 of `[a-zA-Z0-9_=+.-]`.
    InvalidInterfaceName(String),
    /// `up` while the interface exists (Linux).
    AlreadyExists(String),
    /// `up` while the interface runs as `real` (macOS).
    AlreadyExistsAs {
        /// Name from the config file.
        iface: String,
        /// The `utunN` it runs as.
        real: String,
    },
    /// `down`/`save` on an interface that is not a running WireGuard (wgrs) interface.
    NotWireGuard(String),
    /// `DNS =` is set but `resolvconf` is not installed.
    NoResolvconf(String),
    /// A full tunnel needs `nft` or `iptables-restore` for its firewall rules.
    NoFirewall(String),
    /// An endpoint host name that did not resolve.
    Unresolved {
        /// Host as written.
        host: String,
        /// Port.
        port: u16,
        /// The resolver's reason.
        reason: String,
        /// Line of the `Endpoint =` (0: unknown).
        line: usize,
    },
    /// macOS with `Table =` other than auto, main or off.
    DarwinTable,
    /// The record an earlier `up` left cannot be read.
    BadState {
        /// The state file.
        path: String,
        /// Why it cannot be used.
        reason: String,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::InvalidInterfaceName(name) => write!(
                f,
                "`{name}' is not a valid interface name (1 to 15 of a-z A-Z 0-9 _ = + . -)"
            ),
            PlanError::AlreadyExists(iface) => write!(f, "`{iface}' already exists"),
            PlanError::AlreadyExistsAs { iface, real } => {
                write!(f, "`{iface}' already exists as `{real}'")
            }
            PlanError::NotWireGuard(iface) => write!(f, "`{iface}' is not a WireGuard interface"),
            PlanError::NoResolvconf(iface) => write!(
                f,
                "`{iface}' sets DNS, but `resolvconf' is not installed: install resolvconf \
                 (or openresolv), or remove the DNS line"
            ),
            PlanError::NoFirewall(iface) => write!(
                f,
                "`{iface}' routes all traffic (AllowedIPs /0), which needs `nft' or \
                 `iptables-restore', and neither is installed"
            ),
            PlanError::Unresolved {
                host, port, reason, ..
            } => {
                if host.contains(':') {
                    write!(f, "Endpoint: {reason}: `[{host}]:{port}'")
                } else {
                    write!(f, "Endpoint: {reason}: `{host}:{port}'")
                }
            }
            PlanError::DarwinTable => f.write_str("Darwin only supports TABLE=auto|main|off"),
            PlanError::BadState { path, reason } => write!(
                f,
                "`{path}': {reason}; remove it to let `down' work from the live interface alone"
            ),
        }
    }
}

impl PlanError {
    /// The config line the error is about, when it is about one.
    pub fn line(&self) -> Option<usize> {
        match self {
            PlanError::Unresolved { line, .. } => Some(*line).filter(|&l| l > 0),
            _ => None,
        }
    }
}

impl std::error::Error for PlanError {}
