//! Network-namespace test support (ARCHITECTURE.md tiers 3–4): RAII namespaces and veth underlays,
//! bounded external commands (`ip`, `wg`, `ping`), threads that enter a namespace, process
//! reaping, and the skip-unless-root check. Daemons, keys and raw UAPI live in `wg_daemon.rs`.
//! Every external command runs under `timeout`; every resource is released in `Drop`, also when
//! a test panics; names carry the process id and a counter, so tests and test binaries can run
//! in parallel.

// Test support: a panic is the failure report. Waiting for a process to go away polls with short
// sleeps.
#![allow(dead_code, clippy::unwrap_used, clippy::disallowed_methods)]

use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Debian's wireguard-go: the reference peer.
pub const WIREGUARD_GO: &str = "/usr/bin/wireguard-go";
/// Default bound, in seconds, for one external command.
pub const CMD_SECS: u32 = 30;
/// Prefix of every namespace made here: `wgrs-t-PID-N-TAG`.
const NS_PREFIX: &str = "wgrs-t-";
/// Prefix of every temporary directory made here: `wgrs-netns-PID-N-TAG`.
const TEMP_PREFIX: &str = "wgrs-netns-";

/// The implementation under test: `$WGRS_UNDER_TEST` if set (e.g. `/usr/bin/wireguard-go` to
/// validate the harness), else the wgrs binary of this build.
pub fn under_test() -> PathBuf {
    match std::env::var_os("WGRS_UNDER_TEST") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_wgrs")),
    }
}

/// True (after printing why) when the test must be skipped: not root, or a tool it needs is
/// missing and `WGRS_SKIP_INTEROP=1` is set. As root without that, a missing tool fails the test
/// with an install hint (CI must not skip silently).
pub fn skip_unless_root(tools: &[&str]) -> bool {
    let euid = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if euid != 0 {
        eprintln!(
            "skipping: needs root (network namespaces, veth pairs, TUN devices); \
             run as root, as CI does"
        );
        return true;
    }
    let base = ["ip", "timeout", "wg", "ping", WIREGUARD_GO];
    let missing: Vec<&str> = base
        .iter()
        .chain(tools)
        .copied()
        .filter(|t| !on_path(t))
        .collect();
    let tun = Path::new("/dev/net/tun").exists();
    if !missing.is_empty() || !tun {
        let what = format!(
            "missing: {missing:?}{}",
            if tun { "" } else { " and /dev/net/tun" }
        );
        if std::env::var("WGRS_SKIP_INTEROP").as_deref() == Ok("1") {
            eprintln!("skipping: {what} and WGRS_SKIP_INTEROP=1");
            return true;
        }
        panic!(
            "{what}. Install them (Debian: apt-get install -y wireguard-tools wireguard-go \
             iproute2 iputils-ping nftables procps) or set WGRS_SKIP_INTEROP=1 to skip."
        );
    }
    let imp = under_test();
    assert!(
        imp.exists(),
        "implementation under test {} does not exist",
        imp.display()
    );
    false
}

fn on_path(tool: &str) -> bool {
    if tool.contains('/') {
        return Path::new(tool).exists();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(tool).exists())
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A number unique within this process, for names.
pub fn seq() -> u32 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// A WireGuard interface name unique on this machine while this process lives (≤ 15 chars):
/// the UAPI socket directory is shared by all namespaces.
pub fn unique_ifname() -> String {
    format!("wg{}x{}", std::process::id() % 100_000, seq())
}

/// What one external command did.
pub struct Run {
    pub cmd: String,
    /// Exit code (`timeout` makes it 124 on expiry); None if killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with the whole story unless the command exited 0.
    pub fn ok(self) -> Self {
        assert!(self.success(), "{self}");
        self
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` exited {:?}", self.cmd, self.code)?;
        write!(
            f,
            "\n--- stdout\n{}--- stderr\n{}---",
            self.stdout, self.stderr
        )
    }
}

/// Runs `args` under `timeout secs` with `input` on stdin; output is captured.
pub fn run_input(secs: u32, args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new("timeout")
        .args(["-k", "2", &secs.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn timeout {args:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run {
        cmd: args.join(" "),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `args` under `timeout secs`; output is captured.
pub fn run(secs: u32, args: &[&str]) -> Run {
    run_input(secs, args, b"")
}

/// Runs `args` under `timeout secs` with `env` added and stdout+stderr appended to `log`
/// (a file, not a pipe: a daemon started by the command may keep its stdio open). Returns the
/// exit code.
pub fn run_logged(secs: u32, args: &[&str], env: &[(&str, &str)], log: &Path) -> Option<i32> {
    let f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new("timeout")
        .args(["-k", "2", &secs.to_string()])
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .status()
        .unwrap_or_else(|e| panic!("spawn timeout {args:?}: {e}"))
        .code()
}

/// The last `n` lines of a file, for failure reports.
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned());
    let text = text.unwrap_or_else(|e| format!("({}: {e})", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A private directory under the system temp dir, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let name = format!("{TEMP_PREFIX}{}-{}-{tag}", std::process::id(), seq());
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
        TempDir { path }
    }

    /// Writes `contents` to `name` in this directory (mode 0600) and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.join(name);
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A network namespace with `lo` up; on drop its processes are killed and it is deleted (which
/// deletes its interfaces, veths included).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        static INIT: Once = Once::new();
        INIT.call_once(|| {
            // Orphaned daemons (wireguard-go forks into the background) become our children, so
            // `process_gone` can reap them instead of leaving zombies.
            nix::sys::prctl::set_child_subreaper(true).unwrap();
            remove_stale_leftovers();
        });
        let name = format!("{NS_PREFIX}{}-{}-{tag}", std::process::id(), seq());
        run(10, &["ip", "netns", "add", &name]).ok();
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]).ok();
        ns
    }

    /// `ip netns exec NS args…` under `timeout secs`.
    pub fn exec_for(&self, secs: u32, args: &[&str]) -> Run {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        run(secs, &full)
    }

    /// `ip netns exec NS args…` under `timeout 30`.
    pub fn exec(&self, args: &[&str]) -> Run {
        self.exec_for(CMD_SECS, args)
    }

    /// `ip -n NS args…`.
    pub fn ip(&self, args: &[&str]) -> Run {
        let mut full = vec!["ip", "-n", &self.name];
        full.extend_from_slice(args);
        run(CMD_SECS, &full)
    }

    /// `ip netns exec NS wg args…`.
    pub fn wg(&self, args: &[&str]) -> Run {
        let mut full = vec!["wg"];
        full.extend_from_slice(args);
        self.exec(&full)
    }

    /// `wg setconf IFNAME FILE` with `conf` written to a private temporary file.
    pub fn wg_setconf(&self, ifname: &str, conf: &str) -> Run {
        let dir = TempDir::new("conf");
        let path = dir.file(&format!("{ifname}.conf"), conf);
        self.wg(&["setconf", ifname, path.to_str().unwrap()])
    }

    /// `wg showconf IFNAME`, which must succeed.
    pub fn showconf(&self, ifname: &str) -> String {
        self.wg(&["showconf", ifname]).ok().stdout
    }

    /// `ping -c 3 -W 2` (IPv4 or IPv6 by the address), bounded by 20 s.
    pub fn ping(&self, dst: &str) -> Run {
        self.exec_for(20, &["ping", "-c", "3", "-W", "2", "-i", "0.2", dst])
    }

    /// Process ids whose network namespace is this one (`ip netns pids`).
    pub fn pids(&self) -> Vec<i32> {
        netns_pids(&self.name)
    }

    /// Runs `f` on a new thread that has entered this namespace (only that thread moves), so a
    /// test can open sockets inside it. `f` must bound its own time (socket timeouts).
    pub fn spawn_in<T, F>(&self, f: F) -> JoinHandle<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let file = File::open(Path::new("/var/run/netns").join(&self.name)).unwrap();
        thread::spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).unwrap();
            drop(file);
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        kill_all_and_delete(&self.name);
    }
}

/// Process ids whose network namespace is `name`, this process aside (only threads of it that
/// `spawn_in` moved can be there).
fn netns_pids(name: &str) -> Vec<i32> {
    let out = run(10, &["ip", "netns", "pids", name]);
    let me = std::process::id() as i32;
    out.stdout
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|&p| p != me)
        .collect()
}

/// Kills what still runs in namespace `name`, removes the UAPI socket files those processes held
/// (SIGKILL leaves them behind), and deletes the namespace.
fn kill_all_and_delete(name: &str) {
    let pids = netns_pids(name);
    let sockets: Vec<PathBuf> = pids
        .iter()
        .flat_map(|&p| wireguard_sockets_held(p))
        .collect();
    for &pid in &pids {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    for &pid in &pids {
        wait_gone(pid, Duration::from_secs(2));
    }
    for socket in sockets {
        let _ = fs::remove_file(socket);
    }
    let _ = run(10, &["ip", "netns", "del", name]);
}

/// Paths of the unix sockets under a `wireguard` run directory that process `pid` has open.
fn wireguard_sockets_held(pid: i32) -> Vec<PathBuf> {
    let held: Vec<PathBuf> = fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter_map(|fd| fs::read_link(fd.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    let unix = fs::read_to_string(format!("/proc/{pid}/net/unix")).unwrap_or_default();
    let mut paths: Vec<PathBuf> = unix
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (inode, path) = (f.get(6)?, f.get(7)?);
            let ours = held.contains(&PathBuf::from(format!("socket:[{inode}]")));
            (ours && path.starts_with('/') && path.contains("/wireguard/")).then(|| path.into())
        })
        .collect();
    paths.dedup();
    paths
}

/// Deletes namespaces and temporary directories left by test processes that no longer exist
/// (e.g. killed by SIGKILL).
fn remove_stale_leftovers() {
    let dead = |pid: Option<u32>| pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists());
    let pid_after = |name: &str, prefix: &str| {
        let rest = name.strip_prefix(prefix)?;
        rest.split('-').next()?.parse::<u32>().ok()
    };
    for entry in fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if dead(pid_after(&name, TEMP_PREFIX)) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    let list = run(10, &["ip", "netns", "list"]);
    for line in list.stdout.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if dead(pid_after(name, NS_PREFIX)) {
            kill_all_and_delete(name);
        }
    }
}

/// True once process `pid` has exited with all its threads (so its files, a TUN included, are
/// closed): reaped (we are a subreaper, so orphans are ours to reap) or gone from /proc, or a
/// zombie with no thread left. A zombie leader alone is not enough: SIGKILL can leave other
/// threads still exiting.
pub fn process_gone(pid: i32) -> bool {
    let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    let threads = fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count());
    matches!(state, Some('Z' | 'X') | None) && threads <= 1
}

/// Polls `process_gone` for up to `limit`.
pub fn wait_gone(pid: i32, limit: Duration) -> bool {
    wait_until(limit, || process_gone(pid))
}

/// Polls `cond` every 20 ms for up to `limit`.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The two ends of a veth pair and their underlay addresses (/24 and /64).
pub struct Veth {
    pub a_dev: String,
    pub b_dev: String,
    pub a4: Ipv4Addr,
    pub b4: Ipv4Addr,
    pub a6: Ipv6Addr,
    pub b6: Ipv6Addr,
}

/// Default underlay addresses (side A, side B).
pub const UNDERLAY_V4: [Ipv4Addr; 2] = [Ipv4Addr::new(172, 31, 0, 1), Ipv4Addr::new(172, 31, 0, 2)];
pub const UNDERLAY_V6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 0x31, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0xfd00, 0x31, 0, 0, 0, 0, 0, 2),
];

/// Joins `a` and `b` with a veth pair carrying `v4[0]/24` + `v6[0]/64` on A's end and
/// `v4[1]/24` + `v6[1]/64` on B's (IPv6 without duplicate address detection), both up.
/// Deleting either namespace deletes the pair.
pub fn veth_pair(a: &Netns, b: &Netns, v4: [Ipv4Addr; 2], v6: [Ipv6Addr; 2]) -> Veth {
    let n = seq();
    let (a_dev, b_dev) = (format!("ua{n}"), format!("ub{n}"));
    a.ip(&[
        "link", "add", &a_dev, "type", "veth", "peer", "name", &b_dev, "netns", &b.name,
    ])
    .ok();
    for (ns, dev, ip4, ip6) in [(a, &a_dev, v4[0], v6[0]), (b, &b_dev, v4[1], v6[1])] {
        ns.ip(&["addr", "add", &format!("{ip4}/24"), "dev", dev])
            .ok();
        ns.ip(&[
            "-6",
            "addr",
            "add",
            &format!("{ip6}/64"),
            "dev",
            dev,
            "nodad",
        ])
        .ok();
        ns.ip(&["link", "set", dev, "up"]).ok();
    }
    Veth {
        a_dev,
        b_dev,
        a4: v4[0],
        b4: v4[1],
        a6: v6[0],
        b6: v6[1],
    }
}
