//! Endpoint host names → socket addresses, with `wg`'s retry schedule: up to
//! `WG_ENDPOINT_RESOLUTION_RETRIES` retries (default 15, `infinity` allowed), sleeping 1 s and
//! then 6/5 as long each time, at most 20 s; "no such name" answers are final at once.

use crate::config::{Config, Endpoint};
use std::error::Error;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// The environment variable `wg` reads for the retry count.
pub const RETRIES_ENV: &str = "WG_ENDPOINT_RESOLUTION_RETRIES";

/// How often a failed lookup is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retries {
    /// This many retries after the first attempt.
    Limited(u32),
    /// `infinity`: until the name resolves or is found not to exist.
    Infinite,
}

impl Retries {
    /// Reads the variable's value as `wg` does: unset → 15, `infinity`, or 0..=2147483647.
    pub fn from_env_value(value: Option<&str>) -> Result<Retries, EndpointError> {
        match value {
            None => Ok(Retries::Limited(15)),
            Some("infinity") => Ok(Retries::Infinite),
            Some(v) => crate::config::decimal(v)
                .filter(|&n| n <= u64::from(i32::MAX.unsigned_abs()))
                .and_then(|n| u32::try_from(n).ok())
                .map(Retries::Limited)
                .ok_or_else(|| EndpointError::BadRetries(v.to_owned())),
        }
    }
}

/// [`Retries`] from `WG_ENDPOINT_RESOLUTION_RETRIES`.
pub fn retries_from_env() -> Result<Retries, EndpointError> {
    let value = std::env::var(RETRIES_ENV).ok();
    Retries::from_env_value(value.as_deref())
}

/// Why an endpoint did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    /// `WG_ENDPOINT_RESOLUTION_RETRIES` is not a count.
    BadRetries(String),
    /// The lookup failed for good (`message` as the resolver put it).
    Failed {
        /// The endpoint as written (`host:port`).
        endpoint: String,
        /// The resolver's reason.
        message: String,
    },
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::BadRetries(v) => write!(f, "Unable to parse {RETRIES_ENV}: `{v}'"),
            EndpointError::Failed { endpoint, message } => write!(f, "{message}: `{endpoint}'"),
        }
    }
}

impl Error for EndpointError {}

/// Resolves `ep` with the system resolver, retrying per `WG_ENDPOINT_RESOLUTION_RETRIES` and
/// printing `wg`'s "Trying again in N seconds..." lines on stderr. IP literals need no lookup.
#[allow(clippy::disallowed_methods)] // I/O shell: wg's back-off sleeps between lookups.
pub fn resolve_endpoint(ep: &Endpoint) -> Result<SocketAddr, EndpointError> {
    let retries = retries_from_env()?;
    resolve_endpoint_with(
        ep,
        retries,
        &mut |host, port| (host, port).to_socket_addrs().map(Iterator::collect),
        &mut std::thread::sleep,
        &mut |line| eprintln!("{line}"),
    )
}

/// Resolves every peer's endpoint, in peer order (`None` for a peer without one): the slice
/// [`to_uapi_set`](crate::uapi_text::to_uapi_set) takes.
pub fn resolve_all(cfg: &Config) -> Result<Vec<Option<SocketAddr>>, EndpointError> {
    cfg.peers
        .iter()
        .map(|peer| peer.endpoint.as_ref().map(resolve_endpoint).transpose())
        .collect()
}

/// A lookup function: host and port to addresses, as `ToSocketAddrs` gives them.
pub type Lookup<'a> = dyn FnMut(&str, u16) -> io::Result<Vec<SocketAddr>> + 'a;

/// [`resolve_endpoint`] with the lookup, the sleep and the log line injected (for tests).
pub fn resolve_endpoint_with(
    ep: &Endpoint,
    retries: Retries,
    lookup: &mut Lookup<'_>,
    sleep: &mut dyn FnMut(Duration),
    log: &mut dyn FnMut(&str),
) -> Result<SocketAddr, EndpointError> {
    if let Ok(ip) = ep.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, ep.port));
    }
    let written = ep.to_string();
    let failed = |message: String| EndpointError::Failed {
        endpoint: written.clone(),
        message,
    };
    let mut left = retries;
    let mut timeout_us: u64 = 1_000_000;
    loop {
        let err = match lookup(&ep.host, ep.port) {
            Ok(addrs) => {
                return addrs
                    .first()
                    .copied()
                    .ok_or_else(|| failed("Neither IPv4 nor IPv6 address found".to_owned()))
            }
            Err(err) => err,
        };
        let message = resolver_message(&err);
        let exhausted = match &mut left {
            Retries::Infinite => false,
            Retries::Limited(0) => true,
            Retries::Limited(n) => {
                *n -= 1;
                false
            }
        };
        if is_permanent(&err) || exhausted {
            return Err(failed(message));
        }
        let seconds = Duration::from_micros(timeout_us).as_secs_f64();
        log(&format!(
            "{message}: `{written}'. Trying again in {seconds:.2} seconds..."
        ));
        sleep(Duration::from_micros(timeout_us));
        timeout_us = (timeout_us * 6 / 5).min(20_000_000);
    }
}

/// The resolver's own words (`gai_strerror`), without std's prefix.
fn resolver_message(err: &io::Error) -> String {
    let text = err.to_string();
    text.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text)
        .to_owned()
}

/// `EAI_NONAME`, `EAI_FAIL` and `EAI_NODATA` are final (wg does not retry them). std reports
/// them only as text, so they are recognised by glibc's and macOS's wording.
fn is_permanent(err: &io::Error) -> bool {
    const FINAL: [&str; 4] = [
        "Name or service not known",
        "No address associated with hostname",
        "Non-recoverable failure in name resolution",
        "nodename nor servname provided, or not known",
    ];
    let text = err.to_string();
    err.kind() == io::ErrorKind::InvalidInput || FINAL.iter().any(|m| text.contains(m))
}
