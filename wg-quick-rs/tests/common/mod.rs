//! Shared test helpers: fixed keys, temporary directories, the real wg-quick when present, and
//! config builders for the plan and executor tests.

// Test helpers: a panic is the failure report, as in #[test] bodies.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Keys made with `wg genkey` / `wg genpsk` for these tests only.
pub const PRIV: &str = "YD+V8fh/WqcByTSEWDNQNzbjQabaSNMo07s8mqsn3F8=";
pub const PUB1: &str = "IPiTmX6JEag8VZEfvCcZtT1BxvxhiHi4t0b1K/C5q1E=";
pub const PUB2: &str = "QLBoZY1Hc6CRqxjEJT6BLyQ6NjZptCCwqXU7IyF9o0A=";
pub const PUB3: &str = "cN35oljwDbd3dVT9wKMLV1+S6FYSJUphwsLoUMRF1nY=";
pub const PSK: &str = "T6Jcs9VU0O9MpKjzbP60dOLUqD6C+dcSEGRtgX2v9Mg=";

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wgq-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `/usr/bin/wg-quick` when it is installed and we are root (it re-runs itself under sudo
/// otherwise); else prints why the caller should skip and returns None.
pub fn real_wg_quick(test: &str) -> Option<PathBuf> {
    let path = ["/usr/bin/wg-quick", "/usr/local/bin/wg-quick"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let Some(path) = path else {
        println!("SKIP {test}: wg-quick is not installed");
        return None;
    };
    let uid = std::process::Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        println!("SKIP {test}: wg-quick strip needs root (it would ask sudo)");
        return None;
    }
    Some(path)
}

/// Runs `wg-quick strip DIR/wgt0.conf` on `text`; returns (exit success, stdout bytes).
pub fn wg_quick_strip(wg_quick: &Path, dir: &Path, text: &[u8]) -> (bool, Vec<u8>) {
    use std::os::unix::fs::PermissionsExt;
    let file = dir.join("wgt0.conf");
    std::fs::write(&file, text).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = std::process::Command::new(wg_quick)
        .arg("strip")
        .arg(&file)
        .output()
        .unwrap();
    (out.status.success(), out.stdout)
}

/// A wireguard-go device in its own (empty) network namespace, stopped on drop.
pub struct Device {
    pub name: String,
    child: Child,
    sock: PathBuf,
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.sock);
    }
}

#[allow(clippy::disallowed_methods)] // test: polls for the daemon's socket
pub fn start_device() -> Result<Device, String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("not root".into());
    }
    for tool in [
        "/usr/bin/wireguard-go",
        "/usr/bin/wg",
        "/usr/bin/unshare",
        "/dev/net/tun",
    ] {
        if !Path::new(tool).exists() {
            return Err(format!("{tool} missing"));
        }
    }
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "wgq{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let sock = wgrs_uapi::client::socket_path(std::ffi::OsStr::new(&name));
    let child = Command::new("unshare")
        .args(["-n", "wireguard-go", "-f", &name])
        .env("LOG_LEVEL", "silent")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut device = Device { name, child, sock };
    for _ in 0..100 {
        if device.sock.exists() {
            return Ok(device);
        }
        if let Ok(Some(status)) = device.child.try_wait() {
            return Err(format!("wireguard-go exited: {status}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("wireguard-go did not create its socket".into())
}

impl Device {
    pub fn uapi(&self, request: &str) -> String {
        let mut s = UnixStream::connect(&self.sock).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        while !reply.ends_with(b"\n\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "UAPI closed early");
            reply.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(reply).unwrap()
    }

    pub fn wg(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.try_wg(args);
        assert!(ok, "wg {args:?}: {stderr}");
        stdout
    }

    /// Runs `wg` without endpoint-resolution retries; (success, stdout, stderr).
    pub fn try_wg(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new("wg")
            .args(args)
            .env("WG_ENDPOINT_RESOLUTION_RETRIES", "0")
            .output()
            .unwrap();
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        (out.status.success(), text(out.stdout), text(out.stderr))
    }

    /// `wg showconf NAME`.
    pub fn showconf(&self) -> String {
        self.wg(&["showconf", &self.name])
    }
}

// ---- Config builders for the plan and executor tests ----
use wg_quick_rs::config::{Cidr, Config, Endpoint, Line, Peer, PrivateKey, PublicKey};

/// `ADDR/LEN`.
pub fn cidr(s: &str) -> Cidr {
    let (a, p) = s.split_once('/').expect("ADDR/LEN");
    Cidr {
        addr: a.parse().expect("address"),
        prefix: p.parse().expect("prefix"),
    }
}

/// Several CIDRs.
pub fn cidrs(list: &[&str]) -> Vec<Cidr> {
    list.iter().map(|s| cidr(s)).collect()
}

/// A peer with a recognisable public key.
pub fn peer(n: u8, allowed: &[&str], endpoint: Option<(&str, u16)>) -> Peer {
    Peer {
        public_key: PublicKey([n; 32]),
        preshared_key: None,
        allowed_ips: cidrs(allowed),
        endpoint: endpoint.map(|(host, port)| Endpoint {
            host: host.to_owned(),
            port,
        }),
        endpoint_line: Line(0),
        persistent_keepalive: None,
        line: Line(0),
    }
}

/// A config with a private key, the addresses and the peers.
pub fn config(addresses: &[&str], peers: Vec<Peer>) -> Config {
    let mut cfg = Config::default();
    cfg.interface.private_key = Some(PrivateKey::from_bytes([1; 32]));
    cfg.interface.addresses = cidrs(addresses);
    cfg.peers = peers;
    cfg
}

/// Strings from string literals.
pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
