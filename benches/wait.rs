//! Criterion bench of the packet thread's sleep (`platform::WaitSet` against `wait_any`): a
//! ping-pong between two threads over pipes, each sleeping on six descriptors as the I/O
//! thread does (its own pipe, a doorbell, two UDP sockets, two shutdown pipes), so every
//! message costs one sleeping wait on each side. `wait_any` is one `poll(2)`, which registers
//! and removes a wait-queue entry on all six each time; `WaitSet` keeps them in one epoll set.
//! Run both pinned to one CPU (`taskset -c 0 cargo bench --bench wait`) for the one-vCPU case.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // benches: panics report failure

use criterion::{criterion_group, criterion_main, Criterion};
use std::net::UdpSocket;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::mpsc;
use wgrs::platform::{wait_any, Doorbell, WaitSet};

/// One side's descriptors: a pipe to read messages from and five that stay quiet.
struct Side {
    rx: OwnedFd,
    quiet: (Doorbell, UdpSocket, UdpSocket, Doorbell, Doorbell),
}

impl Side {
    fn new(rx: OwnedFd) -> Self {
        let udp = || UdpSocket::bind("127.0.0.1:0").unwrap();
        let quiet = (
            Doorbell::new().unwrap(),
            udp(),
            udp(),
            Doorbell::new().unwrap(),
            Doorbell::new().unwrap(),
        );
        Self { rx, quiet }
    }

    fn fds(&self) -> [BorrowedFd<'_>; 6] {
        let q = &self.quiet;
        [
            q.0.fd(),
            self.rx.as_fd(),
            q.3.fd(),
            q.1.as_fd(),
            q.2.as_fd(),
            q.4.fd(),
        ]
    }
}

fn wait(side: &Side, set: Option<&mut WaitSet>) {
    let fds = side.fds();
    let mask = match set {
        Some(set) => set.wait(&fds, 0).unwrap(),
        None => wait_any(&fds).unwrap(),
    };
    assert_eq!(mask, 0b10, "only the message pipe is readable");
    let mut b = [0u8; 1];
    assert_eq!(nix::unistd::read(&side.rx, &mut b).unwrap(), 1);
}

fn ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("wait");
    for epoll in [false, true] {
        let (a_rx, b_tx) = nix::unistd::pipe().unwrap();
        let (b_rx, a_tx) = nix::unistd::pipe().unwrap();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let echo = std::thread::spawn(move || {
            let side = Side::new(b_rx);
            let mut set = epoll.then(WaitSet::new);
            loop {
                wait(&side, set.as_mut());
                if stop_rx.try_recv().is_ok() {
                    return;
                }
                nix::unistd::write(&b_tx, b"p").unwrap();
            }
        });
        let side = Side::new(a_rx);
        let mut set = epoll.then(WaitSet::new);
        let name = if epoll { "epoll set" } else { "poll of six" };
        g.bench_function(format!("round trip, {name}"), |b| {
            b.iter(|| {
                nix::unistd::write(&a_tx, b"p").unwrap();
                wait(&side, set.as_mut());
            })
        });
        stop_tx.send(()).unwrap();
        nix::unistd::write(&a_tx, b"p").unwrap();
        echo.join().unwrap();
    }
    g.finish();
}

criterion_group!(benches, ping_pong);
criterion_main!(benches);
