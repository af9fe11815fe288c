//! The executor half of darwin.bash's `monitor_daemon`: [`start`] writes the [`MonitorSpec`] to
//! `/var/run/wireguard/IFACE.monitor` (0600) and starts this executable again, detached, as
//! `wgrs __route-monitor FILE`; that process runs [`run_monitor`], which reads
//! `route -n monitor`, and after each burst of `RTM_*` lines gathers [`MonitorFacts`] and runs
//! what [`on_route_event`] decides. When the interface is gone (`down` removed its socket and
//! the daemon quit), it runs the teardown (endpoint routes, DNS) and exits.
//!
//! [`MonitorFacts`]: crate::plan::monitor::MonitorFacts

// Executor ring: the monitor waits for routing messages and for its DNS deadline.
#![allow(clippy::disallowed_methods)]

use super::gather::{gather_monitor, Probe};
use super::system::SystemRunner;
use super::{RunError, Runner};
use crate::plan::monitor::{
    on_dns_timer, on_route_event, spec_from_text, spec_to_text, MonitorState, Reaction,
};
use crate::plan::{Action, MonitorSpec, RUN_DIR};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The hidden subcommand that runs the monitor.
pub const SUBCOMMAND: &str = "__route-monitor";

/// Routing messages closer together than this are handled as one change.
const COALESCE: Duration = Duration::from_millis(100);

/// DNS is applied again this long after a change (darwin.bash's `sleep 2` and `ALRM`).
const DNS_AGAIN: Duration = Duration::from_secs(2);

/// Where the spec for the monitor of `iface` goes.
pub fn spec_path(iface: &str) -> String {
    format!("{RUN_DIR}/{iface}.monitor")
}

/// Writes the spec file and starts the monitor in the background, in its own process group so
/// that the terminal's signals do not reach it; `wgrs up` does not wait for it.
pub fn start(spec: &MonitorSpec) -> Result<(), RunError> {
    let text = spec_to_text(spec).map_err(RunError::msg)?;
    std::fs::create_dir_all(RUN_DIR).map_err(|e| RunError::msg(format!("{RUN_DIR}: {e}")))?;
    let path = spec_path(&spec.iface);
    let fail = |e: std::io::Error| RunError::msg(format!("{path}: {e}"));
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e)),
        _ => {}
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(fail)?;
    let exe = std::env::current_exe()
        .map_err(|e| RunError::msg(format!("cannot find wgrs itself: {e}")))?;
    // The child is not waited for: it outlives `wgrs up`.
    Command::new(exe)
        .args([SUBCOMMAND, &path])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| RunError::msg(format!("cannot start the route monitor: {e}")))
}

/// `wgrs __route-monitor FILE`: reads (and removes) the spec file, then watches the routing
/// table until the interface is gone or `route -n monitor` ends; either way the teardown runs
/// last, as darwin.bash's `trap … EXIT`.
pub fn run_monitor(spec_file: &Path) -> Result<(), String> {
    let shown = spec_file.display();
    let text = std::fs::read_to_string(spec_file).map_err(|e| format!("{shown}: {e}"))?;
    let spec = spec_from_text(&text).map_err(|e| format!("{shown}: {e}"))?;
    // The file only hands the spec over; a missing one is fine.
    let _ = std::fs::remove_file(spec_file);
    let mut sys = SystemRunner::new();
    let mut state = MonitorState::new(&spec);
    let (mut route, events) = route_monitor()?;
    let mut dns_at: Option<Instant> = None;
    let mut gone = sys.output(&["ifconfig", &spec.iface]).is_none();
    while !gone {
        let wait = dns_at.map_or(Duration::from_secs(3600), |t| {
            t.saturating_duration_since(Instant::now())
        });
        match events.recv_timeout(wait) {
            Ok(()) => {
                let closed = drain(&events);
                let facts = gather_monitor(&spec, &state.services, &mut sys);
                match on_route_event(&spec, &mut state, &facts) {
                    Reaction::Stop(_) => gone = true,
                    Reaction::Reapply(steps) => {
                        run_all(&mut sys, steps.into_iter().map(|s| (s.display, s.action)));
                        if !spec.dns.is_empty() {
                            dns_at = Some(Instant::now() + DNS_AGAIN);
                        }
                    }
                }
                gone |= closed;
            }
            Err(RecvTimeoutError::Timeout) => {
                dns_at = None;
                let facts = gather_monitor(&spec, &state.services, &mut sys);
                if !facts.iface_present {
                    break;
                }
                let steps = on_dns_timer(&spec, &mut state, facts.services.as_deref());
                run_all(&mut sys, steps.into_iter().map(|s| (s.display, s.action)));
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = route.kill();
    let _ = route.wait();
    let teardown = std::mem::take(&mut state.teardown);
    run_all(
        &mut sys,
        teardown.into_iter().map(|u| (u.display, u.action)),
    );
    Ok(())
}

/// Starts `route -n monitor`; a thread sends one message per `RTM_*` line and hangs up when the
/// output ends.
fn route_monitor() -> Result<(Child, Receiver<()>), String> {
    let mut child = Command::new("route")
        .args(["-n", "monitor"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("route -n monitor: {e}"))?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| "route -n monitor: no output".to_owned())?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("RTM_") && tx.send(()).is_err() {
                break;
            }
        }
    });
    Ok((child, rx))
}

/// Swallows the messages that follow within [`COALESCE`] of each other; true when the
/// monitor's output ended meanwhile.
fn drain(events: &Receiver<()>) -> bool {
    loop {
        match events.recv_timeout(COALESCE) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => return false,
            Err(RecvTimeoutError::Disconnected) => return true,
        }
    }
}

/// Runs each action, announcing it as `[#] text`; failures are ignored (`|| true`).
fn run_all(runner: &mut dyn Runner, actions: impl Iterator<Item = (String, Action)>) {
    for (display, action) in actions {
        runner.say(&format!("[#] {display}"));
        let _ = runner.run(&action);
    }
}
