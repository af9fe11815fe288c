//! Outbound path (whitepaper §5.4.6, §6.2): route a TUN packet by AllowedIPs, stage it while a
//! handshake runs, seal it on the current keypair, and keep the session fresh.

use super::{Device, Output};
use crate::proto::allowedips::packet_dst;
use crate::proto::constants::{AEAD_TAG_SIZE, MESSAGE_TRANSPORT_HEADER_SIZE};
use crate::proto::keypair::Keypair;
use crate::proto::link::Link;
use crate::proto::messages::padded_len;
use crate::proto::peer::PeerId;
use crate::proto::time::Now;
use std::sync::Arc;

/// Permission to seal one packet for a peer: the keypair, its reserved nonce and the endpoint.
/// Sealing needs no access to the device (see [`SendTicket::seal_into`]).
#[derive(Debug, Clone)]
pub struct SendTicket {
    /// The peer.
    pub peer: PeerId,
    /// Keypair to seal with.
    pub keypair: Arc<Keypair>,
    /// Reserved nonce.
    pub counter: u64,
    /// Where the datagram goes.
    pub to: std::net::SocketAddr,
    /// The peer's counters.
    pub link: Arc<Link>,
}

impl SendTicket {
    /// Seal `packet` into a new datagram (header, padded ciphertext, tag).
    pub fn seal_into(&self, packet: &[u8], mtu: usize) -> Option<Vec<u8>> {
        let len = packet.len();
        let mut buf =
            vec![0u8; MESSAGE_TRANSPORT_HEADER_SIZE + padded_len(len, mtu) + AEAD_TAG_SIZE];
        buf.get_mut(MESSAGE_TRANSPORT_HEADER_SIZE..MESSAGE_TRANSPORT_HEADER_SIZE + len)?
            .copy_from_slice(packet);
        let n = self.keypair.seal(self.counter, &mut buf, len, mtu).ok()?;
        buf.truncate(n);
        Some(buf)
    }
}

impl Device {
    /// A packet read from the TUN device: route it to its peer and send or stage it.
    pub fn handle_tun_packet(&mut self, packet: &[u8], now: Now) {
        let Some(dst) = packet_dst(packet) else {
            return;
        };
        let Some(id) = self.allowed_ips.lookup(dst) else {
            return;
        };
        if !self.up {
            return;
        }
        if let Some(p) = self.peers.get_mut(&id) {
            p.stage(packet.to_vec());
        }
        self.send_staged(id, now);
    }

    /// The peer whose AllowedIPs cover the packet's destination.
    pub fn route(&self, packet: &[u8]) -> Option<PeerId> {
        self.allowed_ips.lookup(packet_dst(packet)?)
    }

    /// Reserve a nonce on the peer's current keypair for one packet, if it has a usable one.
    /// The caller seals outside any device lock, then reports with [`Device::note_sent`].
    pub fn prepare_send(&mut self, id: PeerId, now: Now) -> Option<SendTicket> {
        let p = self.peers.get(&id)?;
        let to = p.endpoint?;
        let kp = p.keypairs.current()?;
        if !kp.can_send(now.mono) {
            return None;
        }
        let counter = kp.next_nonce()?;
        Some(SendTicket {
            peer: id,
            keypair: Arc::clone(kp),
            counter,
            to,
            link: Arc::clone(&p.link),
        })
    }

    /// Account for a sealed datagram that was sent (`is_data` false for a keepalive): timers
    /// and the rekey check of §6.2. Its bytes are counted by whoever sent it.
    pub fn note_sent(&mut self, id: PeerId, keypair: &Keypair, is_data: bool, now: Now) {
        let jitter = self.jitter();
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.timers.on_any_authenticated_packet_traversal(now.mono);
        p.timers.on_any_authenticated_packet_sent();
        if is_data {
            p.timers.on_data_sent(now.mono, jitter);
        }
        if keypair.wants_rekey_on_send(now.mono) {
            self.send_initiation(id, false, now);
        }
        self.reschedule(id);
    }

    /// Send what is staged for the peer if it has a usable session; otherwise start a handshake.
    pub(super) fn send_staged(&mut self, id: PeerId, now: Now) {
        let mtu = self.mtu;
        loop {
            let Some(p) = self.peers.get_mut(&id) else {
                return;
            };
            let Some(packet) = p.staged.pop_front() else {
                return;
            };
            let Some(ticket) = self.prepare_send(id, now) else {
                if let Some(p) = self.peers.get_mut(&id) {
                    p.staged.push_front(packet);
                }
                self.send_initiation(id, false, now);
                return;
            };
            let Some(bytes) = ticket.seal_into(&packet, mtu) else {
                continue;
            };
            self.outbox.push_back(Output::Transmit {
                to: ticket.to,
                bytes,
                link: Some(Arc::clone(&ticket.link)),
            });
            self.note_sent(id, &ticket.keypair, !packet.is_empty(), now);
        }
    }

    /// Send a keepalive (an empty transport message), or stage one behind a handshake.
    pub(super) fn send_keepalive(&mut self, id: PeerId, now: Now) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if p.staged.is_empty() {
            p.stage(Vec::new());
        }
        self.send_staged(id, now);
    }
}
