//! A `wg setconf` / `addconf` / `syncconf` configuration file read line by line into a
//! [`SetRequest`], as wireguard-tools' `config.c` reads it (`config_read_line`,
//! `process_line`, `config_read_finish`): `#` starts a comment, all white space is dropped,
//! section names and keys are case-insensitive, only `wg`'s keys are known (wg-quick's
//! `Address`, `DNS`, ... are "Line unrecognized"), and an empty value is no value.

use ipnet::IpNet;
use wgrs::proto::keys::{PresharedKey, PrivateKey, PublicKey};
use wgrs_uapi::{AllowedIpChange, PeerSet, SetRequest};

use super::values::{self, is_space, Bad, Notes};

/// Which section the lines belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Interface,
    Peer,
}

/// The file read so far.
pub(crate) struct ConfReader {
    req: SetRequest,
    /// Per peer of `req.peers`: whether a `PublicKey` line set its key.
    has_key: Vec<bool>,
    section: Section,
}

impl ConfReader {
    /// `setconf` and `syncconf` replace the device's settings (its private key, port, fwmark
    /// and peers are cleared unless the file sets them); `addconf` (`append`) only adds.
    pub(crate) fn new(append: bool) -> Self {
        let mut req = SetRequest::default();
        if !append {
            req.replace_peers = true;
            req.private_key = Some(None);
            req.listen_port = Some(0);
            req.fwmark = Some(0);
        }
        Self {
            req,
            has_key: Vec::new(),
            section: Section::None,
        }
    }

    /// One line as `getline` returns it (bytes, maybe with its `\n`).
    pub(crate) fn line(&mut self, input: &[u8], notes: Notes<'_>) -> Result<(), Bad> {
        // wg holds the line as a C string, cut at a NUL byte, then at the comment.
        let input = input.split(|&b| b == 0).next().unwrap_or_default();
        let input = input.split(|&b| b == b'#').next().unwrap_or_default();
        let cleaned: Vec<u8> = input.iter().copied().filter(|&b| !is_space(b)).collect();
        if cleaned.is_empty() {
            return Ok(());
        }
        self.process(&String::from_utf8_lossy(&cleaned), notes)
    }

    /// `config_read_finish`: every peer needs a public key.
    pub(crate) fn finish(self) -> Result<SetRequest, Bad> {
        if self.has_key.iter().all(|&k| k) {
            Ok(self.req)
        } else {
            Err(Bad {
                text: "A peer is missing a public key".to_owned(),
                exit_now: false,
            })
        }
    }

    fn process(&mut self, line: &str, notes: Notes<'_>) -> Result<(), Bad> {
        if line.eq_ignore_ascii_case("[Interface]") {
            self.section = Section::Interface;
            return Ok(());
        }
        if line.eq_ignore_ascii_case("[Peer]") {
            let mut peer = PeerSet::new(PublicKey::default());
            peer.replace_allowed_ips = true;
            self.req.peers.push(peer);
            self.has_key.push(false);
            self.section = Section::Peer;
            return Ok(());
        }
        let known = match self.section {
            Section::Interface => self.interface_key(line)?,
            Section::Peer => self.peer_key(line, notes)?,
            Section::None => false,
        };
        if known {
            Ok(())
        } else {
            Err(Bad {
                text: format!("Line unrecognized: `{line}'"),
                exit_now: false,
            })
        }
    }

    /// `[Interface]` keys; `Ok(false)` for a line that is none of them.
    fn interface_key(&mut self, line: &str) -> Result<bool, Bad> {
        if let Some(v) = value(line, "ListenPort=") {
            self.req.listen_port = Some(values::port(v)?);
        } else if let Some(v) = value(line, "FwMark=") {
            self.req.fwmark = Some(values::fwmark(v)?);
        } else if let Some(v) = value(line, "PrivateKey=") {
            let raw = values::key(v)?;
            let zero = raw.iter().all(|&b| b == 0);
            self.req.private_key = Some((!zero).then(|| PrivateKey::from_bytes(*raw)));
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// `[Peer]` keys; `Ok(false)` for a line that is none of them.
    fn peer_key(&mut self, line: &str, notes: Notes<'_>) -> Result<bool, Bad> {
        let (Some(peer), Some(has_key)) = (self.req.peers.last_mut(), self.has_key.last_mut())
        else {
            return Ok(false);
        };
        if let Some(v) = value(line, "Endpoint=") {
            peer.endpoint = Some(values::endpoint(v, notes)?);
        } else if let Some(v) = value(line, "PublicKey=") {
            peer.public_key = PublicKey(*values::key(v)?);
            *has_key = true;
        } else if let Some(v) = value(line, "AllowedIPs=") {
            let nets: Vec<IpNet> = values::allowed_ips(v, notes)?;
            peer.allowed_ips
                .extend(nets.into_iter().map(AllowedIpChange::Add));
        } else if let Some(v) = value(line, "PersistentKeepalive=") {
            peer.persistent_keepalive_interval = Some(values::keepalive(v)?);
        } else if let Some(v) = value(line, "PresharedKey=") {
            peer.preshared_key = Some(PresharedKey::from_bytes(*values::key(v)?));
        } else {
            return Ok(false);
        }
        Ok(true)
    }
}

/// `get_value`: the rest of `line` after `key` (matched case-insensitively), if not empty.
fn value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let head = line.get(..key.len())?;
    let rest = line.get(key.len()..)?;
    (head.eq_ignore_ascii_case(key) && !rest.is_empty()).then_some(rest)
}
