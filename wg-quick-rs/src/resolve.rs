//! `wgrs up ARG`: ARG → config file and interface name exactly as wg-quick resolves it
//! (`parse_options()` in linux.bash / darwin.bash), the world-accessible warning, loading and
//! parsing the file; and endpoint resolution with `wg`'s retries ([`resolve_endpoint`]).

mod endpoint;

pub use endpoint::{
    resolve_all, resolve_endpoint, resolve_endpoint_with, retries_from_env, EndpointError, Lookup,
    Retries, RETRIES_ENV,
};

use crate::config::{parse_rt_tables, parse_with, Config, ConfigError, ParseOptions};
use std::error::Error;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Where an interface name's config is looked for, in order (darwin.bash also tries
/// `/usr/local/etc/wireguard`).
#[cfg(target_os = "macos")]
pub const SEARCH_PATHS: &[&str] = &["/etc/wireguard", "/usr/local/etc/wireguard"];
/// Where an interface name's config is looked for.
#[cfg(not(target_os = "macos"))]
pub const SEARCH_PATHS: &[&str] = &["/etc/wireguard"];

/// wg-quick's `^[a-zA-Z0-9_=+.-]{1,15}$`.
pub fn is_interface_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'=' | b'+' | b'.' | b'-'))
}

/// The interface a config path names, per `(^|/)([a-zA-Z0-9_=+.-]{1,15})\.conf$`:
/// `/etc/wireguard/wg0.conf` → `wg0`.
pub fn interface_from_path(path: &str) -> Option<&str> {
    let base = path.rsplit('/').next()?;
    base.strip_suffix(".conf").filter(|n| is_interface_name(n))
}

/// The file wg-quick would open for `arg`: a valid interface name becomes
/// `DIR/arg.conf` for the first search directory where that exists (else the last one
/// tried); anything else is a path as given. Note that `wg0.conf` is itself a valid interface
/// name, so it becomes `/etc/wireguard/wg0.conf.conf`, as in wg-quick.
pub fn candidate_path(arg: &str, search_paths: &[&str], exists: impl Fn(&Path) -> bool) -> String {
    if !is_interface_name(arg) {
        return arg.to_owned();
    }
    let mut candidate = arg.to_owned();
    for dir in search_paths {
        candidate = format!("{dir}/{arg}.conf");
        if exists(Path::new(&candidate)) {
            break;
        }
    }
    candidate
}

/// Why ARG does not lead to a usable config file. Display is wg-quick's text.
#[derive(Debug)]
pub enum LocateError {
    /// The file does not exist.
    DoesNotExist(String),
    /// The path's file name is not `NAME.conf` with a valid interface name.
    InvalidName,
    /// The file or its directory could not be examined or read.
    Io(String, io::Error),
}

impl fmt::Display for LocateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocateError::DoesNotExist(path) => write!(f, "`{path}' does not exist"),
            LocateError::InvalidName => {
                f.write_str("The config file must be a valid interface name, followed by .conf")
            }
            LocateError::Io(path, err) => write!(f, "`{path}': {err}"),
        }
    }
}

impl Error for LocateError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            LocateError::Io(_, err) => Some(err),
            _ => None,
        }
    }
}

/// A located config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLocation {
    /// The file, symlinks resolved (Linux: `readlink -f`; macOS: the directory's).
    pub path: PathBuf,
    /// The interface name, from the path as given (before symlinks are resolved).
    pub interface: String,
    /// Both the file and its directory grant "other" some permission.
    pub world_accessible: bool,
}

impl ConfigLocation {
    /// wg-quick's warning, when it applies: ``Warning: `PATH' is world accessible``.
    pub fn warning(&self) -> Option<String> {
        self.world_accessible
            .then(|| format!("Warning: `{}' is world accessible", self.path.display()))
    }
}

/// [`locate_config_in`] with this platform's [`SEARCH_PATHS`].
pub fn locate_config(arg: &str) -> Result<ConfigLocation, LocateError> {
    locate_config_in(arg, SEARCH_PATHS)
}

/// Resolves ARG as wg-quick's `parse_options()` does, in its order of checks.
pub fn locate_config_in(arg: &str, search_paths: &[&str]) -> Result<ConfigLocation, LocateError> {
    let candidate = candidate_path(arg, search_paths, Path::exists);
    if !Path::new(&candidate).exists() {
        return Err(LocateError::DoesNotExist(candidate));
    }
    let interface = interface_from_path(&candidate)
        .ok_or(LocateError::InvalidName)?
        .to_owned();
    let io_err = |e| LocateError::Io(candidate.clone(), e);
    let path = canonical(Path::new(&candidate)).map_err(io_err)?;
    let world_accessible = world_accessible(&path).map_err(io_err)?;
    Ok(ConfigLocation {
        path,
        interface,
        world_accessible,
    })
}

fn canonical(path: &Path) -> io::Result<PathBuf> {
    if cfg!(target_os = "macos") {
        // darwin.bash: "$(cd "${CONFIG_FILE%/*}" && pwd -P)/${CONFIG_FILE##*/}".
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = path.file_name().unwrap_or_default();
        Ok(dir.canonicalize()?.join(name))
    } else {
        path.canonicalize()
    }
}

/// `(mode(file) & mode(dir) & 0007) != 0`, as wg-quick tests it.
#[cfg(unix)]
fn world_accessible(path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::metadata(path)?.permissions().mode();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("/"),
    };
    let dir = std::fs::metadata(dir)?.permissions().mode();
    Ok(file & dir & 0o007 != 0)
}

#[cfg(not(unix))]
fn world_accessible(_path: &Path) -> io::Result<bool> {
    Ok(false)
}

/// A located, read and parsed config.
pub struct LoadedConfig {
    /// Where it was found.
    pub location: ConfigLocation,
    /// The file's text (it holds the private key).
    pub text: Zeroizing<String>,
    /// The parsed configuration.
    pub config: Config,
}

/// Why [`load_config`] failed.
#[derive(Debug)]
pub enum LoadError {
    /// ARG did not lead to a config file.
    Locate(LocateError),
    /// The file is invalid.
    Parse(ConfigError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Locate(e) => e.fmt(f),
            LoadError::Parse(e) => e.fmt(f),
        }
    }
}

impl Error for LoadError {}

/// Locates ARG, prints the world-accessible warning on stderr, reads the file and parses it
/// with the system's routing table names ([`system_rt_tables`]).
pub fn load_config(arg: &str) -> Result<LoadedConfig, LoadError> {
    let location = locate_config(arg).map_err(LoadError::Locate)?;
    if let Some(warning) = location.warning() {
        eprintln!("{warning}");
    }
    let path = location.path.display().to_string();
    let bytes = Zeroizing::new(
        std::fs::read(&location.path)
            .map_err(|e| LoadError::Locate(LocateError::Io(path.clone(), e)))?,
    );
    let text = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
    let opts = ParseOptions {
        rt_tables: system_rt_tables(),
    };
    let config = parse_with(&text, &path, &opts).map_err(LoadError::Parse)?;
    Ok(LoadedConfig {
        location,
        text,
        config,
    })
}

/// Routing table names from iproute2's files: `rt_tables` and `rt_tables.d/*.conf` under
/// `/etc/iproute2`, falling back to `/usr/share/iproute2` (newer iproute2's default place).
pub fn system_rt_tables() -> Vec<(String, u32)> {
    let mut tables = Vec::new();
    for dir in ["/etc/iproute2", "/usr/share/iproute2"] {
        let main = Path::new(dir).join("rt_tables");
        let Ok(text) = std::fs::read_to_string(&main) else {
            continue;
        };
        tables.extend(parse_rt_tables(&text));
        if let Ok(entries) = std::fs::read_dir(Path::new(dir).join("rt_tables.d")) {
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            files.sort();
            for file in files {
                if let Ok(text) = std::fs::read_to_string(&file) {
                    tables.extend(parse_rt_tables(&text));
                }
            }
        }
        break;
    }
    tables
}
