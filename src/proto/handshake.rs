//! The Noise_IKpsk2 handshake (whitepaper §5.4.2–§5.4.5): create/consume initiation and
//! response, then derive transport keys. Pure: time and randomness come from the caller.

use rand_core::CryptoRngCore;
use std::time::Duration;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::constants::*;
use super::crypto::{aead_open, aead_seal, dh, dh_pubkey, hash, kdf};
use super::keys::{PresharedKey, PrivateKey, PublicKey};
use super::messages::{Initiation, Response};
use super::tai64n;
use super::time::Now;

/// Why a handshake step failed. Nothing in the handshake state changes on error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// A Diffie-Hellman result was all zeros (a low-order public key).
    ZeroDh,
    /// An AEAD field did not authenticate.
    Decrypt,
    /// The initiation's timestamp is not newer than the last one accepted from this peer.
    Replay,
    /// Initiations from this peer arrived closer together than 20 ms.
    Flood,
    /// The step does not fit the handshake's current state (or the index does not match).
    WrongState,
    /// No private key is configured.
    NoPrivateKey,
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Self::ZeroDh => "Diffie-Hellman result is all zeros",
            Self::Decrypt => "handshake field failed to authenticate",
            Self::Replay => "initiation timestamp is not newer than the last",
            Self::Flood => "initiations arrive faster than one per 20 ms",
            Self::WrongState => "handshake message does not fit the handshake state",
            Self::NoPrivateKey => "no private key configured",
        };
        f.write_str(s)
    }
}

/// The local static key pair with the values precomputed from it.
#[derive(ZeroizeOnDrop)]
pub struct StaticIdentity {
    #[zeroize(skip)]
    private: PrivateKey,
    #[zeroize(skip)]
    public: PublicKey,
    /// HASH(HASH(HASH(CONSTRUCTION) || IDENTIFIER) || Spub_local): the responder's initial hash.
    responder_hash: [u8; KEY_LEN],
}

impl std::fmt::Debug for StaticIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticIdentity")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

fn initial_chaining_key() -> [u8; KEY_LEN] {
    hash(&[CONSTRUCTION])
}

fn initial_hash(responder_public: &PublicKey) -> [u8; KEY_LEN] {
    hash(&[
        &hash(&[&initial_chaining_key(), IDENTIFIER]),
        responder_public.as_bytes(),
    ])
}

impl StaticIdentity {
    /// Build from the interface's private key.
    pub fn new(private: PrivateKey) -> Self {
        let public = private.public_key();
        Self {
            responder_hash: initial_hash(&public),
            private,
            public,
        }
    }
    /// The local public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }
    /// The local private key.
    pub fn private(&self) -> &PrivateKey {
        &self.private
    }
}

/// What the handshake needs to know about one remote peer.
#[derive(ZeroizeOnDrop)]
pub struct RemoteIdentity {
    #[zeroize(skip)]
    public: PublicKey,
    #[zeroize(skip)]
    psk: PresharedKey,
    /// DH(Spriv_local, Spub_remote); `None` when it is all zeros (the peer can never handshake).
    static_static: Option<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for RemoteIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteIdentity")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl RemoteIdentity {
    /// Precompute for `public` under the local identity (if any).
    pub fn new(local: Option<&StaticIdentity>, public: PublicKey, psk: PresharedKey) -> Self {
        let static_static = local.and_then(|l| dh(l.private.as_bytes(), public.as_bytes()));
        Self {
            public,
            psk,
            static_static,
        }
    }
    /// The remote public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }
    /// The preshared key (all zeros when none).
    pub fn psk(&self) -> &PresharedKey {
        &self.psk
    }
    /// Replace the preshared key.
    pub fn set_psk(&mut self, psk: PresharedKey) {
        self.psk = psk;
    }
    /// Recompute the static-static DH after the local private key changed.
    pub fn rekey_local(&mut self, local: Option<&StaticIdentity>) {
        if let Some(mut old) = self.static_static.take() {
            old.zeroize();
        }
        self.static_static = local.and_then(|l| dh(l.private.as_bytes(), self.public.as_bytes()));
    }
}

/// Where a peer's handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandshakeState {
    /// Nothing in flight; all ephemeral state is zero.
    #[default]
    Zeroed,
    /// We sent an initiation and await a response.
    InitiationCreated,
    /// We accepted an initiation and will answer it.
    InitiationConsumed,
    /// We answered an initiation; the session awaits confirmation.
    ResponseCreated,
    /// We accepted a response; the session can begin.
    ResponseConsumed,
}

/// One peer's handshake state. Secrets are zeroized on drop and by [`Handshake::clear`].
#[derive(Default, Zeroize, ZeroizeOnDrop)]
pub struct Handshake {
    #[zeroize(skip)]
    state: HandshakeState,
    hash: [u8; KEY_LEN],
    chaining_key: [u8; KEY_LEN],
    local_ephemeral: [u8; KEY_LEN],
    remote_ephemeral: [u8; KEY_LEN],
    local_index: Option<u32>,
    remote_index: u32,
    latest_timestamp: [u8; TIMESTAMP_LEN],
    #[zeroize(skip)]
    last_initiation_consumption: Option<Duration>,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("state", &self.state)
            .field("local_index", &self.local_index)
            .field("remote_index", &self.remote_index)
            .finish_non_exhaustive()
    }
}

/// An initiation whose initiator is identified but whose timestamp is not yet checked.
/// Produced by [`consume_initiation`], finished by [`Handshake::accept_initiation`].
#[derive(ZeroizeOnDrop)]
pub struct InitiationCandidate {
    #[zeroize(skip)]
    remote_static: PublicKey,
    hash: [u8; KEY_LEN],
    chaining_key: [u8; KEY_LEN],
    remote_ephemeral: [u8; KEY_LEN],
    sender_index: u32,
    encrypted_timestamp: [u8; TIMESTAMP_LEN + AEAD_TAG_SIZE],
}

impl InitiationCandidate {
    /// The initiator's static public key (decrypted from the message).
    pub fn remote_static(&self) -> &PublicKey {
        &self.remote_static
    }
}

/// Keys and indices of a freshly derived session.
#[derive(ZeroizeOnDrop)]
pub struct SessionKeys {
    /// Key for data we send.
    pub send: [u8; KEY_LEN],
    /// Key for data we receive.
    pub recv: [u8; KEY_LEN],
    /// Our index (theirs to put in transport headers).
    #[zeroize(skip)]
    pub local_index: u32,
    /// Their index (ours to put in transport headers).
    #[zeroize(skip)]
    pub remote_index: u32,
    /// Whether we initiated this handshake.
    #[zeroize(skip)]
    pub is_initiator: bool,
}

fn mix_key(ck: &mut [u8; KEY_LEN], input: &[u8]) {
    let [c] = kdf::<1>(ck, input);
    *ck = c;
}

fn mix_hash(h: &mut [u8; KEY_LEN], input: &[u8]) {
    *h = hash(&[h.as_slice(), input]);
}

/// `(C, k) = KDF2(C, DH(a, B))`, rejecting an all-zero DH.
fn mix_dh_key(
    ck: &mut [u8; KEY_LEN],
    private: &[u8; KEY_LEN],
    public: &[u8; KEY_LEN],
) -> Result<[u8; KEY_LEN], HandshakeError> {
    let mut shared = dh(private, public).ok_or(HandshakeError::ZeroDh)?;
    let [c, k] = kdf::<2>(ck, &shared);
    shared.zeroize();
    *ck = c;
    Ok(k)
}

/// `C = KDF1(C, DH(a, B))`, rejecting an all-zero DH.
fn mix_dh(
    ck: &mut [u8; KEY_LEN],
    private: &[u8; KEY_LEN],
    public: &[u8; KEY_LEN],
) -> Result<(), HandshakeError> {
    let mut shared = dh(private, public).ok_or(HandshakeError::ZeroDh)?;
    mix_key(ck, &shared);
    shared.zeroize();
    Ok(())
}

/// `(C, τ, k) = KDF3(C, Q)`; `H = HASH(H || τ)`; returns k.
fn mix_psk(ck: &mut [u8; KEY_LEN], h: &mut [u8; KEY_LEN], psk: &PresharedKey) -> [u8; KEY_LEN] {
    let [c, mut tau, k] = kdf::<3>(ck, psk.as_bytes());
    *ck = c;
    mix_hash(h, &tau);
    tau.zeroize();
    k
}

impl Handshake {
    /// The current state.
    pub fn state(&self) -> HandshakeState {
        self.state
    }
    /// Our index for the handshake in flight, if one is.
    pub fn local_index(&self) -> Option<u32> {
        self.local_index
    }
    /// Zero all ephemeral state, keeping the replay and flood memory (kernel `handshake_zero`).
    pub fn clear(&mut self) {
        let ts = self.latest_timestamp;
        let last = self.last_initiation_consumption;
        self.zeroize();
        self.state = HandshakeState::Zeroed;
        self.latest_timestamp = ts;
        self.last_initiation_consumption = last;
    }
    /// True when no secret material is held.
    pub fn is_zeroed(&self) -> bool {
        self.state == HandshakeState::Zeroed
            && self.hash == [0; KEY_LEN]
            && self.chaining_key == [0; KEY_LEN]
            && self.local_ephemeral == [0; KEY_LEN]
            && self.remote_ephemeral == [0; KEY_LEN]
    }

    /// Initiator: build a handshake initiation (without mac1/mac2, which the cookie layer adds).
    pub fn create_initiation(
        &mut self,
        local: &StaticIdentity,
        remote: &RemoteIdentity,
        local_index: u32,
        now: Now,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Initiation, HandshakeError> {
        let ss = remote.static_static.ok_or(HandshakeError::ZeroDh)?;
        let mut ck = initial_chaining_key();
        let mut h = initial_hash(&remote.public);
        // e
        let eph = PrivateKey::generate(rng);
        let eph_pub = dh_pubkey(eph.as_bytes());
        mix_key(&mut ck, &eph_pub);
        mix_hash(&mut h, &eph_pub);
        // es
        let mut k = mix_dh_key(&mut ck, eph.as_bytes(), remote.public.as_bytes())?;
        // s
        let mut encrypted_static = [0u8; KEY_LEN + AEAD_TAG_SIZE];
        encrypted_static[..KEY_LEN].copy_from_slice(local.public.as_bytes());
        let tag = aead_seal(&k, 0, &mut encrypted_static[..KEY_LEN], &h);
        encrypted_static[KEY_LEN..].copy_from_slice(&tag);
        mix_hash(&mut h, &encrypted_static);
        // ss
        let [c, k2] = kdf::<2>(&ck, &ss);
        ck = c;
        k = k2;
        // {t}
        let mut encrypted_timestamp = [0u8; TIMESTAMP_LEN + AEAD_TAG_SIZE];
        encrypted_timestamp[..TIMESTAMP_LEN].copy_from_slice(&tai64n::encode(now.wall));
        let tag = aead_seal(&k, 0, &mut encrypted_timestamp[..TIMESTAMP_LEN], &h);
        encrypted_timestamp[TIMESTAMP_LEN..].copy_from_slice(&tag);
        mix_hash(&mut h, &encrypted_timestamp);
        k.zeroize();

        self.clear();
        self.state = HandshakeState::InitiationCreated;
        self.hash = h;
        self.chaining_key = ck;
        self.local_ephemeral = *eph.as_bytes();
        self.local_index = Some(local_index);
        Ok(Initiation {
            sender: local_index,
            ephemeral: eph_pub,
            encrypted_static,
            encrypted_timestamp,
            mac1: [0; MAC_LEN],
            mac2: [0; MAC_LEN],
        })
    }

    /// Responder, second step: check the timestamp against replay and flooding, then adopt
    /// the initiation. The handshake changes only when every check passes.
    pub fn accept_initiation(
        &mut self,
        mut cand: InitiationCandidate,
        remote: &RemoteIdentity,
        now: Duration,
    ) -> Result<(), HandshakeError> {
        let ss = remote.static_static.ok_or(HandshakeError::ZeroDh)?;
        if cand.remote_static != remote.public {
            return Err(HandshakeError::WrongState);
        }
        // ss
        let [c, mut k] = kdf::<2>(&cand.chaining_key, &ss);
        // {t}
        let mut ts = [0u8; TIMESTAMP_LEN];
        ts.copy_from_slice(&cand.encrypted_timestamp[..TIMESTAMP_LEN]);
        let mut tag = [0u8; AEAD_TAG_SIZE];
        tag.copy_from_slice(&cand.encrypted_timestamp[TIMESTAMP_LEN..]);
        let opened = aead_open(&k, 0, &mut ts, &tag, &cand.hash);
        k.zeroize();
        opened.map_err(|_| HandshakeError::Decrypt)?;
        if !tai64n::is_after(&ts, &self.latest_timestamp) {
            return Err(HandshakeError::Replay);
        }
        if let Some(last) = self.last_initiation_consumption {
            if now.saturating_sub(last) < INITIATIONS_MIN_INTERVAL {
                return Err(HandshakeError::Flood);
            }
        }
        mix_hash(&mut cand.hash, &cand.encrypted_timestamp);
        self.clear();
        self.state = HandshakeState::InitiationConsumed;
        self.hash = cand.hash;
        self.chaining_key = c;
        self.remote_ephemeral = cand.remote_ephemeral;
        self.remote_index = cand.sender_index;
        self.latest_timestamp = ts;
        self.last_initiation_consumption = Some(now);
        Ok(())
    }

    /// Responder: answer the accepted initiation.
    pub fn create_response(
        &mut self,
        remote: &RemoteIdentity,
        local_index: u32,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Response, HandshakeError> {
        if self.state != HandshakeState::InitiationConsumed {
            return Err(HandshakeError::WrongState);
        }
        let mut ck = self.chaining_key;
        let mut h = self.hash;
        // e
        let eph = PrivateKey::generate(rng);
        let eph_pub = dh_pubkey(eph.as_bytes());
        mix_key(&mut ck, &eph_pub);
        mix_hash(&mut h, &eph_pub);
        // ee
        mix_dh(&mut ck, eph.as_bytes(), &self.remote_ephemeral)?;
        // se
        mix_dh(&mut ck, eph.as_bytes(), remote.public.as_bytes())?;
        // psk
        let mut k = mix_psk(&mut ck, &mut h, &remote.psk);
        // {}
        let tag = aead_seal(&k, 0, &mut [], &h);
        k.zeroize();
        mix_hash(&mut h, &tag);

        self.state = HandshakeState::ResponseCreated;
        self.hash = h;
        self.chaining_key = ck;
        self.local_ephemeral = *eph.as_bytes();
        self.local_index = Some(local_index);
        Ok(Response {
            sender: local_index,
            receiver: self.remote_index,
            ephemeral: eph_pub,
            encrypted_nothing: tag,
            mac1: [0; MAC_LEN],
            mac2: [0; MAC_LEN],
        })
    }

    /// Initiator: accept the response to our initiation. Changes nothing unless it authenticates.
    pub fn consume_response(
        &mut self,
        local: &StaticIdentity,
        remote: &RemoteIdentity,
        msg: &Response,
    ) -> Result<(), HandshakeError> {
        if self.state != HandshakeState::InitiationCreated || self.local_index != Some(msg.receiver)
        {
            return Err(HandshakeError::WrongState);
        }
        let mut ck = self.chaining_key;
        let mut h = self.hash;
        // e
        mix_key(&mut ck, &msg.ephemeral);
        mix_hash(&mut h, &msg.ephemeral);
        // ee
        mix_dh(&mut ck, &self.local_ephemeral, &msg.ephemeral)?;
        // se
        mix_dh(&mut ck, local.private.as_bytes(), &msg.ephemeral)?;
        // psk
        let mut k = mix_psk(&mut ck, &mut h, &remote.psk);
        // {}
        let opened = aead_open(&k, 0, &mut [], &msg.encrypted_nothing, &h);
        k.zeroize();
        if opened.is_err() {
            ck.zeroize();
            return Err(HandshakeError::Decrypt);
        }
        mix_hash(&mut h, &msg.encrypted_nothing);
        self.state = HandshakeState::ResponseConsumed;
        self.hash = h;
        self.chaining_key = ck;
        self.remote_ephemeral = msg.ephemeral;
        self.remote_index = msg.sender;
        Ok(())
    }

    /// Derive the transport keys `(T_send, T_recv) = KDF2(C, ε)` and zero the handshake.
    pub fn begin_session(&mut self) -> Result<SessionKeys, HandshakeError> {
        let is_initiator = match self.state {
            HandshakeState::ResponseConsumed => true,
            HandshakeState::ResponseCreated => false,
            _ => return Err(HandshakeError::WrongState),
        };
        let local_index = self.local_index.ok_or(HandshakeError::WrongState)?;
        let [t1, t2] = kdf::<2>(&self.chaining_key, &[]);
        let (send, recv) = if is_initiator { (t1, t2) } else { (t2, t1) };
        let keys = SessionKeys {
            send,
            recv,
            local_index,
            remote_index: self.remote_index,
            is_initiator,
        };
        self.clear();
        Ok(keys)
    }
}

/// Responder, first step: decrypt the initiator's identity (`e`, `es`, `s`). Pure in the
/// message; the caller finds the peer by [`InitiationCandidate::remote_static`].
pub fn consume_initiation(
    local: &StaticIdentity,
    msg: &Initiation,
) -> Result<InitiationCandidate, HandshakeError> {
    let mut ck = initial_chaining_key();
    let mut h = local.responder_hash;
    // e
    mix_key(&mut ck, &msg.ephemeral);
    mix_hash(&mut h, &msg.ephemeral);
    // es
    let mut k = mix_dh_key(&mut ck, local.private.as_bytes(), &msg.ephemeral)?;
    // s
    let mut spub = [0u8; KEY_LEN];
    spub.copy_from_slice(&msg.encrypted_static[..KEY_LEN]);
    let mut tag = [0u8; AEAD_TAG_SIZE];
    tag.copy_from_slice(&msg.encrypted_static[KEY_LEN..]);
    let opened = aead_open(&k, 0, &mut spub, &tag, &h);
    k.zeroize();
    opened.map_err(|_| HandshakeError::Decrypt)?;
    mix_hash(&mut h, &msg.encrypted_static);
    Ok(InitiationCandidate {
        remote_static: PublicKey(spub),
        hash: h,
        chaining_key: ck,
        remote_ephemeral: msg.ephemeral,
        sender_index: msg.sender,
        encrypted_timestamp: msg.encrypted_timestamp,
    })
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
