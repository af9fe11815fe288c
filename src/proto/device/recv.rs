//! What the control plane says of a dropped datagram. Handshake messages reach it through
//! `Device::handle_admitted` (`handshakes.rs`) after the gate admitted them (`proto/gate.rs`,
//! on the packet thread). Transport messages never come here: the driver's packet
//! threads open them through the data plane (`Plane::prepare_receive`, `Plane::accept`,
//! `Plane::deliverable`), and so do simulations (`driver::node`).

use super::handshakes::HandshakeDrop;
use crate::proto::messages::WireError;

/// Why a datagram was dropped. Nothing in any session changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveError {
    /// Not a well-formed message.
    Malformed(WireError),
    /// A handshake message that was refused.
    Handshake(HandshakeDrop),
    /// The receiver index names no live keypair.
    UnknownIndex,
    /// A transport message: the data plane's to open, not the control plane's.
    Transport,
    /// The keypair is past REJECT_AFTER_TIME.
    Expired,
    /// The counter was seen before or is too old.
    Replay,
    /// The decrypted packet is not a valid IPv4/IPv6 packet.
    BadInnerPacket,
    /// The inner source address is not in the sending peer's AllowedIPs.
    SourceNotAllowed,
}

/// What a transport message turned out to be after the device checked it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A keepalive: nothing to deliver.
    Keepalive,
    /// An IP packet of this length (padding removed) to write to the TUN device.
    Packet(usize),
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
