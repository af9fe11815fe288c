//! `OsTun`: the kernel's TUN (Linux `/dev/net/tun`, IFF_TUN | IFF_NO_PI) or utun (macOS), via
//! `tun-rs`, behind the batch-shaped `Tun` trait.
//!
//! The descriptor is nonblocking; `recv_batch` reads until `EAGAIN` and then waits in `poll(2)`
//! on the TUN and a shutdown pipe. The interface is created down, like wireguard-go's: whoever
//! configures it (wg-quick) brings it up.
//!
//! On Linux, `ip link del` of an interface whose descriptor we hold detaches the descriptor:
//! `poll` reports it ready (POLLERR) at once and `read(2)` fails with `EBADFD` ("File
//! descriptor in bad state"). That error, returned by `recv_batch`, is the daemon's cue to exit
//! (`tests/platform_linux.rs` checks it).

#![allow(unsafe_code)] // adopting an owned TUN fd, and handing the fd back out

use super::{check_mtu, PacketBuf, Tun};
use crate::platform::wake::{deadline, wait, Shutdown, Wait};
use nix::poll::PollFlags;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::time::Duration;

/// A kernel TUN interface.
pub struct OsTun {
    dev: tun_rs::SyncDevice,
    shutdown: Shutdown,
}

impl std::fmt::Debug for OsTun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsTun")
            .field("name", &self.dev.name().ok())
            .finish()
    }
}

impl OsTun {
    /// Create (or attach to a persistent) TUN interface `name` with `mtu`, left down.
    ///
    /// On macOS `name` must be `utun` (the kernel picks the next free `utunN`; read it back with
    /// [`Tun::name`]) or `utunN` for that exact unit.
    pub fn create(name: &str, mtu: u32) -> io::Result<Self> {
        let mtu = check_mtu(mtu)?;
        if name.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "empty interface name",
            ));
        }
        let builder = tun_rs::DeviceBuilder::new()
            .inherit_enable_state()
            .packet_information(false)
            .mtu(mtu);
        #[cfg(target_os = "linux")]
        let builder = builder.name(name).offload(false).multi_queue(false);
        #[cfg(target_os = "macos")]
        let builder = if name == "utun" {
            builder
        } else {
            builder.name(name)
        };
        Self::wrap(builder.build_sync()?)
    }

    /// Adopt an open TUN descriptor (the wireguard-go contract: the parent creates the TUN and
    /// the re-executed child receives it as fd 3, `WG_TUN_FD=3`). It must use IFF_NO_PI framing
    /// without IFF_VNET_HDR; anything that is not `/dev/net/tun` is refused.
    #[cfg(target_os = "linux")]
    pub fn from_fd(fd: OwnedFd) -> io::Result<Self> {
        use nix::sys::stat::{fstat, major, minor, SFlag};
        let st = fstat(&fd)?;
        let is_chr = SFlag::from_bits_truncate(st.st_mode).contains(SFlag::S_IFCHR);
        // /dev/net/tun is the misc character device 10:200 on every Linux.
        if !is_chr || major(st.st_rdev) != 10 || minor(st.st_rdev) != 200 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "descriptor is not a /dev/net/tun file",
            ));
        }
        let raw = fd.into_raw_fd();
        // SAFETY: `raw` comes from an `OwnedFd`, so it is open and owned by nobody else; its
        // ownership moves into the SyncDevice, which closes it on drop (also when `from_fd`
        // fails). It is a /dev/net/tun file (checked above), so tun-rs's TUNGETIFF ioctl reaches
        // the TUN driver, which also rejects an fd not attached to an interface and one using
        // IFF_VNET_HDR. IFF_NO_PI framing cannot be read back from the kernel; a descriptor
        // without it yields packets with a 4-byte prefix, a framing error, not memory unsafety.
        let dev = unsafe { tun_rs::SyncDevice::from_fd(raw)? };
        Self::wrap(dev)
    }

    /// Adopt an open utun descriptor (macOS side of the same contract). utun is a
    /// `PF_SYSTEM` socket; anything that is not a socket is refused.
    #[cfg(target_os = "macos")]
    pub fn from_fd(fd: OwnedFd) -> io::Result<Self> {
        use nix::sys::stat::{fstat, SFlag};
        let st = fstat(&fd)?;
        if !SFlag::from_bits_truncate(st.st_mode).contains(SFlag::S_IFSOCK) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "descriptor is not a utun socket",
            ));
        }
        let raw = fd.into_raw_fd();
        // SAFETY: `raw` comes from an `OwnedFd`, so it is open and owned by nobody else; its
        // ownership moves into the SyncDevice, which closes it on drop. It is a socket (checked
        // above); tun-rs reads its utun name with getsockopt, which fails cleanly otherwise.
        let dev = unsafe { tun_rs::SyncDevice::from_fd(raw)? };
        Self::wrap(dev)
    }

    fn wrap(dev: tun_rs::SyncDevice) -> io::Result<Self> {
        dev.set_nonblocking(true)?;
        Ok(Self {
            dev,
            shutdown: Shutdown::new()?,
        })
    }

    /// Give up the interface's descriptor (to pass it to a child as fd 3). The descriptor is
    /// still nonblocking and close-on-exec; the receiver sets what it needs.
    pub fn into_fd(self) -> OwnedFd {
        let raw = self.dev.into_raw_fd();
        // SAFETY: `into_raw_fd` transfers ownership of the device's open descriptor to us and
        // nothing else refers to it any more, so wrapping it in an `OwnedFd` is sound.
        unsafe { OwnedFd::from_raw_fd(raw) }
    }

    /// Read packets until the kernel has none left or `bufs` is full.
    fn read_ready(&self, bufs: &mut [PacketBuf]) -> io::Result<usize> {
        let mut n = 0;
        while let Some(b) = bufs.get_mut(n) {
            if b.spare_mut().is_empty() {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "no room"));
            }
            match self.dev.recv(b.spare_mut()) {
                Ok(0) => {
                    return match n {
                        0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "TUN closed")),
                        _ => Ok(n),
                    }
                }
                Ok(len) => {
                    b.set_len(len)?;
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Report what we have; a lasting error (EBADFD) comes back on the next call.
                Err(_) if n > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    fn write_one(&self, packet: &[u8]) -> io::Result<()> {
        loop {
            if self.shutdown.is_triggered() {
                return Err(Shutdown::error());
            }
            match self.dev.send(packet) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let fds = [(self.dev.as_fd(), PollFlags::POLLOUT)];
                    if wait(&fds, &self.shutdown, None)? == Wait::Shutdown {
                        return Err(Shutdown::error());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsFd for OsTun {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.dev.as_fd()
    }
}

impl Tun for OsTun {
    fn recv_batch(&self, bufs: &mut [PacketBuf], timeout: Option<Duration>) -> io::Result<usize> {
        let deadline = deadline(timeout);
        loop {
            if self.shutdown.is_triggered() {
                return Err(Shutdown::error());
            }
            let n = self.read_ready(bufs)?;
            if n > 0 || bufs.is_empty() {
                return Ok(n);
            }
            let fds = [(self.dev.as_fd(), PollFlags::POLLIN)];
            match wait(&fds, &self.shutdown, deadline)? {
                Wait::Ready(_) => {}
                Wait::TimedOut => return Ok(0),
                Wait::Shutdown => return Err(Shutdown::error()),
            }
        }
    }

    fn send_batch(&self, packets: &mut [PacketBuf]) -> io::Result<usize> {
        let mut sent = 0;
        let mut first_err = None;
        for p in packets.iter() {
            match self.write_one(p.packet()) {
                Ok(()) => sent += 1,
                Err(e) if crate::platform::tun::is_shutdown(&e) => return Err(e),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(sent), Err)
    }

    fn name(&self) -> io::Result<String> {
        self.dev.name()
    }

    fn mtu(&self) -> io::Result<u32> {
        self.dev.mtu().map(u32::from)
    }

    fn shutdown(&self) {
        self.shutdown.trigger();
    }
}
