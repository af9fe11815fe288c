//! `OsBind`: one IPv4 and one IPv6 (IPV6_V6ONLY) UDP socket on the same port, driven through
//! `quinn-udp` (recvmmsg batches, UDP GSO sends, GRO receives) behind the `Bind` trait.
//!
//! Like wireguard-go: port 0 picks a port for IPv4 and binds IPv6 to the same one, retrying
//! when that is taken; a missing address family (EAFNOSUPPORT) is skipped. Each socket is set
//! up in `socket.rs` (7 MiB buffers, system path-MTU behaviour).

use super::socket::{family_missing, local_port, open, Sock};
use super::{Bind, Outgoing, PacketBuf, RecvMeta, MAX_RECV_LEN, MAX_UDP_PAYLOAD};
use crate::platform::wake::{deadline, wait, Shutdown, Wait};
use nix::poll::PollFlags;
use quinn_udp::{Transmit, BATCH_SIZE};
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Attempts to find a port free on both families when asked for port 0.
const BIND_RETRIES: usize = 100;

/// A dual-stack UDP bind on one port.
pub struct OsBind {
    v4: Option<Sock>,
    v6: Option<Sock>,
    port: u16,
    fwmark: AtomicU32,
    shutdown: Shutdown,
}

impl std::fmt::Debug for OsBind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsBind")
            .field("port", &self.port)
            .field("v4", &self.v4.is_some())
            .field("v6", &self.v6.is_some())
            .finish()
    }
}

/// What sendmsg answers for an IP_PKTINFO source that is not (or no longer) local: EINVAL
/// (wireguard-go retries on it), or ENETUNREACH (Linux 6.18, measured) / EADDRNOTAVAIL.
fn bad_source(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::EADDRNOTAVAIL | libc::ENETUNREACH)
    )
}

/// `SO_MARK` on one socket.
#[cfg(target_os = "linux")]
fn mark_socket(s: &socket2::Socket, mark: u32) -> io::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt};
    Ok(setsockopt(s, sockopt::Mark, &mark)?)
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// ICMP-induced errors a UDP receive may report; they concern some earlier send, not this
/// socket, so the receive is simply retried.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::ECONNRESET | libc::EHOSTUNREACH | libc::ENETUNREACH)
    )
}

impl OsBind {
    /// Bind UDP `port` (0: any free port) on all IPv4 and IPv6 addresses.
    pub fn bind(port: u16) -> io::Result<Self> {
        let mut last = io::Error::from(io::ErrorKind::AddrInUse);
        for _ in 0..BIND_RETRIES {
            match Self::try_bind(port) {
                Err(e) if port == 0 && e.kind() == io::ErrorKind::AddrInUse => last = e,
                r => return r,
            }
        }
        Err(last)
    }

    fn try_bind(port: u16) -> io::Result<Self> {
        let v4 = match open(false, port) {
            Ok(s) => Some(s),
            Err(e) if family_missing(&e) => None,
            Err(e) => return Err(e),
        };
        let port = match &v4 {
            Some(s) => local_port(s)?,
            None => port,
        };
        let v6 = match open(true, port) {
            Ok(s) => Some(s),
            Err(e) if family_missing(&e) && v4.is_some() => None,
            Err(e) => return Err(e),
        };
        let port = match (&v4, &v6) {
            (None, Some(s)) => local_port(s)?,
            _ => port,
        };
        Ok(Self {
            v4,
            v6,
            port,
            fwmark: AtomicU32::new(0),
            shutdown: Shutdown::new()?,
        })
    }

    fn socks(&self) -> impl Iterator<Item = &Sock> {
        self.v4.iter().chain(self.v6.iter())
    }

    /// `SO_MARK` as the kernel reports it for each socket (IPv4 first).
    #[cfg(target_os = "linux")]
    pub fn socket_marks(&self) -> io::Result<Vec<u32>> {
        use nix::sys::socket::{getsockopt, sockopt};
        self.socks()
            .map(|s| Ok(getsockopt(&s.socket, sockopt::Mark)?))
            .collect()
    }

    /// Set `mark` on every socket through `set` (the real setter but in tests), or on none:
    /// when one socket refuses, those already changed get their old mark back.
    #[cfg(target_os = "linux")]
    fn set_marks(
        &self,
        mark: u32,
        set: impl Fn(&socket2::Socket, u32) -> io::Result<()>,
    ) -> io::Result<()> {
        let old = self.socket_marks()?;
        for (done, s) in self.socks().enumerate() {
            if let Err(e) = set(&s.socket, mark) {
                for (s, &m) in self.socks().zip(&old).take(done) {
                    // Setting back a mark this socket held a moment ago does not fail; if it
                    // ever did, the error that matters is still `e`.
                    let _ = mark_socket(&s.socket, m);
                }
                return Err(e);
            }
        }
        self.fwmark.store(mark, Ordering::Relaxed);
        Ok(())
    }

    /// The mark last set with `set_fwmark`.
    pub fn fwmark(&self) -> u32 {
        self.fwmark.load(Ordering::Relaxed)
    }

    /// (receive, send) buffer sizes as the kernel reports them (Linux doubles the request).
    pub fn buffer_sizes(&self) -> io::Result<Vec<(usize, usize)>> {
        self.socks()
            .map(|s| Ok((s.socket.recv_buffer_size()?, s.socket.send_buffer_size()?)))
            .collect()
    }

    /// How many datagrams one receive may coalesce (1: no GRO).
    pub fn gro_segments(&self) -> usize {
        self.socks()
            .map(|s| s.state.gro_segments())
            .min()
            .unwrap_or(1)
    }

    /// One recvmmsg on `sock` into up to `BATCH_SIZE` buffers.
    /// How many buffers a receive may fill, once each has room for what it may get: the
    /// kernel cuts a GRO batch to the buffer and drops the rest of it (measured on Linux
    /// 6.18: a 2048-byte buffer got one datagram and a 596-byte stump of eleven).
    fn check_room(&self, bufs: &[PacketBuf], meta: &[RecvMeta]) -> io::Result<usize> {
        let max = bufs.len().min(meta.len());
        let need = if self.gro_segments() > 1 {
            MAX_RECV_LEN
        } else {
            1
        };
        if bufs.iter().take(max).any(|b| b.spare_len() < need) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "receive buffers too small (GRO needs MAX_RECV_LEN bytes each)",
            ));
        }
        Ok(max)
    }

    fn recv_from(sock: &Sock, bufs: &mut [PacketBuf], meta: &mut [RecvMeta]) -> io::Result<usize> {
        let count = bufs.len().min(meta.len()).min(BATCH_SIZE);
        if count == 0 {
            return Ok(0);
        }
        let mut qmeta = [quinn_udp::RecvMeta::default(); BATCH_SIZE];
        let n = {
            let mut slices: [IoSliceMut<'_>; BATCH_SIZE] =
                std::array::from_fn(|_| IoSliceMut::new(&mut []));
            for (s, b) in slices.iter_mut().zip(bufs.iter_mut()) {
                *s = IoSliceMut::new(b.spare_mut());
            }
            loop {
                let r = sock.state.recv(
                    (&sock.socket).into(),
                    &mut slices[..count],
                    &mut qmeta[..count],
                );
                match r {
                    Ok(n) => break n.min(count),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted || transient(&e) => {}
                    Err(e) => return Err(e),
                }
            }
        };
        for ((b, m), q) in bufs.iter_mut().zip(meta.iter_mut()).zip(&qmeta).take(n) {
            b.set_len(q.len)?;
            *m = RecvMeta {
                src: canonical(q.addr),
                len: q.len,
                stride: if q.stride == 0 { q.len } else { q.stride },
                local_ip: q.dst_ip.map(|ip| ip.to_canonical()),
            };
        }
        Ok(n)
    }

    /// Hand one transmit to the kernel, waiting (interruptibly) while the buffer is full.
    fn transmit(&self, sock: &Sock, t: &Transmit<'_>) -> io::Result<()> {
        loop {
            if self.shutdown.is_triggered() {
                return Err(Shutdown::error());
            }
            match sock.state.try_send((&sock.socket).into(), t) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let fds = [(sock.socket.as_fd(), PollFlags::POLLOUT)];
                    if wait(&fds, &self.shutdown, None)? == Wait::Shutdown {
                        return Err(Shutdown::error());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Send `o`; if the OS refuses its source address (gone since it was learnt), send it
    /// again from wherever routing says, as wireguard-go does.
    fn send_one(&self, o: &Outgoing<'_>) -> io::Result<()> {
        match self.send_from(o, o.src_ip) {
            Err(e) if o.src_ip.is_some() && bad_source(&e) => self.send_from(o, None),
            r => r,
        }
    }

    fn send_from(&self, o: &Outgoing<'_>, src_ip: Option<IpAddr>) -> io::Result<()> {
        let dst = canonical(o.dst);
        let src_ip = src_ip
            .map(|ip| ip.to_canonical())
            .filter(|ip| ip.is_ipv4() == dst.is_ipv4());
        let sock = if dst.is_ipv4() { &self.v4 } else { &self.v6 };
        let sock = sock
            .as_ref()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))?;
        let one = |contents: &[u8], segment_size: Option<usize>| {
            let t = Transmit {
                destination: dst,
                ecn: None,
                contents,
                segment_size,
                src_ip,
            };
            self.transmit(sock, &t)
        };
        let seg = match o.segment_size {
            Some(s) if s > 0 && s < o.contents.len() => s,
            _ => return one(o.contents, None),
        };
        if seg > MAX_UDP_PAYLOAD {
            return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
        }
        let per_call = sock
            .state
            .max_gso_segments()
            .min(MAX_UDP_PAYLOAD / seg)
            .max(1);
        for chunk in o.contents.chunks(seg * per_call) {
            if per_call > 1 && chunk.len() > seg {
                match one(chunk, Some(seg)) {
                    Ok(()) => continue,
                    // quinn-udp turns GSO off after EIO/EINVAL: resend this chunk one by one.
                    Err(_) if sock.state.max_gso_segments() == 1 => {}
                    Err(e) => return Err(e),
                }
            }
            for d in chunk.chunks(seg) {
                one(d, None)?;
            }
        }
        Ok(())
    }
}

impl Bind for OsBind {
    fn recv_batch(
        &self,
        bufs: &mut [PacketBuf],
        meta: &mut [RecvMeta],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let max = self.check_room(bufs, meta)?;
        let deadline = deadline(timeout);
        loop {
            if self.shutdown.is_triggered() {
                return Err(Shutdown::error());
            }
            let mut n = 0;
            for sock in self.socks() {
                n += Self::recv_from(sock, &mut bufs[n..max], &mut meta[n..max])?;
            }
            if n > 0 || max == 0 || timeout == Some(Duration::ZERO) {
                return Ok(n);
            }
            // On the stack: no allocation per wait.
            let (both, one);
            let fds: &[(BorrowedFd<'_>, PollFlags)] = match (&self.v4, &self.v6) {
                (Some(a), Some(b)) => {
                    both = [a, b].map(|s| (s.socket.as_fd(), PollFlags::POLLIN));
                    &both
                }
                (Some(a), None) | (None, Some(a)) => {
                    one = [(a.socket.as_fd(), PollFlags::POLLIN)];
                    &one
                }
                (None, None) => &[],
            };
            match wait(fds, &self.shutdown, deadline)? {
                Wait::Ready(_) => {}
                Wait::TimedOut => return Ok(0),
                Wait::Shutdown => return Err(Shutdown::error()),
            }
        }
    }

    fn recv_ready(
        &self,
        bufs: &mut [PacketBuf],
        meta: &mut [RecvMeta],
        ready: u8,
    ) -> io::Result<usize> {
        if self.shutdown.is_triggered() {
            return Err(Shutdown::error());
        }
        let max = self.check_room(bufs, meta)?;
        let mut n = 0;
        // Bit i: the i-th socket, in the order poll_fds hands them out.
        for (i, sock) in self.socks().enumerate() {
            if ready & 1 << i != 0 {
                n += Self::recv_from(sock, &mut bufs[n..max], &mut meta[n..max])?;
            }
        }
        Ok(n)
    }

    fn send_batch(&self, batch: &[Outgoing<'_>]) -> io::Result<usize> {
        let mut sent = 0;
        let mut first_err = None;
        for o in batch {
            match self.send_one(o) {
                Ok(()) => sent += 1,
                Err(e) if crate::platform::tun::is_shutdown(&e) => return Err(e),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if self.shutdown.is_triggered() {
            return Err(Shutdown::error());
        }
        first_err.map_or(Ok(sent), Err)
    }

    fn poll_fds<'a>(&'a self, f: &mut dyn FnMut(BorrowedFd<'a>)) {
        for s in self.socks() {
            f(s.socket.as_fd());
        }
        f(self.shutdown.fd());
    }

    fn local_port(&self) -> u16 {
        self.port
    }

    #[cfg(target_os = "linux")]
    fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        self.set_marks(mark, mark_socket)
    }

    #[cfg(not(target_os = "linux"))]
    fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        // No SO_MARK on macOS; wireguard-go's SetMark is a no-op there too.
        self.fwmark.store(mark, Ordering::Relaxed);
        Ok(())
    }

    fn max_gso_segments(&self) -> usize {
        self.socks()
            .map(|s| s.state.max_gso_segments())
            .min()
            .unwrap_or(1)
    }

    fn shutdown(&self) {
        self.shutdown.trigger();
    }
}

#[cfg(all(test, target_os = "linux"))]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    /// `recv_ready` reads only the sockets whose bits are set (bit `i`: the `i`-th descriptor
    /// `poll_fds` hands out), never blocks, and reports shutdown.
    #[test]
    fn recv_ready_reads_only_the_sockets_named() {
        use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
        use std::os::fd::AsRawFd;
        let bind = OsBind::bind(0).unwrap();
        let (Some(v4), Some(v6)) = (&bind.v4, &bind.v6) else {
            eprintln!("skipping: no IPv6 on this host");
            return;
        };
        let port = bind.local_port();
        let bit = |fd: i32| {
            let mut i = 0;
            let mut found = None;
            bind.poll_fds(&mut |f| {
                if f.as_raw_fd() == fd {
                    found = Some(1u8 << i);
                }
                i += 1;
            });
            found.unwrap()
        };
        let (bit4, bit6) = (bit(v4.socket.as_raw_fd()), bit(v6.socket.as_raw_fd()));
        let c4 = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let Ok(c6) = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)) else {
            eprintln!("skipping: no IPv6 loopback on this host");
            return;
        };
        c4.send_to(b"four", (Ipv4Addr::LOCALHOST, port)).unwrap();
        c6.send_to(b"six", (Ipv6Addr::LOCALHOST, port)).unwrap();
        // Both queued before anything is read.
        let fds = [v4.socket.as_fd(), v6.socket.as_fd()];
        let mut queued = 0;
        for _ in 0..100 {
            queued = crate::platform::wait_any(&fds).unwrap();
            if queued == 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(queued, 3, "both datagrams arrive on loopback");
        let mut bufs: Vec<_> = (0..4).map(|_| PacketBuf::new(0, MAX_RECV_LEN)).collect();
        let mut meta = vec![RecvMeta::default(); 4];
        assert_eq!(bind.recv_ready(&mut bufs, &mut meta, 0).unwrap(), 0);
        assert_eq!(bind.recv_ready(&mut bufs, &mut meta, bit6).unwrap(), 1);
        assert_eq!(bufs[0].packet(), b"six");
        assert_eq!(meta[0].src, c6.local_addr().unwrap());
        assert_eq!(bind.recv_ready(&mut bufs, &mut meta, bit4).unwrap(), 1);
        assert_eq!(bufs[0].packet(), b"four");
        assert_eq!(meta[0].src, c4.local_addr().unwrap());
        // Nothing left: returns at once with nothing, whatever the bits say.
        assert_eq!(bind.recv_ready(&mut bufs, &mut meta, !0).unwrap(), 0);
        bind.shutdown();
        let err = bind.recv_ready(&mut bufs, &mut meta, !0).unwrap_err();
        assert!(crate::platform::tun::is_shutdown(&err), "{err}");
    }

    /// The kernel refuses `SO_MARK` on the IPv6 socket (say, a seccomp or LSM rule), after the
    /// IPv4 socket took the new mark: the refused change must leave both as they were.
    #[test]
    fn a_refused_fwmark_leaves_both_sockets_as_they_were() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipping: SO_MARK needs CAP_NET_ADMIN; run as root, as CI does");
            return;
        }
        let bind = OsBind::bind(0).unwrap();
        if bind.v6.is_none() {
            eprintln!("skipping: no IPv6 on this host");
            return;
        }
        bind.set_fwmark(7).unwrap();
        let refuse_v6 = |s: &socket2::Socket, m: u32| {
            let v6 = s.local_addr()?.is_ipv6();
            if v6 {
                Err(io::Error::from_raw_os_error(libc::EPERM))
            } else {
                mark_socket(s, m)
            }
        };
        let err = bind.set_marks(9, refuse_v6).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
        assert_eq!(bind.socket_marks().unwrap(), vec![7, 7]);
        assert_eq!(bind.fwmark(), 7);
        // And an accepted change still reaches both.
        bind.set_fwmark(9).unwrap();
        assert_eq!(bind.socket_marks().unwrap(), vec![9, 9]);
        assert_eq!(bind.fwmark(), 9);
    }
}
