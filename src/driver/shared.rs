//! State the driver's threads share: the way to the control thread (which alone owns the
//! device), the data plane it publishes, the TUN and UDP endpoints and the shutdown signal.
//! Device outputs are carried out here. Packet threads use `plane` and never the device.

use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use super::clock::Clock;
use super::pool::CryptoPool;
use super::workers::{ControlHandle, Job};
use crate::platform::{Bind, Outgoing, Tun};
use crate::proto::device::{Device, Output};
use crate::proto::gate::{CookieRequest, Gate};
use crate::proto::link::Link;
use crate::proto::plane::Plane;

/// Cookie replies waiting to be written, at most (48 B each: 48 KiB).
pub const COOKIE_QUEUE: usize = 1024;

/// Why the daemon stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT/SIGTERM/SIGHUP.
    Signal(&'static str),
    /// The UAPI socket file was deleted.
    SocketDeleted,
    /// The TUN device failed or was deleted.
    TunGone(String),
    /// Another fatal error.
    Fatal(String),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Signal(s) => write!(f, "received {s}"),
            Self::SocketDeleted => f.write_str("UAPI socket deleted"),
            Self::TunGone(e) => write!(f, "TUN device gone: {e}"),
            Self::Fatal(e) => f.write_str(e),
        }
    }
}

/// A one-shot, first-reason-wins stop signal.
#[derive(Default)]
pub struct Stop {
    reason: Mutex<Option<StopReason>>,
    cv: Condvar,
}

impl Stop {
    /// Request a stop (the first reason is kept).
    pub fn request(&self, r: StopReason) {
        let mut g = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            *g = Some(r);
            self.cv.notify_all();
        }
    }
    /// True once a stop was requested.
    pub fn requested(&self) -> bool {
        self.reason.lock().map(|g| g.is_some()).unwrap_or(true)
    }
    /// Block until a stop is requested.
    pub fn wait(&self) -> StopReason {
        let mut g = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = g.clone() {
                return r;
            }
            g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// What the control thread starts with.
pub struct Parked {
    /// The control plane.
    pub device: Device,
    /// Jobs from other threads.
    pub jobs: Receiver<Job>,
    /// Handshake messages the gate refused for want of a cookie, to answer.
    pub cookies: Receiver<CookieRequest>,
    /// Kicks from the data plane.
    pub kicks: Receiver<()>,
}

/// Everything the threads share.
pub struct Shared {
    /// The device and the control thread's ends of its channels, until `driver::start` hands
    /// them to the control thread.
    parked: Mutex<Option<Parked>>,
    control: ControlHandle,
    /// What the packet threads read (published by the device).
    pub plane: Arc<Plane>,
    /// The TUN device.
    pub tun: Arc<dyn Tun>,
    bind: RwLock<Arc<dyn Bind>>,
    /// Clock.
    pub clock: Clock,
    /// The crypto workers that seal and open large batches with the packet threads.
    pub crypto: CryptoPool,
    /// Stop signal.
    pub stop: Stop,
    /// Handshake messages waiting for the control thread.
    pub handshake_backlog: AtomicUsize,
    /// The device's handshake gate: the inbound thread admits handshake messages through it
    /// before queueing them (`proto/gate.rs`).
    pub gate: Arc<Mutex<Gate>>,
    /// Where the inbound thread queues cookie replies to write (`COOKIE_QUEUE` at most).
    pub cookie_requests: Sender<CookieRequest>,
    /// The configured fwmark (0 = none).
    pub fwmark: std::sync::atomic::AtomicU32,
    bind_factory: BindFactory,
    /// Wakes the I/O thread to re-check what it waits on (see `io`); None if no pipe was left.
    bell: Option<crate::platform::Doorbell>,
}

/// A datagram the kernel refused: logged at error level, as wireguard-go logs failed sends.
pub fn log_send_failure(link: Option<&Link>, datagram: &[u8], e: &std::io::Error) {
    if crate::platform::tun::is_shutdown(e) {
        return;
    }
    let what = match datagram.first() {
        Some(1) => "handshake initiation",
        Some(2) => "handshake response",
        Some(3) => "cookie reply",
        _ => "data packets",
    };
    match link {
        Some(l) => tracing::error!("{l} - Failed to send {what}: {e}"),
        None => tracing::error!("Failed to send {what}: {e}"),
    }
}

/// Opens the UDP endpoint for a listen port (0 = any free port).
pub type BindFactory = Box<dyn Fn(u16) -> std::io::Result<Arc<dyn Bind>> + Send + Sync>;

impl Shared {
    /// Shared state around a configured device and its endpoints, with as many crypto threads
    /// as `WGRS_CRYPTO_THREADS` says (default `auto`: half the cores per packet thread).
    pub fn new(
        device: Device,
        tun: Arc<dyn Tun>,
        bind: Arc<dyn Bind>,
        bind_factory: BindFactory,
    ) -> Arc<Self> {
        Self::with_clock(device, tun, bind, bind_factory, Clock::default())
    }

    /// The same on `clock` (a manual one in simulations: `driver::node`).
    pub fn with_clock(
        device: Device,
        tun: Arc<dyn Tun>,
        bind: Arc<dyn Bind>,
        bind_factory: BindFactory,
        clock: Clock,
    ) -> Arc<Self> {
        let crypto = CryptoPool::from_env();
        Self::with_parts(device, tun, bind, bind_factory, clock, crypto)
    }

    /// `new` with the given crypto workers.
    pub fn with_crypto(
        device: Device,
        tun: Arc<dyn Tun>,
        bind: Arc<dyn Bind>,
        bind_factory: BindFactory,
        crypto: CryptoPool,
    ) -> Arc<Self> {
        Self::with_parts(device, tun, bind, bind_factory, Clock::default(), crypto)
    }

    fn with_parts(
        device: Device,
        tun: Arc<dyn Tun>,
        bind: Arc<dyn Bind>,
        bind_factory: BindFactory,
        clock: Clock,
        crypto: CryptoPool,
    ) -> Arc<Self> {
        let plane = Arc::clone(device.plane());
        let gate = device.shared_gate();
        let (cookie_requests, cookies) = crossbeam_channel::bounded(COOKIE_QUEUE);
        let (control, jobs, kicks) = ControlHandle::new();
        let sh = Arc::new(Self {
            parked: Mutex::new(Some(Parked {
                device,
                jobs,
                cookies,
                kicks,
            })),
            control,
            plane,
            tun,
            bind: RwLock::new(bind),
            clock,
            crypto,
            stop: Stop::default(),
            handshake_backlog: AtomicUsize::new(0),
            gate,
            cookie_requests,
            fwmark: std::sync::atomic::AtomicU32::new(0),
            bind_factory,
            bell: crate::platform::Doorbell::new().ok(),
        });
        let weak = Arc::downgrade(&sh);
        sh.plane.set_waker(Box::new(move || {
            if let Some(sh) = weak.upgrade() {
                sh.control.kick();
            }
        }));
        sh
    }

    /// The I/O thread's doorbell.
    pub fn doorbell(&self) -> Option<&crate::platform::Doorbell> {
        self.bell.as_ref()
    }

    /// Open a new UDP endpoint on `port`.
    pub fn make_bind(&self, port: u16) -> std::io::Result<Arc<dyn Bind>> {
        (self.bind_factory)(port)
    }

    /// The control thread.
    pub fn control(&self) -> &ControlHandle {
        &self.control
    }

    /// The device and the control thread's channel ends (once: for `driver::start`).
    pub fn take_parked(&self) -> Option<Parked> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The current UDP bind.
    pub fn bind(&self) -> Arc<dyn Bind> {
        Arc::clone(&self.bind.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replace the UDP bind (listen port change); the old one is shut down so its readers move
    /// on, and handed back: see [`release_bind`].
    #[must_use = "the old bind's sockets close when the last holder lets go: release_bind waits for that"]
    pub fn replace_bind(&self, new: Arc<dyn Bind>) -> Arc<dyn Bind> {
        let old = std::mem::replace(
            &mut *self.bind.write().unwrap_or_else(|e| e.into_inner()),
            new,
        );
        old.shutdown();
        // The I/O thread may be asleep on the old sockets: make it pick up the new ones.
        if let Some(bell) = &self.bell {
            bell.ring();
        }
        old
    }

    /// Send the datagrams the device asked for (control path: handshake messages, cookie
    /// replies, keepalives and packets that waited for a handshake; one send each).
    pub fn carry_out(&self, outputs: &mut Vec<Output>) {
        if outputs.is_empty() {
            return;
        }
        let bind = self.bind();
        for o in outputs.drain(..) {
            let Output::Transmit { to, bytes, link } = o;
            match bind.send_batch(&[Outgoing::one(to, &bytes)]) {
                Ok(_) => {
                    if let Some(l) = &link {
                        l.add_tx(bytes.len());
                    }
                }
                Err(e) => log_send_failure(link.as_deref(), &bytes, &e),
            }
        }
    }
}

/// Wait (at most `RELEASE_WAIT`) until the packet threads have let go of a replaced bind, then
/// drop it, so that its sockets are closed and its port is free when a listen-port change
/// returns, as with wireguard-go: `wg set IF listen-port B` and then `listen-port A` again
/// must find A free. The threads let go within a wake-up (the old bind is shut down and the
/// doorbell rung); the wait is bounded so that a stuck thread cannot hold up the UAPI.
pub fn release_bind(old: Arc<dyn Bind>) {
    const RELEASE_WAIT: Duration = Duration::from_secs(1);
    const POLL: Duration = Duration::from_millis(1);
    let mut waited = Duration::ZERO;
    while Arc::strong_count(&old) > 1 && waited < RELEASE_WAIT {
        std::thread::sleep(POLL);
        waited += POLL;
    }
    if Arc::strong_count(&old) > 1 {
        tracing::debug!("the old UDP sockets are still in use; they close when released");
    }
}
