//! The handshake worker (Noise steps are slow: they run off the data path, and the queue's
//! length is the device's under-load signal) and the timer thread (sleeps until the next
//! deadline or until the data plane asks for something; an idle device has neither, so it
//! never wakes).

use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use super::inbound::HandshakeJob;
use super::shared::Shared;
use crate::proto::device::ReceiveError;

/// Handshake messages queued at most (wireguard-go's QueueHandshakeSize).
pub const HANDSHAKE_QUEUE: usize = 1024;

/// Process queued handshake messages until the queue's senders are gone.
pub fn run_handshakes(sh: Arc<Shared>, rx: Receiver<HandshakeJob>) {
    let mut outputs = Vec::new();
    for job in rx {
        let (from, bytes) = (job.from, job.bytes());
        let backlog = sh
            .handshake_backlog
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        let now = sh.clock.now();
        {
            let mut dev = sh.device();
            dev.set_handshake_queue_len(backlog);
            if let Err(e) = dev.handle_datagram(from, bytes, now) {
                log_handshake_drop(from, bytes, e);
            }
            sh.take_outputs(&mut dev, &mut outputs);
        }
        sh.carry_out(&mut outputs);
        if sh.stop.requested() {
            return;
        }
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

/// Fire device timers at their deadlines, and carry out what the data plane asks for, until
/// the daemon stops.
pub fn run_timers(sh: Arc<Shared>) {
    let mut outputs = Vec::new();
    while !sh.stop.requested() {
        let mut dev = sh.device();
        let now = sh.clock.now();
        sh.timer.lock().kicked = false;
        dev.poll_requests(now);
        if dev.poll_timeout().is_some_and(|t| t <= now.mono) {
            dev.handle_timeout(now);
        }
        dev.publish();
        outputs.extend(dev.drain_outputs());
        let next = dev.poll_timeout();
        // Publish the target while still holding the device lock, so an earlier deadline set
        // by another thread right after is seen by `Shared::take_outputs` and wakes us.
        let mut state = sh.timer.lock();
        state.target = next;
        drop(dev);
        if !outputs.is_empty() || state.kicked {
            drop(state);
            sh.carry_out(&mut outputs);
            continue;
        }
        match next {
            None => drop(sh.timer.cv.wait(state)),
            Some(t) => {
                let wait = t.saturating_sub(sh.clock.now().mono);
                if !wait.is_zero() {
                    drop(sh.timer.cv.wait_timeout(state, wait));
                }
            }
        }
    }
}
