//! [`parse`]: wg0.conf text → typed [`Config`], accepting what `wg-quick` (bash) plus
//! `wg setconf` (`config.c`) accept and rejecting, with file:line and key, what either rejects
//! or would silently wrap.
//!
//! Each line is first offered to wg-quick's rules (its own keys, only after a header that trims
//! to `[Interface]`); the rest is read with `wg`'s rules (whitespace removed, keys matched
//! case-insensitively, an unknown key is an error).
//!
//! Where we knowingly differ from Debian's wg / wg-quick (v1.0.20210914):
//! - ListenPort and Endpoint ports above 65535 are errors (glibc wraps them); ports are
//!   numeric only (`getaddrinfo` would also take a UDP service name such as `domain`).
//! - A wg-quick key without `=` is an error (wg-quick would take the key as its value).
//! - wg-quick's values are checked here rather than by `ip`/resolvconf at `up`: Address is
//!   `IP[/prefix]` (no iproute2 shorthand such as `10/8`), a DNS word that looks like an
//!   address must be one (no `%scope`), MTU is 68–65535, Table is `auto`, `off` (lowercase,
//!   as wg-quick compares), a number, or a name from iproute2's built-ins or
//!   [`ParseOptions::rt_tables`]. Address and DNS words are not glob-expanded.
//! - Hooks lose everything from the first `#`, as this wg-quick does; newer upstream wg-quick
//!   keeps the `#` part of hook values.
//! - AllowedIPs entries prefixed `+`/`-` (newer wg's incremental syntax) are errors, as here.

use super::error::ConfigError;
use super::lex::{bash_lines, wg_compact, QuickKey, QuickScanner};
use super::types::{Cidr, Config, Endpoint, Interface, Line, Peer, PresharedKey, PublicKey};
use super::values::{self, DnsEntry};

/// Options for [`parse_with`].
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Routing table names (`Table = name`) beyond iproute2's built-in `default`, `main` and
    /// `local`, e.g. from [`parse_rt_tables`].
    pub rt_tables: Vec<(String, u32)>,
}

/// Parses a wg-quick configuration; `file` names it in errors. `Table =` accepts iproute2's
/// built-in names only; see [`parse_with`] for names from `/etc/iproute2/rt_tables`.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    parse_with(text, file, &ParseOptions::default())
}

/// [`parse`] with options.
pub fn parse_with(text: &str, file: &str, opts: &ParseOptions) -> Result<Config, ConfigError> {
    let mut parser = Parser {
        file,
        opts,
        interface: Interface::default(),
        peers: Vec::new(),
        section: WgSection::None,
        quick: QuickScanner::default(),
    };
    for line in bash_lines(text) {
        parser.line(line.no, &line.text)?;
    }
    parser.finish()
}

/// Reads iproute2's `rt_tables` format (`NUMBER NAME` per line, `#` comments) leniently:
/// lines that do not fit are skipped, as `ip` skips them.
pub fn parse_rt_tables(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next()?.trim();
            let mut words = line.split_whitespace();
            let id = values::c_unsigned(words.next()?)?;
            let name = words.next()?;
            Some((name.to_owned(), u32::try_from(id).ok()?))
        })
        .collect()
}

/// The section as `wg` sees it (headers compared with all whitespace removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WgSection {
    None,
    Interface,
    Peer,
}

/// A `[Peer]` whose PublicKey may not have been seen yet.
struct PeerDraft {
    public_key: Option<PublicKey>,
    preshared_key: Option<PresharedKey>,
    allowed_ips: Vec<Cidr>,
    endpoint: Option<Endpoint>,
    endpoint_line: usize,
    persistent_keepalive: Option<u16>,
    line: usize,
}

const INTERFACE_KEYS: [&str; 3] = ["PrivateKey", "ListenPort", "FwMark"];
const PEER_KEYS: [&str; 5] = [
    "PublicKey",
    "PresharedKey",
    "AllowedIPs",
    "Endpoint",
    "PersistentKeepalive",
];

fn canonical(keys: &[&'static str], key: &str) -> Option<&'static str> {
    keys.iter().copied().find(|k| k.eq_ignore_ascii_case(key))
}

/// A key as written, quoted in errors only when it cannot be (part of) a secret.
fn printable_key(key: &str) -> Option<&str> {
    let plain = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '));
    (plain && !key.is_empty() && key.len() <= 32).then_some(key)
}

struct Parser<'a> {
    file: &'a str,
    opts: &'a ParseOptions,
    interface: Interface,
    peers: Vec<PeerDraft>,
    section: WgSection,
    quick: QuickScanner,
}

impl Parser<'_> {
    fn err(&self, line: usize, key: Option<&str>, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.file, line, key, message.into())
    }

    fn line(&mut self, no: usize, text: &str) -> Result<(), ConfigError> {
        if let Some((key, value)) = self.quick.consume(text) {
            let name = Some(key.name());
            if !text.split('#').next().unwrap_or("").contains('=') {
                return Err(self.err(no, name, format!("missing `=' after {}", key.name())));
            }
            return self
                .quick_key(key, value)
                .map_err(|m| self.err(no, name, m));
        }
        self.wg_line(no, text)
    }

    fn quick_key(&mut self, key: QuickKey, value: &str) -> Result<(), String> {
        let iface = &mut self.interface;
        match key {
            QuickKey::Address => {
                for word in values::quick_words(value) {
                    iface.addresses.push(values::cidr(word)?);
                }
            }
            QuickKey::Dns => {
                for word in values::quick_words(value) {
                    match values::dns_entry(word)? {
                        DnsEntry::Server(ip) => iface.dns.push(ip),
                        DnsEntry::Search(name) => iface.dns_search.push(name),
                    }
                }
            }
            QuickKey::Mtu if value.is_empty() => iface.mtu = None,
            QuickKey::Mtu => iface.mtu = Some(values::mtu(value)?),
            QuickKey::Table => iface.table = values::table(value, &self.opts.rt_tables)?,
            QuickKey::PreUp => iface.pre_up.push(value.to_owned()),
            QuickKey::PreDown => iface.pre_down.push(value.to_owned()),
            QuickKey::PostUp => iface.post_up.push(value.to_owned()),
            QuickKey::PostDown => iface.post_down.push(value.to_owned()),
            QuickKey::SaveConfig => iface.save_config = values::bool_value(value)?,
        }
        Ok(())
    }

    fn wg_line(&mut self, no: usize, text: &str) -> Result<(), ConfigError> {
        let line = wg_compact(text);
        if line.is_empty() {
            return Ok(());
        }
        if line.starts_with('[') {
            return self.header(no, &line);
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(self.err(
                no,
                None,
                "line is neither a [section] header nor `Key = value'",
            ));
        };
        match (
            self.section,
            canonical(&INTERFACE_KEYS, key),
            canonical(&PEER_KEYS, key),
        ) {
            (WgSection::Interface, Some(name), _) | (WgSection::Peer, _, Some(name)) => {
                if value.is_empty() {
                    return Err(self.err(no, Some(name), "empty value"));
                }
                self.wg_key(no, name, value)
                    .map_err(|m| self.err(no, Some(name), m))
            }
            _ => Err(self.misplaced(no, key)),
        }
    }

    /// A `[...]` line (whitespace removed): `[Interface]` or `[Peer]`, any case.
    fn header(&mut self, no: usize, line: &str) -> Result<(), ConfigError> {
        if line.eq_ignore_ascii_case("[Interface]") {
            self.section = WgSection::Interface;
            return Ok(());
        }
        if line.eq_ignore_ascii_case("[Peer]") {
            self.section = WgSection::Peer;
            self.peers.push(PeerDraft {
                public_key: None,
                preshared_key: None,
                allowed_ips: Vec::new(),
                endpoint: None,
                endpoint_line: 0,
                persistent_keepalive: None,
                line: no,
            });
            return Ok(());
        }
        let inner = line.strip_prefix('[').and_then(|l| l.strip_suffix(']'));
        let msg = match inner.and_then(printable_key) {
            Some(name) => format!("unknown section [{name}] (expected [Interface] or [Peer])"),
            None => "malformed section header (expected [Interface] or [Peer])".to_owned(),
        };
        Err(self.err(no, None, msg))
    }

    /// The error for a key `wg` does not accept where it stands.
    fn misplaced(&self, no: usize, key: &str) -> ConfigError {
        let iface = canonical(&INTERFACE_KEYS, key);
        let peer = canonical(&PEER_KEYS, key);
        let quick = QuickKey::from_key(key).map(QuickKey::name);
        let (name, msg) = match (self.section, iface.or(peer).or(quick)) {
            (WgSection::None, Some(name)) => {
                (Some(name), "key before any [Interface] or [Peer] section")
            }
            (_, Some(name)) if iface.is_some() => {
                (Some(name), "belongs in [Interface], not [Peer]")
            }
            (_, Some(name)) if peer.is_some() => (Some(name), "belongs in [Peer], not [Interface]"),
            (WgSection::Peer, Some(name)) => {
                (Some(name), "is a wg-quick key of [Interface], not [Peer]")
            }
            (_, Some(name)) if self.quick.in_interface() => (
                Some(name),
                "wg-quick matches its keys exactly (no spaces inside), and wg does not know it",
            ),
            (_, Some(name)) => (
                Some(name),
                "wg-quick reads this key only in a section whose header is exactly `[Interface]'",
            ),
            (_, None) => (printable_key(key), "unknown key (line unrecognized by wg)"),
        };
        self.err(no, name, msg)
    }

    fn wg_key(&mut self, no: usize, name: &str, value: &str) -> Result<(), String> {
        if self.section == WgSection::Interface {
            let iface = &mut self.interface;
            match name {
                "PrivateKey" => iface.private_key = values::private_key(value)?,
                "ListenPort" => {
                    iface.listen_port = Some(values::listen_port(value)?);
                    iface.listen_port_line = Line(no);
                }
                _ => iface.fwmark = Some(values::fwmark(value)?),
            }
            return Ok(());
        }
        let Some(peer) = self.peers.last_mut() else {
            return Err("key outside [Peer]".to_owned());
        };
        match name {
            "PublicKey" => peer.public_key = Some(values::public_key(value)?),
            "PresharedKey" => peer.preshared_key = Some(values::preshared_key(value)?),
            "AllowedIPs" => peer.allowed_ips.extend(values::allowed_ips(value)?),
            "Endpoint" => {
                peer.endpoint = Some(values::endpoint(value)?);
                peer.endpoint_line = no;
            }
            _ => peer.persistent_keepalive = Some(values::keepalive(value)?),
        }
        Ok(())
    }

    fn finish(self) -> Result<Config, ConfigError> {
        let mut peers = Vec::with_capacity(self.peers.len());
        for draft in self.peers {
            let Some(public_key) = draft.public_key else {
                return Err(ConfigError::new(
                    self.file,
                    draft.line,
                    Some("PublicKey"),
                    "this [Peer] has no PublicKey".to_owned(),
                ));
            };
            peers.push(Peer {
                public_key,
                preshared_key: draft.preshared_key,
                allowed_ips: draft.allowed_ips,
                endpoint: draft.endpoint,
                endpoint_line: Line(draft.endpoint_line),
                persistent_keepalive: draft.persistent_keepalive,
                line: Line(draft.line),
            });
        }
        Ok(Config {
            interface: self.interface,
            peers,
        })
    }
}
