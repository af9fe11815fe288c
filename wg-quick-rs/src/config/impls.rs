//! Helpers for the fixed types in `types.rs`: key text lengths and the text forms of [`Cidr`], [`Endpoint`] and [`Table`] used by `wg showconf`.

use super::types::{Cidr, Endpoint, Table};
use std::fmt;
use std::net::IpAddr;

/// Length of a key in base64 (`wg genkey` output, without the newline).
pub const KEY_BASE64_LEN: usize = 44;
/// Length of a key in hex (UAPI).
pub const KEY_HEX_LEN: usize = 64;

impl Cidr {
    /// The longest prefix the address family allows (32 or 128).
    pub fn max_prefix(addr: IpAddr) -> u8 {
        match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }
}

/// `10.0.0.1/24`, `fd00::1/64`.
impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `host:port`, with the host in brackets when it contains `:` (IPv6), as `wg showconf` prints.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `auto`, `off` or the table number.
impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Table::Auto => f.write_str("auto"),
            Table::Off => f.write_str("off"),
            Table::Id(id) => write!(f, "{id}"),
        }
    }
}
