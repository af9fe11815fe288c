//! A bounded, closable in-memory queue with blocking batch pops: the wire of MemTun and MemBind.
//!
//! Like a real device queue it drops what does not fit instead of growing without bound.

#![allow(clippy::disallowed_methods)] // platform ring: timed waits need the monotonic clock

use std::collections::VecDeque;
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

struct State<T> {
    items: VecDeque<T>,
    /// `Some`: closed; pushes are dropped and pops fail with this error.
    closed: Option<(io::ErrorKind, &'static str)>,
}

pub(crate) struct MemQueue<T> {
    state: Mutex<State<T>>,
    cv: Condvar,
    cap: usize,
}

impl<T> MemQueue<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: None,
            }),
            cv: Condvar::new(),
            cap,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the deque inconsistent; carry on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enqueue; `Ok(false)` when full (the item is dropped), the close error when closed.
    pub(crate) fn push(&self, item: T) -> io::Result<bool> {
        let mut s = self.lock();
        if let Some((kind, msg)) = s.closed {
            return Err(io::Error::new(kind, msg));
        }
        if s.items.len() >= self.cap {
            return Ok(false);
        }
        s.items.push_back(item);
        drop(s);
        self.cv.notify_one();
        Ok(true)
    }

    /// Items queued now.
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Close: current and future pops fail with `kind` (queued items are discarded).
    pub(crate) fn close(&self, kind: io::ErrorKind, msg: &'static str) {
        let mut s = self.lock();
        if s.closed.is_none() {
            s.closed = Some((kind, msg));
            s.items.clear();
        }
        drop(s);
        self.cv.notify_all();
    }

    /// Wait until at least one item is queued (or the deadline passes: returns 0), then hand up
    /// to `max` items to `f`. Fails once the queue is closed.
    pub(crate) fn pop_batch(
        &self,
        max: usize,
        deadline: Option<Instant>,
        mut f: impl FnMut(T),
    ) -> io::Result<usize> {
        let mut s = self.lock();
        loop {
            if let Some((kind, msg)) = s.closed {
                return Err(io::Error::new(kind, msg));
            }
            if !s.items.is_empty() || max == 0 {
                break;
            }
            match deadline {
                None => s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(0);
                    }
                    s = self
                        .cv
                        .wait_timeout(s, d - now)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
            }
        }
        let n = max.min(s.items.len());
        for item in s.items.drain(..n) {
            f(item);
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bounded_batches_and_close() {
        let q = MemQueue::new(3);
        for i in 1..=3 {
            assert!(q.push(i).unwrap());
        }
        assert!(!q.push(4).unwrap(), "full queue drops");
        let mut got = vec![];
        assert_eq!(q.pop_batch(2, None, |x| got.push(x)).unwrap(), 2);
        assert_eq!(q.pop_batch(9, None, |x| got.push(x)).unwrap(), 1);
        assert_eq!(got, [1, 2, 3]);
        let d = Some(Instant::now() + Duration::from_millis(5));
        assert_eq!(q.pop_batch(9, d, |_| ()).unwrap(), 0);
        q.close(io::ErrorKind::BrokenPipe, "gone");
        assert_eq!(q.push(5).unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        let e = q.pop_batch(9, None, |_| ()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
