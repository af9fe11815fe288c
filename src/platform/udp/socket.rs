//! Opening one UDP socket for `OsBind`: family, IPV6_V6ONLY, 7 MiB buffers, bind, quinn-udp
//! state, and the system's path-MTU behaviour restored.
//!
//! Buffers are raised like wireguard-go does: the `FORCE` variants first (root may exceed the
//! `net.core.{r,w}mem_max` limits), the plain ones as a fallback. quinn-udp switches a socket
//! to "probe" path-MTU mode (DF set, ICMP ignored, never fragment); we put back the system
//! default, so that, like wireguard-go's sockets, outer packets larger than a path's MTU are
//! fragmented by the host instead of silently dropped.

#![allow(unsafe_code)] // get/setsockopt of the path-MTU options, which no dependency wraps

use quinn_udp::UdpSocketState;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

/// Socket buffer size wireguard-go asks for.
const SOCKET_BUFFER: usize = 7 << 20;

/// A bound, configured socket and its quinn-udp state.
pub(super) struct Sock {
    pub(super) socket: Socket,
    pub(super) state: UdpSocketState,
}

fn int_opt(s: &Socket, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `s` is an open socket; `v` and `len` are valid for writes and `len` holds the
    // size of `v`, so the kernel writes at most that many bytes.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(v)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_int_opt(
    s: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `s` is an open socket and `v` is a live c_int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The path-MTU options quinn-udp changes, per family.
fn pmtu_opts(v6: bool) -> &'static [(libc::c_int, libc::c_int)] {
    #[cfg(target_os = "linux")]
    {
        const V4: &[(libc::c_int, libc::c_int)] = &[(libc::IPPROTO_IP, libc::IP_MTU_DISCOVER)];
        const V6: &[(libc::c_int, libc::c_int)] = &[
            (libc::IPPROTO_IP, libc::IP_MTU_DISCOVER),
            (libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER),
            (libc::IPPROTO_IPV6, libc::IPV6_DONTFRAG),
        ];
        if v6 {
            V6
        } else {
            V4
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        const V4: &[(libc::c_int, libc::c_int)] = &[(libc::IPPROTO_IP, libc::IP_DONTFRAG)];
        const V6: &[(libc::c_int, libc::c_int)] = &[(libc::IPPROTO_IPV6, libc::IPV6_DONTFRAG)];
        if v6 {
            V6
        } else {
            V4
        }
    }
}

fn set_buffers(s: &Socket) {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{setsockopt, sockopt};
        if setsockopt(s, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
            let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
        }
        if setsockopt(s, sockopt::SndBufForce, &SOCKET_BUFFER).is_err() {
            let _ = s.set_send_buffer_size(SOCKET_BUFFER);
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        // Best effort, as in wireguard-go: a smaller buffer still works.
        let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    }
}

/// Open and bind a UDP socket of one family on `port` (0: any) of the wildcard address.
pub(super) fn open(v6: bool, port: u16) -> io::Result<Sock> {
    let (domain, addr) = if v6 {
        (
            Domain::IPV6,
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        )
    } else {
        (
            Domain::IPV4,
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        )
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if v6 {
        socket.set_only_v6(true)?;
    }
    set_buffers(&socket);
    socket.bind(&addr.into())?;
    // Remember the system's path-MTU defaults, let quinn-udp set up (nonblocking, pktinfo,
    // GRO, ...), then put the defaults back.
    let defaults: Vec<_> = pmtu_opts(v6)
        .iter()
        .filter_map(|&(l, n)| int_opt(&socket, l, n).ok().map(|v| (l, n, v)))
        .collect();
    let state = UdpSocketState::new((&socket).into())?;
    for (l, n, v) in defaults {
        set_int_opt(&socket, l, n, v)?;
    }
    quiet_receives(&socket, v6);
    Ok(Sock { socket, state })
}

/// Turn off the receive metadata quinn-udp asks for that WireGuard never reads: the outer
/// TOS/ECN byte and a timestamp per datagram (the latter also makes the kernel timestamp
/// every packet it receives, on any socket, while one socket wants it). The local address
/// (IP_PKTINFO), which sticky source addresses need, stays on. Best effort: a kernel that
/// refuses only leaves us where quinn-udp put us.
fn quiet_receives(s: &Socket, v6: bool) {
    #[cfg(target_os = "linux")]
    {
        let _ = set_int_opt(s, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 0);
        let _ = set_int_opt(s, libc::IPPROTO_IP, libc::IP_RECVTOS, 0);
        if v6 {
            let _ = set_int_opt(s, libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS, 0);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (s, v6);
}

/// The address family is not available on this host (say, IPv6 disabled at boot).
pub(super) fn family_missing(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EAFNOSUPPORT)
}

/// The port `s` is bound to.
pub(super) fn local_port(s: &Sock) -> io::Result<u16> {
    s.socket
        .local_addr()?
        .as_socket()
        .map(|a| a.port())
        .ok_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable))
}

#[cfg(all(test, target_os = "linux"))]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn path_mtu_behaviour_is_the_system_default() {
        for v6 in [false, true] {
            let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
            let fresh = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).unwrap();
            let s = open(v6, 0).unwrap();
            assert_ne!(local_port(&s).unwrap(), 0);
            for &(level, name) in pmtu_opts(v6) {
                let want = int_opt(&fresh, level, name).unwrap();
                assert_eq!(
                    int_opt(&s.socket, level, name).unwrap(),
                    want,
                    "{level}/{name}"
                );
            }
            if v6 {
                assert!(s.socket.only_v6().unwrap());
            }
            // No per-datagram timestamp or TOS byte; the local address stays reported.
            assert_eq!(
                int_opt(&s.socket, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS).unwrap(),
                0
            );
            assert_eq!(
                int_opt(&s.socket, libc::IPPROTO_IP, libc::IP_RECVTOS).unwrap(),
                0
            );
            if v6 {
                assert_eq!(
                    int_opt(&s.socket, libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS).unwrap(),
                    0
                );
            }
            let pktinfo = if v6 {
                (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO)
            } else {
                (libc::IPPROTO_IP, libc::IP_PKTINFO)
            };
            assert_ne!(int_opt(&s.socket, pktinfo.0, pktinfo.1).unwrap(), 0);
        }
    }
}
