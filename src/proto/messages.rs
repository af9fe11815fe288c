//! Wire formats of the four message types (whitepaper §5.4.2, §5.4.3, §5.4.7, §5.4.6),
//! with compile-time size checks and checked, panic-free parsing of untrusted bytes.

use super::constants::*;

/// Why bytes are not a valid message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Too short, or the wrong length for its type.
    Length,
    /// Unknown type byte, or non-zero reserved bytes.
    Type,
}

/// Handshake initiation (148 bytes).
#[derive(Clone, PartialEq, Eq, Debug)]
#[repr(C)]
pub struct Initiation {
    /// Sender's index.
    pub sender: u32,
    /// Unencrypted ephemeral public key.
    pub ephemeral: [u8; KEY_LEN],
    /// AEAD of the initiator's static public key.
    pub encrypted_static: [u8; KEY_LEN + AEAD_TAG_SIZE],
    /// AEAD of a TAI64N timestamp.
    pub encrypted_timestamp: [u8; TIMESTAMP_LEN + AEAD_TAG_SIZE],
    /// mac1.
    pub mac1: [u8; MAC_LEN],
    /// mac2.
    pub mac2: [u8; MAC_LEN],
}

/// Handshake response (92 bytes).
#[derive(Clone, PartialEq, Eq, Debug)]
#[repr(C)]
pub struct Response {
    /// Sender's index.
    pub sender: u32,
    /// Receiver's index (the initiator's sender index).
    pub receiver: u32,
    /// Unencrypted ephemeral public key.
    pub ephemeral: [u8; KEY_LEN],
    /// AEAD of the empty string.
    pub encrypted_nothing: [u8; AEAD_TAG_SIZE],
    /// mac1.
    pub mac1: [u8; MAC_LEN],
    /// mac2.
    pub mac2: [u8; MAC_LEN],
}

/// Cookie reply (64 bytes).
#[derive(Clone, PartialEq, Eq, Debug)]
#[repr(C)]
pub struct CookieReply {
    /// Receiver's index (sender index of the message answered).
    pub receiver: u32,
    /// XChaCha20 nonce.
    pub nonce: [u8; XNONCE_LEN],
    /// XAEAD of the cookie.
    pub encrypted_cookie: [u8; COOKIE_LEN + AEAD_TAG_SIZE],
}

// Size checks: each struct plus its 4-byte type header is exactly the wire size.
const _: () = assert!(4 + std::mem::size_of::<Initiation>() == MESSAGE_INITIATION_SIZE);
const _: () = assert!(4 + std::mem::size_of::<Response>() == MESSAGE_RESPONSE_SIZE);
const _: () = assert!(4 + std::mem::size_of::<CookieReply>() == MESSAGE_COOKIE_REPLY_SIZE);
const _: () = assert!(MESSAGE_TRANSPORT_MIN_SIZE == 32);

/// A parsed datagram, borrowing its bytes.
#[derive(Debug)]
pub enum Message<'a> {
    /// Handshake initiation.
    Initiation(Initiation),
    /// Handshake response.
    Response(Response),
    /// Cookie reply.
    CookieReply(CookieReply),
    /// Transport data: header fields and the ciphertext (payload + tag).
    Transport(TransportHeader, &'a [u8]),
}

/// Transport header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportHeader {
    /// Receiver's index.
    pub receiver: u32,
    /// Nonce counter.
    pub counter: u64,
}

/// A byte reader that never panics.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        // Callers check the total length first; `get` keeps this panic-free regardless.
        if let Some(s) = self.0.get(..N) {
            out.copy_from_slice(s);
            self.0 = self.0.get(N..).unwrap_or_default();
        }
        out
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

fn header(msg_type: u8) -> [u8; 4] {
    [msg_type, 0, 0, 0]
}

/// Parse a datagram. Checks type, reserved bytes and exact length for handshake messages.
pub fn parse(bytes: &[u8]) -> Result<Message<'_>, WireError> {
    let head: [u8; 4] = bytes
        .get(..4)
        .ok_or(WireError::Length)?
        .try_into()
        .map_err(|_| WireError::Length)?;
    if head[1..] != [0, 0, 0] {
        return Err(WireError::Type);
    }
    let mut r = Reader(&bytes[4..]);
    match head[0] {
        MESSAGE_INITIATION if bytes.len() == MESSAGE_INITIATION_SIZE => {
            Ok(Message::Initiation(Initiation {
                sender: r.u32(),
                ephemeral: r.take(),
                encrypted_static: r.take(),
                encrypted_timestamp: r.take(),
                mac1: r.take(),
                mac2: r.take(),
            }))
        }
        MESSAGE_RESPONSE if bytes.len() == MESSAGE_RESPONSE_SIZE => {
            Ok(Message::Response(Response {
                sender: r.u32(),
                receiver: r.u32(),
                ephemeral: r.take(),
                encrypted_nothing: r.take(),
                mac1: r.take(),
                mac2: r.take(),
            }))
        }
        MESSAGE_COOKIE_REPLY if bytes.len() == MESSAGE_COOKIE_REPLY_SIZE => {
            Ok(Message::CookieReply(CookieReply {
                receiver: r.u32(),
                nonce: r.take(),
                encrypted_cookie: r.take(),
            }))
        }
        MESSAGE_TRANSPORT if bytes.len() >= MESSAGE_TRANSPORT_MIN_SIZE => {
            let h = TransportHeader {
                receiver: r.u32(),
                counter: r.u64(),
            };
            Ok(Message::Transport(
                h,
                &bytes[MESSAGE_TRANSPORT_HEADER_SIZE..],
            ))
        }
        MESSAGE_INITIATION..=MESSAGE_TRANSPORT => Err(WireError::Length),
        _ => Err(WireError::Type),
    }
}

impl Initiation {
    /// Serialize to wire bytes.
    pub fn to_bytes(&self) -> [u8; MESSAGE_INITIATION_SIZE] {
        let mut b = [0u8; MESSAGE_INITIATION_SIZE];
        let parts: [&[u8]; 7] = [
            &header(MESSAGE_INITIATION),
            &self.sender.to_le_bytes(),
            &self.ephemeral,
            &self.encrypted_static,
            &self.encrypted_timestamp,
            &self.mac1,
            &self.mac2,
        ];
        concat_into(&mut b, &parts);
        b
    }
}

impl Response {
    /// Serialize to wire bytes.
    pub fn to_bytes(&self) -> [u8; MESSAGE_RESPONSE_SIZE] {
        let mut b = [0u8; MESSAGE_RESPONSE_SIZE];
        let parts: [&[u8]; 7] = [
            &header(MESSAGE_RESPONSE),
            &self.sender.to_le_bytes(),
            &self.receiver.to_le_bytes(),
            &self.ephemeral,
            &self.encrypted_nothing,
            &self.mac1,
            &self.mac2,
        ];
        concat_into(&mut b, &parts);
        b
    }
}

impl CookieReply {
    /// Serialize to wire bytes.
    pub fn to_bytes(&self) -> [u8; MESSAGE_COOKIE_REPLY_SIZE] {
        let mut b = [0u8; MESSAGE_COOKIE_REPLY_SIZE];
        let parts: [&[u8]; 4] = [
            &header(MESSAGE_COOKIE_REPLY),
            &self.receiver.to_le_bytes(),
            &self.nonce,
            &self.encrypted_cookie,
        ];
        concat_into(&mut b, &parts);
        b
    }
}

/// Write a transport header into the first 16 bytes of `buf` (which must be at least 16 long).
pub fn write_transport_header(buf: &mut [u8], receiver: u32, counter: u64) {
    if let Some(h) = buf.get_mut(..MESSAGE_TRANSPORT_HEADER_SIZE) {
        h[..4].copy_from_slice(&header(MESSAGE_TRANSPORT));
        h[4..8].copy_from_slice(&receiver.to_le_bytes());
        h[8..16].copy_from_slice(&counter.to_le_bytes());
    }
}

fn concat_into(out: &mut [u8], parts: &[&[u8]]) {
    let mut at = 0;
    for p in parts {
        out[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    debug_assert_eq!(at, out.len());
}

/// Bytes of plaintext after padding `len` to a multiple of 16, never past `mtu`
/// (as wireguard-go's `calculatePaddingSize`: a packet longer than the MTU pads its last unit).
pub fn padded_len(len: usize, mtu: usize) -> usize {
    let round16 = |n: usize| n.div_ceil(MESSAGE_PADDING_MULTIPLE) * MESSAGE_PADDING_MULTIPLE;
    if mtu == 0 {
        return round16(len);
    }
    let last = if len > mtu { len % mtu } else { len };
    len + (round16(last).min(mtu) - last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_all_handshake_types() {
        let i = Initiation {
            sender: 0x01020304,
            ephemeral: [1; 32],
            encrypted_static: [2; 48],
            encrypted_timestamp: [3; 28],
            mac1: [4; 16],
            mac2: [5; 16],
        };
        let b = i.to_bytes();
        assert_eq!(&b[..8], &[1, 0, 0, 0, 4, 3, 2, 1]);
        assert!(matches!(parse(&b), Ok(Message::Initiation(x)) if x == i));
        let r = Response {
            sender: 7,
            receiver: 9,
            ephemeral: [1; 32],
            encrypted_nothing: [2; 16],
            mac1: [3; 16],
            mac2: [4; 16],
        };
        assert!(matches!(parse(&r.to_bytes()), Ok(Message::Response(x)) if x == r));
        let c = CookieReply {
            receiver: 5,
            nonce: [6; 24],
            encrypted_cookie: [7; 32],
        };
        assert!(matches!(parse(&c.to_bytes()), Ok(Message::CookieReply(x)) if x == c));
    }

    #[test]
    fn rejects_bad_lengths_types_and_reserved() {
        let i = Initiation {
            sender: 1,
            ephemeral: [0; 32],
            encrypted_static: [0; 48],
            encrypted_timestamp: [0; 28],
            mac1: [0; 16],
            mac2: [0; 16],
        }
        .to_bytes();
        assert_eq!(parse(&i[..147]).unwrap_err(), WireError::Length);
        let mut long = i.to_vec();
        long.push(0);
        assert_eq!(parse(&long).unwrap_err(), WireError::Length);
        let mut reserved = i;
        reserved[2] = 1;
        assert_eq!(parse(&reserved).unwrap_err(), WireError::Type);
        assert_eq!(parse(&[9, 0, 0, 0, 0]).unwrap_err(), WireError::Type);
        assert_eq!(parse(&[]).unwrap_err(), WireError::Length);
        assert_eq!(parse(&[4, 0, 0, 0]).unwrap_err(), WireError::Length);
        let mut t = [0u8; 32];
        write_transport_header(&mut t, 0xaabbccdd, 77);
        match parse(&t) {
            Ok(Message::Transport(h, rest)) => {
                assert_eq!(
                    h,
                    TransportHeader {
                        receiver: 0xaabbccdd,
                        counter: 77
                    }
                );
                assert_eq!(rest.len(), 16);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn padding() {
        assert_eq!(padded_len(0, 1420), 0);
        assert_eq!(padded_len(1, 1420), 16);
        assert_eq!(padded_len(16, 1420), 16);
        assert_eq!(padded_len(1419, 1420), 1420);
        assert_eq!(padded_len(1420, 1420), 1420);
        assert_eq!(padded_len(1500, 1420), 1500);
        assert_eq!(padded_len(1501, 1420), 1516);
        assert_eq!(padded_len(5, 0), 16);
    }
}
