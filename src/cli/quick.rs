//! `wgrs up | down | save | strip [CONFIG_FILE | INTERFACE]`: wg-quick's commands, carried out
//! by the `wg-quick-rs` crate with wgrs itself as the userspace daemon.

use super::Failure;
use wg_quick_rs::resolve::load_config;

/// Which wg-quick command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quick {
    /// Bring the interface up.
    Up,
    /// Tear it down.
    Down,
    /// Write the running configuration back to the file.
    Save,
    /// Print the config without wg-quick's keys.
    Strip,
}

/// Run `cmd` on the config named by `arg` (an interface name or a path ending in `.conf`).
pub fn run(cmd: Quick, arg: &str) -> Result<(), Failure> {
    let loaded = load_config(arg).map_err(|e| Failure::Message(e.to_string()))?;
    let iface = loaded.location.interface.clone();
    let path = loaded.location.path.display().to_string();
    let result = match cmd {
        Quick::Strip => {
            print!("{}", wg_quick_rs::config::strip(&loaded.text));
            return Ok(());
        }
        Quick::Up => wg_quick_rs::exec::up(&loaded.config, &iface, &path),
        Quick::Down => wg_quick_rs::exec::down(&loaded.config, &iface, &path),
        Quick::Save => wg_quick_rs::exec::save(&loaded.config, &iface, &path),
    };
    result.map_err(|e| match e.exit_code() {
        1 => Failure::Message(e.to_string()),
        code => Failure::MessageCode(e.to_string(), code),
    })
}
