//! The record `up` keeps ([`State`]) and `down` from it: what the executor writes as it goes
//! (a fake runner and an in-memory journal), and the plans that undo exactly that after the
//! daemon died or `up` stopped half-way, or before an `up` that finds such leftovers.

mod common;

use common::{config, peer, strings};
use wg_quick_rs::config::Config;
use wg_quick_rs::exec::{execute_recorded, Journal, Ran, RunError, Runner};
use wg_quick_rs::plan::{plan_down, plan_leftovers, plan_up, Action, Facts, LinuxFacts, Plan};
use wg_quick_rs::state::{State, StateError};

/// Runs nothing; fails the calls whose index is in `fail`.
#[derive(Default)]
struct Fake {
    said: Vec<String>,
    calls: usize,
    fail: Vec<usize>,
}

impl Runner for Fake {
    fn say(&mut self, line: &str) {
        self.said.push(line.to_owned());
    }

    fn run(&mut self, _action: &Action) -> Result<Ran, RunError> {
        self.calls += 1;
        if self.fail.contains(&(self.calls - 1)) {
            return Err(RunError::msg("failed"));
        }
        Ok(Ran::Done)
    }
}

/// Every version written, and whether the record was cleared.
#[derive(Default)]
struct Memory {
    writes: Vec<State>,
    cleared: bool,
}

impl Journal for Memory {
    fn write(&mut self, state: &State) -> Result<(), RunError> {
        self.writes.push(state.clone());
        Ok(())
    }

    fn clear(&mut self) -> Result<(), RunError> {
        self.cleared = true;
        Ok(())
    }
}

fn full() -> Config {
    let mut cfg = config(
        &["10.9.0.2/24", "fd09::2/64"],
        vec![peer(2, &["0.0.0.0/0", "::/0"], Some(("192.0.2.1", 51820)))],
    );
    cfg.interface.post_up = strings(&["nft add table ip nat%i"]);
    cfg.interface.pre_down = strings(&["echo bye %i"]);
    cfg.interface.post_down = strings(&["nft delete table ip nat%i"]);
    cfg
}

fn up_plan() -> Plan {
    let facts = Facts::linux(LinuxFacts {
        has_nft: true,
        ..LinuxFacts::default()
    });
    plan_up(&full(), "wg0", &facts).expect("plan")
}

/// What `up` records for [`full`] once every step ran.
fn recorded() -> State {
    let mut journal = Memory::default();
    let state = State::for_up(&full(), "wg0");
    execute_recorded(&up_plan(), &mut Fake::default(), &mut journal, state).expect("up");
    journal.writes.pop().expect("written")
}

#[test]
fn up_records_hooks_daemon_and_every_undo_in_order() {
    let state = recorded();
    assert_eq!(state.iface, "wg0");
    assert_eq!(state.daemon.as_deref(), Some("wg0"));
    assert_eq!(state.post_up, ["nft add table ip natwg0"]);
    assert_eq!(state.pre_down, ["echo bye wg0"]);
    assert_eq!(state.post_down, ["nft delete table ip natwg0"]);
    let undo: Vec<&str> = state.undo.iter().map(|r| r.display.as_str()).collect();
    assert_eq!(
        undo,
        [
            "ip -6 rule delete table 51820",
            "ip -6 rule delete table main suppress_prefixlength 0",
            "nft -f /dev/fd/63",
            "ip -4 rule delete table 51820",
            "ip -4 rule delete table main suppress_prefixlength 0",
            "nft -f /dev/fd/63",
        ]
    );
    assert_eq!(
        state.undo[2].stdin.as_deref(),
        Some("delete table ip6 wg-quick-wg0\n")
    );
}

#[test]
fn up_writes_before_the_first_step_and_after_each_step_with_an_undo() {
    let mut journal = Memory::default();
    let plan = up_plan();
    let state = State::for_up(&full(), "wg0");
    execute_recorded(&plan, &mut Fake::default(), &mut journal, state).expect("up");
    let with_undo = plan.steps.iter().filter(|s| !s.undo.is_empty()).count();
    assert_eq!(journal.writes.len(), 1 + with_undo);
    assert_eq!(journal.writes[0].daemon, None, "nothing done yet");
    assert!(journal.writes[1].daemon.is_some() && journal.writes[1].undo.is_empty());
    assert!(!journal.cleared);
}

#[test]
fn a_wholly_rolled_back_up_clears_its_record_and_a_partly_rolled_back_one_keeps_it() {
    let plan = up_plan();
    let k = plan
        .steps
        .iter()
        .position(|s| s.display.starts_with("ip -4 route add 0.0.0.0/0"))
        .expect("step");
    let mut journal = Memory::default();
    let mut fake = Fake {
        fail: vec![k],
        ..Fake::default()
    };
    let state = State::for_up(&full(), "wg0");
    execute_recorded(&plan, &mut fake, &mut journal, state.clone()).unwrap_err();
    assert!(journal.cleared, "everything undone: no record left");

    let mut journal = Memory::default();
    let mut fake = Fake {
        fail: vec![k, k + 1],
        ..Fake::default()
    };
    let err = execute_recorded(&plan, &mut fake, &mut journal, state).unwrap_err();
    assert_eq!(err.undo_failures.len(), 1);
    assert!(
        !journal.cleared,
        "an undo failed: `down` must still see the record"
    );
}

fn facts(lf: LinuxFacts) -> Facts {
    Facts::linux(LinuxFacts {
        has_nft: true,
        ..lf
    })
}

#[test]
fn down_after_the_daemon_was_killed_undoes_the_record_and_runs_the_hooks() {
    let lf = LinuxFacts {
        state: Some(Ok(Box::new(recorded()))),
        socket_exists: true,
        ..LinuxFacts::default()
    };
    let plan = plan_down(&full(), "wg0", "/etc/wireguard/wg0.conf", &facts(lf)).expect("plan");
    assert_eq!(
        plan.lines(""),
        [
            "[#] echo bye wg0",
            "[#] nft -f /dev/fd/63",
            "[#] ip -4 rule delete table main suppress_prefixlength 0",
            "[#] ip -4 rule delete table 51820",
            "[#] nft -f /dev/fd/63",
            "[#] ip -6 rule delete table main suppress_prefixlength 0",
            "[#] ip -6 rule delete table 51820",
            "[#] rm -f /var/run/wireguard/wg0.sock",
            "[#] nft delete table ip natwg0",
        ]
    );
    assert_eq!(
        plan.steps[0].action,
        Action::run(&["sh", "-c", "echo bye wg0"])
    );
    assert!(plan.steps[1..7].iter().all(|s| s.ignore_failure));
    assert!(
        !plan.steps[8].ignore_failure,
        "a failing PostDown is reported"
    );
}

#[test]
fn down_with_the_daemon_alive_deletes_its_link_instead() {
    let lf = LinuxFacts {
        state: Some(Ok(Box::new(recorded()))),
        socket_exists: true,
        is_wireguard: true,
        ..LinuxFacts::default()
    };
    let plan = plan_down(&full(), "wg0", "/x/wg0.conf", &facts(lf)).expect("plan");
    let lines = plan.lines("");
    assert_eq!(lines[7], "[#] ip link delete dev wg0");
    assert!(!plan.steps[7].ignore_failure);
    assert_eq!(lines.len(), 9);
}

#[test]
fn up_cleans_up_only_when_the_daemon_is_gone() {
    let dead = facts(LinuxFacts {
        state: Some(Ok(Box::new(recorded()))),
        ..LinuxFacts::default()
    });
    let plan = plan_leftovers("wg0", &dead)
        .expect("plan")
        .expect("leftovers");
    assert_eq!(
        plan.lines("").first().map(String::as_str),
        Some("[#] echo bye wg0")
    );
    assert_eq!(plan.lines("").len(), 8, "no socket: nothing to remove");
    let alive = facts(LinuxFacts {
        state: Some(Ok(Box::new(recorded()))),
        iface_exists: true,
        is_wireguard: true,
        ..LinuxFacts::default()
    });
    assert_eq!(plan_leftovers("wg0", &alive), Ok(None));
    assert_eq!(
        plan_leftovers("wg0", &facts(LinuxFacts::default())),
        Ok(None)
    );
}

#[test]
fn an_unreadable_record_is_an_error_naming_the_file() {
    let broken = facts(LinuxFacts {
        state: Some(Err(StateError("not a wgrs-quick state record (x)".into()))),
        ..LinuxFacts::default()
    });
    let want = "`/var/run/wireguard/wg0.wgrs-quick.state': not a wgrs-quick state record (x); \
                remove it to let `down' work from the live interface alone";
    let err = plan_down(&full(), "wg0", "/x/wg0.conf", &broken).unwrap_err();
    assert_eq!(err.to_string(), want);
    assert_eq!(
        plan_leftovers("wg0", &broken).unwrap_err().to_string(),
        want
    );
}
