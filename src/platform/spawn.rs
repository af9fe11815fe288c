//! Re-executing the daemon in the background (wireguard-go's process contract): the child gets
//! the TUN as fd 3, the UAPI listener as fd 4 and a readiness pipe as fd 5.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
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

/// Place `src` at descriptor `target` without close-on-exec (inherited by the next exec).
fn place(src: &OwnedFd, target: RawFd) -> io::Result<()> {
    // SAFETY: dup2 onto a fixed low number; the parent holds nothing it needs at 3..5 (we only
    // call this before any thread is started, and every fd we own was moved above 10 first).
    if unsafe { libc::dup2(src.as_raw_fd(), target) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Spawn `cmd` with `tun` at fd 3, `uapi` at fd 4 and the write end of a new pipe at fd 5.
/// Returns the child and the pipe's read end. Call before starting any thread.
pub fn spawn_with_fds(
    mut cmd: Command,
    tun: RawFd,
    uapi: RawFd,
) -> io::Result<(Child, std::fs::File)> {
    let (ready_r, ready_w) = nix::unistd::pipe()?;
    let tun = dup_high(tun)?;
    let uapi = dup_high(uapi)?;
    let ready_w = dup_high(ready_w.as_raw_fd())?;
    place(&tun, TUN_FD)?;
    place(&uapi, UAPI_FD)?;
    place(&ready_w, READY_FD)?;
    cmd.stdin(Stdio::null());
    let child = cmd.spawn();
    // The parent keeps none of the child's descriptors open (the pipe's write end must close
    // so the parent sees EOF when the child dies).
    for fd in [TUN_FD, UAPI_FD, READY_FD] {
        // SAFETY: these numbers were placed above for the child only.
        unsafe { libc::close(fd) };
    }
    Ok((child?, std::fs::File::from(ready_r)))
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
