//! `wgrs [-f|--foreground] IFNAME`: wireguard-go's process contract. Without `-f` the parent
//! opens the TUN and the UAPI socket, re-executes itself with them as fds 3 and 4
//! (`WG_TUN_FD=3 WG_UAPI_FD=4 WG_PROCESS_FOREGROUND=1`) and exits 0 once the child reports
//! that it serves (1, with the reason, if it does not). The child runs until SIGINT/SIGTERM,
//! the deletion of its socket file, or the deletion of its TUN.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;

use super::shared::{Shared, StopReason};
use crate::platform::{spawn, uapi_socket, Bind, OsBind, OsTun, Tun};
use crate::proto::device::Device;

/// Environment variable naming the readiness pipe's fd in the child (wgrs extension).
const READY_FD_ENV: &str = "WGRS_READY_FD";

/// Why the interface name is unusable, or `None` when it is fine (Linux IFNAMSIZ rules).
pub fn check_interface_name(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 15 {
        return Some(format!(
            "interface name '{name}' must be 1 to 15 bytes long"
        ));
    }
    if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Some(format!(
            "interface name '{name}' contains characters an interface name cannot have"
        ));
    }
    None
}

fn log_level() -> Option<tracing::Level> {
    match std::env::var("LOG_LEVEL").as_deref() {
        Ok("verbose") | Ok("debug") => Some(tracing::Level::DEBUG),
        Ok("silent") => None,
        _ => Some(tracing::Level::ERROR),
    }
}

fn init_logging(ifname: &str) {
    if let Some(level) = log_level() {
        let _ = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .event_format(super::log::WgFormat::new(ifname))
            .try_init();
    }
}

/// Run the daemon contract for `ifname`; returns the process exit status.
pub fn run(ifname: &str, foreground_flag: bool) -> ExitCode {
    if let Some(why) = check_interface_name(ifname) {
        eprintln!("wgrs: {why}");
        return ExitCode::FAILURE;
    }
    let foreground =
        foreground_flag || std::env::var("WG_PROCESS_FOREGROUND").as_deref() == Ok("1");
    init_logging(ifname);
    if let Err(e) = crate::platform::signals::block_shutdown_signals() {
        eprintln!("wgrs: cannot block shutdown signals: {e}");
        return ExitCode::FAILURE;
    }
    let (tun, listener) = match open_endpoints(ifname, foreground) {
        Ok(x) => x,
        Err(msg) => {
            eprintln!("wgrs: {msg}");
            report_ready(Err(&msg));
            return ExitCode::FAILURE;
        }
    };
    if foreground {
        serve(tun, listener)
    } else {
        background(tun, listener)
    }
}

/// The TUN and the UAPI listener: inherited from the parent, or opened here.
fn open_endpoints(ifname: &str, foreground: bool) -> Result<(OsTun, UnixListener), String> {
    let tun = match spawn::adopt_fd("WG_TUN_FD") {
        Ok(Some(fd)) => OsTun::from_fd(fd, std::env::var_os(READY_FD_ENV).is_some())
            .map_err(|e| format!("Failed to adopt TUN from WG_TUN_FD: {e}"))?,
        Ok(None) if !foreground => OsTun::create_plain(ifname, crate::platform::tun::DEFAULT_MTU)
            .map_err(|e| format!("Failed to create TUN device: {e}"))?,
        Ok(None) => OsTun::create(ifname, crate::platform::tun::DEFAULT_MTU)
            .map_err(|e| format!("Failed to create TUN device: {e}"))?,
        Err(e) => return Err(format!("WG_TUN_FD: {e}")),
    };
    let name = tun
        .name()
        .map_err(|e| format!("Failed to read the TUN device's name: {e}"))?;
    if let Ok(path) = std::env::var("WG_TUN_NAME_FILE") {
        std::fs::write(&path, format!("{name}\n"))
            .map_err(|e| format!("Failed to write {path}: {e}"))?;
    }
    let listener = match spawn::adopt_fd("WG_UAPI_FD") {
        Ok(Some(fd)) => UnixListener::from(fd),
        Ok(None) => uapi_socket::listen(&name).map_err(|e| format!("UAPI listen error: {e}"))?,
        Err(e) => return Err(format!("WG_UAPI_FD: {e}")),
    };
    Ok((tun, listener))
}

/// Parent: hand the endpoints to a re-executed child and wait until it serves.
fn background(tun: OsTun, listener: UnixListener) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("wgrs: cannot find own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut cmd = Command::new(exe);
    cmd.args(std::env::args_os().skip(1))
        .env("WG_TUN_FD", spawn::TUN_FD.to_string())
        .env("WG_UAPI_FD", spawn::UAPI_FD.to_string())
        .env("WG_PROCESS_FOREGROUND", "1")
        .env(READY_FD_ENV, spawn::READY_FD.to_string())
        .env_remove("WG_TUN_NAME_FILE")
        .process_group(0);
    if log_level().is_none() || std::env::var_os("LOG_LEVEL").is_none() {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
    let (_child, mut ready) =
        match spawn::spawn_with_fds(cmd, tun.into_fd(), OwnedFd::from(listener)) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("wgrs: Failed to start the daemon process: {e}");
                return ExitCode::FAILURE;
            }
        };
    let mut msg = String::new();
    let _ = ready.read_to_string(&mut msg);
    if msg == "ok" {
        ExitCode::SUCCESS
    } else if msg.is_empty() {
        eprintln!("wgrs: the daemon process exited before it was ready");
        ExitCode::FAILURE
    } else {
        eprintln!("wgrs: {msg}");
        ExitCode::FAILURE
    }
}

/// Child: tell the parent (if any) whether we serve.
fn report_ready(result: Result<(), &str>) {
    let Ok(Some(fd)) = spawn::adopt_fd(READY_FD_ENV) else {
        return;
    };
    let mut f = std::fs::File::from(fd);
    let _ = f.write_all(match result {
        Ok(()) => b"ok".as_slice(),
        Err(m) => m.as_bytes(),
    });
}

/// Foreground: run the device until a stop reason arrives.
fn serve(tun: OsTun, listener: UnixListener) -> ExitCode {
    let name = tun.name().unwrap_or_default();
    let mtu = tun.mtu().unwrap_or(crate::platform::tun::DEFAULT_MTU);
    tracing::info!("TUN offloads {}", if tun.offloads() { "on" } else { "off" });
    let bind = match OsBind::bind(0) {
        Ok(b) => Arc::new(b) as Arc<dyn Bind>,
        Err(e) => {
            let msg = format!("Failed to bind UDP sockets: {e}");
            eprintln!("wgrs: {msg}");
            report_ready(Err(&msg));
            return ExitCode::FAILURE;
        }
    };
    let mut device = Device::new(Box::new(crate::platform::rng::os_rng()));
    device.set_mtu(mtu as usize);
    let factory: super::shared::BindFactory =
        Box::new(|port| Ok(Arc::new(OsBind::bind(port)?) as Arc<dyn Bind>));
    let sh = Shared::new(device, Arc::new(tun), bind, factory);
    if let Err(e) = super::start(&sh, listener) {
        report_ready(Err(&format!("Failed to start threads: {e}")));
        return ExitCode::FAILURE;
    }
    watch_for_stop(&sh, &name);
    tracing::info!("Device started");
    report_ready(Ok(()));
    let reason = sh.stop.wait();
    shutdown(&sh, &name, &reason);
    ExitCode::SUCCESS
}

fn watch_for_stop(sh: &Arc<Shared>, name: &str) {
    let s = Arc::clone(sh);
    let _ = std::thread::Builder::new()
        .name("wgrs-signals".into())
        .spawn(
            move || match crate::platform::signals::wait_for_shutdown_signal() {
                Ok(sig) => s.stop.request(StopReason::Signal(sig)),
                Err(e) => tracing::error!("signal wait failed: {e}"),
            },
        );
    let s = Arc::clone(sh);
    let path = uapi_socket::socket_path(name);
    let _ = std::thread::Builder::new()
        .name("wgrs-sockwatch".into())
        .spawn(move || match uapi_socket::wait_for_deletion(&path) {
            Ok(()) => s.stop.request(StopReason::SocketDeleted),
            Err(e) => tracing::error!("cannot watch {}: {e}", path.display()),
        });
}

/// Erase all keys, remove the socket file, and let the process exit (closing the TUN, which
/// deletes the interface).
fn shutdown(sh: &Shared, name: &str, reason: &StopReason) {
    tracing::info!("Device closing: {reason}");
    let now = sh.clock.now();
    // Erase every key on the control thread (it ends with the job; were it gone already, the
    // device and its keys were dropped, and zeroized, with it).
    let _ = sh.control().call(move |dev| {
        dev.set_up(false, now);
        dev.set_private_key(None);
        dev.clear_peers();
    });
    if *reason != StopReason::SocketDeleted {
        let _ = std::fs::remove_file(uapi_socket::socket_path(name));
    }
    sh.tun.shutdown();
    sh.bind().shutdown();
}
