//! The executor with a fake runner: progress lines, failure at step k, undo in reverse order,
//! ignored failures, failing undos, and the macOS interface name learnt from the daemon.

mod common;

use common::{config, peer, strings};
use wg_quick_rs::config::Config;
use wg_quick_rs::exec::{execute, Ran, RunError, Runner};
use wg_quick_rs::plan::{
    plan_down, plan_up, Action, Facts, LinuxFacts, MacFacts, Plan, REAL_IFACE,
};

/// Records what it is told and asked; fails the calls whose index is in `fail`.
#[derive(Default)]
struct Fake {
    said: Vec<String>,
    ran: Vec<Action>,
    fail: Vec<usize>,
    name: Option<String>,
}

impl Runner for Fake {
    fn say(&mut self, line: &str) {
        self.said.push(line.to_owned());
    }

    fn run(&mut self, action: &Action) -> Result<Ran, RunError> {
        let k = self.ran.len();
        self.ran.push(action.clone());
        if self.fail.contains(&k) {
            return Err(RunError {
                message: format!("call {k} failed"),
                code: Some(2),
                errno: None,
            });
        }
        match (action, &self.name) {
            (
                Action::StartDaemon {
                    name_file: Some(_), ..
                },
                Some(n),
            ) => Ok(Ran::Named(n.clone())),
            _ => Ok(Ran::Done),
        }
    }
}

fn full() -> Config {
    let mut cfg = config(
        &["10.9.0.2/24", "fd09::2/64"],
        vec![peer(
            2,
            &["0.0.0.0/0", "::/0", "192.168.7.0/24"],
            Some(("192.0.2.1", 51820)),
        )],
    );
    cfg.interface.pre_up = strings(&["echo pre %i"]);
    cfg.interface.dns = vec!["1.1.1.1".parse().expect("ip")];
    cfg
}

fn linux_plan() -> Plan {
    let facts = Facts::linux(LinuxFacts {
        has_resolvconf: true,
        has_nft: true,
        ..LinuxFacts::default()
    });
    plan_up(&full(), "wg0", &facts).expect("plan")
}

#[test]
fn success_prints_every_step_and_runs_it_once() {
    let plan = linux_plan();
    let mut fake = Fake::default();
    execute(&plan, &mut fake).unwrap();
    assert_eq!(fake.said, plan.lines("wg0"));
    let actions: Vec<Action> = plan.steps.iter().map(|s| s.action.clone()).collect();
    assert_eq!(fake.ran, actions);
}

#[test]
fn failure_in_the_middle_undoes_in_reverse() {
    let plan = linux_plan();
    let k = plan
        .steps
        .iter()
        .position(|s| s.display == "ip -4 rule add table main suppress_prefixlength 0")
        .unwrap();
    let mut fake = Fake {
        fail: vec![k],
        ..Fake::default()
    };
    let err = execute(&plan, &mut fake).unwrap_err();
    assert_eq!(
        err.step,
        "ip -4 rule add table main suppress_prefixlength 0"
    );
    assert_eq!(err.exit_code(), 2);
    assert!(err.undo_failures.is_empty());
    assert_eq!(fake.said[..=k], plan.lines("wg0")[..=k]);
    assert_eq!(
        fake.said[k + 1..],
        [
            "[#] ip -4 rule delete table 51820",
            "[#] nft -f /dev/fd/63",
            "[#] ip -6 rule delete table main suppress_prefixlength 0",
            "[#] ip -6 rule delete table 51820",
            "[#] resolvconf -d wg0 -f",
            "[#] ip link delete dev wg0",
        ]
    );
    assert_eq!(
        fake.ran.last(),
        Some(&Action::run(&["ip", "link", "delete", "dev", "wg0"]))
    );
}

#[test]
fn failure_at_any_step_undoes_exactly_the_completed_ones() {
    let plan = linux_plan();
    for k in 0..plan.steps.len() {
        let mut fake = Fake {
            fail: vec![k],
            ..Fake::default()
        };
        let err = execute(&plan, &mut fake).unwrap_err();
        assert_eq!(err.step, plan.steps[k].display);
        let expected: Vec<String> = plan.steps[..k]
            .iter()
            .rev()
            .flat_map(|s| s.undo.iter().map(|u| format!("[#] {}", u.display)))
            .collect();
        assert_eq!(fake.said[k + 1..], expected, "failure at step {k}");
        let undo_actions: Vec<Action> = plan.steps[..k]
            .iter()
            .rev()
            .flat_map(|s| s.undo.iter().map(|u| u.action.clone()))
            .collect();
        assert_eq!(fake.ran[k + 1..], undo_actions);
    }
}

#[test]
fn a_failing_pre_up_hook_leaves_nothing_to_undo() {
    let plan = linux_plan();
    let mut fake = Fake {
        fail: vec![0],
        ..Fake::default()
    };
    let err = execute(&plan, &mut fake).unwrap_err();
    assert_eq!(err.step, "echo pre wg0");
    assert_eq!(fake.said, ["[#] echo pre wg0"]);
    assert_eq!(err.to_string(), "`echo pre wg0' failed: call 0 failed");
}

#[test]
fn failing_undos_are_reported_and_the_rest_still_run() {
    let plan = linux_plan();
    let k = plan
        .steps
        .iter()
        .position(|s| s.display.starts_with("ip -4 route add 0.0.0.0/0"))
        .unwrap();
    // Calls: 0..=k steps, then the undos; make the first undo fail.
    let mut fake = Fake {
        fail: vec![k, k + 1],
        ..Fake::default()
    };
    let err = execute(&plan, &mut fake).unwrap_err();
    let failure = format!("nft -f /dev/fd/63: call {} failed", k + 1);
    assert_eq!(err.undo_failures, std::slice::from_ref(&failure));
    assert_eq!(fake.said.last().unwrap(), "[#] ip link delete dev wg0");
    assert!(err
        .to_string()
        .ends_with(&format!("(and undoing: {failure})")));
}

#[test]
fn ignored_failures_do_not_stop_down() {
    let mut cfg = full();
    cfg.interface.post_down = strings(&["echo bye"]);
    let facts = Facts::linux(LinuxFacts {
        is_wireguard: true,
        ..LinuxFacts::default()
    });
    let plan = plan_down(&cfg, "wg0", "/x/wg0.conf", &facts).unwrap();
    assert_eq!(
        plan.lines(""),
        [
            "[#] ip link delete dev wg0",
            "[#] resolvconf -d wg0 -f",
            "[#] echo bye"
        ]
    );
    let mut fake = Fake {
        fail: vec![1],
        ..Fake::default()
    };
    execute(&plan, &mut fake).unwrap();
    assert_eq!(fake.ran.len(), 3);
    // A failing non-ignored down step stops there; down steps have nothing to undo.
    let mut fake = Fake {
        fail: vec![0],
        ..Fake::default()
    };
    assert!(execute(&plan, &mut fake).is_err());
    assert_eq!(fake.said, ["[#] ip link delete dev wg0"]);
}

#[test]
fn macos_learns_the_utun_name_and_undoes_with_it() {
    let mut cfg = full();
    cfg.interface.pre_up = strings(&["echo %i"]);
    let facts = Facts::macos(MacFacts {
        new_tun_mtu: 1420,
        gateway4: Some("192.168.1.1".into()),
        ..MacFacts::default()
    });
    let plan = plan_up(&cfg, "wg0", &facts).unwrap();
    let k = plan
        .steps
        .iter()
        .position(|s| s.display.ends_with(" up"))
        .unwrap();
    let mut fake = Fake {
        fail: vec![k],
        name: Some("utun7".into()),
        ..Fake::default()
    };
    execute(&plan, &mut fake).unwrap_err();
    assert_eq!(
        fake.said,
        [
            "[#] wgrs utun",
            "[+] Interface for wg0 is utun7",
            "[#] echo utun7",
            "[#] wg addconf utun7 /dev/fd/63",
            "[#] ifconfig utun7 inet 10.9.0.2/24 10.9.0.2 alias",
            "[#] ifconfig utun7 inet6 fd09::2/64 alias",
            "[#] ifconfig utun7 up",
            "[#] rm -f /var/run/wireguard/utun7.sock",
            "[#] rm -f /var/run/wireguard/wg0.name",
        ]
    );
    let Action::SetConfig { iface, .. } = &fake.ran[2] else {
        panic!("no SetConfig");
    };
    assert_eq!(iface, "utun7");
    assert!(!format!("{:?}", fake.ran).contains(REAL_IFACE));
    assert_eq!(
        fake.ran.last(),
        Some(&Action::RemoveFile {
            path: "/var/run/wireguard/wg0.name".into()
        })
    );
}

#[test]
fn macos_full_run_binds_the_monitor() {
    let facts = Facts::macos(MacFacts {
        new_tun_mtu: 1420,
        gateway4: Some("192.168.1.1".into()),
        ..MacFacts::default()
    });
    let plan = plan_up(&full(), "wg0", &facts).unwrap();
    let mut fake = Fake {
        name: Some("utun4".into()),
        ..Fake::default()
    };
    execute(&plan, &mut fake).unwrap();
    let Some(Action::RouteMonitor(spec)) = fake.ran.last() else {
        panic!("monitor not last");
    };
    assert_eq!(spec.iface, "utun4");
    assert_eq!(fake.said.last().unwrap(), "[+] Backgrounding route monitor");
}
