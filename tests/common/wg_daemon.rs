//! WireGuard daemons for namespace tests (docs/ARCHITECTURE.md): start any wireguard-go-compatible
//! binary in a namespace the way wg-quick does (`BINARY IFNAME`, background mode), find and stop
//! it, generate keys with `wg`, and talk raw UAPI to its socket.

// Test support: a panic is the failure report. A UAPI answer is awaited with a deadline.
#![allow(dead_code, clippy::unwrap_used, clippy::disallowed_methods)]

use super::netns::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Where wireguard-go-compatible daemons put their UAPI sockets (shared by all namespaces).
pub const UAPI_DIR: &str = wgrs_uapi::SOCKET_DIR;

/// The UAPI socket of interface `ifname`.
pub fn uapi_socket(ifname: &str) -> PathBuf {
    Path::new(UAPI_DIR).join(format!("{ifname}.sock"))
}

/// A WireGuard key pair, base64 as `wg` prints it.
#[derive(Clone)]
pub struct Keys {
    pub private: String,
    pub public: String,
}

impl Keys {
    /// `wg genkey | wg pubkey`.
    pub fn generate() -> Keys {
        let private = run(10, &["wg", "genkey"]).ok().stdout.trim().to_string();
        let public = run_input(10, &["wg", "pubkey"], private.as_bytes())
            .ok()
            .stdout;
        Keys {
            private,
            public: public.trim().to_string(),
        }
    }
}

/// `wg genpsk`.
pub fn genpsk() -> String {
    run(10, &["wg", "genpsk"]).ok().stdout.trim().to_string()
}

/// A base64 key in the lowercase hex the UAPI uses.
pub fn key_hex(b64: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `request` as is over the UAPI socket of `ifname` and returns the answer: everything up
/// to and including the first blank line, or up to EOF / a 10 s bound if none comes.
pub fn uapi_exchange(ifname: &str, request: &[u8]) -> String {
    let path = uapi_socket(ifname);
    let mut sock = UnixStream::connect(&path)
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", path.display()));
    let limit = Some(Duration::from_secs(10));
    sock.set_read_timeout(limit).unwrap();
    sock.set_write_timeout(limit).unwrap();
    let mut writer = sock.try_clone().unwrap();
    let request = request.to_vec();
    // The server may answer before reading all of a long request; write on the side.
    let sender = thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut answer, mut buf) = (Vec::new(), [0u8; 4096]);
    while !answer.ends_with(b"\n\n") && Instant::now() < deadline {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let _ = sock.shutdown(Shutdown::Both);
    sender.join().unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// A running WireGuard daemon (any wireguard-go-compatible binary) serving one interface in one
/// namespace. Drop stops it: SIGTERM, up to 3 s, then SIGKILL; a leftover socket is removed.
pub struct Daemon {
    pub ifname: String,
    pub netns: String,
    pub binary: PathBuf,
    pub pid: i32,
    stopped: bool,
    log: Option<PathBuf>,
    _dir: Option<TempDir>,
}

impl Daemon {
    /// `ip netns exec NS BINARY IFNAME` (the background mode): the command must exit 0 within
    /// 10 s leaving a daemon behind that holds a TUN and serves the UAPI socket. The daemon's
    /// output (LOG_LEVEL=verbose) goes to a log printed if the test fails.
    pub fn start(ns: &Netns, binary: &Path, ifname: &str) -> Daemon {
        let dir = TempDir::new("daemon");
        let log = dir.path.join(format!("{ifname}.log"));
        let bin = binary.to_str().unwrap();
        let args = ["ip", "netns", "exec", &ns.name, bin, ifname];
        let code = run_logged(10, &args, &[("LOG_LEVEL", "verbose")], &log);
        let report = || format!("{bin} {ifname} in {}; log:\n{}", ns.name, tail(&log, 40));
        assert_eq!(code, Some(0), "starting {}", report());
        let mut daemon = Daemon::adopt(ns, binary, ifname);
        assert!(
            daemon.socket().exists(),
            "no UAPI socket after starting {}",
            report()
        );
        daemon.log = Some(log);
        daemon._dir = Some(dir);
        daemon
    }

    /// `ip netns exec NS BINARY ARGS… IFNAME` as a child that stays in the foreground (e.g.
    /// GotaTun's `-f`), its output in a log printed if the test fails. Within 10 s it must
    /// hold a TUN and serve the UAPI socket.
    pub fn start_foreground(ns: &Netns, binary: &Path, args: &[&str], ifname: &str) -> Daemon {
        let dir = TempDir::new("daemon");
        let log = dir.path.join(format!("{ifname}.log"));
        let out = fs::File::create(&log).unwrap();
        // `ip netns exec` execs the binary: the child's pid is the daemon's.
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(binary)
            .args(args)
            .arg(ifname)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", binary.display()));
        let pid = child.id() as i32;
        drop(child); // reaped by `process_gone` (waitpid)
        let daemon = Daemon {
            ifname: ifname.to_string(),
            netns: ns.name.clone(),
            binary: binary.to_path_buf(),
            pid,
            stopped: false,
            log: Some(log),
            _dir: Some(dir),
        };
        let up = wait_until(Duration::from_secs(10), || {
            serves(pid, ifname) || process_gone(pid)
        });
        assert!(
            up && daemon.alive(),
            "{} {ifname} in {} did not come up; log:\n{}",
            binary.display(),
            ns.name,
            daemon.log_tail(40)
        );
        daemon
    }

    /// Takes charge of a daemon someone else started (e.g. wg-quick): the process in `ns` that
    /// holds a TUN device and the UAPI socket of `ifname`. Waits up to 2 s for it.
    pub fn adopt(ns: &Netns, binary: &Path, ifname: &str) -> Daemon {
        let mut pid = None;
        wait_until(Duration::from_secs(2), || {
            pid = ns.pids().into_iter().find(|&p| serves(p, ifname));
            pid.is_some()
        });
        let pid = pid.unwrap_or_else(|| panic!("no daemon for {ifname} in {}", ns.name));
        Daemon {
            ifname: ifname.to_string(),
            netns: ns.name.clone(),
            binary: binary.to_path_buf(),
            pid,
            stopped: false,
            log: None,
            _dir: None,
        }
    }

    pub fn socket(&self) -> PathBuf {
        uapi_socket(&self.ifname)
    }

    pub fn alive(&self) -> bool {
        !process_gone(self.pid)
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit; true if it did.
    pub fn terminate(&self, limit: Duration) -> bool {
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGTERM);
        wait_gone(self.pid, limit)
    }

    /// Stops the daemon for good (SIGTERM, up to 3 s, then SIGKILL) and removes a leftover
    /// socket. Idempotent; Drop calls it.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if self.alive() && !self.terminate(Duration::from_secs(3)) {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
            wait_gone(self.pid, Duration::from_secs(2));
        }
        let _ = fs::remove_file(self.socket());
    }

    /// Kills the daemon with SIGKILL, as a crash would, and leaves its socket file behind.
    pub fn crash(&mut self) {
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        assert!(
            wait_gone(self.pid, Duration::from_secs(2)),
            "SIGKILL did not end {}",
            self.pid
        );
        self.stopped = true;
    }

    /// Stops this daemon and starts the same binary again for the same interface.
    pub fn restart(&mut self, ns: &Netns) {
        self.stop();
        let gone = wait_until(Duration::from_secs(2), || {
            !ns.ip(&["link", "show", &self.ifname]).success()
        });
        assert!(gone, "{} still exists after its daemon ended", self.ifname);
        let fresh = Daemon::start(ns, &self.binary.clone(), &self.ifname.clone());
        drop(std::mem::replace(self, fresh)); // the old one is stopped: its Drop does nothing
    }

    /// Raw UAPI exchange with this daemon (see `uapi_exchange`).
    pub fn uapi(&self, request: &[u8]) -> String {
        uapi_exchange(&self.ifname, request)
    }

    /// The end of the daemon's log, if it has one.
    pub fn log_tail(&self, n: usize) -> String {
        self.log.as_deref().map(|l| tail(l, n)).unwrap_or_default()
    }
}

/// Whether process `pid` holds a TUN device and the listening UAPI socket of `ifname` (its
/// inode as `/proc/PID/net/unix` lists it for the process's namespace). Arguments don't matter:
/// a daemon may re-execute itself with other ones.
fn serves(pid: i32, ifname: &str) -> bool {
    let Ok(unix) = fs::read_to_string(format!("/proc/{pid}/net/unix")) else {
        return false;
    };
    let path = format!("/{ifname}.sock");
    let sockets: Vec<PathBuf> = unix
        .lines()
        .filter(|l| l.ends_with(&path))
        .filter_map(|l| l.split_whitespace().nth(6))
        .map(|inode| PathBuf::from(format!("socket:[{inode}]")))
        .collect();
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let links: Vec<PathBuf> = fds
        .flatten()
        .filter_map(|fd| fs::read_link(fd.path()).ok())
        .collect();
    links.iter().any(|l| l == Path::new("/dev/net/tun"))
        && links.iter().any(|l| sockets.contains(l))
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if thread::panicking() {
            if let Some(log) = &self.log {
                eprintln!(
                    "--- log of {} {} ({})\n{}",
                    self.binary.display(),
                    self.ifname,
                    self.netns,
                    tail(log, 60)
                );
            }
        }
        self.stop();
    }
}
