//! Protocol constants under the whitepaper's names (WireGuard whitepaper §5.4, §6.1–6.5).

use std::time::Duration;

/// Noise construction name, hashed into the initial chaining key (§5.4).
pub const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
/// Protocol identifier mixed into the initial hash (§5.4).
pub const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
/// Label for the mac1 key (§5.4.4).
pub const LABEL_MAC1: &[u8] = b"mac1----";
/// Label for the cookie key (§5.4.7).
pub const LABEL_COOKIE: &[u8] = b"cookie--";

/// Rekey after this many messages on one keypair (§6.1).
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// Refuse to use a keypair after this many messages (§6.1).
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);
/// Initiator starts a new handshake once its keypair is this old (§6.1).
pub const REKEY_AFTER_TIME: Duration = Duration::from_secs(120);
/// A keypair is dead this long after its creation (§6.1).
pub const REJECT_AFTER_TIME: Duration = Duration::from_secs(180);
/// Give up retrying a handshake after this long (§6.1).
pub const REKEY_ATTEMPT_TIME: Duration = Duration::from_secs(90);
/// Retransmit an unanswered initiation after this long, plus jitter (§6.1).
pub const REKEY_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound (exclusive) of the jitter added to REKEY_TIMEOUT, in milliseconds.
pub const REKEY_TIMEOUT_JITTER_MAX_MS: u64 = 334;
/// Send a keepalive when data was received but nothing sent for this long (§6.5).
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Zero all ephemeral keys this long after the last session was derived (§6.3).
pub const REJECT_AFTER_TIME_X3: Duration = Duration::from_secs(540);
/// Start a new handshake when sent data got no reply for this long (KEEPALIVE + REKEY_TIMEOUT).
pub const NEW_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Initiator rekeys on receive when its keypair is older than REJECT - KEEPALIVE - REKEY_TIMEOUT.
pub const REKEY_ON_RECEIVE_AGE: Duration = Duration::from_secs(165);
/// Cookie secret lifetime (§5.4.7).
pub const COOKIE_SECRET_MAX_AGE: Duration = Duration::from_secs(120);
/// A cookie received from a responder is usable for this long (COOKIE_SECRET_MAX_AGE - latency).
pub const COOKIE_MAX_AGE: Duration = Duration::from_secs(115);
/// Initiations from one peer arriving closer together than this are dropped (flood protection).
pub const INITIATIONS_MIN_INTERVAL: Duration = Duration::from_millis(20);

/// Replay window size in bits (RFC 6479 layout); usable window is this minus one block.
pub const REPLAY_WINDOW_BITS: u64 = 8192;
/// Bits per replay-window block.
pub const REPLAY_BLOCK_BITS: u64 = 64;
/// Usable replay window (`REPLAY_WINDOW_BITS - REPLAY_BLOCK_BITS` = 8128).
pub const REPLAY_WINDOW_USABLE: u64 = REPLAY_WINDOW_BITS - REPLAY_BLOCK_BITS;

/// Handshake packets accepted per second per source address.
pub const HANDSHAKES_PER_SECOND: u64 = 20;
/// Burst of handshake packets accepted per source address.
pub const HANDSHAKES_BURST: u64 = 5;
/// Device stays "under load" this long after the handshake queue was last past its threshold.
pub const UNDER_LOAD_AFTER_TIME: Duration = Duration::from_secs(1);

/// Message type bytes (§5.4.2–5.4.6).
pub const MESSAGE_INITIATION: u8 = 1;
/// Handshake response.
pub const MESSAGE_RESPONSE: u8 = 2;
/// Cookie reply.
pub const MESSAGE_COOKIE_REPLY: u8 = 3;
/// Transport data.
pub const MESSAGE_TRANSPORT: u8 = 4;

/// Size of an initiation message.
pub const MESSAGE_INITIATION_SIZE: usize = 148;
/// Size of a response message.
pub const MESSAGE_RESPONSE_SIZE: usize = 92;
/// Size of a cookie reply message.
pub const MESSAGE_COOKIE_REPLY_SIZE: usize = 64;
/// Transport header: type(4) + receiver(4) + counter(8).
pub const MESSAGE_TRANSPORT_HEADER_SIZE: usize = 16;
/// Poly1305 tag size.
pub const AEAD_TAG_SIZE: usize = 16;
/// Smallest transport message: an empty (keepalive) payload.
pub const MESSAGE_TRANSPORT_MIN_SIZE: usize = MESSAGE_TRANSPORT_HEADER_SIZE + AEAD_TAG_SIZE;
/// Plaintext is padded to a multiple of this.
pub const MESSAGE_PADDING_MULTIPLE: usize = 16;
/// Bytes added around an inner packet on IPv6 (40 IPv6 + 8 UDP + 32 WireGuard).
pub const MESSAGE_OVERHEAD: usize = 80;
/// Default tunnel MTU (1500 - overhead).
pub const DEFAULT_MTU: usize = 1420;
/// Largest transport plaintext accepted or produced.
pub const MAX_CONTENT_SIZE: usize = 65535;

/// Size of a Curve25519 key, a BLAKE2s hash, a symmetric key.
pub const KEY_LEN: usize = 32;
/// TAI64N timestamp size.
pub const TIMESTAMP_LEN: usize = 12;
/// MAC (keyed BLAKE2s-128) size.
pub const MAC_LEN: usize = 16;
/// Cookie size.
pub const COOKIE_LEN: usize = 16;
/// XChaCha20 nonce size.
pub const XNONCE_LEN: usize = 24;
