//! The pure planner: a [`Config`], an interface name and [`Facts`] about the system become an
//! ordered [`Plan`] of steps that mirror wg-quick's `linux.bash` or `darwin.bash`, each step
//! with the action that undoes it. Nothing here touches the system (ARCHITECTURE.md, house rules).

mod common;
mod error;
mod facts;
mod linux;
mod linux_default;
mod linux_state;
mod macos;
mod macos_routes;
pub mod monitor;
mod uapi;

pub use common::{device_peers, repeated_peers};
pub use error::PlanError;
pub use facts::{Facts, LinuxFacts, MacFacts, MacService, OsFacts};
pub use uapi::refused_setconf;

use crate::config::Config;
use std::fmt;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// Stands for the real interface name until the daemon has picked it (macOS `utunN`). A NUL can
/// appear in no argument, path or hook, so the placeholder never collides with user text.
pub const REAL_IFACE: &str = "\u{0}real-iface\u{0}";

/// Directory of the UAPI sockets and macOS name files.
pub const RUN_DIR: &str = wgrs_uapi::SOCKET_DIR;

/// Which wg-quick a plan mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// `wg-quick/linux.bash`.
    Linux,
    /// `wg-quick/darwin.bash`.
    MacOs,
}

impl Os {
    /// The system this binary was built for (macOS for Apple targets, Linux otherwise).
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }
}

/// How a step is announced on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// `[#] command`: something is run.
    Cmd,
    /// `[+] note`: wg-quick's informational lines.
    Info,
}

/// One thing to do, as data.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a program (`argv[0]` looked up in `PATH`), optionally feeding `stdin`.
    Run {
        /// Program and arguments.
        argv: Vec<String>,
        /// Text written to the program's standard input.
        stdin: Option<String>,
    },
    /// Start wgrs itself (the current executable) with `arg` as its only argument, like
    /// wg-quick starts wireguard-go; with `name_file`, `WG_TUN_NAME_FILE` is set and the name
    /// the daemon writes there becomes the real interface name.
    StartDaemon {
        /// The interface name argument (`wg0`, or `utun` on macOS).
        arg: String,
        /// macOS: `/var/run/wireguard/IFACE.name`.
        name_file: Option<String>,
    },
    /// Send a UAPI `set=1` request to `/var/run/wireguard/IFACE.sock`; `errno=0` expected.
    SetConfig {
        /// Interface whose socket is used.
        iface: String,
        /// The whole request, ending with its empty line; holds the private key.
        uapi_set: Zeroizing<String>,
    },
    /// UAPI `set=1` with only `fwmark=N` (`wg set IFACE fwmark N`).
    SetFwmark {
        /// Interface whose socket is used.
        iface: String,
        /// The mark.
        fwmark: u32,
    },
    /// `wg showconf` plus wg-quick's `[Interface]` additions, written over the config file.
    SaveConfig(SaveSpec),
    /// `rm -f PATH`.
    RemoveFile {
        /// File to remove; a missing file is not an error.
        path: String,
    },
    /// macOS: start the background route monitor (`[+] Backgrounding route monitor`).
    RouteMonitor(MonitorSpec),
}

/// What `SaveConfig` needs besides the interface's live state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveSpec {
    /// Which script's `save_config` to mirror.
    pub os: Os,
    /// Interface to read (the real `utunN` on macOS).
    pub iface: String,
    /// Config file to replace.
    pub path: String,
    /// Linux: the resolvconf record to read `DNS =` lines from (`tun.wg0`).
    pub resolvconf_name: Option<String>,
    /// macOS: the `DNS =` entries of the config (darwin.bash does not read them back).
    pub dns: Vec<String>,
    /// The configured MTU: `None` writes no `MTU =` line (Linux writes the live MTU).
    pub mtu: Option<u32>,
    /// Lines after Address/DNS/MTU: `Table =`, `SaveConfig = true`, the hooks, in order.
    pub tail: Vec<String>,
}

/// The macOS route monitor's job: re-apply routes, MTU and DNS on routing changes, and undo the
/// endpoint routes and DNS when the interface goes away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSpec {
    /// The real interface to watch.
    pub iface: String,
    /// A `0.0.0.0/0` was split into two /1 routes (endpoint routes follow the gateway).
    pub auto_route4: bool,
    /// A `::/0` was split into two /1 routes.
    pub auto_route6: bool,
    /// The MTU is automatic and re-computed on changes.
    pub mtu_auto: bool,
    /// DNS servers to re-apply to every network service.
    pub dns: Vec<String>,
    /// Search domains to re-apply.
    pub dns_search: Vec<String>,
    /// The IPv4 default gateway `up` routed the endpoints through (`GATEWAY4`).
    pub gateway4: Option<String>,
    /// The IPv6 default gateway (`GATEWAY6`).
    pub gateway6: Option<String>,
    /// The endpoints `up` gave a host route (`ENDPOINTS` after `set_endpoint_direct_route`).
    pub endpoints: Vec<IpAddr>,
    /// The network services whose DNS `up` saved and replaced (the keys of `SERVICE_DNS`).
    pub services: Vec<String>,
    /// What to run when the interface disappears (`del_routes; del_dns`).
    pub teardown: Vec<Undo>,
}

/// How to undo a step: its `[#]` text and its action. Undo failures never stop a rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    /// Shown as `[#] display`.
    pub display: String,
    /// What runs.
    pub action: Action,
}

/// One planned step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The text after `[#] ` (or `[+] `), as wg-quick prints it.
    pub display: String,
    /// `[#]` or `[+]`.
    pub tag: Tag,
    /// What runs.
    pub action: Action,
    /// What undoes it, in order (empty: nothing to undo, e.g. the link deletion covers it).
    pub undo: Vec<Undo>,
    /// wg-quick ignores this step's failure (`|| true`).
    pub ignore_failure: bool,
}

/// An ordered list of steps for one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The script mirrored.
    pub os: Os,
    /// The interface name from the config file name.
    pub iface: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// The lines the plan prints when everything succeeds, with [`REAL_IFACE`] shown as `real`.
    pub fn lines(&self, real: &str) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| s.line().replace(REAL_IFACE, real))
            .collect()
    }
}

impl Step {
    /// A `[#]` step with nothing to undo whose failure aborts.
    pub fn cmd(display: impl Into<String>, action: Action) -> Self {
        Step {
            display: display.into(),
            tag: Tag::Cmd,
            action,
            undo: Vec::new(),
            ignore_failure: false,
        }
    }

    /// `[#] display` or `[+] display`.
    pub fn line(&self) -> String {
        match self.tag {
            Tag::Cmd => format!("[#] {}", self.display),
            Tag::Info => format!("[+] {}", self.display),
        }
    }

    /// This step with [`REAL_IFACE`] replaced by `real` everywhere.
    pub fn bind(&self, real: &str) -> Step {
        Step {
            display: self.display.replace(REAL_IFACE, real),
            tag: self.tag,
            action: self.action.bind(real),
            undo: self.undo.iter().map(|u| u.bind(real)).collect(),
            ignore_failure: self.ignore_failure,
        }
    }
}

impl Undo {
    /// This undo with [`REAL_IFACE`] replaced by `real`.
    pub fn bind(&self, real: &str) -> Undo {
        Undo {
            display: self.display.replace(REAL_IFACE, real),
            action: self.action.bind(real),
        }
    }
}

impl Action {
    /// A [`Action::Run`] without stdin.
    pub fn run<S: AsRef<str>>(argv: &[S]) -> Self {
        Action::Run {
            argv: argv.iter().map(|a| a.as_ref().to_owned()).collect(),
            stdin: None,
        }
    }

    /// This action with [`REAL_IFACE`] replaced by `real` in every name, argument and path.
    pub fn bind(&self, real: &str) -> Action {
        let sub = |s: &str| s.replace(REAL_IFACE, real);
        match self {
            Action::Run { argv, stdin } => Action::Run {
                argv: argv.iter().map(|a| sub(a)).collect(),
                stdin: stdin.as_deref().map(sub),
            },
            Action::StartDaemon { arg, name_file } => Action::StartDaemon {
                arg: sub(arg),
                name_file: name_file.as_deref().map(sub),
            },
            Action::SetConfig { iface, uapi_set } => Action::SetConfig {
                iface: sub(iface),
                uapi_set: uapi_set.clone(),
            },
            Action::SetFwmark { iface, fwmark } => Action::SetFwmark {
                iface: sub(iface),
                fwmark: *fwmark,
            },
            Action::SaveConfig(s) => Action::SaveConfig(SaveSpec {
                iface: sub(&s.iface),
                ..s.clone()
            }),
            Action::RemoveFile { path } => Action::RemoveFile { path: sub(path) },
            Action::RouteMonitor(m) => Action::RouteMonitor(MonitorSpec {
                iface: sub(&m.iface),
                teardown: m.teardown.iter().map(|u| u.bind(real)).collect(),
                ..m.clone()
            }),
        }
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Run { argv, stdin } => f
                .debug_struct("Run")
                .field("argv", argv)
                .field("stdin", stdin)
                .finish(),
            Action::StartDaemon { arg, name_file } => f
                .debug_struct("StartDaemon")
                .field("arg", arg)
                .field("name_file", name_file)
                .finish(),
            Action::SetConfig { iface, .. } => f
                .debug_struct("SetConfig")
                .field("iface", iface)
                .field("uapi_set", &"(hidden)")
                .finish(),
            Action::SetFwmark { iface, fwmark } => f
                .debug_struct("SetFwmark")
                .field("iface", iface)
                .field("fwmark", fwmark)
                .finish(),
            Action::SaveConfig(s) => f.debug_tuple("SaveConfig").field(s).finish(),
            Action::RemoveFile { path } => {
                f.debug_struct("RemoveFile").field("path", path).finish()
            }
            Action::RouteMonitor(m) => f.debug_tuple("RouteMonitor").field(m).finish(),
        }
    }
}

/// Plans `wg-quick up`: the steps that bring `iface` up with `cfg`, for the system `facts`
/// describe (Linux or macOS).
pub fn plan_up(cfg: &Config, iface: &str, facts: &Facts) -> Result<Plan, PlanError> {
    common::check_iface_name(iface)?;
    match &facts.os {
        OsFacts::Linux(lf) => linux::up(cfg, iface, facts, lf),
        OsFacts::MacOs(mf) => macos::up(cfg, iface, facts, mf),
    }
}

/// Plans `wg-quick down`; `config_path` is the file `SaveConfig = true` rewrites.
pub fn plan_down(
    cfg: &Config,
    iface: &str,
    config_path: &str,
    facts: &Facts,
) -> Result<Plan, PlanError> {
    common::check_iface_name(iface)?;
    match &facts.os {
        OsFacts::Linux(lf) => linux::down(cfg, iface, config_path, lf),
        OsFacts::MacOs(mf) => macos::down(cfg, iface, config_path, mf),
    }
}

/// Plans the clean-up of what an earlier `wgrs up` of `iface` recorded and left behind (its
/// daemon gone: killed, or `up` stopped half-way), to run before a new `up`; `None` when
/// there is nothing to clean up. Linux only (macOS keeps no record).
pub fn plan_leftovers(iface: &str, facts: &Facts) -> Result<Option<Plan>, PlanError> {
    common::check_iface_name(iface)?;
    match &facts.os {
        OsFacts::Linux(lf) => linux_state::leftovers(iface, lf),
        OsFacts::MacOs(_) => Ok(None),
    }
}

/// Plans `wg-quick save`: write the live configuration of `iface` to `config_path`.
pub fn plan_save(
    cfg: &Config,
    iface: &str,
    config_path: &str,
    facts: &Facts,
) -> Result<Plan, PlanError> {
    common::check_iface_name(iface)?;
    match &facts.os {
        OsFacts::Linux(lf) => linux::save(cfg, iface, config_path, lf),
        OsFacts::MacOs(mf) => macos::save(cfg, iface, config_path, mf),
    }
}
