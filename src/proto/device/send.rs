//! Control-plane sends (whitepaper §5.4.6, §6.2): flush the packets a peer's link staged while
//! it had no session, once one exists, and keepalives the timers ask for. Packet threads send
//! everything else through [`Plane`](crate::proto::plane::Plane); both use the plane's
//! `prepare_send` and `note_sent`.

use std::sync::Arc;

use super::{Device, Output};
use crate::proto::constants::{AEAD_TAG_SIZE, MESSAGE_TRANSPORT_HEADER_SIZE};
use crate::proto::messages::padded_len;
use crate::proto::peer::PeerId;
use crate::proto::plane::SendTicket;
use crate::proto::time::Now;

impl SendTicket {
    /// Seal `packet` into a new datagram (header, padded ciphertext, tag).
    pub fn seal_into(&self, packet: &[u8], mtu: usize) -> Option<Vec<u8>> {
        let len = packet.len();
        let mut buf =
            vec![0u8; MESSAGE_TRANSPORT_HEADER_SIZE + padded_len(len, mtu) + AEAD_TAG_SIZE];
        buf.get_mut(MESSAGE_TRANSPORT_HEADER_SIZE..MESSAGE_TRANSPORT_HEADER_SIZE + len)?
            .copy_from_slice(packet);
        let n = self
            .session
            .keypair
            .seal(self.counter, &mut buf, len, mtu)
            .ok()?;
        buf.truncate(n);
        Some(buf)
    }
}

impl Device {
    /// Send what is staged for the peer if it has a usable session; otherwise start a handshake.
    pub(super) fn send_staged(&mut self, id: PeerId, now: Now) {
        let Some(link) = self.peers.get(&id).map(|p| Arc::clone(&p.link)) else {
            return;
        };
        let mtu = self.plane.mtu();
        while let Some(packet) = link.unstage() {
            let Some(ticket) = self.plane.prepare_send(&link, now.mono) else {
                link.restage(packet);
                self.send_initiation(id, false, now);
                return;
            };
            let Some(bytes) = ticket.seal_into(&packet, mtu) else {
                continue;
            };
            self.outbox.push_back(Output::Transmit {
                to: ticket.to,
                bytes,
                link: Some(Arc::clone(&link)),
            });
            self.plane.note_sent(&ticket, !packet.is_empty(), now.mono);
        }
    }

    /// Send a keepalive (an empty transport message), or stage one behind a handshake.
    pub(super) fn send_keepalive(&mut self, id: PeerId, now: Now) {
        let Some(link) = self.peers.get(&id).map(|p| Arc::clone(&p.link)) else {
            return;
        };
        if link.staged_len() == 0 {
            tracing::debug!("{link} - Sending keepalive packet");
            link.stage(Vec::new());
        }
        self.send_staged(id, now);
    }
}
