//! The `Tun` trait: batch-shaped packet I/O with the local network stack, and its implementations.
//!
//! Implementations: [`OsTun`] (Linux TUN and macOS utun, via `tun-rs`) and [`MemTun`] (in-memory,
//! for tests without root).
//!
//! # Contract
//! * `recv_into` (and `recv_batch`, into buffers of their own) blocks until at least one
//!   packet is available, then returns as many as are ready (until the sink is full) without
//!   blocking again; `Ok(0)` means the timeout passed.
//! * An error from `recv_into` is the driver's exit trigger: the device is gone or broken (on
//!   Linux, `ip link del` makes a blocked read fail with `EBADFD`, see [`OsTun`]), or
//!   [`Tun::shutdown`] was called (`ErrorKind::ConnectionAborted`).
//! * `send_within` (and `send_batch`, for packets in buffers of their own) hands every packet
//!   to the OS. A packet the OS rejects (say, not IPv4/IPv6) does not stop the others: the first
//!   error is returned after all were tried.
//!
//! # Offloads (Linux, `IFF_VNET_HDR`)
//! * One read may yield a 64 KiB TSO/USO super-packet that the implementation splits (see
//!   `tso`) straight into the caller's [`PacketSink`], so `recv_into` may return more packets
//!   than it made syscalls.
//! * `send_within` takes packets where they lie (the inbound path decrypts in place in its UDP
//!   receive buffers) and writes consecutive segments of a TCP flow as one super-packet with
//!   `writev` (see `gro`), rewriting the first segment's headers in place: callers treat the
//!   buffers' contents as unspecified afterwards.

use super::buf::PacketBuf;
use std::io;
use std::time::Duration;

#[cfg(target_os = "linux")]
mod csum;
#[cfg(target_os = "linux")]
pub(crate) mod gro;
mod mem;
#[cfg(target_os = "linux")]
mod offload;
#[cfg(any(target_os = "linux", target_os = "macos"))]
mod os;
#[cfg(all(test, target_os = "linux"))]
mod testpkt;
#[cfg(target_os = "linux")]
pub(crate) mod tso;

pub use mem::{MemTun, MemTunHandle};
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub use os::OsTun;

/// The default interface MTU: 1500 minus WireGuard's 80 bytes of worst-case (IPv6) overhead.
pub const DEFAULT_MTU: u32 = 1420;

/// Headroom callers should leave in front of packets handed to a `Tun` (room for a
/// `virtio_net_hdr` today, and for the 16-byte transport header in the data path).
pub const TUN_HEADROOM: usize = 16;

/// One packet to write: `len` bytes at offset `start` of buffer `buf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketRef {
    /// Index of the buffer.
    pub buf: usize,
    /// Offset of the packet in the buffer's storage.
    pub start: usize,
    /// Packet length.
    pub len: usize,
}

impl PacketRef {
    /// The packet's byte range in its buffer.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.start + self.len
    }

    /// The packet's bytes (empty if the reference is out of range).
    pub fn bytes<'a, B: AsRef<[u8]>>(&self, bufs: &'a [B]) -> &'a [u8] {
        bufs.get(self.buf)
            .and_then(|b| b.as_ref().get(self.range()))
            .unwrap_or(&[])
    }
}

/// Where a TUN read puts packets: the outbound path's seal arena, or a set of [`PacketBuf`]s.
pub trait PacketSink {
    /// The room for the next packet (its length is the longest packet the sink takes), or
    /// `None` when the sink is full. Until [`commit`](Self::commit) it is the same room.
    fn room(&mut self) -> Option<&mut [u8]>;

    /// Keep the first `len` bytes written into the current room as a packet.
    fn commit(&mut self, len: usize);

    /// How many more packets the sink takes.
    fn free(&self) -> usize;

    /// Whether a read that brought packets may be followed by another before the sink is
    /// handed back (`false`: what one read brought goes on its way first).
    fn read_more(&self) -> bool {
        true
    }
}

/// A sink over buffers: packet `i` goes at the headroom of `bufs[i]`.
struct BufSink<'a> {
    bufs: &'a mut [PacketBuf],
    filled: usize,
}

impl PacketSink for BufSink<'_> {
    fn room(&mut self) -> Option<&mut [u8]> {
        self.bufs.get_mut(self.filled).map(PacketBuf::spare_mut)
    }

    fn commit(&mut self, len: usize) {
        if let Some(b) = self.bufs.get_mut(self.filled) {
            if b.set_len(len).is_ok() {
                self.filled += 1;
            }
        }
    }

    fn free(&self) -> usize {
        self.bufs.len() - self.filled
    }
}

/// Packet I/O with the local network stack, one batch at a time.
pub trait Tun: Send + Sync {
    /// Read packets into `sink` until it is full or nothing more is ready. Blocks until at
    /// least one packet is read, `timeout` passes (`Ok(0)`), or shutdown (`Err`).
    /// `Some(Duration::ZERO)` polls without blocking. A packet longer than the sink's room is
    /// truncated (plain reads, as `read(2)` on a TUN does) or dropped (offloaded reads).
    fn recv_into(&self, sink: &mut dyn PacketSink, timeout: Option<Duration>) -> io::Result<usize>;

    /// Read up to `bufs.len()` packets, each written at its buffer's current headroom (the
    /// rest of the buffer must hold an MTU-sized packet); as [`Tun::recv_into`] otherwise.
    fn recv_batch(&self, bufs: &mut [PacketBuf], timeout: Option<Duration>) -> io::Result<usize> {
        let mut sink = BufSink { bufs, filled: 0 };
        self.recv_into(&mut sink, timeout)
    }

    /// Write packets that lie inside `bufs` (offsets from the start of each buffer's storage,
    /// `AsRef<[u8]>`), in order, without copying them out first. Returns how many were
    /// written, or the first error after all were tried. Headers in `bufs` may be rewritten
    /// (coalescing on Linux); the bytes are unspecified afterwards.
    fn send_within(&self, bufs: &mut [PacketBuf], packets: &[PacketRef]) -> io::Result<usize>;

    /// Write every packet to the OS; returns how many were written, or the first error after
    /// all were tried. Buffers may be modified (see the module docs on offloads).
    fn send_batch(&self, packets: &mut [PacketBuf]) -> io::Result<usize> {
        let refs: Vec<PacketRef> = packets
            .iter()
            .enumerate()
            .map(|(buf, p)| PacketRef {
                buf,
                start: p.headroom(),
                len: p.len(),
            })
            .collect();
        self.send_within(packets, &refs)
    }

    /// Hand `f` the descriptors that turn readable when `recv_into` has something to return
    /// (packets, an error, or shutdown), for a thread that waits on several endpoints at once
    /// with [`crate::platform::wait_any`]. Implementations without descriptors (in-memory
    /// ones) hand none: such an endpoint needs a thread blocked in `recv_into`.
    fn poll_fds<'a>(&'a self, f: &mut dyn FnMut(std::os::fd::BorrowedFd<'a>)) {
        let _ = f;
    }

    /// The interface name (on macOS the kernel picks it: `utunN`).
    fn name(&self) -> io::Result<String>;

    /// The interface MTU as the OS reports it now.
    fn mtu(&self) -> io::Result<u32>;

    /// Wake every blocked `recv_into`/`send_within` and make them, and all later calls, fail
    /// with `ErrorKind::ConnectionAborted`. Idempotent.
    fn shutdown(&self);
}

/// True if `e` is the error a `Tun` or `Bind` returns after its own `shutdown()`.
pub fn is_shutdown(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::ConnectionAborted
}

fn check_mtu(mtu: u32) -> io::Result<u16> {
    // 68 is the IPv4 minimum (RFC 791) and the smallest MTU Linux accepts for a TUN.
    u16::try_from(mtu)
        .ok()
        .filter(|m| *m >= 68)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "MTU out of range"))
}
