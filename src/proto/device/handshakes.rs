//! Handshake flows at device level (whitepaper §5.3, §5.4, §6.4): sending initiations,
//! answering them, consuming responses and cookie replies, and the under-load defence.

use std::net::SocketAddr;
use std::time::Duration;

use super::Device;
use crate::proto::gate::CookieRequest;
use crate::proto::handshake::consume_initiation;
use crate::proto::index::IndexKind;
use crate::proto::messages::{Initiation, Response};
use crate::proto::peer::PeerId;
use crate::proto::time::Now;

/// Why a handshake datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeDrop {
    /// mac1 did not verify.
    BadMac1,
    /// Under load without a valid mac2: a cookie reply was sent instead.
    CookieSent,
    /// Under load and over the per-source rate.
    RateLimited,
    /// No private key, unknown peer, or failed Noise step.
    Rejected,
}

impl Device {
    /// Send a handshake initiation to the peer unless one went out less than REKEY_TIMEOUT ago.
    pub(super) fn send_initiation(&mut self, id: PeerId, is_retry: bool, now: Now) {
        let jitter = self.jitter();
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if !is_retry {
            p.timers.handshake_attempts = 0;
        }
        if p.last_sent_handshake
            .is_some_and(|t| now.mono.saturating_sub(t) < crate::proto::constants::REKEY_TIMEOUT)
        {
            return;
        }
        let Some(identity) = self.identity.as_ref() else {
            return;
        };
        if let Some(old) = p.handshake.local_index() {
            self.indices.remove(old);
        }
        let index = self
            .indices
            .allocate(id, IndexKind::Handshake, &mut self.rng);
        let Ok(init) =
            p.handshake
                .create_initiation(identity, &p.remote, index, now, &mut self.rng)
        else {
            self.indices.remove(index);
            return;
        };
        let mut bytes = init.to_bytes();
        p.cookie.add_macs(&mut bytes, now.mono);
        p.last_sent_handshake = Some(now.mono);
        p.link.on_sent(now.mono, false, Duration::ZERO);
        p.timers.on_handshake_initiated(now.mono, jitter);
        tracing::debug!("{} - Sending handshake initiation", p.link);
        self.transmit(id, bytes.to_vec());
        self.reschedule(id);
    }

    /// The cookie reply to a message the gate refused with `NeedsCookie`.
    pub fn cookie_reply(
        &mut self,
        req: &CookieRequest,
        now: Now,
    ) -> [u8; crate::proto::constants::MESSAGE_COOKIE_REPLY_SIZE] {
        tracing::debug!(
            "Sending cookie response for denied handshake message for {}",
            req.from
        );
        let gate = &self.gate;
        let mut g = gate.lock().unwrap_or_else(|e| e.into_inner());
        g.cookie_reply(req, now.mono, &mut self.rng)
    }

    /// An initiation, response or cookie reply that the gate has admitted already (the
    /// packet thread checks mac1, the budget, mac2 and the rate limit before queueing, in
    /// `driver/inbound.rs`): the Noise step, or the cookie. Drops are silent on the wire; the
    /// reason is returned.
    pub fn handle_admitted(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Now,
    ) -> Result<(), super::ReceiveError> {
        use super::ReceiveError;
        use crate::proto::messages::{parse, Message};
        let done = match parse(bytes).map_err(ReceiveError::Malformed)? {
            Message::Initiation(m) => self.on_initiation(&m, bytes.len(), from, now).map(drop),
            Message::Response(m) => self.on_response(&m, bytes.len(), from, now).map(drop),
            Message::CookieReply(m) => self.on_cookie_reply(bytes, m.receiver, from, now),
            Message::Transport(..) => return Err(ReceiveError::Transport),
        };
        done.map_err(ReceiveError::Handshake)
    }

    /// Responder: an initiation passed the mac checks.
    pub(super) fn on_initiation(
        &mut self,
        msg: &Initiation,
        len: usize,
        from: SocketAddr,
        now: Now,
    ) -> Result<PeerId, HandshakeDrop> {
        let identity = self.identity.as_ref().ok_or(HandshakeDrop::Rejected)?;
        let cand = consume_initiation(identity, msg).map_err(|_| HandshakeDrop::Rejected)?;
        let id = *self
            .by_key
            .get(cand.remote_static())
            .ok_or(HandshakeDrop::Rejected)?;
        let p = self.peers.get_mut(&id).ok_or(HandshakeDrop::Rejected)?;
        // Accepting clears the handshake: an initiation of ours still in flight (simultaneous
        // initiations) gives up its index here, or the index would outlive its handshake.
        let superseded = p.handshake.local_index();
        p.handshake
            .accept_initiation(cand, &p.remote, now.mono)
            .map_err(|_| HandshakeDrop::Rejected)?;
        if let Some(old) = superseded {
            self.indices.remove(old);
        }
        tracing::debug!("{} - Received handshake initiation", p.link);
        p.link.set_endpoint(from);
        p.link.add_rx(len);
        p.link.on_received(now.mono, false, Duration::ZERO);
        self.send_response(id, now);
        self.reschedule(id);
        Ok(id)
    }

    /// Responder: answer the accepted initiation and derive the (unconfirmed) session.
    fn send_response(&mut self, id: PeerId, now: Now) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if let Some(old) = p.handshake.local_index() {
            self.indices.remove(old);
        }
        let index = self
            .indices
            .allocate(id, IndexKind::Handshake, &mut self.rng);
        let resp = match p.handshake.create_response(&p.remote, index, &mut self.rng) {
            Ok(r) => r,
            Err(_) => {
                self.indices.remove(index);
                return;
            }
        };
        let Ok(keys) = p.handshake.begin_session() else {
            return;
        };
        let mut bytes = resp.to_bytes();
        p.cookie.add_macs(&mut bytes, now.mono);
        p.last_sent_handshake = Some(now.mono);
        p.timers.on_session_derived(now.mono);
        p.link.on_sent(now.mono, false, Duration::ZERO);
        tracing::debug!("{} - Sending handshake response", p.link);
        self.install_session(id, &keys, now);
        self.transmit(id, bytes.to_vec());
    }

    /// Initiator: a response passed the mac checks.
    pub(super) fn on_response(
        &mut self,
        msg: &Response,
        len: usize,
        from: SocketAddr,
        now: Now,
    ) -> Result<PeerId, HandshakeDrop> {
        let identity = self.identity.as_ref().ok_or(HandshakeDrop::Rejected)?;
        let (id, kind) = self
            .indices
            .get(msg.receiver)
            .ok_or(HandshakeDrop::Rejected)?;
        if kind != IndexKind::Handshake {
            return Err(HandshakeDrop::Rejected);
        }
        let p = self.peers.get_mut(&id).ok_or(HandshakeDrop::Rejected)?;
        p.handshake
            .consume_response(identity, &p.remote, msg)
            .map_err(|_| HandshakeDrop::Rejected)?;
        let keys = p
            .handshake
            .begin_session()
            .map_err(|_| HandshakeDrop::Rejected)?;
        tracing::debug!("{} - Received handshake response", p.link);
        p.link.set_endpoint(from);
        p.link.add_rx(len);
        p.last_handshake_wall = Some(now.wall);
        p.link.on_received(now.mono, false, Duration::ZERO);
        p.timers.on_session_derived(now.mono);
        p.timers.on_handshake_complete();
        self.install_session(id, &keys, now);
        self.send_keepalive(id, now);
        self.reschedule(id);
        Ok(id)
    }

    /// A cookie reply to one of our handshake messages: remember the cookie for mac2.
    pub(super) fn on_cookie_reply(
        &mut self,
        bytes: &[u8],
        receiver: u32,
        from: SocketAddr,
        now: Now,
    ) -> Result<(), HandshakeDrop> {
        let (id, _) = self.indices.get(receiver).ok_or(HandshakeDrop::Rejected)?;
        let p = self.peers.get_mut(&id).ok_or(HandshakeDrop::Rejected)?;
        tracing::debug!("Receiving cookie response from {from}");
        p.cookie
            .consume_reply(bytes, now.mono)
            .map_err(|_| HandshakeDrop::Rejected)
    }
}
