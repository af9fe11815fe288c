//! The `Bind` trait: batch-shaped UDP I/O for WireGuard messages, and its implementations.
//!
//! Implementations: [`OsBind`] (an IPv4 and an IPv6 socket on one port, via `quinn-udp` and
//! `socket2`: recvmmsg batches, UDP GSO on send and GRO on receive where the kernel has them)
//! and [`MemBind`] (in-memory, several binds linked by a [`MemNetwork`], for tests).
//!
//! # Contract
//! * `recv_batch` blocks until at least one datagram is available, then fills as many buffers
//!   as are ready. One buffer may hold several datagrams coalesced by GRO: they all come from
//!   `meta.src` and split at `meta.stride` ([`RecvMeta::segments`]). Buffers of
//!   [`MAX_RECV_LEN`] bytes (after headroom) never truncate; Linux cuts a GRO batch that does
//!   not fit and loses the rest of it, so `OsBind` refuses smaller buffers while GRO is on.
//!   `Ok(0)` means the timeout passed.
//! * `send_batch` sends each [`Outgoing`]: `contents` is one datagram, or with `segment_size`
//!   several equal-size datagrams (the last may be shorter) to one destination, sent with GSO
//!   when the kernel can (at most [`Bind::max_gso_segments`] per syscall; more are split).
//!   Errors for one destination do not stop the others: the first is returned at the end.
//! * After `shutdown()` every call fails with `ErrorKind::ConnectionAborted`.

use super::buf::PacketBuf;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

mod mem;
#[cfg(unix)]
mod os;
#[cfg(unix)]
mod socket;

pub use mem::{Datagram as MemDatagram, MemBind, MemNetwork};
#[cfg(unix)]
pub use os::OsBind;

/// A receive buffer of this many bytes (after headroom) holds any UDP datagram and any GRO
/// batch (Linux caps a UDP GRO super-packet at 64 KiB).
pub const MAX_RECV_LEN: usize = 1 << 16;

/// Largest UDP payload over IPv4 (65535 - 20 - 8); also our cap for one GSO send.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// Where a received buffer came from and how it splits into datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// Source address of every datagram in the buffer.
    pub src: SocketAddr,
    /// Bytes in the buffer (equals the buffer's packet length).
    pub len: usize,
    /// Size of each coalesced datagram (the last may be shorter); `len` when not coalesced.
    pub stride: usize,
    /// The local address the datagrams were sent to, where the OS tells (IP_PKTINFO): the
    /// source to answer from ("sticky sockets", as wireguard-go does on Linux).
    pub local_ip: Option<IpAddr>,
}

impl Default for RecvMeta {
    fn default() -> Self {
        Self {
            src: SocketAddr::from(([0, 0, 0, 0], 0)),
            len: 0,
            stride: 0,
            local_ip: None,
        }
    }
}

impl RecvMeta {
    /// Split a received buffer's bytes into its datagrams (an empty buffer is one empty
    /// datagram).
    pub fn segments<'a>(&self, bytes: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
        let bytes = bytes.get(..self.len).unwrap_or(bytes);
        let empty = bytes.is_empty().then_some(bytes);
        bytes.chunks(self.stride.max(1)).chain(empty)
    }
}

/// One or more datagrams to one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing<'a> {
    pub dst: SocketAddr,
    pub contents: &'a [u8],
    /// `Some(n)`: `contents` is several datagrams of `n` bytes each (the last may be shorter).
    pub segment_size: Option<usize>,
    /// Source address to send from (a `RecvMeta::local_ip`); `None` lets routing choose. If
    /// the OS refuses it (address gone), the datagrams go out without it.
    pub src_ip: Option<IpAddr>,
}

impl<'a> Outgoing<'a> {
    /// A single datagram.
    pub fn one(dst: SocketAddr, contents: &'a [u8]) -> Self {
        Self {
            dst,
            contents,
            segment_size: None,
            src_ip: None,
        }
    }

    /// The datagrams this describes (an empty `contents` is one empty datagram).
    pub fn datagrams(&self) -> impl Iterator<Item = &'a [u8]> {
        let seg = match self.segment_size {
            Some(n) if n > 0 => n,
            _ => self.contents.len().max(1),
        };
        let empty = self.contents.is_empty().then_some(self.contents);
        self.contents.chunks(seg).chain(empty)
    }
}

/// UDP I/O for WireGuard messages, one batch at a time.
pub trait Bind: Send + Sync {
    /// Receive into up to `min(bufs.len(), meta.len())` buffers, each written at its current
    /// headroom, with `meta[i]` describing `bufs[i]`. Blocks until at least one datagram,
    /// `timeout` (`Ok(0)`), or shutdown (`Err`). `Some(Duration::ZERO)` polls.
    fn recv_batch(
        &self,
        bufs: &mut [PacketBuf],
        meta: &mut [RecvMeta],
        timeout: Option<Duration>,
    ) -> io::Result<usize>;

    /// `recv_batch` without waiting, from the sockets a wait just found readable: bit `i` of
    /// `ready` stands for the `i`-th descriptor [`Bind::poll_fds`] hands out. A socket whose
    /// bit is clear is not asked, which saves a receive call that would find nothing. The
    /// default asks every socket.
    fn recv_ready(
        &self,
        bufs: &mut [PacketBuf],
        meta: &mut [RecvMeta],
        ready: u8,
    ) -> io::Result<usize> {
        let _ = ready;
        self.recv_batch(bufs, meta, Some(Duration::ZERO))
    }

    /// Send every entry; returns how many entries were sent in full, or the first error after
    /// all were tried.
    fn send_batch(&self, batch: &[Outgoing<'_>]) -> io::Result<usize>;

    /// Hand `f` the descriptors that turn readable when `recv_batch` has something to return
    /// (packets, an error, or shutdown), for a thread that waits on several endpoints at once
    /// with [`crate::platform::wait_any`]. Implementations without descriptors (in-memory
    /// ones) hand none: such an endpoint needs a thread blocked in `recv_batch`.
    fn poll_fds<'a>(&'a self, f: &mut dyn FnMut(std::os::fd::BorrowedFd<'a>)) {
        let _ = f;
    }

    /// The UDP port all of this bind's sockets listen on.
    fn local_port(&self) -> u16;

    /// Set the firewall mark of outgoing packets (Linux `SO_MARK`; 0 clears it) on every
    /// socket, or on none: a refused change leaves each socket's mark as it was.
    fn set_fwmark(&self, mark: u32) -> io::Result<()>;

    /// How many datagrams one `Outgoing` may carry per syscall (1: no GSO).
    fn max_gso_segments(&self) -> usize;

    /// Wake every blocked call and make them, and all later calls, fail with
    /// `ErrorKind::ConnectionAborted`. Idempotent.
    fn shutdown(&self);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn outgoing_splits_into_datagrams() {
        let dst: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let data = [1u8, 2, 3, 4, 5, 6, 7];
        let o = Outgoing {
            dst,
            contents: &data,
            segment_size: Some(3),
            src_ip: None,
        };
        let parts: Vec<_> = o.datagrams().collect();
        assert_eq!(parts, vec![&data[..3], &data[3..6], &data[6..]]);
        assert_eq!(Outgoing::one(dst, &data).datagrams().count(), 1);
        assert_eq!(Outgoing::one(dst, &[]).datagrams().count(), 1);
        let zero = Outgoing {
            segment_size: Some(0),
            ..o
        };
        assert_eq!(zero.datagrams().count(), 1);
    }

    #[test]
    fn recv_meta_segments_are_bounded() {
        let m = RecvMeta {
            len: 5,
            stride: 2,
            ..RecvMeta::default()
        };
        let parts: Vec<_> = m.segments(&[1, 2, 3, 4, 5, 9, 9]).collect();
        assert_eq!(parts, vec![&[1, 2][..], &[3, 4], &[5]]);
        let bad = RecvMeta {
            len: 99,
            stride: 0,
            ..m
        };
        assert_eq!(bad.segments(&[1, 2]).count(), 2);
        let empty = RecvMeta::default();
        assert_eq!(empty.segments(&[]).collect::<Vec<_>>(), vec![&[0u8; 0][..]]);
    }
}
