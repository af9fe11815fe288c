//! The C library's resolver, as `wg` calls it: `getaddrinfo` for ports and endpoints (so
//! service names, `/etc/hosts`, `gai.conf` ordering and the error texts are the system's own)
//! and `inet_pton` for allowed IPs.
#![allow(unsafe_code)] // FFI to getaddrinfo, freeaddrinfo, gai_strerror, inet_pton

use std::ffi::{CStr, CString};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// A failed `getaddrinfo`: its code and the text `wg` prints for it (`gai_strerror`, or
/// `strerror(errno)` for `EAI_SYSTEM`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaiError {
    /// The `EAI_*` code.
    pub code: i32,
    /// The message.
    pub message: String,
}

impl GaiError {
    /// `EAI_NONAME`, `EAI_FAIL` or `EAI_NODATA`: retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        #[cfg(target_os = "linux")]
        const NODATA: Option<i32> = Some(-5); // glibc's EAI_NODATA (a GNU extension)
        #[cfg(not(target_os = "linux"))]
        const NODATA: Option<i32> = None;
        self.code == libc::EAI_NONAME || self.code == libc::EAI_FAIL || Some(self.code) == NODATA
    }
}

/// `getaddrinfo(host, service)` for UDP (`AF_UNSPEC`, `SOCK_DGRAM`, `IPPROTO_UDP`; with
/// `AI_PASSIVE` when `host` is `None`). `Ok(None)`: the first answer is neither IPv4 nor IPv6.
pub fn getaddrinfo_udp(host: Option<&str>, service: &str) -> Result<Option<SocketAddr>, GaiError> {
    let not_c = || GaiError {
        code: libc::EAI_NONAME,
        message: "Name or service not known".to_owned(),
    };
    let host = host.map(CString::new).transpose().map_err(|_| not_c())?;
    let service = CString::new(service).map_err(|_| not_c())?;
    // SAFETY: an all-zero addrinfo is a valid "no hints" value; the fields below are set.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_DGRAM;
    hints.ai_protocol = libc::IPPROTO_UDP;
    if host.is_none() {
        hints.ai_flags = libc::AI_PASSIVE;
    }
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    let host_ptr = host.as_ref().map_or(std::ptr::null(), |h| h.as_ptr());
    // SAFETY: the strings are NUL-terminated and live across the call; `res` receives a list
    // that is freed below exactly once.
    let rc = unsafe { libc::getaddrinfo(host_ptr, service.as_ptr(), &hints, &mut res) };
    if rc != 0 {
        return Err(gai_error(rc));
    }
    // SAFETY: on success `res` points to at least one valid entry.
    let first = unsafe { &*res };
    let addr = sockaddr(first);
    // SAFETY: `res` came from getaddrinfo and is not used after this.
    unsafe { libc::freeaddrinfo(res) };
    Ok(addr)
}

/// The entry's address when it is IPv4 or IPv6 of the right length (as `wg` checks).
fn sockaddr(ai: &libc::addrinfo) -> Option<SocketAddr> {
    let len = usize::try_from(ai.ai_addrlen).ok()?;
    if ai.ai_family == libc::AF_INET && len == std::mem::size_of::<libc::sockaddr_in>() {
        // SAFETY: family and length say this is a sockaddr_in.
        let sin = unsafe { &*ai.ai_addr.cast::<libc::sockaddr_in>() };
        let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
        return Some(SocketAddr::V4(SocketAddrV4::new(
            ip,
            u16::from_be(sin.sin_port),
        )));
    }
    if ai.ai_family == libc::AF_INET6 && len == std::mem::size_of::<libc::sockaddr_in6>() {
        // SAFETY: family and length say this is a sockaddr_in6.
        let sin6 = unsafe { &*ai.ai_addr.cast::<libc::sockaddr_in6>() };
        let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
        let port = u16::from_be(sin6.sin6_port);
        let v6 = SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id);
        return Some(SocketAddr::V6(v6));
    }
    None
}

fn gai_error(code: i32) -> GaiError {
    let message = if code == libc::EAI_SYSTEM {
        let text = io::Error::last_os_error().to_string();
        text.split(" (os error")
            .next()
            .unwrap_or_default()
            .to_owned()
    } else {
        // SAFETY: gai_strerror returns a static NUL-terminated string for any code.
        unsafe { CStr::from_ptr(libc::gai_strerror(code)) }
            .to_string_lossy()
            .into_owned()
    };
    GaiError { code, message }
}

extern "C" {
    /// POSIX `inet_pton` (not in the `libc` crate).
    #[link_name = "inet_pton"]
    fn c_inet_pton(
        af: libc::c_int,
        src: *const libc::c_char,
        dst: *mut libc::c_void,
    ) -> libc::c_int;
}

/// `inet_pton(AF_INET6)` when `text` holds a `:`, else `inet_pton(AF_INET)`, as `wg` parses
/// an allowed IP's address.
pub fn inet_pton(text: &str) -> Option<IpAddr> {
    let c = CString::new(text).ok()?;
    if text.contains(':') {
        let mut buf = [0u8; 16];
        // SAFETY: `buf` has room for an in6_addr; `c` is NUL-terminated.
        let rc = unsafe { c_inet_pton(libc::AF_INET6, c.as_ptr(), buf.as_mut_ptr().cast()) };
        (rc == 1).then(|| IpAddr::V6(Ipv6Addr::from(buf)))
    } else {
        let mut buf = [0u8; 4];
        // SAFETY: `buf` has room for an in_addr; `c` is NUL-terminated.
        let rc = unsafe { c_inet_pton(libc::AF_INET, c.as_ptr(), buf.as_mut_ptr().cast()) };
        (rc == 1).then(|| IpAddr::V4(Ipv4Addr::from(buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ports_and_addresses() {
        let any = getaddrinfo_udp(None, "51820").expect("port").expect("inet");
        assert_eq!(any.port(), 51820);
        let ep = getaddrinfo_udp(Some("::1"), "7")
            .expect("v6")
            .expect("inet");
        assert_eq!(ep, "[::1]:7".parse().expect("addr"));
        let err = getaddrinfo_udp(None, "no-such-service-x").expect_err("no such service");
        // glibc: EAI_SERVICE, which wg treats as worth retrying (only NONAME/FAIL/NODATA end it).
        assert_eq!(err.message, "Servname not supported for ai_socktype");
        assert!(!err.is_permanent());
        assert_eq!(inet_pton("10.0.0.1"), Some("10.0.0.1".parse().expect("ip")));
        assert_eq!(inet_pton("fd00::1"), Some("fd00::1".parse().expect("ip")));
        assert_eq!(inet_pton("010.0.0.1"), None);
        assert_eq!(inet_pton("1.2.3"), None);
        assert_eq!(inet_pton("a\0b"), None);
    }
}
