//! `wgrs completions SHELL` through the real binary and the real shells: the bash script,
//! loaded into bash, completes commands, shells and config files; fish's completes commands;
//! zsh's parses. A missing shell fails the test with an install hint (CI installs them), or
//! skips it when `WGRS_SKIP_INTEROP=1`.

// A panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::process::Command;

const WGRS: &str = env!("CARGO_BIN_EXE_wgrs");

/// The script `wgrs completions shell` prints (which must succeed).
fn script(shell: &str) -> String {
    let out = Command::new(WGRS)
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `shell -c code` with `script` in a file passed as `$1` (bash, zsh) or `$argv[1]`
/// (fish); `None` when the shell is not installed and skipping is allowed.
fn run_shell(shell: &str, script: &str, code: &str) -> Option<(bool, String)> {
    let dir = std::env::temp_dir().join(format!("wgrs-compl-{}-{shell}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("script");
    std::fs::write(&file, script).unwrap();
    let mut cmd = Command::new(shell);
    cmd.args(["-c", code]);
    if shell != "fish" {
        cmd.arg(shell); // $0 for bash and zsh; fish has no such slot
    }
    let out = cmd.arg(&file).current_dir(&dir).output();
    let _ = std::fs::remove_dir_all(&dir);
    match out {
        Ok(out) => Some((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )),
        Err(e) if std::env::var("WGRS_SKIP_INTEROP").as_deref() == Ok("1") => {
            eprintln!("skipping: {shell}: {e} and WGRS_SKIP_INTEROP=1");
            None
        }
        Err(e) => panic!("{shell}: {e}. Install it (Debian: apt-get install -y {shell}) or set WGRS_SKIP_INTEROP=1"),
    }
}

/// What bash offers for the words of `line` (the last one being completed): the script's
/// function, then, as `complete -o default` makes bash do, file names if it offered nothing.
fn bash_complete(line: &[&str]) -> Option<Vec<String>> {
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let code = format!(
        "source \"$1\" || exit 1\n\
         COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
         COMP_POINT=${{#COMP_LINE}}\n\
         _wgrs wgrs \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         if [ ${{#COMPREPLY[@]}} -eq 0 ] && [[ $(complete -p wgrs) == *\"-o default\"* ]]; then\n\
             COMPREPLY=($(compgen -f -- \"${{COMP_WORDS[COMP_CWORD]}}\"))\n\
         fi\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = words.join(" "),
        cword = line.len() - 1,
    );
    let (ok, out) = run_shell("bash", &script("bash"), &code)?;
    assert!(ok, "{out}");
    Some(
        out.lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect(),
    )
}

#[test]
fn bash_completes_commands_shells_and_config_files() {
    let Some(got) = bash_complete(&["wgrs", "sh"]) else {
        return;
    };
    assert_eq!(got, ["show", "showconf"]);
    let got = bash_complete(&["wgrs", "gen"]).unwrap();
    assert_eq!(got, ["genkey", "genpsk"]);
    let got = bash_complete(&["wgrs", "completions", ""]).unwrap();
    for shell in ["bash", "zsh", "fish"] {
        assert!(got.iter().any(|g| g == shell), "{got:?}");
    }
    let dir = std::env::temp_dir().join(format!("wgrs-compl-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("office.conf"), "").unwrap();
    let prefix = format!("{}/off", dir.display());
    let got = bash_complete(&["wgrs", "up", &prefix]).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(got, [format!("{}/office.conf", dir.display())]);
}

#[test]
fn fish_completes_commands_with_their_descriptions() {
    let code = "source $argv[1]; and complete --do-complete 'wgrs sh'";
    let Some((ok, out)) = run_shell("fish", &script("fish"), code) else {
        return;
    };
    assert!(ok, "{out}");
    let names: Vec<&str> = out.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(names, ["show", "showconf"], "{out}");
    assert!(
        out.contains("show\tShows the current configuration"),
        "{out}"
    );
}

#[test]
fn zsh_script_parses_and_defines_the_wgrs_completion() {
    let text = script("zsh");
    assert!(text.starts_with("#compdef wgrs\n"), "{text}");
    let Some((ok, out)) = run_shell("zsh", &text, "zsh -n \"$1\"") else {
        return;
    };
    assert!(ok, "zsh -n: {out}");
    assert!(text.contains("'showconf:"), "commands listed");
}

#[test]
fn an_unknown_shell_is_refused_with_the_choices() {
    let out = Command::new(WGRS)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("invalid value 'tcsh'") && err.contains("bash"),
        "{err}"
    );
}
