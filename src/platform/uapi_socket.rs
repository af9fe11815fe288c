//! The UAPI listening socket `/var/run/wireguard/IFNAME.sock` (wireguard-go `ipc/uapi_linux.go`):
//! created under umask 077, a stale socket replaced, a live one refused; and the watch that
//! notices when the socket file is deleted (the daemon then exits).

use nix::sys::stat::{umask, Mode};
use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Directory of UAPI sockets, as wg and wireguard-go use (defined once, in `wgrs-uapi`).
pub use wgrs_uapi::SOCKET_DIR;

/// The socket path for an interface.
pub fn socket_path(ifname: &str) -> PathBuf {
    wgrs_uapi::client::socket_path(std::ffi::OsStr::new(ifname))
}

/// Bind the UAPI socket for `ifname`. A socket file nobody listens on is replaced; one that
/// answers is left alone and reported as in use, by its path.
pub fn listen(ifname: &str) -> io::Result<UnixListener> {
    std::fs::create_dir_all(SOCKET_DIR)?;
    let path = socket_path(ifname);
    let bind = || {
        let old = umask(Mode::from_bits_truncate(0o077));
        let r = UnixListener::bind(&path);
        umask(old);
        r
    };
    match bind() {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            if UnixStream::connect(&path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: unix socket in use", path.display()),
                ));
            }
            std::fs::remove_file(&path)?;
            bind()
        }
        Err(e) => Err(e),
    }
}

/// Block until the socket file at `path` is deleted or renamed away. Uses inotify on its
/// directory, so an idle daemon is never woken by it.
#[cfg(target_os = "linux")]
pub fn wait_for_deletion(path: &Path) -> io::Result<()> {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().map(|n| n.to_os_string());
    let ino = Inotify::init(InitFlags::IN_CLOEXEC)?;
    ino.add_watch(
        dir,
        AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM | AddWatchFlags::IN_DELETE_SELF,
    )?;
    // The file may already be gone before the watch was set.
    if !path.exists() {
        return Ok(());
    }
    loop {
        for ev in ino.read_events()? {
            if ev.mask.contains(AddWatchFlags::IN_DELETE_SELF) || ev.name == name {
                return Ok(());
            }
        }
    }
}

/// Block until the socket file at `path` is deleted: kqueue watches its directory for writes
/// (as wireguard-go's `uapi_bsd.go` does), then checks whether the file is still there.
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
pub fn wait_for_deletion(path: &Path) -> io::Result<()> {
    use nix::sys::event::{EvFlags, EventFilter, FilterFlag, KEvent, Kqueue};
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(path.parent().unwrap_or(Path::new("/")))?;
    let kq = Kqueue::new()?;
    let watch = KEvent::new(
        dir.as_raw_fd() as usize,
        EventFilter::EVFILT_VNODE,
        EvFlags::EV_ADD | EvFlags::EV_CLEAR,
        FilterFlag::NOTE_WRITE,
        0,
        0,
    );
    kq.kevent(&[watch], &mut [], None)?;
    let mut events = [watch];
    while path.exists() {
        kq.kevent(&[], &mut events, None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_socket_is_replaced_and_live_one_refused() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipping: needs root to create {SOCKET_DIR}");
            return;
        }
        let name = format!("wgrs-ut{}", std::process::id());
        let path = socket_path(&name);
        let first = listen(&name).unwrap();
        let mode = std::fs::metadata(&path)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
            .unwrap();
        assert_eq!(mode & 0o077, 0, "socket created under umask 077");
        let busy = listen(&name).unwrap_err();
        assert_eq!(busy.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(
            busy.to_string(),
            format!("{SOCKET_DIR}/{name}.sock: unix socket in use")
        );
        drop(first); // the file stays behind: stale
        assert!(path.exists());
        let second = listen(&name).unwrap();
        let watcher = {
            let p = path.clone();
            std::thread::spawn(move || wait_for_deletion(&p))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::remove_file(&path).unwrap();
        watcher.join().unwrap().unwrap();
        drop(second);
    }
}
