//! Who moves which direction. One I/O thread serves the TUN and the UDP socket while at most
//! one direction is busy: bulk traffic one way has only ACKs coming back, and handling them in
//! the thread that is awake anyway saves a thread wake-up (often two context switches) per
//! batch, about half of all context switches under a single TCP stream. When both directions
//! carry full batches, the UDP direction moves to a helper thread so that sealing and opening
//! run on two cores; once it has been light for `HAND_BACK`, it moves back.
//!
//! The UDP direction has exactly one owner at a time, so packets of a flow keep their order.
//! The I/O thread sleeps on the TUN, the sockets it owns and a doorbell after every round
//! (`WaitSet`: one epoll set on Linux, kept while the descriptors are the same), and then
//! reads only what the wait reported; the helper rings the doorbell when it hands the sockets
//! back, and so does a rebind (new sockets). Idle, both threads sleep without a timeout.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::inbound::Inbound;
use super::outbound::Outbound;
use super::shared::Shared;
use crate::platform::udp::Bind;
use crate::platform::{Doorbell, WaitSet};

/// A batch this large (packets read, or datagrams received) counts as a busy direction.
const HEAVY: usize = 32;
/// The helper gives the UDP direction back after this long without a busy batch.
const HAND_BACK: Duration = Duration::from_millis(20);
/// How long the helper waits for datagrams before it checks whether to hand back.
const HELPER_WAIT: Duration = Duration::from_millis(10);
/// Descriptors the I/O thread sleeps on at most (TUN and its shutdown pipe, two sockets and
/// their shutdown pipe, the doorbell).
const MAX_FDS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Io,
    Helper,
    Quit,
}

/// The UDP direction's owner.
struct Duty {
    owner: Mutex<Owner>,
    cv: Condvar,
}

impl Duty {
    fn lock(&self) -> MutexGuard<'_, Owner> {
        self.owner.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn get(&self) -> Owner {
        *self.lock()
    }
    fn set(&self, o: Owner) {
        *self.lock() = o;
        self.cv.notify_all();
    }
}

/// Whether the endpoints can be waited on together (kernel ones can; in-memory ones cannot).
pub fn pollable(sh: &Shared) -> bool {
    let mut tun = 0;
    sh.tun.poll_fds(&mut |_| tun += 1);
    let mut udp = 0;
    sh.bind().poll_fds(&mut |_| udp += 1);
    tun > 0 && udp > 0 && sh.doorbell().is_some()
}

/// The two threads' bodies: (I/O thread, helper).
pub fn threads(sh: &Arc<Shared>, inbound: Inbound) -> (impl FnOnce(), impl FnOnce()) {
    let duty = Arc::new(Duty {
        owner: Mutex::new(Owner::Io),
        cv: Condvar::new(),
    });
    let inbound = Arc::new(Mutex::new(inbound));
    let (s, d, i) = (Arc::clone(sh), Arc::clone(&duty), Arc::clone(&inbound));
    let io = move || run_io(&s, &d, &i);
    let (s, d, i) = (Arc::clone(sh), duty, inbound);
    let helper = move || run_helper(&s, &d, &i);
    (io, helper)
}

fn step_inbound(inbound: &Mutex<Inbound>, sh: &Shared, timeout: Option<Duration>) -> usize {
    // Never contended: only the owner of the UDP direction steps it.
    let mut i = inbound.lock().unwrap_or_else(|e| e.into_inner());
    i.step(sh, timeout)
}

/// What a wait found readable.
#[derive(Clone, Copy)]
struct Ready {
    tun: bool,
    /// Bit `i`: the `i`-th descriptor of the bind's `poll_fds`.
    udp: u8,
}

fn run_io(sh: &Shared, duty: &Duty, inbound: &Mutex<Inbound>) {
    let mut out = Outbound::new(sh);
    let Some(bell) = sh.doorbell() else {
        return;
    };
    let now = Some(Duration::ZERO);
    // Everything is tried once at the start; after that, only what the last wait found
    // readable. The wait comes after every round, busy or not: it returns at once when
    // something is ready, one call where asking each source would cost a receive call that
    // finds nothing (three per packet on an idle tunnel, two of them before the packet's
    // own send or TUN write).
    let mut ready = Ready { tun: true, udp: !0 };
    let mut waits = Waits::default();
    loop {
        let sent = if ready.tun {
            match out.step(sh, now) {
                Some(n) => n,
                None => break,
            }
        } else {
            0
        };
        let mine = duty.get() == Owner::Io;
        let received = if mine && ready.udp != 0 {
            let mut i = inbound.lock().unwrap_or_else(|e| e.into_inner());
            i.step_ready(sh, ready.udp)
        } else {
            0
        };
        if mine && sent >= HEAVY && received >= HEAVY {
            duty.set(Owner::Helper);
        }
        if sent == 0 && received == 0 && sh.stop.requested() {
            break;
        }
        ready = if received > 0 && sent == 0 {
            // This round received transport messages, and what opened was written to the
            // TUN. The kernel often answers inside that write: its own stack turns an echo
            // request into its reply, or a segment into its ACK, before the write returns.
            // With the TUN side quiet this round, read it once more before sleeping; the next
            // round, which receives nothing, sleeps as usual. (A round that did read the TUN
            // is part of a stream: its next TUN read waits for the poll, so that it gathers a
            // full batch rather than a few packets. Transport messages that fail to open cost
            // one read that finds the TUN empty, once per receive batch.)
            Ready { tun: true, udp: 0 }
        } else {
            sleep(sh, bell, duty.get() == Owner::Io, &mut waits)
        };
    }
    duty.set(Owner::Quit);
}

/// The I/O thread's wait: its descriptors stay registered (`WaitSet`) while they are the same,
/// and the bind they came from is held so that its descriptor numbers cannot be reused by
/// another socket while registered.
#[derive(Default)]
struct Waits {
    set: WaitSet,
    bind: Option<Arc<dyn Bind>>,
}

/// Sleep until the TUN, the sockets (if ours) or the doorbell need attention; returns which
/// do (the doorbell is drained here, and a doorbell alone returns nothing ready, so that the
/// caller waits again on the descriptors as they are now).
fn sleep(sh: &Shared, bell: &Doorbell, with_udp: bool, waits: &mut Waits) -> Ready {
    let bind = sh.bind();
    // A new bind (listen-port change) is a new generation: its sockets may reuse the numbers
    // of the old ones. Let go of the old bind now, before sleeping, so that its sockets close
    // and free their port (the next change may want it back); the held bind's address names
    // the registered set, and no new bind can share it while it is held.
    if !waits
        .bind
        .as_ref()
        .is_some_and(|held| Arc::ptr_eq(held, &bind))
    {
        waits.bind = Some(Arc::clone(&bind));
    }
    let generation = Arc::as_ptr(&bind).cast::<()>() as usize;
    let mut fds = [bell.fd(); MAX_FDS];
    let mut n = 1;
    let mut add = |n: &mut usize, fd| {
        if let Some(slot) = fds.get_mut(*n) {
            *slot = fd;
            *n += 1;
        }
    };
    sh.tun.poll_fds(&mut |fd| add(&mut n, fd));
    let tun_end = n;
    if with_udp {
        bind.poll_fds(&mut |fd| add(&mut n, fd));
    }
    let mask = match waits.set.wait(&fds[..n], generation) {
        Ok(mask) => mask,
        Err(e) => {
            tracing::debug!("I/O wait: {e}");
            // Try everything rather than sleep on a wait that fails.
            return Ready { tun: true, udp: !0 };
        }
    };
    if mask & 1 != 0 {
        bell.drain();
    }
    // Bit 0 is the doorbell, bits 1 .. tun_end the TUN's, the rest the sockets'.
    let tun_bits = (1u16 << tun_end).wrapping_sub(2);
    Ready {
        tun: u16::from(mask) & tun_bits != 0,
        udp: mask.checked_shr(tun_end as u32).unwrap_or(0),
    }
}

fn run_helper(sh: &Shared, duty: &Duty, inbound: &Mutex<Inbound>) {
    loop {
        {
            let mut owner = duty.lock();
            while *owner == Owner::Io {
                owner = duty.cv.wait(owner).unwrap_or_else(|e| e.into_inner());
            }
            if *owner == Owner::Quit {
                return;
            }
        }
        let mut last_busy = sh.clock.mono();
        loop {
            let received = step_inbound(inbound, sh, Some(HELPER_WAIT));
            let now = sh.clock.mono();
            if received >= HEAVY {
                last_busy = now;
            }
            if sh.stop.requested() || duty.get() == Owner::Quit {
                return;
            }
            if now.saturating_sub(last_busy) >= HAND_BACK {
                duty.set(Owner::Io);
                if let Some(bell) = sh.doorbell() {
                    bell.ring();
                }
                break;
            }
        }
    }
}
