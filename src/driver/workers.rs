//! The control thread: the one thread that owns the control plane (`Device`, whitepaper §5,
//! §6). It takes, in turn, handshake messages from their bounded queue (Noise steps are slow:
//! they never run on a packet thread, and the queue's length is the under-load signal), jobs
//! from the UAPI server and the shutdown path, the data plane's requests, and timer deadlines.
//! It sleeps until one of them arrives; an idle device has none, so it never wakes.

use crossbeam_channel::{select, Receiver, Sender};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::inbound::HandshakeJob;
use super::shared::{log_send_failure, Shared};
use crate::platform::Outgoing;
use crate::proto::constants::MESSAGE_COOKIE_REPLY;
use crate::proto::device::{Device, Output, ReceiveError};
use crate::proto::gate::CookieRequest;

/// Handshake messages queued at most (wireguard-go's QueueHandshakeSize).
pub const HANDSHAKE_QUEUE: usize = 1024;

/// Work for the control thread, run with the device.
pub type Job = Box<dyn FnOnce(&mut Device) + Send>;

/// How other threads reach the control thread.
pub struct ControlHandle {
    jobs: Sender<Job>,
    kick: Sender<()>,
}

impl ControlHandle {
    /// The handle and the control thread's ends.
    pub fn new() -> (Self, Receiver<Job>, Receiver<()>) {
        let (jobs, jobs_rx) = crossbeam_channel::unbounded();
        // One pending kick is enough: the thread drains every request when it wakes.
        let (kick, kick_rx) = crossbeam_channel::bounded(1);
        (Self { jobs, kick }, jobs_rx, kick_rx)
    }

    /// Wake the control thread to carry out the data plane's requests.
    pub fn kick(&self) {
        // Full: a kick is pending already. Disconnected: the control thread has ended.
        let _ = self.kick.try_send(());
    }

    /// Run `f` on the control thread with the device and wait for its result; `None` once the
    /// control thread has ended (the daemon is stopping).
    pub fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Device) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let job: Job = Box::new(move |dev| {
            let r = f(dev);
            dev.publish(); // the caller may send traffic the moment it has the answer
            let _ = tx.send(r);
        });
        self.jobs.send(job).ok()?;
        rx.recv().ok()
    }
}

/// What woke the control thread: a job, a handshake message, a cookie request (with the
/// queue that may hold more), or nothing to hand over (a kick from the data plane, a deadline,
/// or a caller stepping the control plane by hand).
pub enum Input<'a> {
    /// Work from the UAPI server or the shutdown path.
    Job(Job),
    /// A handshake message the gate admitted.
    Handshake(HandshakeJob),
    /// A message the gate refused for want of a cookie; more may wait in the queue, answered
    /// with it.
    Cookies(CookieRequest, &'a Receiver<CookieRequest>),
    /// Only the routine work below.
    Nothing,
}

/// One round of the control plane without waiting: `input`, then the data plane's requests,
/// due timers (on `sh.clock`), publishing, and carrying out what the device asked for.
/// Returns the next timer deadline. The control thread runs it after each wake-up; a
/// simulation runs it by hand (`driver::node`).
pub fn control_step(sh: &Shared, dev: &mut Device, input: Input<'_>) -> Option<Duration> {
    match input {
        Input::Job(job) => job(dev),
        Input::Handshake(job) => handshake(sh, dev, &job),
        Input::Cookies(first, more) => cookie_replies(sh, dev, first, more),
        Input::Nothing => {}
    }
    let now = sh.clock.now();
    dev.poll_requests(now);
    if dev.poll_timeout().is_some_and(|t| t <= now.mono) {
        dev.handle_timeout(now);
    }
    dev.publish();
    let mut outputs: Vec<Output> = dev.drain_outputs().collect();
    sh.carry_out(&mut outputs);
    dev.poll_timeout()
}

/// The control thread's body: owns `dev` until the daemon stops.
pub fn run_control(
    sh: Arc<Shared>,
    mut dev: Device,
    handshakes: Receiver<HandshakeJob>,
    jobs: Receiver<Job>,
    kicks: Receiver<()>,
    cookies: Receiver<CookieRequest>,
) {
    let mut input = Input::Nothing;
    loop {
        let next = control_step(&sh, &mut dev, input);
        if sh.stop.requested() && jobs.is_empty() {
            return;
        }
        let timeout = match next.map(|t| t.saturating_sub(sh.clock.now().mono)) {
            Some(w) => crossbeam_channel::after(w),
            None => crossbeam_channel::never(),
        };
        input = select! {
            recv(jobs) -> job => match job {
                Ok(job) => Input::Job(job),
                Err(_) => return,
            },
            recv(handshakes) -> job => match job {
                Ok(job) => Input::Handshake(job),
                Err(_) => return,
            },
            recv(cookies) -> req => match req {
                Ok(req) => Input::Cookies(req, &cookies),
                Err(_) => return,
            },
            recv(kicks) -> _ => Input::Nothing,
            recv(timeout) -> _ => Input::Nothing,
        };
    }
}

/// Cookie replies sent in one system call at most.
const REPLY_BATCH: usize = 64;

/// Answer `first` and whatever else waits in the cookie queue (up to `REPLY_BATCH`), with one
/// send for all of them.
fn cookie_replies(
    sh: &Shared,
    dev: &mut Device,
    first: CookieRequest,
    more: &Receiver<CookieRequest>,
) {
    let now = sh.clock.now();
    let mut replies = Vec::with_capacity(REPLY_BATCH);
    for req in std::iter::once(first).chain(more.try_iter().take(REPLY_BATCH - 1)) {
        replies.push((req.from, dev.cookie_reply(&req, now)));
    }
    let out: Vec<Outgoing<'_>> = replies
        .iter()
        .map(|(to, r)| Outgoing::one(*to, r))
        .collect();
    if let Err(e) = sh.bind().send_batch(&out) {
        log_send_failure(None, &[MESSAGE_COOKIE_REPLY], &e);
    }
}

/// One queued handshake message (admitted by the gate before it was queued).
fn handshake(sh: &Shared, dev: &mut Device, job: &HandshakeJob) {
    let (from, bytes) = (job.from, job.bytes());
    sh.handshake_backlog.fetch_sub(1, Ordering::Relaxed);
    if let Err(e) = dev.handle_admitted(from, bytes, sh.clock.now()) {
        log_handshake_drop(from, bytes, e);
    }
}

/// Log a refused handshake message as wireguard-go does (rate limiting is silent there too).
fn log_handshake_drop(from: std::net::SocketAddr, bytes: &[u8], e: ReceiveError) {
    use crate::proto::device::HandshakeDrop;
    let what = match bytes.first() {
        Some(1) => "initiation",
        Some(2) => "response",
        _ => "cookie reply",
    };
    match e {
        ReceiveError::Handshake(HandshakeDrop::BadMac1) => {
            tracing::debug!("Received packet with invalid mac1")
        }
        ReceiveError::Handshake(HandshakeDrop::RateLimited | HandshakeDrop::CookieSent) => {}
        _ if what == "cookie reply" => tracing::debug!("Could not decrypt invalid cookie response"),
        _ => tracing::debug!("Received invalid {what} message from {from}"),
    }
}
