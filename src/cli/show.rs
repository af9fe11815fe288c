//! `wgrs show` and `wgrs showconf`: ask userspace daemons for their state over the UAPI socket
//! (`get=1` on `/var/run/wireguard/IFACE.sock`) and print it as wireguard-tools' `wg show` /
//! `wg showconf` do (`show.c` `show_main`, `showconf.c`, the listing and socket handling of
//! `ipc.c`), arguments, messages and exit statuses included.
//!
//! Kernel WireGuard interfaces (netlink) are not listed or read: only daemons with a socket.

mod render;

use std::ffi::OsString;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use wgrs_uapi::client::strerror;
use wgrs_uapi::client::{get as get_device, list_interfaces};
use wgrs_uapi::reply::Device;
use zeroize::Zeroizing;

use super::Failure;

/// `wg show`'s usage, after `Usage: PROG `.
pub(super) const SHOW_USAGE: &str = "show { <interface> | all | interfaces } [public-key | \
    private-key | listen-port | fwmark | peers | preshared-keys | endpoints | allowed-ips | \
    latest-handshakes | transfer | persistent-keepalive | dump]";
/// `wg showconf`'s usage, after `Usage: PROG `.
pub(super) const SHOWCONF_USAGE: &str = "showconf <interface>";

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
