//! Where `up` keeps its [`State`] as it goes: a [`Journal`], on this system the root-only file
//! `/var/run/wireguard/IFACE.wgrs-quick.state`, replaced atomically (write, sync, rename) after
//! every step that has something to undo.

use super::RunError;
use crate::plan::RUN_DIR;
use crate::state::{state_path, State};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;

/// Keeps the record of an `up` in progress.
pub trait Journal {
    /// Replaces the record with `state`.
    fn write(&mut self, state: &State) -> Result<(), RunError>;
    /// Removes the record (everything was undone).
    fn clear(&mut self) -> Result<(), RunError>;
}

/// The state file of one interface.
#[derive(Debug, Clone)]
pub struct FileJournal {
    path: String,
}

impl FileJournal {
    /// The journal of `iface` (`/var/run/wireguard/IFACE.wgrs-quick.state`).
    pub fn new(iface: &str) -> Self {
        FileJournal {
            path: state_path(iface),
        }
    }
}

impl Journal for FileJournal {
    fn write(&mut self, state: &State) -> Result<(), RunError> {
        let fail = |e: std::io::Error| RunError::msg(format!("{}: {e}", self.path));
        std::fs::create_dir_all(RUN_DIR).map_err(|e| RunError::msg(format!("{RUN_DIR}: {e}")))?;
        let tmp = format!("{}.tmp", self.path);
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail)?;
        file.write_all(state.to_text().as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }

    fn clear(&mut self) -> Result<(), RunError> {
        remove_state(&self.path)
    }
}

/// Removes a state file; one that is already gone is fine.
pub fn remove_state(path: &str) -> Result<(), RunError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(RunError::msg(format!("{path}: {e}"))),
        _ => Ok(()),
    }
}
