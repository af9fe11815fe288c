//! `wgrs set | setconf | addconf | syncconf`: change a running interface over its UAPI socket
//! exactly as wireguard-tools' `wg` does (`set.c`, `setconf.c`): same arguments, same
//! messages on stderr, same exit statuses, same request to the daemon.

mod args;
mod conf;
mod values;

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;

use wgrs::proto::keys::PublicKey;
use wgrs_uapi::{client, PeerSet, SetRequest};

use self::values::Bad;
use super::Failure;

/// `wg set`'s usage, after `Usage: PROG `.
pub(super) const SET_USAGE: &str = "set <interface> [listen-port <port>] [fwmark <mark>] \
    [private-key <file path>] [peer <base64 public key> [remove] [preshared-key <file path>] \
    [endpoint <ip>:<port>] [persistent-keepalive <interval seconds>] \
    [allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...] ]...";

/// Which of the three file commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConfMode {
    /// Replace the whole configuration.
    Set,
    /// Add to it.
    Add,
    /// Replace it, touching only what differs (peers not in the file are removed).
    Sync,
}

impl ConfMode {
    /// Its usage, after `Usage: PROG `.
    fn usage(self) -> &'static str {
        match self {
            ConfMode::Set => "setconf <interface> <configuration filename>",
            ConfMode::Add => "addconf <interface> <configuration filename>",
            ConfMode::Sync => "syncconf <interface> <configuration filename>",
        }
    }
}

/// Notes (warnings, retries) go to stderr as they happen.
fn note(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}

/// `wgrs set INTERFACE OPTIONS...`.
pub(super) fn set(argv: &[OsString]) -> Result<(), Failure> {
    let [name, options @ ..] = argv else {
        return Err(Failure::Usage(SET_USAGE));
    };
    if options.is_empty() {
        return Err(Failure::Usage(SET_USAGE));
    }
    let options: Vec<String> = options
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let req = args::read(&options, &mut note).map_err(refused)?;
    apply(name, &req)
}

/// `wgrs setconf|addconf|syncconf INTERFACE FILE`.
pub(super) fn setconf(argv: &[OsString], mode: ConfMode) -> Result<(), Failure> {
    let [name, path] = argv else {
        return Err(Failure::Usage(mode.usage()));
    };
    let file = File::open(path)
        .map_err(|e| Failure::Plain(format!("fopen: {}", client::strerror(errno_of(&e)))))?;
    let mut reader = conf::ConfReader::new(mode == ConfMode::Add);
    let mut input = BufReader::new(file);
    let mut line = zeroize::Zeroizing::new(Vec::new());
    // As with getline in wg, a read error ends the file.
    while read_line(&mut input, &mut line).is_ok_and(|n| n > 0) {
        if line.len() > MAX_LINE && !line.ends_with(b"\n") {
            let text = format!("Line longer than {MAX_LINE} bytes");
            return Err(Failure::Plain(format!(
                "{text}\nConfiguration parsing error"
            )));
        }
        reader
            .line(&line, &mut note)
            .map_err(|bad| then_plain(bad, "Configuration parsing error"))?;
        line.clear();
    }
    let mut req = reader
        .finish()
        .map_err(|bad| then_plain(bad, "Invalid configuration"))?;
    let name = ifname(name);
    if mode == ConfMode::Sync {
        sync(&name, &mut req)?;
    }
    set_device(&name, &req)
}

/// `sync_conf`: when the file has peers and so does the device, keep the device's other
/// peers out of harm's way by not replacing all peers, and remove those not in the file.
fn sync(name: &OsStr, req: &mut SetRequest) -> Result<(), Failure> {
    if req.peers.is_empty() {
        return Ok(());
    }
    let running = client::get(name).map_err(|errno| {
        Failure::Plain(format!(
            "Unable to retrieve current interface configuration: {}",
            client::strerror(errno)
        ))
    })?;
    if running.peers.is_empty() {
        return Ok(());
    }
    req.replace_peers = false;
    let in_file: HashSet<PublicKey> = req.peers.iter().map(|p| p.public_key).collect();
    let mut gone: Vec<PublicKey> = running
        .peers
        .iter()
        .map(|p| p.public_key)
        .filter(|k| !in_file.contains(k))
        .collect();
    gone.sort();
    // wg puts each removal in front of the file's peers, in ascending key order.
    for key in gone {
        let mut removal = PeerSet::new(key);
        removal.remove = true;
        req.peers.insert(0, removal);
    }
    Ok(())
}

/// Sends `req` to `name` (cut as wg cuts it).
fn apply(name: &OsStr, req: &SetRequest) -> Result<(), Failure> {
    set_device(&ifname(name), req)
}

fn set_device(name: &OsStr, req: &SetRequest) -> Result<(), Failure> {
    client::set(name, req).map_err(|errno| {
        Failure::Plain(format!(
            "Unable to modify interface: {}",
            client::strerror(errno)
        ))
    })
}

/// Longest configuration line read (wg's `getline` has no limit; this one keeps memory bounded
/// on input like `/dev/zero`, where wg would grow until it runs out).
const MAX_LINE: usize = 1 << 20;

/// One line with its `\n`, at most [`MAX_LINE`] + 1 bytes of it.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<usize> {
    input.take(MAX_LINE as u64 + 1).read_until(b'\n', line)
}

/// wg copies the name into `IFNAMSIZ` bytes: at most 15 are used.
fn ifname(name: &OsStr) -> OsString {
    let bytes = name.as_bytes();
    OsStr::from_bytes(bytes.get(..15).unwrap_or(bytes)).to_os_string()
}

/// A refused value: its line, then nothing more (wg exits 1).
fn refused(bad: Bad) -> Failure {
    Failure::Plain(bad.text)
}

/// A refused value, then `closing` unless wg exits at once.
fn then_plain(bad: Bad, closing: &str) -> Failure {
    if bad.exit_now {
        Failure::Plain(bad.text)
    } else {
        Failure::Plain(format!("{}\n{closing}", bad.text))
    }
}

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}
