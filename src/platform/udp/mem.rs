//! `MemBind` and `MemNetwork`: in-memory UDP binds that reach each other within one process.
//!
//! Delivery is by exact destination address; like UDP, a datagram to an address nobody is bound
//! to, or to a full inbox, is silently dropped. A held network ([`MemNetwork::held`]) delivers
//! nothing by itself: a simulation takes what was sent and delivers it, or not, as it likes.

use super::{Bind, Outgoing, PacketBuf, RecvMeta, MAX_UDP_PAYLOAD};
use crate::platform::memq::MemQueue;
use crate::platform::wake::{deadline, Shutdown};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Datagrams an inbox holds before new ones are dropped.
const INBOX_LEN: usize = 4096;
/// Datagrams a held network keeps for its owner before new ones are dropped.
const HELD_LEN: usize = 1 << 16;
/// First port handed out for port 0 (the IANA dynamic range).
const EPHEMERAL: u16 = 49152;

/// A datagram on the in-memory wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The sender's address.
    pub src: SocketAddr,
    /// Where it was sent.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub bytes: Vec<u8>,
}

type Inbox = Arc<MemQueue<Datagram>>;

#[derive(Default)]
struct Net {
    binds: HashMap<SocketAddr, Inbox>,
    /// `Some`: a held network; what was sent waits here.
    held: Option<std::collections::VecDeque<Datagram>>,
}

/// A switch joining [`MemBind`]s; clones share it.
#[derive(Clone, Default)]
pub struct MemNetwork(Arc<Mutex<Net>>);

impl MemNetwork {
    pub fn new() -> Self {
        Self::default()
    }

    /// A network that delivers nothing by itself: every datagram sent waits, in order, until
    /// the owner takes it ([`Self::take_held`]) and hands it on ([`Self::deliver`]), from any
    /// source, late, twice or never.
    pub fn held() -> Self {
        let net = Self::new();
        net.lock().held = Some(Default::default());
        net
    }

    /// The datagrams sent since the last call, oldest first (none on a network not held).
    pub fn take_held(&self) -> Vec<Datagram> {
        self.lock()
            .held
            .as_mut()
            .map(|q| q.drain(..).collect())
            .unwrap_or_default()
    }

    /// Put a datagram from `src` in the inbox bound at `dst`. False if nobody is bound there
    /// or the inbox is full (dropped, as UDP would).
    pub fn deliver(&self, src: SocketAddr, dst: SocketAddr, bytes: &[u8]) -> bool {
        let inbox = self.lock().binds.get(&canonical(dst)).cloned();
        let d = Datagram {
            src,
            dst: canonical(dst),
            bytes: bytes.to_vec(),
        };
        inbox.is_some_and(|q| matches!(q.push(d), Ok(true)))
    }

    fn lock(&self) -> MutexGuard<'_, Net> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bind `port` on every address in `ips` (say one IPv4 and one IPv6, like a real dual-stack
    /// bind). Port 0 picks one free on all of them.
    pub fn bind(&self, ips: &[IpAddr], port: u16) -> io::Result<MemBind> {
        if ips.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no address"));
        }
        let mut net = self.lock();
        let free = |p: u16| {
            ips.iter()
                .all(|ip| !net.binds.contains_key(&(*ip, p).into()))
        };
        let port = if port != 0 {
            if !free(port) {
                return Err(io::Error::from(io::ErrorKind::AddrInUse));
            }
            port
        } else {
            (EPHEMERAL..=u16::MAX)
                .find(|p| free(*p))
                .ok_or_else(|| io::Error::from(io::ErrorKind::AddrInUse))?
        };
        let inbox: Inbox = Arc::new(MemQueue::new(INBOX_LEN));
        let addrs: Vec<SocketAddr> = ips.iter().map(|ip| (*ip, port).into()).collect();
        for a in &addrs {
            net.binds.insert(*a, inbox.clone());
        }
        Ok(MemBind {
            net: self.clone(),
            addrs,
            inbox,
            fwmark: AtomicU32::new(0),
            closed: AtomicBool::new(false),
        })
    }
}

/// One in-memory bind: what a device under test gets as its `Bind`.
pub struct MemBind {
    net: MemNetwork,
    addrs: Vec<SocketAddr>,
    inbox: Inbox,
    fwmark: AtomicU32,
    closed: AtomicBool,
}

impl MemBind {
    /// The addresses this bind receives on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Datagrams waiting in the inbox.
    pub fn pending(&self) -> usize {
        self.inbox.len()
    }

    /// The mark last set with `set_fwmark` (for tests of the UAPI `fwmark` key).
    pub fn fwmark(&self) -> u32 {
        self.fwmark.load(Ordering::Relaxed)
    }

    /// `src_ip` if it is ours and of `dst`'s family, else our first address of that family.
    fn source_for(&self, dst: &SocketAddr, src_ip: Option<IpAddr>) -> Option<SocketAddr> {
        let family = self.addrs.iter().filter(|a| a.is_ipv4() == dst.is_ipv4());
        let mut wanted = family.clone().filter(|a| Some(a.ip()) == src_ip);
        wanted.next().or_else(|| family.clone().next()).copied()
    }
}

impl Drop for MemBind {
    fn drop(&mut self) {
        let mut net = self.net.lock();
        for a in &self.addrs {
            if net
                .binds
                .get(a)
                .is_some_and(|q| Arc::ptr_eq(q, &self.inbox))
            {
                net.binds.remove(a);
            }
        }
    }
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

impl Bind for MemBind {
    fn recv_batch(
        &self,
        bufs: &mut [PacketBuf],
        meta: &mut [RecvMeta],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let max = bufs.len().min(meta.len());
        let mut i = 0;
        let mut result = Ok(());
        self.inbox.pop_batch(max, deadline(timeout), |d| {
            if let (Some(b), Some(m)) = (bufs.get_mut(i), meta.get_mut(i)) {
                let spare = b.spare_mut();
                let n = d.bytes.len().min(spare.len()); // a short buffer truncates, as UDP does
                spare[..n].copy_from_slice(&d.bytes[..n]);
                if let Err(e) = b.set_len(n) {
                    result = Err(e);
                }
                *m = RecvMeta {
                    src: d.src,
                    len: n,
                    stride: n,
                    local_ip: Some(d.dst.ip()),
                };
                i += 1;
            }
        })?;
        result.map(|()| i)
    }

    fn send_batch(&self, batch: &[Outgoing<'_>]) -> io::Result<usize> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Shutdown::error());
        }
        let mut sent = 0;
        let mut first_err = None;
        for o in batch {
            let dst = canonical(o.dst);
            let Some(src) = self.source_for(&dst, o.src_ip.map(|ip| ip.to_canonical())) else {
                first_err.get_or_insert(io::Error::from(io::ErrorKind::AddrNotAvailable));
                continue;
            };
            if o.datagrams().any(|d| d.len() > MAX_UDP_PAYLOAD) {
                first_err.get_or_insert(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "datagram too large",
                ));
                continue;
            }
            let mut net = self.net.lock();
            if let Some(held) = net.held.as_mut() {
                for d in o.datagrams() {
                    if held.len() < HELD_LEN {
                        let bytes = d.to_vec();
                        held.push_back(Datagram { src, dst, bytes });
                    }
                }
                sent += 1;
                continue;
            }
            let inbox = net.binds.get(&dst).cloned();
            drop(net);
            if let Some(inbox) = inbox {
                for d in o.datagrams() {
                    // Full or closed inbox: dropped on the floor, as UDP would.
                    let _ = inbox.push(Datagram {
                        src,
                        dst,
                        bytes: d.to_vec(),
                    });
                }
            }
            sent += 1;
        }
        first_err.map_or(Ok(sent), Err)
    }

    fn local_port(&self) -> u16 {
        self.addrs.first().map_or(0, |a| a.port())
    }

    fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        self.fwmark.store(mark, Ordering::Relaxed);
        Ok(())
    }

    fn max_gso_segments(&self) -> usize {
        64
    }

    fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.inbox
            .close(io::ErrorKind::ConnectionAborted, "shut down");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::platform::tun::is_shutdown;

    fn bufs(n: usize) -> (Vec<PacketBuf>, Vec<RecvMeta>) {
        let b = (0..n).map(|_| PacketBuf::new(0, 2048)).collect();
        (b, vec![RecvMeta::default(); n])
    }

    #[test]
    fn two_binds_exchange_batches_v4_and_v6() {
        let net = MemNetwork::new();
        let ips_a: [IpAddr; 2] = ["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()];
        let a = net.bind(&ips_a, 0).unwrap();
        let b = net.bind(&["10.0.0.2".parse().unwrap()], 51820).unwrap();
        assert!(a.local_port() >= EPHEMERAL);
        assert_eq!(b.local_port(), 51820);
        let b_addr = b.local_addrs()[0];

        let data: Vec<u8> = (0..=255).collect();
        let out = [
            Outgoing::one(b_addr, &data[..10]),
            Outgoing {
                dst: b_addr,
                contents: &data[..100],
                segment_size: Some(40),
                src_ip: None,
            },
        ];
        assert_eq!(a.send_batch(&out).unwrap(), 2);
        let (mut bb, mut mm) = bufs(8);
        assert_eq!(b.recv_batch(&mut bb, &mut mm, None).unwrap(), 4);
        let lens: Vec<_> = bb[..4].iter().map(PacketBuf::len).collect();
        assert_eq!(lens, [10, 40, 40, 20]);
        assert_eq!(bb[3].packet(), &data[80..100]);
        assert_eq!(mm[0].src, a.local_addrs()[0]);
        assert_eq!(mm[0].local_ip, Some(b_addr.ip()));

        // Reply to the v4-mapped form of the source; a v6 peer has no v4 source to use.
        let mapped: SocketAddr = format!("[::ffff:10.0.0.1]:{}", a.local_port())
            .parse()
            .unwrap();
        assert_eq!(b.send_batch(&[Outgoing::one(mapped, b"hi")]).unwrap(), 1);
        let v6 = SocketAddr::new(ips_a[1], a.local_port());
        assert!(b.send_batch(&[Outgoing::one(v6, b"x")]).is_err());
        let (mut ab, mut am) = bufs(2);
        let t = Some(Duration::from_secs(5));
        assert_eq!(a.recv_batch(&mut ab, &mut am, t).unwrap(), 1);
        assert_eq!(ab[0].packet(), b"hi");
        assert_eq!(am[0].src, b_addr);
        assert_eq!(
            a.recv_batch(&mut ab, &mut am, Some(Duration::ZERO))
                .unwrap(),
            0
        );
    }

    #[test]
    fn port_in_use_unbind_on_drop_and_shutdown() {
        let net = MemNetwork::new();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let a = net.bind(&[ip], 5000).unwrap();
        assert_eq!(
            net.bind(&[ip], 5000).err().map(|e| e.kind()),
            Some(io::ErrorKind::AddrInUse)
        );
        a.set_fwmark(0x1234).unwrap();
        assert_eq!(a.fwmark(), 0x1234);
        a.shutdown();
        let (mut ab, mut am) = bufs(1);
        assert!(is_shutdown(
            &a.recv_batch(&mut ab, &mut am, None).unwrap_err()
        ));
        assert!(is_shutdown(&a.send_batch(&[]).unwrap_err()));
        drop(a);
        let b = net.bind(&[ip], 5000).unwrap();
        let big = vec![0u8; MAX_UDP_PAYLOAD + 1];
        assert!(b.send_batch(&[Outgoing::one(b.addrs[0], &big)]).is_err());
    }

    #[test]
    fn a_held_network_delivers_only_what_its_owner_hands_on() {
        let net = MemNetwork::held();
        let a = net.bind(&["10.0.0.1".parse().unwrap()], 7).unwrap();
        let b = net.bind(&["10.0.0.2".parse().unwrap()], 7).unwrap();
        let (a_addr, b_addr) = (a.local_addrs()[0], b.local_addrs()[0]);
        let gso = Outgoing {
            dst: b_addr,
            contents: b"onetwo",
            segment_size: Some(3),
            src_ip: None,
        };
        assert_eq!(a.send_batch(&[gso]).unwrap(), 1);
        assert_eq!(b.pending(), 0, "nothing arrives by itself");
        let held = net.take_held();
        let want = |bytes: &[u8]| Datagram {
            src: a_addr,
            dst: b_addr,
            bytes: bytes.to_vec(),
        };
        assert_eq!(held, [want(b"one"), want(b"two")]);
        assert!(net.take_held().is_empty());
        // Handed on from another source, twice; to nobody, lost.
        let stranger: SocketAddr = "192.0.2.9:1".parse().unwrap();
        assert!(net.deliver(stranger, b_addr, b"two"));
        assert!(net.deliver(a_addr, b_addr, b"two"));
        assert!(!net.deliver(a_addr, stranger, b"x"));
        assert_eq!(b.pending(), 2);
        let (mut bb, mut mm) = bufs(4);
        assert_eq!(b.recv_batch(&mut bb, &mut mm, None).unwrap(), 2);
        assert_eq!((bb[0].packet(), mm[0].src), (&b"two"[..], stranger));
        assert_eq!((bb[1].packet(), mm[1].src), (&b"two"[..], a_addr));
        assert_eq!(b.pending(), 0);
        assert!(MemNetwork::new().take_held().is_empty());
    }

    #[test]
    fn sticky_source_address() {
        let net = MemNetwork::new();
        let ips: [IpAddr; 2] = ["10.0.0.1".parse().unwrap(), "10.0.0.9".parse().unwrap()];
        let a = net.bind(&ips, 7).unwrap();
        let b = net.bind(&["10.0.0.2".parse().unwrap()], 7).unwrap();
        let mut o = Outgoing::one(b.local_addrs()[0], b"x");
        for (src_ip, want) in [
            (None, ips[0]),
            (Some(ips[1]), ips[1]),
            (Some(ips[1]), ips[1]),
        ] {
            o.src_ip = src_ip;
            a.send_batch(&[o]).unwrap();
            let (mut bb, mut mm) = bufs(1);
            assert_eq!(b.recv_batch(&mut bb, &mut mm, None).unwrap(), 1);
            assert_eq!(mm[0].src, SocketAddr::new(want, 7));
        }
        o.src_ip = Some("10.9.9.9".parse().unwrap()); // not ours: falls back
        a.send_batch(&[o]).unwrap();
        let (mut bb, mut mm) = bufs(1);
        assert_eq!(b.recv_batch(&mut bb, &mut mm, None).unwrap(), 1);
        assert_eq!(mm[0].src, SocketAddr::new(ips[0], 7));
    }
}
