//! The real [`Runner`] and [`Probe`]: child processes, the UAPI unix socket, files. Output of
//! the commands goes where wg-quick's goes (inherited stdout and stderr).

use super::gather::Probe;
use super::save::save_config;
use super::{Ran, RunError, Runner};
use crate::plan::{Action, RUN_DIR};
use std::ffi::OsStr;
use std::io::{ErrorKind, Write};
use std::net::IpAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

/// Runs actions on this system and prints progress to stderr.
#[derive(Debug, Default)]
pub struct SystemRunner {
    _private: (),
}

impl SystemRunner {
    /// A runner for this system.
    pub fn new() -> Self {
        SystemRunner::default()
    }
}

impl Runner for SystemRunner {
    fn say(&mut self, line: &str) {
        eprintln!("{line}");
    }

    fn run(&mut self, action: &Action) -> Result<Ran, RunError> {
        match action {
            Action::Run { argv, stdin } => run_command(argv, stdin.as_deref()).map(|()| Ran::Done),
            Action::StartDaemon { arg, name_file } => start_daemon(arg, name_file.as_deref()),
            Action::SetConfig { iface, uapi_set } => uapi_set_request(iface, uapi_set),
            Action::SetFwmark { iface, fwmark } => {
                uapi_set_request(iface, &format!("set=1\nfwmark={fwmark}\n\n"))
                    .map_err(|e| RunError { errno: None, ..e })
            }
            Action::SaveConfig(spec) => save_config(spec, self).map(|()| Ran::Done),
            Action::RemoveFile { path } => match std::fs::remove_file(path) {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    Err(RunError::msg(format!("{path}: {e}")))
                }
                _ => Ok(Ran::Done),
            },
            Action::RouteMonitor(spec) => super::monitor::start(spec).map(|()| Ran::Done),
        }
    }
}

/// Runs `argv`, feeding `stdin`; fails unless it exits 0.
fn run_command(argv: &[String], stdin: Option<&str>) -> Result<(), RunError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(RunError::msg("empty command"));
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::inherit()
    });
    let mut child = cmd.spawn().map_err(|e| {
        eprintln!("{program}: {e}");
        RunError {
            message: format!("{program}: {e}"),
            code: Some(if e.kind() == ErrorKind::NotFound {
                127
            } else {
                126
            }),
            errno: None,
        }
    })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A child that exits without reading is judged by its status below.
        let _ = pipe.write_all(text.as_bytes());
    }
    let status = child
        .wait()
        .map_err(|e| RunError::msg(format!("{program}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(RunError {
            message: match status.code() {
                Some(c) => format!("exited with status {c}"),
                None => "killed by a signal".to_owned(),
            },
            code: status.code(),
            errno: None,
        })
    }
}

/// Starts this executable as the daemon for `arg` and waits for it to report ready (its
/// parent process exits 0); with a name file, reads the interface name the daemon wrote.
fn start_daemon(arg: &str, name_file: Option<&str>) -> Result<Ran, RunError> {
    let exe = std::env::current_exe()
        .map_err(|e| RunError::msg(format!("cannot find wgrs itself: {e}")))?;
    let mut cmd = Command::new(exe);
    // `--`: the name is an interface even if it looks like a mistyped command (`sh.conf`).
    cmd.args(["--", arg]);
    if let Some(file) = name_file {
        std::fs::create_dir_all(RUN_DIR).map_err(|e| RunError::msg(format!("{RUN_DIR}: {e}")))?;
        cmd.env("WG_TUN_NAME_FILE", file);
    }
    let status = cmd
        .status()
        .map_err(|e| RunError::msg(format!("cannot start wgrs: {e}")))?;
    if !status.success() {
        return Err(RunError {
            message: format!(
                "wgrs {arg} exited with status {}",
                status.code().unwrap_or(1)
            ),
            code: status.code(),
            errno: None,
        });
    }
    let Some(file) = name_file else {
        return Ok(Ran::Done);
    };
    let name = std::fs::read_to_string(file)
        .map_err(|e| RunError::msg(format!("{file}: {e}")))?
        .trim()
        .to_owned();
    let sock = format!("{RUN_DIR}/{name}.sock");
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) || !is_socket(&sock) {
        return Err(RunError::msg(format!(
            "wgrs did not name a running interface in {file}"
        )));
    }
    Ok(Ran::Named(name))
}

/// The path is a unix socket.
fn is_socket(path: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// A `set=1` request that must answer `errno=0` (sent by the shared UAPI client).
fn uapi_set_request(iface: &str, request: &str) -> Result<Ran, RunError> {
    // The client reports a positive errno: the daemon's refusal (errno=-N) or why it could
    // not be reached; the refusal is kept negative, as the daemon said it.
    wgrs_uapi::client::set_text(OsStr::new(iface), request)
        .map(|()| Ran::Done)
        .map_err(|errno| {
            let n = -i64::from(errno);
            RunError {
                errno: Some(n),
                ..RunError::msg(format!("Unable to modify interface: errno={n}"))
            }
        })
}

impl Probe for SystemRunner {
    fn output(&mut self, argv: &[&str]) -> Option<String> {
        let (program, args) = argv.split_first()?;
        let out = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn which(&mut self, program: &str) -> bool {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
        })
    }

    fn read_file(&mut self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    /// With wg's retries (`WG_ENDPOINT_RESOLUTION_RETRIES`), see [`crate::resolve`].
    fn resolve(&mut self, host: &str, port: u16) -> Result<IpAddr, String> {
        let ep = crate::config::Endpoint {
            host: host.to_owned(),
            port,
        };
        match crate::resolve::resolve_endpoint(&ep) {
            Ok(a) => Ok(a.ip()),
            Err(crate::resolve::EndpointError::Failed { message, .. }) => Err(message),
            Err(e) => Err(e.to_string()),
        }
    }

    fn uapi_get(&mut self, iface: &str) -> Option<Zeroizing<String>> {
        let answer = wgrs_uapi::client::exchange(OsStr::new(iface), "get=1\n\n").ok()?;
        answer.lines().any(|l| l == "errno=0").then_some(answer)
    }

    fn mtime(&mut self, path: &str) -> Option<i64> {
        std::fs::metadata(path).ok().map(|m| m.mtime())
    }
}
