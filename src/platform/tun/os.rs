//! `OsTun`: the kernel's TUN (Linux `/dev/net/tun`, IFF_TUN | IFF_NO_PI) or utun (macOS), via
//! `tun-rs`, behind the batch-shaped `Tun` trait.
//!
//! The descriptor is nonblocking; `recv_into` reads until `EAGAIN` and then waits in `poll(2)`
//! on the TUN and a shutdown pipe. The interface is created down, like wireguard-go's: whoever
//! configures it (wg-quick) brings it up.
//!
//! On Linux, `ip link del` of an interface whose descriptor we hold detaches the descriptor:
//! `poll` reports it ready (POLLERR) at once and `read(2)` fails with `EBADFD` ("File
//! descriptor in bad state"). That error, returned by `recv_into`, is the daemon's cue to exit
//! (`tests/platform_linux.rs` checks it).

#![allow(unsafe_code)] // adopting an owned TUN fd, handing the fd back out, the MTU ioctls

use super::{check_mtu, PacketBuf, PacketRef, PacketSink, Tun};
use crate::platform::wake::{deadline, wait, Shutdown, Wait};
use nix::poll::PollFlags;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::time::Duration;

/// A kernel TUN interface.
pub struct OsTun {
    dev: tun_rs::SyncDevice,
    shutdown: Shutdown,
    /// Present when the descriptor carries virtio-net headers (Linux TSO/GRO).
    #[cfg(target_os = "linux")]
    offload: Option<super::offload::Offload>,
    /// A socket kept for the MTU ioctl (Linux): the packet thread re-reads the MTU once a
    /// second while traffic flows, and tun-rs opens and closes a socket for every read.
    #[cfg(target_os = "linux")]
    ctl: Option<socket2::Socket>,
}

/// The MTU of the interface behind TUN descriptor `tun`, asked through socket `ctl`: TUNGETIFF
/// for the interface's name as it is now (it may have been renamed), then SIOCGIFMTU. Two
/// ioctls, where tun-rs's `mtu()` also opens and closes a socket: on the bench host that pair
/// cost ~30 us of the ~40 a recheck took, once a second on each busy packet thread.
#[cfg(target_os = "linux")]
fn mtu_via(tun: BorrowedFd<'_>, ctl: BorrowedFd<'_>) -> io::Result<u32> {
    // SAFETY: `ifreq` is plain C data (a name array and a union of integers and addresses),
    // for which all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    ifreq_ioctl(tun, libc::TUNGETIFF, &mut req)?;
    ifreq_ioctl(ctl, libc::SIOCGIFMTU, &mut req)?;
    // SAFETY: after a successful SIOCGIFMTU the union holds `ifru_mtu`, an integer.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    u32::try_from(mtu).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "negative MTU"))
}

/// One ioctl whose argument is an `ifreq` (TUNGETIFF writes one; SIOCGIFMTU reads its name
/// and writes its union).
#[cfg(target_os = "linux")]
fn ifreq_ioctl(fd: BorrowedFd<'_>, request: libc::Ioctl, req: &mut libc::ifreq) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the kernel reads and writes at most one `ifreq` through the pointer, which
    // points at `req`, live and writable for the whole call; `fd` is borrowed for the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), request, req as *mut libc::ifreq) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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
        #[cfg(target_os = "linux")]
        return Self::create_linux(name, mtu, super::offload::wanted());
        #[cfg(not(target_os = "linux"))]
        let builder = tun_rs::DeviceBuilder::new()
            .inherit_enable_state()
            .packet_information(false)
            .mtu(mtu);
        #[cfg(target_os = "macos")]
        let builder = if name == "utun" {
            builder
        } else {
            builder.name(name)
        };
        #[cfg(not(target_os = "linux"))]
        Self::wrap(builder.build_sync()?)
    }

    /// Linux: create or attach with offloads if wanted, falling back to none if refused.
    #[cfg(target_os = "linux")]
    fn create_linux(name: &str, mtu: u16, offload: bool) -> io::Result<Self> {
        let build = |offload: bool| {
            tun_rs::DeviceBuilder::new()
                .inherit_enable_state()
                .packet_information(false)
                .mtu(mtu)
                .name(name)
                .offload(offload)
                .multi_queue(false)
                .build_sync()
        };
        if offload {
            match build(true) {
                Ok(dev) if dev.tcp_gso() => return Self::wrap(dev),
                Ok(_) => tracing::warn!("TUN {name}: kernel refused TSO offloads; running without"),
                Err(e) => tracing::warn!("TUN {name}: offloads unavailable ({e}); running without"),
            }
        }
        Self::wrap(build(false)?)
    }

    /// Create without offloads (for a parent that hands the descriptor to a child, which
    /// re-attaches with offloads itself).
    pub fn create_plain(name: &str, mtu: u32) -> io::Result<Self> {
        #[cfg(target_os = "linux")]
        return Self::create_linux(name, check_mtu(mtu)?, false);
        #[cfg(not(target_os = "linux"))]
        Self::create(name, mtu)
    }

    /// Adopt an open TUN descriptor (the wireguard-go contract: the parent creates the TUN and
    /// the re-executed child receives it as fd 3, `WG_TUN_FD=3`). It must use IFF_NO_PI framing
    /// without IFF_VNET_HDR; anything that is not `/dev/net/tun` is refused.
    ///
    /// With `reattach_for_offload` (only for a descriptor from our own parent, which closes its
    /// copy: a control plane that keeps one would make the interface unreachable for us), the
    /// descriptor is swapped for a fresh one with TUN offloads; see `reattach_with_offload`.
    #[cfg(target_os = "linux")]
    pub fn from_fd(fd: OwnedFd, reattach_for_offload: bool) -> io::Result<Self> {
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
        if !reattach_for_offload || !super::offload::wanted() {
            return Self::wrap(dev);
        }
        Self::reattach_with_offload(dev)
    }

    /// Re-attach to the adopted interface with IFF_VNET_HDR: mark it persistent, close the
    /// inherited descriptor, attach anew by name (offloads on, or off if refused), and clear
    /// persistence so the interface still dies with us. The ifindex, MTU and state are kept.
    #[cfg(target_os = "linux")]
    fn reattach_with_offload(plain: tun_rs::SyncDevice) -> io::Result<Self> {
        let name = plain.name()?;
        let mtu = plain.mtu()?;
        if super::offload::set_persist(plain.as_fd(), true).is_err() {
            return Self::wrap(plain); // cannot re-attach safely: keep the plain descriptor
        }
        drop(plain);
        // Until the parent has closed its copy of the descriptor the interface stays attached
        // (EBUSY); that takes microseconds, so retry for a bounded while.
        let mut tun = Self::create_linux(&name, mtu, true);
        for _ in 0..400 {
            match &tun {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    tun = Self::create_linux(&name, mtu, true);
                }
                _ => break,
            }
        }
        match &tun {
            Ok(t) => {
                if let Err(e) = super::offload::set_persist(t.dev.as_fd(), false) {
                    tracing::error!("TUN {name}: cannot clear persistence: {e}");
                }
            }
            Err(e) => tracing::error!(
                "TUN {name}: re-attach failed ({e}); the interface is left persistent"
            ),
        }
        tun
    }

    /// Adopt an open utun descriptor (macOS side of the same contract). utun is a
    /// `PF_SYSTEM` socket; anything that is not a socket is refused.
    #[cfg(target_os = "macos")]
    pub fn from_fd(fd: OwnedFd, _reattach_for_offload: bool) -> io::Result<Self> {
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
            #[cfg(target_os = "linux")]
            offload: dev.tcp_gso().then(super::offload::Offload::new),
            #[cfg(target_os = "linux")]
            ctl: socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).ok(),
            dev,
            shutdown: Shutdown::new()?,
        })
    }

    /// Whether TSO/GRO offloads are active.
    pub fn offloads(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.offload.is_some();
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Give up the interface's descriptor (to pass it to a child as fd 3). The descriptor is
    /// still nonblocking and close-on-exec; the receiver sets what it needs.
    pub fn into_fd(self) -> OwnedFd {
        let raw = self.dev.into_raw_fd();
        // SAFETY: `into_raw_fd` transfers ownership of the device's open descriptor to us and
        // nothing else refers to it any more, so wrapping it in an `OwnedFd` is sound.
        unsafe { OwnedFd::from_raw_fd(raw) }
    }

    /// Read packets until the kernel has none left or `sink` is full.
    fn read_ready(&self, sink: &mut dyn PacketSink) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        if let Some(off) = &self.offload {
            return self.read_offloaded(off, sink);
        }
        let mut n = 0;
        while let Some(room) = sink.room() {
            if room.is_empty() {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "no room"));
            }
            match self.dev.recv(room) {
                Ok(0) => {
                    return match n {
                        0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "TUN closed")),
                        _ => Ok(n),
                    }
                }
                Ok(len) => {
                    sink.commit(len);
                    n += 1;
                    if !sink.read_more() {
                        break;
                    }
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

    /// Offload read: each syscall yields one (super-)packet, split into `sink` (see `tso`).
    /// Reads again only while the sink takes [`MAX_SEGMENTS`](super::offload::MAX_SEGMENTS)
    /// more packets, so that a 64 KiB super-packet is not cut short.
    #[cfg(target_os = "linux")]
    fn read_offloaded(
        &self,
        off: &super::offload::Offload,
        sink: &mut dyn PacketSink,
    ) -> io::Result<usize> {
        let mut raw = off.rx.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        while sink.free() >= super::offload::MAX_SEGMENTS || (n == 0 && sink.free() > 0) {
            let len = match self.dev.recv(&mut raw) {
                Ok(0) if n == 0 => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "TUN closed"))
                }
                Ok(0) => break, // report what we have; the next call sees the end
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) if n > 0 => break,
                Err(e) => return Err(e),
            };
            match super::tso::split(&raw[..len], sink) {
                Ok(done) => {
                    n += done.packets;
                    if done.dropped > 0 {
                        tracing::debug!("TUN offload read: {} segments dropped", done.dropped);
                    }
                }
                // A malformed read from the kernel: drop it, keep reading.
                Err(why) => tracing::debug!("TUN offload read dropped: {why}"),
            }
            if n > 0 && !sink.read_more() {
                break;
            }
        }
        Ok(n)
    }

    /// Offload write: segments of one TCP flow go out as one super-packet (see `gro`), the
    /// rest one by one behind an empty virtio header. Once the kernel rejected a coalesced
    /// write, everything goes one by one.
    #[cfg(target_os = "linux")]
    fn write_offloaded(
        &self,
        off: &super::offload::Offload,
        bufs: &mut [PacketBuf],
        packets: &[PacketRef],
    ) -> io::Result<usize> {
        use std::sync::atomic::Ordering;
        let mut gro = off.tx.lock().unwrap_or_else(|e| e.into_inner());
        let coalesce = off.gro_ok.load(Ordering::Relaxed);
        let (sent, err, rejected) =
            gro.write(bufs, packets, coalesce, |iov| self.write_vectored(iov));
        if rejected {
            let e = io::Error::from_raw_os_error(libc::EINVAL);
            off.gro_rejected(&e);
        }
        err.map_or(Ok(sent), Err)
    }

    /// Write one packet given as pieces (a virtio header, then the packet) with `writev`.
    #[cfg(target_os = "linux")]
    fn write_vectored(&self, iov: &[std::io::IoSlice<'_>]) -> io::Result<()> {
        loop {
            if self.shutdown.is_triggered() {
                return Err(Shutdown::error());
            }
            match nix::sys::uio::writev(self.dev.as_fd(), iov) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => {
                    let fds = [(self.dev.as_fd(), PollFlags::POLLOUT)];
                    if wait(&fds, &self.shutdown, None)? == Wait::Shutdown {
                        return Err(Shutdown::error());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
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
    fn recv_into(&self, sink: &mut dyn PacketSink, timeout: Option<Duration>) -> io::Result<usize> {
        let deadline = deadline(timeout);
        loop {
            if self.shutdown.is_triggered() {
                return Err(Shutdown::error());
            }
            let n = self.read_ready(sink)?;
            if n > 0 || sink.free() == 0 || timeout == Some(Duration::ZERO) {
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

    fn send_within(&self, bufs: &mut [PacketBuf], packets: &[PacketRef]) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        if let Some(off) = &self.offload {
            return self.write_offloaded(off, bufs, packets);
        }
        let mut sent = 0;
        let mut first_err = None;
        for r in packets {
            match self.write_one(r.bytes(bufs)) {
                Ok(()) => sent += 1,
                Err(e) if crate::platform::tun::is_shutdown(&e) => return Err(e),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(sent), Err)
    }

    fn poll_fds<'a>(&'a self, f: &mut dyn FnMut(BorrowedFd<'a>)) {
        f(self.dev.as_fd());
        f(self.shutdown.fd());
    }

    fn name(&self) -> io::Result<String> {
        self.dev.name()
    }

    fn mtu(&self) -> io::Result<u32> {
        #[cfg(target_os = "linux")]
        if let Some(ctl) = &self.ctl {
            return mtu_via(self.dev.as_fd(), ctl.as_fd());
        }
        self.dev.mtu().map(u32::from)
    }

    fn shutdown(&self) {
        self.shutdown.trigger();
    }
}
