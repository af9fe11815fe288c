//! The record `wgrs up` keeps of what it did, so that `down` can undo exactly that even after
//! the daemon crashed or `up` stopped half-way: the hooks as they were at `up`, the interface the
//! daemon runs as, and the undo of every completed step. Stored as versioned JSON in
//! `/var/run/wireguard/IFACE.wgrs-quick.state` (written by `exec`; this module is pure).

use crate::config::Config;
use crate::plan::{Action, Undo, RUN_DIR};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The format version this build writes and reads.
pub const STATE_VERSION: u32 = 1;

/// Where the record for `iface` lives.
pub fn state_path(iface: &str) -> String {
    format!("{RUN_DIR}/{iface}.wgrs-quick.state")
}

/// What `up` did for one interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The interface name from the config file name.
    pub iface: String,
    /// The interface the daemon was started as, once it was.
    pub daemon: Option<String>,
    /// PostUp commands as run (`%i` replaced).
    pub post_up: Vec<String>,
    /// PreDown commands to run at `down` (`%i` replaced).
    pub pre_down: Vec<String>,
    /// PostDown commands to run at `down` (`%i` replaced).
    pub post_down: Vec<String>,
    /// The undo actions of the completed steps, oldest first (the daemon's own is `daemon`).
    pub undo: Vec<Recorded>,
}

/// One recorded undo action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Shown as `[#] display`.
    pub display: String,
    /// A program with its arguments (empty for a file removal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    /// Text for the program's standard input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// A file to remove instead of running a program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<String>,
}

impl Recorded {
    /// The record of `undo`; only program runs and file removals can be recorded.
    pub fn of(undo: &Undo) -> Option<Recorded> {
        let (argv, stdin, remove) = match &undo.action {
            Action::Run { argv, stdin } => (argv.clone(), stdin.clone(), None),
            Action::RemoveFile { path } => (Vec::new(), None, Some(path.clone())),
            _ => return None,
        };
        Some(Recorded {
            display: undo.display.clone(),
            argv,
            stdin,
            remove,
        })
    }

    /// The undo this record stands for.
    pub fn undo(&self) -> Undo {
        let action = match &self.remove {
            Some(path) => Action::RemoveFile { path: path.clone() },
            None => Action::Run {
                argv: self.argv.clone(),
                stdin: self.stdin.clone(),
            },
        };
        Undo {
            display: self.display.clone(),
            action,
        }
    }
}

/// A state file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateError(pub String);

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateError {}

impl State {
    /// A record for `iface` before anything has been done.
    pub fn new(iface: &str) -> State {
        State {
            version: STATE_VERSION,
            iface: iface.to_owned(),
            daemon: None,
            post_up: Vec::new(),
            pre_down: Vec::new(),
            post_down: Vec::new(),
            undo: Vec::new(),
        }
    }

    /// The record `up` starts with: the config's hooks as they will run for `iface`.
    pub fn for_up(cfg: &Config, iface: &str) -> State {
        let run = |hooks: &[String]| hooks.iter().map(|h| h.replace("%i", iface)).collect();
        let ifc = &cfg.interface;
        State {
            post_up: run(&ifc.post_up),
            pre_down: run(&ifc.pre_down),
            post_down: run(&ifc.post_down),
            ..State::new(iface)
        }
    }

    /// The file's text (one JSON object and a newline).
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a state file's text; another version, or anything malformed, is an error.
    pub fn from_text(text: &str) -> Result<State, StateError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version = serde_json::from_str(text)
            .map_err(|e| StateError(format!("not a wgrs-quick state record ({e})")))?;
        if v.version != STATE_VERSION {
            return Err(StateError(format!(
                "state format version {} (this wgrs reads version {STATE_VERSION})",
                v.version
            )));
        }
        serde_json::from_str(text).map_err(|e| StateError(format!("malformed state record ({e})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        let mut s = State::new("wg0");
        s.daemon = Some("wg0".into());
        s.pre_down = vec!["echo 'a \"b\"'\tc".into()];
        s.post_down = vec!["nft delete table ip nat".into()];
        s.undo.push(Recorded {
            display: "nft -f /dev/fd/63".into(),
            argv: vec!["nft".into(), "-f".into(), "/dev/stdin".into()],
            stdin: Some("delete table ip wg-quick-wg0\n".into()),
            remove: None,
        });
        s
    }

    #[test]
    fn round_trips_through_text() {
        let s = sample();
        assert_eq!(State::from_text(&s.to_text()), Ok(s));
    }

    #[test]
    fn records_runs_and_removals_only() {
        let run = Undo {
            display: "ip -4 rule delete table 51820".into(),
            action: Action::run(&["ip", "-4", "rule", "delete", "table", "51820"]),
        };
        assert_eq!(Recorded::of(&run).map(|r| r.undo()), Some(run));
        let rm = Undo {
            display: "rm -f /x".into(),
            action: Action::RemoveFile { path: "/x".into() },
        };
        assert_eq!(Recorded::of(&rm).map(|r| r.undo()), Some(rm));
        let fwmark = Undo {
            display: "wg set wg0 fwmark 0".into(),
            action: Action::SetFwmark {
                iface: "wg0".into(),
                fwmark: 0,
            },
        };
        assert_eq!(Recorded::of(&fwmark), None);
    }

    #[test]
    fn other_versions_and_garbage_are_refused_with_a_reason() {
        let v2 = sample()
            .to_text()
            .replace("\"version\": 1", "\"version\": 2");
        assert_eq!(
            State::from_text(&v2).unwrap_err().to_string(),
            "state format version 2 (this wgrs reads version 1)"
        );
        let err = State::from_text("[Interface]\n").unwrap_err().to_string();
        assert!(err.starts_with("not a wgrs-quick state record ("), "{err}");
        let err = State::from_text("{\"version\": 1}")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("malformed state record ("), "{err}");
    }
}
