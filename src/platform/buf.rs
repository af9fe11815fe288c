//! `PacketBuf`: one packet in an owned buffer with headroom, the unit of every Tun and Bind batch.
//!
//! The storage is `[ headroom | packet | tailroom ]`. Readers write the packet after the
//! headroom so that a later stage can prepend a header in place (the 16-byte WireGuard transport
//! header before encryption, or a 10-byte `virtio_net_hdr` for an IFF_VNET_HDR TUN) without
//! copying, and an in-process GRO stage can append to the tailroom of the first packet of a flow.

use std::io;

/// An owned packet buffer with movable start and end (a tiny `sk_buff`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PacketBuf {
    data: Vec<u8>,
    start: usize,
    len: usize,
}

impl std::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketBuf")
            .field("headroom", &self.start)
            .field("len", &self.len)
            .field("capacity", &self.data.len())
            .finish()
    }
}

fn bad(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

impl PacketBuf {
    /// An empty packet with `headroom` bytes before it and room for `capacity` bytes of packet.
    pub fn new(headroom: usize, capacity: usize) -> Self {
        Self {
            data: vec![0; headroom.saturating_add(capacity)],
            start: headroom,
            len: 0,
        }
    }

    /// A packet holding a copy of `bytes`, with `headroom` bytes before it.
    pub fn from_packet(headroom: usize, bytes: &[u8]) -> Self {
        let mut b = Self::new(headroom, bytes.len());
        b.data[headroom..].copy_from_slice(bytes);
        b.len = bytes.len();
        b
    }

    /// The packet bytes.
    pub fn packet(&self) -> &[u8] {
        &self.data[self.start..self.start + self.len]
    }

    /// The packet bytes, mutable.
    pub fn packet_mut(&mut self) -> &mut [u8] {
        &mut self.data[self.start..self.start + self.len]
    }

    /// Packet length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes free before the packet.
    pub fn headroom(&self) -> usize {
        self.start
    }

    /// Bytes free after the packet.
    pub fn tailroom(&self) -> usize {
        self.data.len() - self.start - self.len
    }

    /// Total storage size (headroom + packet + tailroom).
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Empty the packet and place its start `headroom` bytes into the storage (clamped).
    pub fn reset(&mut self, headroom: usize) {
        self.start = headroom.min(self.data.len());
        self.len = 0;
    }

    /// Bytes from the packet start to the end of the storage: the most a reader can write.
    pub fn spare_len(&self) -> usize {
        self.data.len() - self.start
    }

    /// Everything from the packet start to the end of the storage: where a reader writes.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        &mut self.data[self.start..]
    }

    /// After writing `len` bytes into [`spare_mut`](Self::spare_mut), make them the packet.
    pub fn set_len(&mut self, len: usize) -> io::Result<()> {
        if len > self.data.len() - self.start {
            return Err(bad("packet length exceeds buffer"));
        }
        self.len = len;
        Ok(())
    }

    /// Replace the packet with a copy of `bytes`, growing the storage if it is too small
    /// (buffers start MTU-sized; a rare larger packet grows its buffer once, for good).
    pub fn set_packet_growing(&mut self, bytes: &[u8]) {
        let end = self.start + bytes.len();
        if end > self.data.len() {
            self.data.resize(end, 0);
        }
        self.data[self.start..end].copy_from_slice(bytes);
        self.len = bytes.len();
    }

    /// Replace the packet with a copy of `bytes`, keeping the current headroom.
    pub fn set_packet(&mut self, bytes: &[u8]) -> io::Result<()> {
        let dst = self
            .data
            .get_mut(self.start..self.start + bytes.len())
            .ok_or_else(|| bad("packet does not fit buffer"))?;
        dst.copy_from_slice(bytes);
        self.len = bytes.len();
        Ok(())
    }

    /// Grow the packet into its headroom by `n` bytes (to prepend a header); returns the new
    /// front `n` bytes for the caller to fill.
    pub fn push_front(&mut self, n: usize) -> io::Result<&mut [u8]> {
        if n > self.start {
            return Err(bad("not enough headroom"));
        }
        self.start -= n;
        self.len += n;
        Ok(&mut self.data[self.start..self.start + n])
    }

    /// Drop `n` bytes from the front of the packet (they become headroom).
    pub fn pull_front(&mut self, n: usize) -> io::Result<()> {
        if n > self.len {
            return Err(bad("pull past end of packet"));
        }
        self.start += n;
        self.len -= n;
        Ok(())
    }

    /// Shorten the packet to `len` bytes (no-op if already shorter).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

/// As a byte slice a buffer is "headroom + packet": `Tun::send_within` locates packets by their
/// offset from the start of the storage.
impl AsRef<[u8]> for PacketBuf {
    fn as_ref(&self) -> &[u8] {
        &self.data[..self.start + self.len]
    }
}

impl AsMut<[u8]> for PacketBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        let end = self.start + self.len;
        &mut self.data[..end]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn headroom_push_pull() {
        let mut b = PacketBuf::from_packet(16, b"payload");
        assert_eq!(b.headroom(), 16);
        assert_eq!(b.packet(), b"payload");
        b.push_front(4).unwrap().copy_from_slice(b"hdr:");
        assert_eq!(b.packet(), b"hdr:payload");
        assert_eq!(b.headroom(), 12);
        b.pull_front(4).unwrap();
        assert_eq!(b.packet(), b"payload");
        assert!(b.push_front(17).is_err());
        assert!(b.pull_front(8).is_err());
        b.truncate(3);
        assert_eq!(b.packet(), b"pay");
    }

    #[test]
    fn bounds_are_checked() {
        let mut b = PacketBuf::new(2, 4);
        assert_eq!(b.capacity(), 6);
        assert!(b.set_len(5).is_err());
        assert!(b.set_packet(b"12345").is_err());
        b.set_packet(b"1234").unwrap();
        assert_eq!(b.tailroom(), 0);
        b.reset(100);
        assert_eq!(b.headroom(), 6);
        assert!(b.spare_mut().is_empty());
        assert_eq!(b.spare_len(), 0);
        assert!(b.set_len(1).is_err());
    }
}
