//! Waiting for file descriptors with a deadline, interruptible by a permanent shutdown signal.
//!
//! A `Shutdown` is a self-pipe plus a flag. Once triggered it stays readable forever, so every
//! current and future wait returns at once (level-triggered): a driver thread can never miss it.

#![allow(clippy::disallowed_methods)] // platform ring: deadlines need the monotonic clock

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A one-way, permanent "stop waiting" signal that can also be polled as a file descriptor.
#[derive(Debug)]
pub(crate) struct Shutdown {
    rx: OwnedFd,
    tx: OwnedFd,
    flag: AtomicBool,
}

fn nonblocking_cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use nix::fcntl::OFlag;
        Ok(nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
        let (rx, tx) = nix::unistd::pipe()?;
        for fd in [&rx, &tx] {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
            fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        }
        Ok((rx, tx))
    }
}

impl Shutdown {
    pub(crate) fn new() -> io::Result<Self> {
        let (rx, tx) = nonblocking_cloexec_pipe()?;
        Ok(Self {
            rx,
            tx,
            flag: AtomicBool::new(false),
        })
    }

    /// Trigger the signal (idempotent). Wakes every waiter, now and later.
    pub(crate) fn trigger(&self) {
        if !self.flag.swap(true, Ordering::SeqCst) {
            // The pipe is empty and never drained, so one byte always fits; an error here
            // could only mean the pipe is already readable, which is what we want anyway.
            let _ = nix::unistd::write(&self.tx, &[1u8]);
        }
    }

    pub(crate) fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// The descriptor that turns readable once the signal is triggered.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.rx.as_fd()
    }

    /// The error returned by I/O calls on a shut-down Tun or Bind.
    pub(crate) fn error() -> io::Error {
        io::Error::new(io::ErrorKind::ConnectionAborted, "shut down")
    }
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Bit `i` set: `fds[i]` is ready (including error or hang-up, which a read will report).
    Ready(u8),
    TimedOut,
    Shutdown,
}

/// Milliseconds until `deadline`, rounded up so that we never wake early and spin.
fn poll_timeout(deadline: Option<Instant>) -> PollTimeout {
    let Some(deadline) = deadline else {
        return PollTimeout::NONE;
    };
    let rem = deadline.saturating_duration_since(Instant::now());
    let ms = rem.as_nanos().div_ceil(1_000_000);
    PollTimeout::try_from(i32::try_from(ms).unwrap_or(i32::MAX)).unwrap_or(PollTimeout::MAX)
}

/// The deadline `timeout` from now (`None`: wait forever; far futures saturate to forever).
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// Wait until one of `fds` (at most 7) is ready for its events, the deadline passes, or
/// `shutdown` is triggered. Retries on EINTR.
pub(crate) fn wait(
    fds: &[(BorrowedFd<'_>, PollFlags)],
    shutdown: &Shutdown,
    deadline: Option<Instant>,
) -> io::Result<Wait> {
    if fds.len() > 7 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many fds"));
    }
    loop {
        if shutdown.is_triggered() {
            return Ok(Wait::Shutdown);
        }
        // On the stack: a data-path thread waits here thousands of times a second.
        let mut all: [PollFd<'_>; 8] = std::array::from_fn(|i| match fds.get(i) {
            Some((fd, ev)) => PollFd::new(*fd, *ev),
            None => PollFd::new(shutdown.rx.as_fd(), PollFlags::POLLIN),
        });
        let pfds = &mut all[..fds.len() + 1];
        match poll(pfds, poll_timeout(deadline)) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(0) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(Wait::TimedOut);
                }
            }
            Ok(_) => {
                let mut mask = 0u8;
                for (i, p) in pfds.iter().take(fds.len()).enumerate() {
                    if p.revents().is_some_and(|r| !r.is_empty()) {
                        mask |= 1 << i;
                    }
                }
                if shutdown.is_triggered() {
                    return Ok(Wait::Shutdown);
                }
                if mask != 0 {
                    return Ok(Wait::Ready(mask));
                }
            }
        }
    }
}

/// A resettable wake-up: `ring` makes `fd` readable until `drain`. For a thread that sleeps
/// in [`wait_any`] on several endpoints and must re-check its duties when told.
#[derive(Debug)]
pub struct Doorbell {
    rx: OwnedFd,
    tx: OwnedFd,
}

impl Doorbell {
    /// A fresh, silent doorbell.
    pub fn new() -> io::Result<Self> {
        let (rx, tx) = nonblocking_cloexec_pipe()?;
        Ok(Self { rx, tx })
    }

    /// Wake the sleeper (or make its next sleep return at once).
    pub fn ring(&self) {
        // A full pipe already wakes the sleeper: nothing is lost when the write fails.
        let _ = nix::unistd::write(&self.tx, &[1u8]);
    }

    /// Silence it again (after waking).
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!(nix::unistd::read(&self.rx, &mut buf), Ok(n) if n > 0) {}
    }

    /// The descriptor to wait on.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.rx.as_fd()
    }
}

/// Block until one of `fds` (at most 8) is readable (or reports an error or hang-up); returns
/// which are, bit `i` for `fds[i]`. Retries on EINTR.
pub fn wait_any(fds: &[BorrowedFd<'_>]) -> io::Result<u8> {
    const MAX: usize = 8;
    let Some(&first) = fds.first() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "nothing to wait on",
        ));
    };
    if fds.len() > MAX {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many fds"));
    }
    let mut all: [PollFd<'_>; MAX] =
        std::array::from_fn(|i| PollFd::new(*fds.get(i).unwrap_or(&first), PollFlags::POLLIN));
    loop {
        match poll(&mut all[..fds.len()], PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {
                let ready = all[..fds.len()]
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.revents().is_some_and(|r| !r.is_empty()));
                return Ok(ready.fold(0, |mask, (i, _)| mask | 1 << i));
            }
        }
    }
}

/// [`wait_any`] for a thread that sleeps on the same few descriptors over and over: on Linux
/// they stay registered in one epoll instance while the set is unchanged, so a wait is one
/// `epoll_wait`. A `poll(2)` of the packet thread's six descriptors registers and removes a
/// wait-queue entry on each of them, and looks at all six again after waking, every round:
/// kernel work on six cold objects in the path of an idle tunnel's packet. Elsewhere this is
/// `wait_any`.
#[derive(Debug, Default)]
pub struct WaitSet {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    registered: Option<Registered>,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug)]
struct Registered {
    /// `None`: the kernel refused to register this set (say, one file twice); it is polled.
    epoll: Option<nix::sys::epoll::Epoll>,
    fds: [std::os::fd::RawFd; 8],
    n: usize,
    generation: usize,
}

impl WaitSet {
    /// An empty set; the first wait registers its descriptors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Block until one of `fds` (at most 8) is readable (or reports an error or hang-up);
    /// returns which are, bit `i` for `fds[i]`, as [`wait_any`] does. `generation` must
    /// change whenever a descriptor number of the set may have been closed and reused since
    /// the last call (the caller keeps the owner of the previous set alive until then); a
    /// different set of numbers, or a new generation, is registered afresh.
    pub fn wait(&mut self, fds: &[BorrowedFd<'_>], generation: usize) -> io::Result<u8> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return self.wait_epoll(fds, generation);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = generation;
            wait_any(fds)
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn wait_epoll(&mut self, fds: &[BorrowedFd<'_>], generation: usize) -> io::Result<u8> {
        use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
        use std::os::fd::AsRawFd;
        const MAX: usize = 8;
        if fds.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "nothing to wait on",
            ));
        }
        if fds.len() > MAX {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many fds"));
        }
        let same = self.registered.as_ref().is_some_and(|r| {
            r.generation == generation
                && r.n == fds.len()
                && r.fds.iter().zip(fds).all(|(&a, b)| a == b.as_raw_fd())
        });
        if !same {
            self.registered = None;
            let mut raw = [-1; MAX];
            for (slot, fd) in raw.iter_mut().zip(fds) {
                *slot = fd.as_raw_fd();
            }
            let register = || -> nix::Result<Epoll> {
                let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
                for (i, fd) in fds.iter().enumerate() {
                    // The data is the descriptor's position: its bit in the answer.
                    epoll.add(fd, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))?;
                }
                Ok(epoll)
            };
            let epoll = match register() {
                Ok(e) => Some(e),
                Err(e) => {
                    tracing::debug!("epoll set refused ({e}); polling instead");
                    None
                }
            };
            self.registered = Some(Registered {
                epoll,
                fds: raw,
                n: fds.len(),
                generation,
            });
        }
        let Some(epoll) = self.registered.as_ref().and_then(|r| r.epoll.as_ref()) else {
            return wait_any(fds);
        };
        let mut events = [EpollEvent::empty(); MAX];
        loop {
            match epoll.wait(&mut events, EpollTimeout::NONE) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(n) => {
                    let mask = events
                        .iter()
                        .take(n)
                        .filter(|e| e.data() < MAX as u64)
                        .fold(0u8, |mask, e| mask | 1 << e.data());
                    if mask != 0 {
                        return Ok(mask);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn timeout_then_shutdown() {
        let s = Shutdown::new().unwrap();
        let (rx, tx) = nonblocking_cloexec_pipe().unwrap();
        let fds = [(rx.as_fd(), PollFlags::POLLIN)];
        let t0 = Instant::now();
        let d = deadline(Some(Duration::from_millis(20)));
        assert_eq!(wait(&fds, &s, d).unwrap(), Wait::TimedOut);
        assert!(t0.elapsed() >= Duration::from_millis(20));
        nix::unistd::write(&tx, b"x").unwrap();
        assert_eq!(wait(&fds, &s, None).unwrap(), Wait::Ready(1));
        s.trigger();
        s.trigger();
        assert_eq!(wait(&fds, &s, None).unwrap(), Wait::Shutdown);
        assert_eq!(wait(&[], &s, None).unwrap(), Wait::Shutdown);
    }

    #[test]
    fn shutdown_wakes_a_blocked_waiter() {
        let s = std::sync::Arc::new(Shutdown::new().unwrap());
        let s2 = s.clone();
        let h = std::thread::spawn(move || wait(&[], &s2, None).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        s.trigger();
        assert_eq!(h.join().unwrap(), Wait::Shutdown);
    }

    /// `WaitSet` answers like `wait_any` (bit `i` for `fds[i]`, level-triggered), follows a
    /// changed set, and, given a new generation, registers a descriptor number that was closed
    /// and reused by a new pipe (an epoll set would otherwise hold only the closed file).
    #[test]
    fn wait_set_follows_its_descriptors() {
        let mut set = WaitSet::new();
        let (a_rx, a_tx) = nonblocking_cloexec_pipe().unwrap();
        let (b_rx, b_tx) = nonblocking_cloexec_pipe().unwrap();
        nix::unistd::write(&b_tx, b"x").unwrap();
        let both = [a_rx.as_fd(), b_rx.as_fd()];
        assert_eq!(set.wait(&both, 1).unwrap(), 0b10);
        assert_eq!(
            set.wait(&both, 1).unwrap(),
            0b10,
            "still readable: reported again"
        );
        nix::unistd::write(&a_tx, b"x").unwrap();
        assert_eq!(set.wait(&both, 1).unwrap(), 0b11);
        assert_eq!(wait_any(&both).unwrap(), 0b11);
        // Another order is another set.
        assert_eq!(set.wait(&[b_rx.as_fd(), a_rx.as_fd()], 1).unwrap(), 0b11);
        let mut buf = [0u8; 8];
        nix::unistd::read(&b_rx, &mut buf).unwrap();
        assert_eq!(set.wait(&[b_rx.as_fd(), a_rx.as_fd()], 1).unwrap(), 0b10);
        // Close `a` and open a pipe that is likely to get its number: a new generation finds
        // what the new pipe holds.
        let a_num = std::os::fd::AsRawFd::as_raw_fd(&a_rx);
        drop((a_rx, a_tx));
        let (c_rx, c_tx) = nonblocking_cloexec_pipe().unwrap();
        let reused = std::os::fd::AsRawFd::as_raw_fd(&c_rx) == a_num;
        nix::unistd::write(&c_tx, b"x").unwrap();
        assert_eq!(set.wait(&[b_rx.as_fd(), c_rx.as_fd()], 2).unwrap(), 0b10);
        // A blocked wait wakes for a write from another thread.
        nix::unistd::read(&c_rx, &mut buf).unwrap();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            nix::unistd::write(&b_tx, b"x").unwrap();
            b_tx
        });
        assert_eq!(set.wait(&[b_rx.as_fd(), c_rx.as_fd()], 2).unwrap(), 0b01);
        drop(h.join().unwrap());
        println!("descriptor number reused: {reused}");
    }
}
