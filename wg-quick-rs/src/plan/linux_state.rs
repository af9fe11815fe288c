//! `down` from the record an earlier `wgrs up` kept ([`State`]): PreDown, the recorded undos
//! newest first, the daemon's link (when it still answers) or its stale socket, PostDown. This
//! works after the daemon was killed, and after an `up` that stopped half-way; the same steps,
//! without SaveConfig, clean up before an `up` that finds such leftovers.

use super::linux::{run_step, save_step};
use super::{Action, LinuxFacts, Os, Plan, PlanError, Step, RUN_DIR};
use crate::config::Config;
use crate::state::{state_path, State};

/// The usable record in `lf`, if any; an unreadable one is an error naming its file.
pub fn recorded<'a>(iface: &str, lf: &'a LinuxFacts) -> Result<Option<&'a State>, PlanError> {
    match &lf.state {
        None => Ok(None),
        Some(Ok(state)) => Ok(Some(state)),
        Some(Err(e)) => Err(PlanError::BadState {
            path: state_path(iface),
            reason: e.to_string(),
        }),
    }
}

/// `down` by the record; `save` is `Some((config, path))` to run `SaveConfig` first (only
/// while the daemon answers: a dead one has nothing to save).
pub fn down(iface: &str, lf: &LinuxFacts, state: &State, save: Option<(&Config, &str)>) -> Plan {
    let mut steps = hook_steps(&state.pre_down);
    if let Some((cfg, path)) = save.filter(|(c, _)| c.interface.save_config && lf.is_wireguard) {
        steps.push(save_step(cfg, iface, path, lf));
    }
    for recorded in state.undo.iter().rev() {
        let undo = recorded.undo();
        let mut step = Step::cmd(undo.display, undo.action);
        // Already gone (with the link, or by hand) is as good as undone.
        step.ignore_failure = true;
        steps.push(step);
    }
    if let Some(real) = &state.daemon {
        if lf.is_wireguard {
            steps.push(run_step(&["ip", "link", "delete", "dev", real]));
        } else if lf.socket_exists {
            let path = format!("{RUN_DIR}/{real}.sock");
            steps.push(Step::cmd(
                format!("rm -f {path}"),
                Action::RemoveFile { path },
            ));
        }
    }
    steps.extend(hook_steps(&state.post_down));
    Plan {
        os: Os::Linux,
        iface: iface.to_owned(),
        steps,
    }
}

/// The leftovers of an `up` whose daemon is gone, to undo before a new `up`; `None` when there
/// is no record, or when the daemon still runs (then `up` refuses as usual).
pub fn leftovers(iface: &str, lf: &LinuxFacts) -> Result<Option<Plan>, PlanError> {
    if lf.iface_exists || lf.is_wireguard {
        return Ok(None);
    }
    Ok(recorded(iface, lf)?.map(|state| down(iface, lf, state, None)))
}

/// Recorded hook commands (`%i` already replaced), each run with `sh -c`.
fn hook_steps(hooks: &[String]) -> Vec<Step> {
    hooks
        .iter()
        .map(|h| Step::cmd(h.clone(), Action::run(&["sh", "-c", h.as_str()])))
        .collect()
}
