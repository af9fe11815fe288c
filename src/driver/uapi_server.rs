//! The UAPI socket server: moves bytes between connections and the pure `uapi` ring.
//! Operations per connection as in wireguard-go `IpcHandle`: `get=1`, `set=1`, repeated until
//! the peer closes; an unknown operation closes the connection.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;

use super::shared::Shared;
use crate::uapi::{self, UapiError};

/// Largest `set` body accepted (bytes); beyond it the request fails with EIO.
const MAX_SET_BODY: usize = 64 << 20;

/// Accept connections until the daemon stops; each is served on its own thread.
pub fn serve(sh: Arc<Shared>, listener: UnixListener) {
    for conn in listener.incoming() {
        if sh.stop.requested() {
            return;
        }
        match conn {
            Ok(stream) => {
                let sh = Arc::clone(&sh);
                let spawned = std::thread::Builder::new()
                    .name("wgrs-uapi-conn".into())
                    .spawn(move || {
                        if let Err(e) = handle(&sh, stream) {
                            tracing::debug!("UAPI connection: {e}");
                        }
                    });
                if let Err(e) = spawned {
                    tracing::error!("UAPI: cannot start a connection thread: {e}");
                }
            }
            Err(e) => tracing::debug!("UAPI accept: {e}"),
        }
    }
}

/// Read one line (without its `\n`), at most `max` bytes. `Ok(None)` at EOF.
fn read_line(r: &mut impl BufRead, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = Read::take(&mut *r, max as u64 + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    }
    Ok(Some(line))
}

fn handle(sh: &Arc<Shared>, stream: UnixStream) -> io::Result<()> {
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    while let Some(op) = read_line(&mut r, uapi::MAX_LINE_LEN)? {
        let reply = match op.as_slice() {
            b"get=1" => match read_line(&mut r, uapi::MAX_LINE_LEN)? {
                Some(l) if l.is_empty() => get(sh),
                _ => uapi::format_errno(uapi::ERRNO_INVALID).into(),
            },
            b"set=1" => match read_set_body(&mut r) {
                Ok(body) => set(sh, &body),
                Err(e) => {
                    tracing::error!("UAPI set: {e}");
                    w.write_all(uapi::format_errno(uapi::ERRNO_IO).as_bytes())?;
                    // Like wireguard-go, consume the rest of the offending line before closing,
                    // so the client is not cut off mid-write.
                    skip_line(&mut r, MAX_SET_BODY);
                    return Ok(());
                }
            },
            other => {
                tracing::error!(
                    "invalid UAPI operation: {:?}",
                    String::from_utf8_lossy(other)
                );
                return Ok(());
            }
        };
        w.write_all(reply.as_bytes())?;
    }
    Ok(())
}

/// Discard input up to and including the next `\n`, at most `max` bytes, without buffering it.
fn skip_line(r: &mut impl BufRead, max: usize) {
    let mut left = max;
    while left > 0 {
        let Ok(buf) = r.fill_buf() else { return };
        if buf.is_empty() {
            return;
        }
        let (n, done) = match buf.iter().position(|&c| c == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let n = n.min(left);
        r.consume(n);
        left -= n;
        if done {
            return;
        }
    }
}

/// The lines of a `set` up to the blank line (or EOF), each checked against the line limit.
fn read_set_body(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(line) = read_line(r, uapi::MAX_LINE_LEN)? {
        if line.is_empty() {
            break;
        }
        if body.len() + line.len() > MAX_SET_BODY {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "set request too large",
            ));
        }
        body.extend_from_slice(&line);
        body.push(b'\n');
    }
    Ok(body)
}

fn get(sh: &Shared) -> zeroize::Zeroizing<String> {
    let port = sh.bind().local_port();
    let fwmark = sh.fwmark.load(std::sync::atomic::Ordering::Relaxed);
    let answer = sh
        .control()
        .call(move |dev| uapi::format_get(&uapi::device_view(dev, port, fwmark)));
    answer.unwrap_or_else(|| uapi::format_errno(uapi::ERRNO_IO).into())
}

fn set(sh: &Arc<Shared>, body: &[u8]) -> zeroize::Zeroizing<String> {
    let answer = match apply(sh, body) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("UAPI set: {}", e.message);
            e.errno
        }
    };
    uapi::format_errno(answer).into()
}

/// Parse, prepare the sockets (the only step that can still fail), then apply to the device.
fn apply(sh: &Arc<Shared>, body: &[u8]) -> Result<(), UapiError> {
    let req = uapi::parse_set_bytes(body)?;
    let current = sh.bind();
    let new_bind = match req.listen_port {
        Some(p) if p != current.local_port() || p == 0 => Some(sh.make_bind(p).map_err(|e| {
            let errno = if e.kind() == io::ErrorKind::AddrInUse {
                uapi::ERRNO_PORT_IN_USE
            } else {
                uapi::ERRNO_IO
            };
            UapiError {
                errno,
                message: format!("failed to bind port {p}: {e}"),
            }
        })?),
        _ => None,
    };
    let old_mark = sh.fwmark.load(std::sync::atomic::Ordering::Relaxed);
    let mark = req.fwmark.unwrap_or(old_mark);
    let target = new_bind.as_ref().unwrap_or(&current);
    if req.fwmark.is_some() || new_bind.is_some() {
        target.set_fwmark(mark).map_err(|e| UapiError {
            errno: uapi::ERRNO_IO,
            message: format!("failed to set fwmark: {e}"),
        })?;
    }
    if req.listen_port.is_some() {
        tracing::debug!("UAPI: Updating listen port");
    }
    if req.fwmark.is_some() {
        tracing::debug!("UAPI: Updating fwmark");
    }
    let s = Arc::clone(sh);
    let applied = sh.control().call(move |dev| {
        if let Err(e) = uapi::apply_set(dev, req, s.clock.now()) {
            if new_bind.is_none() && mark != old_mark {
                let _ = current.set_fwmark(old_mark); // undo: a refused set changes nothing
            }
            return Err(e);
        }
        s.fwmark.store(mark, std::sync::atomic::Ordering::Relaxed);
        Ok(new_bind.map(|b| s.replace_bind(b)))
    });
    let old =
        applied.unwrap_or_else(|| Err(UapiError::new(uapi::ERRNO_IO, "the daemon is stopping")))?;
    // Outside the control thread: the wait for the packet threads must not hold up handshakes.
    if let Some(old) = old {
        super::shared::release_bind(old);
    }
    Ok(())
}
