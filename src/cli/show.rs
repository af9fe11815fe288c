//! `wgrs show` and `wgrs showconf`: ask userspace daemons for their state over the UAPI socket
//! (`get=1` on `/var/run/wireguard/IFACE.sock`) and print it as wireguard-tools' `wg show` /
//! `wg showconf` do (`show.c` `show_main`, `showconf.c`, the listing and socket handling of
//! `ipc.c`), arguments, messages and exit statuses included.
//!
//! Kernel WireGuard interfaces (netlink) are not listed or read: only daemons with a socket.

mod device;
mod render;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::{Zeroize, Zeroizing};

use self::device::{Device, Parser};
use super::Failure;

/// `wg show`'s usage, after `Usage: PROG `.
pub(super) const SHOW_USAGE: &str = "show { <interface> | all | interfaces } [public-key | \
    private-key | listen-port | fwmark | peers | preshared-keys | endpoints | allowed-ips | \
    latest-handshakes | transfer | persistent-keepalive | dump]";
/// `wg showconf`'s usage, after `Usage: PROG `.
pub(super) const SHOWCONF_USAGE: &str = "showconf <interface>";

/// Where wireguard-go-compatible daemons put their UAPI sockets.
const SOCKET_DIR: &str = "/var/run/wireguard";
/// How long to wait on a daemon that does not answer (wg would wait forever).
const UAPI_TIMEOUT: Duration = Duration::from_secs(10);

/// How `wg show` prints: colours (`WG_COLOR_MODE`, else whether stdout is a terminal) and keys
/// (`WG_HIDE_KEYS=never` shows private and preshared keys).
#[derive(Debug, Clone, Copy)]
struct Style {
    color: bool,
    show_keys: bool,
}

impl Style {
    fn from_env() -> Self {
        use std::io::IsTerminal;
        let color = match std::env::var_os("WG_COLOR_MODE").as_deref() {
            Some(m) if m == "always" => true,
            Some(m) if m == "never" => false,
            _ => io::stdout().is_terminal(),
        };
        let show_keys = std::env::var_os("WG_HIDE_KEYS").is_some_and(|v| v == "never");
        Self { color, show_keys }
    }
}

/// `wgrs show [INTERFACE | all | interfaces] [PARAM]`.
pub(super) fn show(args: &[OsString], argv0: &str) -> Result<(), Failure> {
    if args.len() > 2 {
        return Err(Failure::Usage(SHOW_USAGE));
    }
    let param = args.get(1).map(|p| p.to_string_lossy());
    match args.first().map(OsString::as_os_str) {
        None => show_all(None),
        Some(a) if a == "all" => show_all(param.as_deref()),
        Some(a) if a == "interfaces" => {
            if param.is_some() {
                return Err(Failure::Usage(SHOW_USAGE));
            }
            let names = list_interfaces().map_err(|e| perror("Unable to list interfaces", e))?;
            let line: Vec<_> = names.iter().map(|n| n.to_string_lossy()).collect();
            if line.is_empty() {
                return Ok(());
            }
            write_out(&format!("{}\n", line.join(" ")))
        }
        Some(a) if param.is_none() && (a == "-h" || a == "--help" || a == "help") => {
            // wg prints its usage to stderr and exits 0 here.
            let _ = writeln!(io::stderr(), "Usage: {argv0} {SHOW_USAGE}");
            Ok(())
        }
        Some(iface) => {
            let dev = get_device(iface).map_err(|e| perror("Unable to access interface", e))?;
            match param {
                Some(p) => write_out(&render::ugly(&dev, &p, false).ok_or_else(|| invalid(&p))?),
                None => write_out(&pretty(&dev, Style::from_env())),
            }
        }
    }
}

/// `wgrs showconf INTERFACE`.
pub(super) fn showconf(args: &[OsString]) -> Result<(), Failure> {
    let [iface] = args else {
        return Err(Failure::Usage(SHOWCONF_USAGE));
    };
    let dev = get_device(iface).map_err(|e| perror("Unable to access interface", e))?;
    write_out(&render::showconf(&dev))
}

/// `wg show` / `wg show all [PARAM]`: every interface in turn. A failing interface is reported
/// and skipped; the status is 1 only when there were interfaces and none could be shown.
fn show_all(param: Option<&str>) -> Result<(), Failure> {
    let names = list_interfaces().map_err(|e| perror("Unable to list interfaces", e))?;
    let style = Style::from_env();
    let mut failed = !names.is_empty();
    for (i, name) in names.iter().enumerate() {
        let dev = match get_device(name) {
            Ok(dev) => dev,
            Err(e) => {
                let name = name.to_string_lossy();
                let _ = writeln!(
                    io::stderr(),
                    "Unable to access interface {name}: {}",
                    strerror(e)
                );
                continue;
            }
        };
        match param {
            Some(p) => write_out(&render::ugly(&dev, p, true).ok_or_else(|| invalid(p))?)?,
            None => {
                write_out(&pretty(&dev, style))?;
                if i + 1 < names.len() {
                    write_out("\n")?;
                }
            }
        }
        failed = false;
    }
    if failed {
        Err(Failure::Quiet)
    } else {
        Ok(())
    }
}

/// `pretty_print`, coloured or not.
fn pretty(dev: &Device, style: Style) -> Zeroizing<String> {
    let text = render::pretty(dev, unix_now(), style.show_keys);
    if style.color {
        text
    } else {
        render::strip_ansi(&text)
    }
}

/// `time(NULL)`.
#[allow(clippy::disallowed_methods)] // The CLI is I/O shell: "latest handshake" is relative.
fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// wg's message for an unknown PARAM, then its usage (with exit status 1).
fn invalid(param: &str) -> Failure {
    let _ = writeln!(io::stderr(), "Invalid parameter: `{param}'");
    Failure::Usage(SHOW_USAGE)
}

/// `perror(what)`: `what: strerror(errno)`.
fn perror(what: &str, errno: i32) -> Failure {
    Failure::Plain(format!("{what}: {}", strerror(errno)))
}

/// The C library's `strerror` text (std asks `strerror_r` and appends ` (os error N)`).
fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    let suffix = format!(" (os error {errno})");
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// Writes all of `text` to stdout; a closed pipe ends the command quietly.
fn write_out(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => Failure::Quiet,
            _ => Failure::Message(format!("Unable to write to stdout: {e}")),
        })
}

/// `SOCKET_DIR/NAME.sock`.
fn socket_path(name: &OsStr) -> PathBuf {
    let mut file = name.to_os_string();
    file.push(".sock");
    Path::new(SOCKET_DIR).join(file)
}

/// `ipc_list_devices` without the kernel part: in directory order, every `NAME.sock` that
/// [`has_interface`]. A missing directory is an empty list.
fn list_interfaces() -> Result<Vec<OsString>, i32> {
    let dir = match fs::read_dir(SOCKET_DIR) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(errno_of(&e)),
    };
    let mut names = Vec::new();
    // Like readdir(3) in wg, a read error ends the listing.
    for entry in dir.map_while(Result::ok) {
        let file = entry.file_name();
        match file.as_bytes().strip_suffix(b".sock") {
            Some(stem) if !stem.is_empty() && has_interface(OsStr::from_bytes(stem)) => {
                names.push(OsStr::from_bytes(stem).to_os_string());
            }
            _ => {}
        }
    }
    Ok(names)
}

/// `userspace_has_wireguard_interface`: the name has no `/`, its path is a socket, and a
/// connection is not refused. A refused one means the daemon is gone: like wg, remove the
/// stale socket.
fn has_interface(name: &OsStr) -> bool {
    if name.as_bytes().contains(&b'/') {
        return false;
    }
    let path = socket_path(name);
    if !fs::metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
        return false;
    }
    match UnixStream::connect(&path) {
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
            let _ = fs::remove_file(&path);
            false
        }
        _ => true,
    }
}

/// `ipc_get_device`: the device behind `name`'s socket, or an errno. Without a socket wg
/// would ask the kernel; wgrs answers `ENODEV` (what wg says when the kernel has none).
fn get_device(name: &OsStr) -> Result<Device, i32> {
    if !has_interface(name) {
        return Err(libc::ENODEV);
    }
    let path = socket_path(name);
    let meta = fs::metadata(&path).map_err(|e| errno_of(&e))?;
    if !meta.file_type().is_socket() {
        return Err(libc::EBADF);
    }
    let stream = UnixStream::connect(&path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ECONNREFUSED) {
            let _ = fs::remove_file(&path);
        }
        errno_of(&e)
    })?;
    stream
        .set_read_timeout(Some(UAPI_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(UAPI_TIMEOUT)))
        .map_err(|e| errno_of(&e))?;
    // As with fprintf in wg, a failed request shows up as a missing answer.
    let _ = (&stream).write_all(b"get=1\n\n");
    read_answer(&stream, Parser::new(&name.to_string_lossy()))
}

/// Feeds the answer to `parser` line by line, in buffers that are wiped (it holds keys).
fn read_answer(mut stream: &UnixStream, mut parser: Parser) -> Result<Device, i32> {
    let mut chunk = Zeroizing::new(vec![0u8; 8192]);
    let mut line = Zeroizing::new(Vec::with_capacity(8192));
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => return parser.eof(),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(libc::ETIMEDOUT)
            }
            // getline failing ends wg's loop the same way as the end of the stream.
            Err(_) => return parser.eof(),
        };
        for piece in chunk[..n].split_inclusive(|&b| b == b'\n') {
            line.extend_from_slice(piece);
            if line.ends_with(b"\n") {
                if let Some(done) = parser.line(&line) {
                    return done;
                }
                line.zeroize();
            }
        }
    }
}
