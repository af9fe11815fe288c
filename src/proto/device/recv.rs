//! Inbound path (whitepaper §5.4.6, §6.2): classify a datagram, open transport data on the
//! keypair its index names, check replay, confirm sessions, roam, and filter the inner
//! source address by AllowedIPs (cryptokey routing).

use std::net::SocketAddr;
use std::sync::Arc;

use super::handshakes::HandshakeDrop;
use super::{Device, Output};
use crate::proto::allowedips::packet_src;
use crate::proto::constants::REKEY_ON_RECEIVE_AGE;
use crate::proto::keypair::Keypair;
use crate::proto::messages::{parse, Message, TransportHeader, WireError};
use crate::proto::peer::PeerId;
use crate::proto::time::Now;

/// Why a datagram was dropped. Nothing in any session changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveError {
    /// Not a well-formed message.
    Malformed(WireError),
    /// A handshake message that was refused.
    Handshake(HandshakeDrop),
    /// The receiver index names no live keypair.
    UnknownIndex,
    /// The keypair is past REJECT_AFTER_TIME.
    Expired,
    /// The ciphertext did not authenticate.
    Decrypt,
    /// The counter was seen before or is too old.
    Replay,
    /// The decrypted packet is not a valid IPv4/IPv6 packet.
    BadInnerPacket,
    /// The inner source address is not in the sending peer's AllowedIPs.
    SourceNotAllowed,
}

/// A transport message matched to its keypair, ready to be opened without the device.
#[derive(Debug, Clone)]
pub struct ReceiveTicket {
    /// The sending peer.
    pub peer: PeerId,
    /// The keypair its index names.
    pub keypair: Arc<Keypair>,
    /// The message's counter.
    pub counter: u64,
}

/// What a transport message turned out to be after the device checked it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A keepalive: nothing to deliver.
    Keepalive,
    /// An IP packet of this length (padding removed) to write to the TUN device.
    Packet(usize),
}

impl Device {
    /// A datagram from the network. Drops are silent on the wire; the reason is returned.
    pub fn handle_datagram(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Now,
    ) -> Result<(), ReceiveError> {
        match parse(bytes).map_err(ReceiveError::Malformed)? {
            Message::Initiation(m) => {
                self.check_handshake_macs(bytes, m.sender, from, now)
                    .map_err(ReceiveError::Handshake)?;
                self.on_initiation(&m, bytes.len(), from, now)
                    .map_err(ReceiveError::Handshake)?;
            }
            Message::Response(m) => {
                self.check_handshake_macs(bytes, m.sender, from, now)
                    .map_err(ReceiveError::Handshake)?;
                self.on_response(&m, bytes.len(), from, now)
                    .map_err(ReceiveError::Handshake)?;
            }
            Message::CookieReply(m) => {
                self.on_cookie_reply(bytes, m.receiver, now)
                    .map_err(ReceiveError::Handshake)?;
            }
            Message::Transport(h, payload) => {
                let ticket = self.prepare_receive(h, now)?;
                let mut plain = payload.to_vec();
                let n = ticket
                    .keypair
                    .open(ticket.counter, &mut plain)
                    .map_err(|_| ReceiveError::Decrypt)?;
                plain.truncate(n);
                match self.complete_receive(&ticket, from, &plain, bytes.len(), now)? {
                    Received::Keepalive => {}
                    Received::Packet(len) => {
                        plain.truncate(len);
                        self.outbox.push_back(Output::TunWrite(plain));
                    }
                }
            }
        }
        Ok(())
    }

    /// Find the keypair a transport header names, if it may still receive.
    pub fn prepare_receive(
        &self,
        h: TransportHeader,
        now: Now,
    ) -> Result<ReceiveTicket, ReceiveError> {
        let (peer, _) = self
            .indices
            .get(h.receiver)
            .ok_or(ReceiveError::UnknownIndex)?;
        let p = self.peers.get(&peer).ok_or(ReceiveError::UnknownIndex)?;
        let slot = [&p.keypairs.current, &p.keypairs.previous, &p.keypairs.next]
            .into_iter()
            .flatten()
            .find(|s| s.keypair.local_index == h.receiver)
            .ok_or(ReceiveError::UnknownIndex)?;
        if !slot.keypair.can_receive(now.mono) {
            return Err(ReceiveError::Expired);
        }
        Ok(ReceiveTicket {
            peer,
            keypair: Arc::clone(&slot.keypair),
            counter: h.counter,
        })
    }

    /// After a successful open: replay check, key confirmation, timers, roaming, and the
    /// inner-packet checks. `plain` is the decrypted (padded) payload, `wire_len` the datagram's.
    pub fn complete_receive(
        &mut self,
        t: &ReceiveTicket,
        from: SocketAddr,
        plain: &[u8],
        wire_len: usize,
        now: Now,
    ) -> Result<Received, ReceiveError> {
        let p = self
            .peers
            .get_mut(&t.peer)
            .ok_or(ReceiveError::UnknownIndex)?;
        let slot = p
            .keypairs
            .find_mut(t.keypair.local_index)
            .ok_or(ReceiveError::UnknownIndex)?;
        if !slot.replay.check_and_update(t.counter) {
            return Err(ReceiveError::Replay);
        }
        let (confirmed, retired) = p.keypairs.received_with(t.keypair.local_index);
        if let Some(i) = retired {
            self.indices.remove(i);
        }
        p.endpoint = Some(from);
        p.link.add_rx(wire_len);
        p.timers.on_any_authenticated_packet_received();
        p.timers.on_any_authenticated_packet_traversal(now.mono);
        if confirmed {
            p.last_handshake_wall = Some(now.wall);
            p.sent_lastminute_handshake = false;
            p.timers.on_handshake_complete();
            self.send_staged(t.peer, now);
        }
        self.keep_key_fresh_on_receive(t.peer, now);
        if !plain.is_empty() {
            if let Some(p) = self.peers.get_mut(&t.peer) {
                p.timers.on_data_received(now.mono);
            }
        }
        self.reschedule(t.peer);
        if plain.is_empty() {
            return Ok(Received::Keepalive);
        }
        let len = inner_packet_len(plain).ok_or(ReceiveError::BadInnerPacket)?;
        let src = packet_src(plain).ok_or(ReceiveError::BadInnerPacket)?;
        if self.allowed_ips.lookup(src) != Some(t.peer) {
            return Err(ReceiveError::SourceNotAllowed);
        }
        Ok(Received::Packet(len))
    }

    /// Initiator: rekey once when the session nears REJECT_AFTER_TIME and data still arrives.
    fn keep_key_fresh_on_receive(&mut self, id: PeerId, now: Now) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(kp) = p.keypairs.current() else {
            return;
        };
        if kp.is_initiator
            && !p.sent_lastminute_handshake
            && now.mono.saturating_sub(kp.created) >= REKEY_ON_RECEIVE_AGE
        {
            p.sent_lastminute_handshake = true;
            self.send_initiation(id, false, now);
        }
    }
}

/// The length an IPv4/IPv6 header claims, if it fits in `plain` (padding follows it).
pub fn inner_packet_len(plain: &[u8]) -> Option<usize> {
    let first = *plain.first()?;
    let len = match first >> 4 {
        4 if plain.len() >= 20 => usize::from(u16::from_be_bytes([*plain.get(2)?, *plain.get(3)?])),
        6 if plain.len() >= 40 => {
            40 + usize::from(u16::from_be_bytes([*plain.get(4)?, *plain.get(5)?]))
        }
        _ => return None,
    };
    (len <= plain.len() && len >= if first >> 4 == 4 { 20 } else { 40 }).then_some(len)
}
