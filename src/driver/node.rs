//! A daemon stepped by hand (issue 11 item 4): a device with its driver state, an in-memory TUN
//! and UDP bind, and the very steps the daemon's threads run — `Outbound::step`,
//! `Inbound::step` and `control_step` — called in turn on the caller's thread, on a manual
//! clock. The simulation tests and the `datagrams` fuzz target drive it; not an API.

use crossbeam_channel::Receiver;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::clock::Clock;
use super::inbound::{HandshakeJob, Inbound};
use super::outbound::Outbound;
use super::shared::{BindFactory, Shared};
use super::workers::{control_step, Input, Job, HANDSHAKE_QUEUE};
use crate::platform::{Bind, MemBind, MemNetwork, MemTun, MemTunHandle};
use crate::proto::device::Device;
use crate::proto::gate::CookieRequest;

/// Rounds of one `step` at most; each round takes at least one packet or datagram off a queue
/// of at most 4,096, so a step that needs more has found a loop.
const MAX_ROUNDS: usize = 20_000;

/// One host: the control plane, owned here as the control thread owns it in the daemon, and
/// the driver around it.
pub struct Node {
    /// The control plane. Change its configuration directly; the next `step` publishes it.
    pub dev: Device,
    /// What the daemon's threads share (the data plane, the TUN, the bind, the clock).
    pub sh: Arc<Shared>,
    /// The OS side of the node's TUN: inject packets, collect what the node wrote.
    pub tun: MemTunHandle,
    bind: Arc<MemBind>,
    inbound: Inbound,
    outbound: Outbound,
    handshakes: Receiver<HandshakeJob>,
    jobs: Receiver<Job>,
    kicks: Receiver<()>,
    cookies: Receiver<CookieRequest>,
    logs: Option<(tracing::Dispatch, Arc<Mutex<Vec<u8>>>)>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("dev", &self.dev)
            .field("addr", &self.addr())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node for `dev` whose UDP bind receives at `addr` on `net`, reading `clock` (a manual
    /// one: the caller moves time). Its bind is fixed: a listen-port change is refused.
    pub fn new(dev: Device, net: &MemNetwork, addr: SocketAddr, clock: Clock) -> io::Result<Self> {
        let (tun, handle) = MemTun::new("wgsim", 1420);
        let bind = Arc::new(net.bind(&[addr.ip()], addr.port())?);
        let factory: BindFactory =
            Box::new(|_| Err(io::Error::other("a simulated node keeps its bind")));
        let dyn_bind: Arc<dyn Bind> = Arc::clone(&bind) as Arc<dyn Bind>;
        let sh = Shared::with_clock(dev, Arc::new(tun), dyn_bind, factory, clock);
        let parked = sh
            .take_parked()
            .ok_or_else(|| io::Error::other("device already taken"))?;
        let (tx, handshakes) = crossbeam_channel::bounded(HANDSHAKE_QUEUE);
        let outbound = Outbound::new(&sh);
        Ok(Self {
            dev: parked.device,
            sh,
            tun: handle,
            bind,
            inbound: Inbound::new(tx),
            outbound,
            handshakes,
            jobs: parked.jobs,
            kicks: parked.kicks,
            cookies: parked.cookies,
            logs: None,
        })
    }

    /// Where the node's UDP bind receives.
    pub fn addr(&self) -> SocketAddr {
        self.bind
            .local_addrs()
            .first()
            .copied()
            .unwrap_or(([0; 4], 0).into())
    }

    /// Run until nothing is left to do at the clock's present time: configuration published,
    /// TUN packets sealed and sent, received datagrams opened and written to the TUN,
    /// handshake messages, jobs and the data plane's requests handled, due timers fired.
    pub fn step(&mut self) {
        match self.logs.as_ref().map(|(d, _)| d.clone()) {
            Some(d) => tracing::dispatcher::with_default(&d, || self.rounds()),
            None => self.rounds(),
        }
    }

    /// One step of the outbound thread alone (no control-thread work, no receive): the
    /// packets it read from the TUN.
    pub fn outbound_step(&mut self) -> usize {
        self.outbound
            .step(&self.sh, Some(Duration::ZERO))
            .unwrap_or(0)
    }

    fn rounds(&mut self) {
        self.control();
        for _ in 0..MAX_ROUNDS {
            let zero = Some(Duration::ZERO);
            let read = self.outbound.step(&self.sh, zero).unwrap_or(0);
            let queued = self.bind.pending();
            if queued > 0 {
                self.inbound.step(&self.sh, zero);
            }
            self.control();
            if read == 0 && queued == 0 {
                return;
            }
        }
        panic!("node {} did not settle", self.addr());
    }

    /// The control thread's work, until its queues are empty.
    fn control(&mut self) {
        loop {
            while self.kicks.try_recv().is_ok() {}
            let input = if let Ok(job) = self.jobs.try_recv() {
                Input::Job(job)
            } else if let Ok(hs) = self.handshakes.try_recv() {
                Input::Handshake(hs)
            } else if let Ok(req) = self.cookies.try_recv() {
                Input::Cookies(req, &self.cookies)
            } else {
                Input::Nothing
            };
            let last = matches!(input, Input::Nothing);
            control_step(&self.sh, &mut self.dev, input);
            if last {
                return;
            }
        }
    }

    /// When the node must next run: its earliest timer deadline.
    pub fn poll_timeout(&mut self) -> Option<Duration> {
        self.dev.poll_timeout()
    }

    /// Keep the node's log lines (all levels, message text only) from now on.
    pub fn record_logs(&mut self) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || LogSink(Arc::clone(&sink)))
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .without_time()
            .with_level(false)
            .with_target(false)
            .finish();
        self.logs = Some((tracing::Dispatch::new(subscriber), buf));
    }

    /// The log lines recorded since the last call (none unless `record_logs` was called).
    pub fn take_logs(&mut self) -> Vec<String> {
        let Some((_, buf)) = &self.logs else {
            return Vec::new();
        };
        let bytes = std::mem::take(&mut *buf.lock().unwrap_or_else(|e| e.into_inner()));
        let text = String::from_utf8_lossy(&bytes);
        text.lines().map(|l| l.trim().to_owned()).collect()
    }
}

/// Where recorded log lines go.
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogSink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let mut buf = self.0.lock().unwrap_or_else(|e| e.into_inner());
        buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
