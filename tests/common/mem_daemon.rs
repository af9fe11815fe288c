//! A whole daemon (driver threads, UAPI server, core) on in-memory TUN and UDP, driven through
//! its real UAPI socket: for tests that need no root.
#![allow(dead_code, clippy::unwrap_used)] // test support: a panic is the failure report

use rand::rngs::StdRng;
use rand::SeedableRng;
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wgrs::driver::{self, Shared};
use wgrs::platform::{Bind, MemNetwork, MemTun, MemTunHandle};
use wgrs::proto::device::Device;

/// A running daemon: its shared state, the far end of its TUN and its UAPI socket.
pub struct Node {
    pub sh: Arc<Shared>,
    pub tun: MemTunHandle,
    pub sock: PathBuf,
}

/// A fresh directory for UAPI sockets.
pub fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "wgrs-{tag}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Start a daemon named `name` on address `ip` of `net`, its socket in `dir`, its randomness
/// from `seed`.
pub fn node(net: &MemNetwork, ip: [u8; 4], dir: &Path, name: &str, seed: u64) -> Node {
    let ip = IpAddr::from(ip);
    let (tun, handle) = MemTun::new(name, 1420);
    let bind = net.bind(&[ip], 0).unwrap();
    let n2 = net.clone();
    let factory: driver::shared::BindFactory =
        Box::new(move |port| Ok(Arc::new(n2.bind(&[ip], port)?) as Arc<dyn Bind>));
    let dev = Device::new(Box::new(StdRng::seed_from_u64(seed)));
    let sh = Shared::new(dev, Arc::new(tun), Arc::new(bind), factory);
    let sock = dir.join(format!("{name}.sock"));
    driver::start(&sh, UnixListener::bind(&sock).unwrap()).unwrap();
    Node {
        sh,
        tun: handle,
        sock,
    }
}

/// One UAPI exchange: send `req`, read the answer up to its blank line.
pub fn uapi(n: &Node, req: &str) -> String {
    let mut s = UnixStream::connect(&n.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut out = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 || line == "\n" {
            return out;
        }
        out.push_str(&line);
    }
}
