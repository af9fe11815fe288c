//! Re-executing the daemon in the background (wireguard-go's process contract): the child gets
//! the TUN as fd 3, the UAPI listener as fd 4 and a readiness pipe as fd 5.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// Fd numbers the child finds its inherited descriptors at.
pub const TUN_FD: RawFd = 3;
/// UAPI listener fd in the child.
pub const UAPI_FD: RawFd = 4;
/// Readiness pipe fd in the child (wgrs extension: the parent waits on it).
pub const READY_FD: RawFd = 5;

/// Duplicate `fd` to a number ≥ 10, close-on-exec, so moving others onto 3..5 cannot clobber it.
fn dup_high(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we borrow returns a new descriptor we own.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `n` is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// Spawn `cmd` with `tun` at fd 3, `uapi` at fd 4 and the write end of a new pipe at fd 5.
/// Returns the child and the pipe's read end. The numbers are set in the child only (between
/// fork and exec), from close-on-exec copies above 10, so nothing the parent holds is touched.
pub fn spawn_with_fds(
    mut cmd: Command,
    tun: OwnedFd,
    uapi: OwnedFd,
) -> io::Result<(Child, std::fs::File)> {
    let (ready_r, ready_w) = nix::unistd::pipe()?;
    let sources = [
        (dup_high(tun.as_raw_fd())?, TUN_FD),
        (dup_high(uapi.as_raw_fd())?, UAPI_FD),
        (dup_high(ready_w.as_raw_fd())?, READY_FD),
    ];
    drop((tun, uapi, ready_w));
    let raw: [(RawFd, RawFd); 3] = sources
        .each_ref()
        .map(|(fd, target)| (fd.as_raw_fd(), *target));
    // SAFETY: the closure runs in the forked child before exec and only calls dup2, which is
    // async-signal-safe. Every source is ≥ 10 and every target is 3..=5, so no dup2 clobbers a
    // later source; dup2 clears close-on-exec on the target, so exactly 3..=5 survive exec.
    unsafe {
        cmd.pre_exec(move || {
            for (src, target) in raw {
                if libc::dup2(src, target) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.stdin(Stdio::null());
    let child = cmd.spawn()?;
    drop(sources);
    Ok((child, std::fs::File::from(ready_r)))
}

/// Adopt an inherited descriptor named by an environment variable (e.g. `WG_TUN_FD`).
pub fn adopt_fd(var: &str) -> io::Result<Option<OwnedFd>> {
    let Ok(v) = std::env::var(var) else {
        return Ok(None);
    };
    let fd: RawFd = v.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{var}={v} is not a file descriptor"),
        )
    })?;
    // SAFETY: F_GETFD only inspects the descriptor table.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{var}={v} is not an open descriptor"),
        ));
    }
    // SAFETY: the parent handed this descriptor to us alone; nothing else in this process owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // Keep it out of any later exec.
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )?;
    Ok(Some(owned))
}
