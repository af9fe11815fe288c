//! `MemTun`: an in-memory `Tun` whose other end, `MemTunHandle`, plays the OS network stack.

use super::{PacketBuf, PacketRef, PacketSink, Tun};
use crate::platform::memq::MemQueue;
use crate::platform::wake::deadline;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// Packets each direction may hold before new ones are dropped (a TUN's txqueuelen is 500).
const QUEUE_LEN: usize = 4096;

struct Shared {
    name: String,
    mtu: u32,
    /// Packets the "OS" routed into the interface: what the device reads.
    inbound: MemQueue<Vec<u8>>,
    /// Packets the device wrote: what the "OS" receives.
    outbound: MemQueue<Vec<u8>>,
}

/// The device side: give it to the code under test as its `Tun`.
pub struct MemTun(Arc<Shared>);

/// The OS side: inject packets for the device to read, collect what it wrote, delete it.
#[derive(Clone)]
pub struct MemTunHandle(Arc<Shared>);

impl MemTun {
    /// A connected pair: the `Tun` for the device and the handle for the test.
    pub fn new(name: &str, mtu: u32) -> (MemTun, MemTunHandle) {
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            mtu,
            inbound: MemQueue::new(QUEUE_LEN),
            outbound: MemQueue::new(QUEUE_LEN),
        });
        (MemTun(shared.clone()), MemTunHandle(shared))
    }
}

impl MemTunHandle {
    /// Route `packet` into the interface (the device will read it). False if it was dropped.
    pub fn inject(&self, packet: &[u8]) -> bool {
        matches!(self.0.inbound.push(packet.to_vec()), Ok(true))
    }

    /// Take up to `max` packets the device wrote, waiting up to `timeout` for the first one.
    pub fn collect(&self, max: usize, timeout: Option<Duration>) -> io::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.0
            .outbound
            .pop_batch(max, deadline(timeout), |p| out.push(p))?;
        Ok(out)
    }

    /// Simulate `ip link del`: the device's reads and writes fail from now on.
    pub fn delete(&self) {
        self.0
            .inbound
            .close(io::ErrorKind::NotFound, "TUN device deleted");
        self.0
            .outbound
            .close(io::ErrorKind::NotFound, "TUN device deleted");
    }
}

impl Tun for MemTun {
    fn recv_into(&self, sink: &mut dyn PacketSink, timeout: Option<Duration>) -> io::Result<usize> {
        let mut n = 0;
        // One packet is one read here: a sink that wants one read gets one packet.
        let max = if sink.read_more() {
            sink.free()
        } else {
            sink.free().min(1)
        };
        self.0.inbound.pop_batch(max, deadline(timeout), |p| {
            if let Some(room) = sink.room() {
                // Like a real TUN read into a short buffer: the packet is truncated.
                let len = p.len().min(room.len());
                room[..len].copy_from_slice(&p[..len]);
                sink.commit(len);
                n += 1;
            }
        })?;
        Ok(n)
    }

    fn send_within(&self, bufs: &mut [PacketBuf], packets: &[PacketRef]) -> io::Result<usize> {
        let mut first_err = None;
        let mut sent = 0;
        for r in packets {
            let p = r.bytes(bufs);
            match p.first().map(|b| b >> 4) {
                Some(4) | Some(6) => {
                    // A full queue drops, as the kernel's backlog does: still "written".
                    // A closed one (deleted or shut down) ends the batch.
                    self.0.outbound.push(p.to_vec())?;
                    sent += 1;
                }
                _ => {
                    // What Linux answers for a non-IP packet on an IFF_NO_PI TUN (EINVAL).
                    first_err.get_or_insert_with(|| {
                        io::Error::new(io::ErrorKind::InvalidInput, "not an IPv4/IPv6 packet")
                    });
                }
            }
        }
        first_err.map_or(Ok(sent), Err)
    }

    fn name(&self) -> io::Result<String> {
        Ok(self.0.name.clone())
    }

    fn mtu(&self) -> io::Result<u32> {
        Ok(self.0.mtu)
    }

    fn shutdown(&self) {
        let msg = "shut down";
        self.0.inbound.close(io::ErrorKind::ConnectionAborted, msg);
        self.0.outbound.close(io::ErrorKind::ConnectionAborted, msg);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::platform::tun::is_shutdown;

    fn ipv4(tag: u8, len: usize) -> Vec<u8> {
        let mut p = vec![tag; len];
        p[0] = 0x45;
        p
    }

    #[test]
    fn round_trip_both_ways() {
        let (tun, os) = MemTun::new("mem0", 1420);
        assert_eq!(tun.name().unwrap(), "mem0");
        assert_eq!(tun.mtu().unwrap(), 1420);
        for i in 0..5u8 {
            assert!(os.inject(&ipv4(i, 20 + usize::from(i))));
        }
        let mut bufs: Vec<_> = (0..3).map(|_| PacketBuf::new(16, 1500)).collect();
        assert_eq!(tun.recv_batch(&mut bufs, None).unwrap(), 3);
        assert_eq!(bufs[2].packet(), ipv4(2, 22));
        assert_eq!(bufs[2].headroom(), 16);
        assert_eq!(tun.recv_batch(&mut bufs, None).unwrap(), 2);
        let zero = Some(Duration::ZERO);
        assert_eq!(tun.recv_batch(&mut bufs, zero).unwrap(), 0);

        let mut out = vec![
            PacketBuf::from_packet(16, &ipv4(7, 40)),
            PacketBuf::from_packet(0, &[0x60, 0, 0, 0]),
        ];
        assert_eq!(tun.send_batch(&mut out).unwrap(), 2);
        let got = os.collect(10, zero).unwrap();
        assert_eq!(got, vec![ipv4(7, 40), vec![0x60, 0, 0, 0]]);
    }

    #[test]
    fn bad_packet_does_not_stop_the_batch() {
        let (tun, os) = MemTun::new("mem1", 1420);
        let mut out = vec![
            PacketBuf::from_packet(0, &[0x12, 3]),
            PacketBuf::from_packet(0, &[]),
            PacketBuf::from_packet(0, &ipv4(1, 20)),
        ];
        assert!(tun.send_batch(&mut out).is_err());
        assert_eq!(os.collect(10, None).unwrap(), vec![ipv4(1, 20)]);
    }

    #[test]
    fn short_buffer_truncates() {
        let (tun, os) = MemTun::new("mem2", 1420);
        os.inject(&ipv4(9, 100));
        let mut bufs = [PacketBuf::new(0, 10)];
        assert_eq!(tun.recv_batch(&mut bufs, None).unwrap(), 1);
        assert_eq!(bufs[0].packet(), &ipv4(9, 100)[..10]);
    }

    #[test]
    fn delete_and_shutdown_wake_readers() {
        let (tun, os) = MemTun::new("mem3", 1420);
        let tun = Arc::new(tun);
        let t2 = tun.clone();
        let reader = std::thread::spawn(move || {
            let mut bufs = [PacketBuf::new(0, 1500)];
            t2.recv_batch(&mut bufs, None)
        });
        os.delete();
        let e = reader.join().unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);

        let (tun, _os) = MemTun::new("mem4", 1420);
        let tun = Arc::new(tun);
        let t2 = tun.clone();
        let reader = std::thread::spawn(move || {
            let mut bufs = [PacketBuf::new(0, 1500)];
            t2.recv_batch(&mut bufs, Some(Duration::from_secs(30)))
        });
        tun.shutdown();
        assert!(is_shutdown(&reader.join().unwrap().unwrap_err()));
        let mut out = [PacketBuf::from_packet(0, &ipv4(1, 20))];
        assert!(is_shutdown(&tun.send_batch(&mut out).unwrap_err()));
    }
}
