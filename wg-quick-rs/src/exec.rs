//! Carries out a [`Plan`]: prints each step as wg-quick does (`[#] …` on stderr), runs it
//! through a [`Runner`], and when a step fails, undoes the completed steps in reverse order and
//! reports the failure. [`up`], [`down`] and [`save`] do the whole job on this system.

mod gather;
mod journal;
pub mod monitor;
mod save;
mod system;

pub use gather::{gather, gather_monitor, parse_mtu, Mode, Probe};
pub use journal::{FileJournal, Journal};
pub use save::{render_showconf, save_config};
pub use system::SystemRunner;

use crate::config::Config;
use crate::plan::{
    plan_down, plan_leftovers, plan_save, plan_up, refused_setconf, repeated_peers, Action, Os,
    Plan, PlanError, Undo,
};
use crate::state::{state_path, Recorded, State};
use std::fmt;

/// What a successful action tells the executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// Nothing to report.
    Done,
    /// The daemon runs as this interface (macOS `utunN`, from the name file).
    Named(String),
}

/// A failed action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError {
    /// What went wrong (the command's own stderr has already been shown).
    pub message: String,
    /// The command's exit status, when it ran and failed.
    pub code: Option<i32>,
    /// The interface's UAPI `errno`, when it refused the configuration (`wg setconf`).
    pub errno: Option<i64>,
}

impl RunError {
    /// A failure without an exit status.
    pub fn msg(message: impl Into<String>) -> Self {
        RunError {
            message: message.into(),
            code: None,
            errno: None,
        }
    }
}

/// Runs actions and shows progress; the system one, or a fake in tests.
pub trait Runner {
    /// Shows one progress line (`[#] …`, `[+] …`) to the user (stderr).
    fn say(&mut self, line: &str);
    /// Performs one action.
    fn run(&mut self, action: &Action) -> Result<Ran, RunError>;
}

/// A step failed; the steps before it have been undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    /// The failed step's text (after `[#] `); empty when the message says it all.
    pub step: String,
    /// Why it failed.
    pub error: RunError,
    /// Undo actions that failed in turn, as `text: reason`.
    pub undo_failures: Vec<String>,
}

impl ExecError {
    /// The exit status to leave with: the failed command's, else 1.
    pub fn exit_code(&self) -> i32 {
        self.error.code.filter(|&c| c != 0).unwrap_or(1)
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.step.is_empty() {
            f.write_str(&self.error.message)?;
        } else {
            write!(f, "`{}' failed: {}", self.step, self.error.message)?;
        }
        if !self.undo_failures.is_empty() {
            write!(f, " (and undoing: {})", self.undo_failures.join("; "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ExecError {}

/// Runs `plan` step by step; on the first failure not marked `ignore_failure`, runs the undo
/// actions of the completed steps, newest first, and returns the failure.
pub fn execute(plan: &Plan, runner: &mut dyn Runner) -> Result<(), ExecError> {
    run_plan(plan, runner, None)
}

/// [`execute`], keeping `state` in `journal` as it goes: written before the first step and
/// after every step with something to undo; cleared when a failure was wholly rolled back.
pub fn execute_recorded(
    plan: &Plan,
    runner: &mut dyn Runner,
    journal: &mut dyn Journal,
    state: State,
) -> Result<(), ExecError> {
    run_plan(plan, runner, Some((journal, state)))
}

fn run_plan(
    plan: &Plan,
    runner: &mut dyn Runner,
    mut record: Option<(&mut dyn Journal, State)>,
) -> Result<(), ExecError> {
    let mut real = plan.iface.clone();
    let mut done: Vec<Vec<Undo>> = Vec::new();
    if let Some((journal, state)) = &mut record {
        journal.write(state).map_err(|error| ExecError {
            step: String::new(),
            error,
            undo_failures: Vec::new(),
        })?;
    }
    for original in &plan.steps {
        let step = original.bind(&real);
        runner.say(&step.line());
        let result = match runner.run(&step.action) {
            Ok(Ran::Named(name)) => {
                runner.say(&format!("[+] Interface for {} is {}", plan.iface, name));
                real = name;
                Ok(())
            }
            Ok(Ran::Done) => Ok(()),
            Err(_) if step.ignore_failure => Ok(()),
            Err(error) => Err((step.display, error)),
        };
        // Bound after running: the daemon step's undo names the interface it just created.
        let undos: Vec<Undo> = original.undo.iter().map(|u| u.bind(&real)).collect();
        let result = result.and_then(|()| {
            note(&mut record, &step.action, &real, &undos).map_err(|e| (String::new(), e))
        });
        done.push(undos);
        if let Err((display, error)) = result {
            // A failed step has nothing to undo; one whose recording failed has (it ran).
            if !display.is_empty() {
                done.pop();
            }
            let mut undo_failures = rollback(runner, done);
            if let (Some((journal, _)), true) = (&mut record, undo_failures.is_empty()) {
                if let Err(e) = journal.clear() {
                    undo_failures.push(e.message);
                }
            }
            return Err(ExecError {
                step: display,
                error,
                undo_failures,
            });
        }
    }
    Ok(())
}

/// Adds a completed step to the record (the daemon by its interface, anything else by its
/// undo actions) and writes it when it changed.
fn note(
    record: &mut Option<(&mut dyn Journal, State)>,
    action: &Action,
    real: &str,
    undos: &[Undo],
) -> Result<(), RunError> {
    let Some((journal, state)) = record else {
        return Ok(());
    };
    if matches!(action, Action::StartDaemon { .. }) {
        state.daemon = Some(real.to_owned());
    } else if undos.is_empty() {
        return Ok(());
    } else {
        state.undo.extend(undos.iter().filter_map(Recorded::of));
    }
    journal.write(state)
}

/// Undoes completed steps, newest first; a failing undo is recorded and the rest still run.
fn rollback(runner: &mut dyn Runner, done: Vec<Vec<Undo>>) -> Vec<String> {
    let mut failures = Vec::new();
    for undos in done.into_iter().rev() {
        for undo in undos {
            runner.say(&format!("[#] {}", undo.display));
            if let Err(e) = runner.run(&undo.action) {
                failures.push(format!("{}: {}", undo.display, e.message));
            }
        }
    }
    failures
}

/// Why `up`, `down` or `save` stopped.
#[derive(Debug)]
pub enum Error {
    /// Nothing was done.
    Plan(PlanError),
    /// Nothing was done; the problem is at this place of the config (`file:line: …`).
    Placed(String),
    /// A step failed (and the plan was rolled back).
    Exec(ExecError),
}

impl Error {
    /// The exit status to leave with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Plan(_) | Error::Placed(_) => 1,
            Error::Exec(e) => e.exit_code(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Plan(e) => e.fmt(f),
            Error::Placed(text) => f.write_str(text),
            Error::Exec(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<PlanError> for Error {
    fn from(e: PlanError) -> Self {
        Error::Plan(e)
    }
}

impl From<ExecError> for Error {
    fn from(e: ExecError) -> Self {
        Error::Exec(e)
    }
}

/// `wgrs up` of `config_path`: gather facts on this system; undo what an earlier `up` of
/// `iface` recorded and left behind (its daemon gone); plan; execute, keeping a record for
/// `down` (Linux). Errors about the config name its `file:line`.
pub fn up(cfg: &Config, iface: &str, config_path: &str) -> Result<(), Error> {
    let mut sys = SystemRunner::new();
    for warning in config_warnings(cfg, config_path) {
        sys.say(&warning);
    }
    let os = Os::current();
    let mut facts = gather(cfg, iface, Mode::Up, os, &mut sys);
    if let Some(cleanup) = plan_leftovers(iface, &facts)? {
        sys.say(&format!(
            "[+] Undoing what the last `up' of {iface} left behind (recorded in {})",
            state_path(iface)
        ));
        execute(&cleanup, &mut sys)?;
        journal::remove_state(&state_path(iface)).map_err(|error| ExecError {
            step: String::new(),
            error,
            undo_failures: Vec::new(),
        })?;
        facts = gather(cfg, iface, Mode::Up, os, &mut sys);
    }
    let plan = plan_up(cfg, iface, &facts).map_err(|e| placed(e, config_path))?;
    let result = if plan.os == Os::Linux {
        let mut journal = FileJournal::new(iface);
        execute_recorded(&plan, &mut sys, &mut journal, State::for_up(cfg, iface))
    } else {
        execute(&plan, &mut sys)
    };
    Ok(result.map_err(|e| explain_refusal(e, cfg, config_path))?)
}

/// What `up` warns about in `file`'s config: a `[Peer]` repeating an earlier one's PublicKey
/// (wg merges them into one peer; the routes follow what the interface holds).
pub fn config_warnings(cfg: &Config, file: &str) -> Vec<String> {
    repeated_peers(cfg)
        .into_iter()
        .map(|(earlier, later)| {
            format!(
                "Warning: {file}:{later}: this [Peer] has the PublicKey of the [Peer] at line \
                 {earlier}; the interface holds one peer for both, with the AllowedIPs of line \
                 {later}"
            )
        })
        .collect()
}

/// A plan error about a config line, prefixed with `file:line`.
pub fn placed(e: PlanError, file: &str) -> Error {
    match e.line() {
        Some(line) => Error::Placed(format!("{file}:{line}: {e}")),
        None => Error::Plan(e),
    }
}

/// A configuration the interface refused (UAPI errno), told as the config's problem at its
/// place, not as a `wg setconf` that never ran.
pub fn explain_refusal(mut e: ExecError, cfg: &Config, file: &str) -> ExecError {
    let Some(errno) = e.error.errno else {
        return e;
    };
    e.error.message = match refused_setconf(cfg, errno) {
        Some((line, why)) if line > 0 => format!("{file}:{line}: {why}"),
        Some((_, why)) => format!("{file}: {why}"),
        None => format!("{file}: {}", e.error.message),
    };
    e.step.clear();
    e
}

/// `wgrs down`; `config_path` is rewritten first when the config says `SaveConfig = true`.
/// With a record of the `up` (Linux), exactly what it did is undone, also when the daemon died;
/// the record goes once everything succeeded.
pub fn down(cfg: &Config, iface: &str, config_path: &str) -> Result<(), Error> {
    let mut sys = SystemRunner::new();
    let facts = gather(cfg, iface, Mode::Down, Os::current(), &mut sys);
    let plan = plan_down(cfg, iface, config_path, &facts)?;
    execute(&plan, &mut sys)?;
    if plan.os == Os::Linux {
        journal::remove_state(&state_path(iface)).map_err(|error| ExecError {
            step: String::new(),
            error,
            undo_failures: Vec::new(),
        })?;
    }
    Ok(())
}

/// `wgrs save`: write the live configuration to `config_path`.
pub fn save(cfg: &Config, iface: &str, config_path: &str) -> Result<(), Error> {
    let mut sys = SystemRunner::new();
    let facts = gather(cfg, iface, Mode::Save, Os::current(), &mut sys);
    let plan = plan_save(cfg, iface, config_path, &facts)?;
    Ok(execute(&plan, &mut sys)?)
}
