//! The README keeps its promises to a new user: its two first commands need no `sudo` of their
//! own (conf/quickstart.sh and .ci/run take care of it; tests/quickstart.rs runs the first),
//! it has the sections a user looks for, it shows the very test command .ci/run runs, and every
//! relative link in the Markdown files resolves.

// A panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap()
}

#[test]
fn the_first_two_commands_are_the_quick_start_and_ci_without_sudo() {
    let readme = read("README.md");
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let commands: Vec<&str> = block
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(commands, ["bash conf/quickstart.sh", "bash .ci/run"]);
}

#[test]
fn readme_shows_the_test_command_ci_runs() {
    let ci = read(".ci/run");
    let line = ci
        .lines()
        .skip_while(|l| !l.contains("Keep this line identical to the test command in README.md"))
        .find(|l| l.starts_with("cargo test"))
        .expect("the marked test command in .ci/run");
    let readme = read("README.md");
    assert!(
        readme.lines().any(|l| l.starts_with(line)),
        "README lacks `{line}`"
    );
}

#[test]
fn readme_has_the_sections_users_look_for() {
    let readme = read("README.md");
    let headings: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .collect();
    for want in [
        "Install",
        "Usage",
        "Configuration",
        "Logs",
        "Troubleshooting",
        "Compatibility",
    ] {
        assert!(headings.contains(&want), "no `## {want}` in {headings:?}");
    }
    let install = readme
        .split("## Install")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    for needle in [
        "cargo install --path .",
        "docs/man/wgrs.8",
        "wgrs completions bash",
        "wgrs completions zsh",
        "wgrs completions fish",
        "contrib/systemd/",
    ] {
        assert!(install.contains(needle), "Install lacks {needle}");
    }
    assert!(
        !readme.contains("DESIGN.md"),
        "the architecture document is docs/ARCHITECTURE.md"
    );
}

#[test]
fn relative_links_resolve() {
    for doc in ["README.md", "conf/README.md", "benches/README.md"] {
        let text = read(doc);
        let base = repo().join(doc).parent().unwrap().to_path_buf();
        for (at, _) in text.match_indices("](") {
            let target = text[at + 2..].split(')').next().unwrap();
            if target.contains("://") || target.starts_with('#') {
                continue;
            }
            let path = base.join(target.split('#').next().unwrap());
            assert!(path.exists(), "{doc}: link to {target} does not resolve");
        }
    }
}
