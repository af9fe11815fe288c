//! The UAPI client: the sockets in [`SOCKET_DIR`], and `get` / `set` over one connection per
//! request, with wireguard-tools' rules (`ipc.c`, `ipc-uapi-unix.h`, `ipc-uapi.h`): which names
//! count as interfaces, a refused connection removes a stale socket, and how an answer's
//! `errno=N` line decides the outcome. Errors are positive errno values, as `wg` reports them.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::{Zeroize, Zeroizing};

use crate::reply::{Device, Parser};
use crate::{SetRequest, SOCKET_DIR};

/// How long to wait on a daemon that does not answer (wg would wait forever).
const TIMEOUT: Duration = Duration::from_secs(10);

/// `SOCKET_DIR/NAME.sock`.
pub fn socket_path(name: &OsStr) -> PathBuf {
    let mut file = name.to_os_string();
    file.push(".sock");
    Path::new(SOCKET_DIR).join(file)
}

/// `ipc_list_devices` without the kernel part: in directory order, every `NAME.sock` that
/// [`has_interface`]. A missing directory is an empty list.
pub fn list_interfaces() -> Result<Vec<OsString>, i32> {
    let dir = match fs::read_dir(SOCKET_DIR) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(errno_of(&e)),
    };
    let mut names = Vec::new();
    // Like readdir(3) in wg, a read error ends the listing.
    for entry in dir.map_while(Result::ok) {
        let file = entry.file_name();
        match file.as_bytes().strip_suffix(b".sock") {
            Some(stem) if !stem.is_empty() && has_interface(OsStr::from_bytes(stem)) => {
                names.push(OsStr::from_bytes(stem).to_os_string());
            }
            _ => {}
        }
    }
    Ok(names)
}

/// `userspace_has_wireguard_interface`: the name has no `/`, its path is a socket, and a
/// connection is not refused. A refused one means the daemon is gone: like wg, remove the
/// stale socket.
pub fn has_interface(name: &OsStr) -> bool {
    if name.as_bytes().contains(&b'/') {
        return false;
    }
    let path = socket_path(name);
    if !fs::metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
        return false;
    }
    match UnixStream::connect(&path) {
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
            let _ = fs::remove_file(&path);
            false
        }
        _ => true,
    }
}

/// What `wg` reports for a name without a socket, having asked the kernel next: `ENODEV` when
/// the kernel has WireGuard (it has no such interface), else `EPROTONOSUPPORT` (no generic
/// netlink family "wireguard"). Kernel interfaces themselves are not read by this client.
pub fn no_interface_errno() -> i32 {
    if Path::new("/sys/module/wireguard").exists() {
        libc::ENODEV
    } else {
        libc::EPROTONOSUPPORT
    }
}

/// `userspace_interface_file`: a connection to `name`'s socket (see [`no_interface_errno`]
/// for a name without one).
fn connect(name: &OsStr) -> Result<UnixStream, i32> {
    if !has_interface(name) {
        return Err(no_interface_errno());
    }
    let path = socket_path(name);
    let meta = fs::metadata(&path).map_err(|e| errno_of(&e))?;
    if !meta.file_type().is_socket() {
        return Err(libc::EBADF);
    }
    let stream = UnixStream::connect(&path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ECONNREFUSED) {
            let _ = fs::remove_file(&path);
        }
        errno_of(&e)
    })?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| errno_of(&e))?;
    Ok(stream)
}

/// `ipc_get_device`: the device behind `name`'s socket, or an errno.
pub fn get(name: &OsStr) -> Result<Device, i32> {
    let stream = connect(name)?;
    // As with fprintf in wg, a failed request shows up as a missing answer.
    let _ = (&stream).write_all(b"get=1\n\n");
    let mut parser = Parser::new(&name.to_string_lossy());
    read_lines(&stream, |line| parser.line(line))?.unwrap_or_else(|| parser.eof())
}

/// `ipc_set_device` (`userspace_set_device`): sends `req` and returns the daemon's verdict:
/// `Ok` for `errno=0`, else the positive errno (`EPROTO` for an answer that is not one).
pub fn set(name: &OsStr, req: &SetRequest) -> Result<(), i32> {
    set_text(name, &req.to_uapi())
}

/// [`set`] with a request already in UAPI text (`set=1\n...\n\n`).
pub fn set_text(name: &OsStr, request: &str) -> Result<(), i32> {
    let stream = connect(name)?;
    let _ = (&stream).write_all(request.as_bytes());
    let mut errno: i64 = -i64::from(libc::EPROTO);
    let verdict = read_lines(&stream, |line| set_answer_line(line, &mut errno))?;
    match verdict.unwrap_or(Err(libc::EPROTO)) {
        Err(e) => Err(e),
        Ok(()) if errno == 0 => Ok(()),
        Ok(()) => Err(i32::try_from(errno.unsigned_abs()).unwrap_or(libc::EPROTO)),
    }
}

/// One line of a `set` answer: the blank line ends it (`Some(Ok)`), a malformed line fails
/// it (`Some(Err(EPROTO))`), an `errno=N` line (N an `int`) records N.
fn set_answer_line(line: &[u8], errno: &mut i64) -> Option<Result<(), i32>> {
    if line == b"\n" {
        return Some(Ok(()));
    }
    let body = line.strip_suffix(b"\n")?;
    let Some(eq) = body.iter().position(|&b| b == b'=') else {
        return Some(Err(libc::EPROTO));
    };
    let (key, value) = (&body[..eq], &body[eq + 1..]);
    if key == b"errno" {
        let n = std::str::from_utf8(value)
            .ok()
            .filter(|v| v.starts_with(|c: char| c == '-' || c.is_ascii_digit()))
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|n| i32::try_from(*n).is_ok());
        match n {
            Some(n) => *errno = n,
            None => return Some(Err(libc::EPROTO)),
        }
    }
    None
}

/// One request in UAPI text, the whole answer back (up to and including its blank line), for
/// callers that read answers themselves. Wiped on drop: answers hold keys.
pub fn exchange(name: &OsStr, request: &str) -> Result<Zeroizing<String>, i32> {
    let stream = connect(name)?;
    (&stream)
        .write_all(request.as_bytes())
        .map_err(|e| errno_of(&e))?;
    let mut answer = Zeroizing::new(Vec::with_capacity(8192));
    let done = read_lines(&stream, |line| {
        answer.extend_from_slice(line);
        (line == b"\n").then_some(())
    })?;
    done.ok_or(libc::EPROTO)?;
    let text = String::from_utf8(std::mem::take(&mut *answer)).map_err(|e| {
        let mut bytes = e.into_bytes();
        bytes.zeroize();
        libc::EPROTO
    })?;
    Ok(Zeroizing::new(text))
}

/// Feeds the answer to `each` line by line (with its `\n`, as `getline` returns it), in
/// buffers that are wiped, until `each` returns `Some`. `Ok(None)`: the stream ended first (as
/// when `getline` fails). A timeout is `ETIMEDOUT`.
fn read_lines<T>(
    mut stream: &UnixStream,
    mut each: impl FnMut(&[u8]) -> Option<T>,
) -> Result<Option<T>, i32> {
    let mut chunk = Zeroizing::new(vec![0u8; 8192]);
    let mut line = Zeroizing::new(Vec::with_capacity(8192));
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(libc::ETIMEDOUT)
            }
            Err(_) => return Ok(None),
        };
        for piece in chunk
            .get(..n)
            .unwrap_or_default()
            .split_inclusive(|&b| b == b'\n')
        {
            line.extend_from_slice(piece);
            if line.ends_with(b"\n") {
                if let Some(done) = each(&line) {
                    return Ok(Some(done));
                }
                line.zeroize();
            }
        }
    }
}

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// The C library's `strerror` text (std asks `strerror_r` and appends ` (os error N)`).
pub fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    let suffix = format!(" (os error {errno})");
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}
