//! Linux TUN offloads (IFF_VNET_HDR with TSO/USO, as wireguard-go uses them): the kernel hands
//! us TCP (and UDP) super-packets of up to 64 KiB that we split into MTU-sized segments, and we
//! hand it coalesced super-packets built from the packets we decrypted (our own GRO, `gro.rs`).
//! One syscall then moves dozens of packets.
//!
//! Offloads are on unless `WGRS_DISABLE_OFFLOAD=1`. If the kernel refuses them at creation the
//! TUN comes up without; if it later rejects a coalesced write (EINVAL/EIO), coalescing is
//! switched off for good and logged once, and packets are written one by one.
#![allow(unsafe_code)] // TUNSETPERSIST on a descriptor we own

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Segments one super-packet may split into (64 KiB over an MSS of at least 1 KiB).
pub const MAX_SEGMENTS: usize = 64;

/// The environment variable that turns TUN offloads off.
pub const DISABLE_ENV: &str = "WGRS_DISABLE_OFFLOAD";

/// Whether offloads are wanted (not disabled by the environment).
pub fn wanted() -> bool {
    !matches!(
        std::env::var(DISABLE_ENV).as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// Per-device offload state.
pub struct Offload {
    /// The raw read buffer: a virtio header and up to 64 KiB of packet.
    pub rx: Mutex<Vec<u8>>,
    /// Coalescing state for writes.
    pub tx: Mutex<super::gro::Coalescer>,
    /// False once the kernel rejected a coalesced write.
    pub gro_ok: AtomicBool,
}

impl Offload {
    /// Fresh state.
    pub fn new() -> Self {
        Self {
            rx: Mutex::new(vec![0; super::tso::VNET_HDR_LEN + 65535]),
            tx: Mutex::new(super::gro::Coalescer::default()),
            gro_ok: AtomicBool::new(true),
        }
    }

    /// After `e` from a coalesced write: if the kernel rejects offloaded packets, stop
    /// coalescing (once, with a log line) and report that the caller should fall back.
    pub fn gro_rejected(&self, e: &io::Error) -> bool {
        let rejected = matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EIO));
        if rejected && self.gro_ok.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "TUN rejected a coalesced write ({e}); writing packets one by one from now on"
            );
        }
        rejected
    }
}

impl Default for Offload {
    fn default() -> Self {
        Self::new()
    }
}

/// Mark the TUN persistent (or not): a persistent TUN outlives its last descriptor, which lets a
/// child re-attach to the interface it inherited with different flags (IFF_VNET_HDR).
pub fn set_persist(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    // SAFETY: TUNSETPERSIST takes its argument by value (no pointer) on a TUN descriptor we
    // borrow for the duration of the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETPERSIST, libc::c_ulong::from(on)) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
