//! The man page `docs/man/wgrs.8`, generated from the clap definitions (`clap_mangen` for the
//! head, our own COMMANDS section) plus the hand-kept sections below, and kept true by tests:
//! the committed file must equal a fresh rendering, and every environment variable the sources
//! read must be documented. `WGRS_BLESS=1 cargo test --release --bin wgrs manpage` rewrites it.

use super::{typo, Cli};
use clap::CommandFactory;
use roff::{bold, italic, roman, Roff};

/// Where the page lives, relative to the repository.
const PAGE: &str = "docs/man/wgrs.8";

/// Every environment variable wgrs reads (or, for wg-quick's, is read about), with its meaning.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("LOG_LEVEL", "Daemon log level: verbose (or debug), error (the default) or silent. Logs go to stderr; a background daemon keeps its stderr only when LOG_LEVEL is set."),
    ("WG_PROCESS_FOREGROUND", "If 1, the daemon stays in the foreground, as with -f."),
    ("WG_TUN_FD", "An already open TUN file descriptor for the daemon to adopt instead of creating one (wireguard-go's contract; set by the daemon itself when it re-executes into the background)."),
    ("WG_UAPI_FD", "An already listening UAPI socket file descriptor for the daemon to adopt (as WG_TUN_FD)."),
    ("WG_TUN_NAME_FILE", "A file the daemon writes the interface's real name to (macOS utun picks its own name; wg-quick(8) reads it)."),
    ("WG_ENDPOINT_RESOLUTION_RETRIES", "How many times up retries resolving an Endpoint host name: a number (default 15) or infinity, as for wg(8)."),
    ("WG_QUICK_USERSPACE_IMPLEMENTATION", "Read by wg-quick(8), not by wgrs: set it to wgrs to have wg-quick run wgrs as its userspace daemon."),
    ("WG_COLOR_MODE", "For show: always, never or auto (the default: colour when stdout is a terminal), as for wg(8)."),
    ("WG_HIDE_KEYS", "For show: never prints private and preshared keys instead of (hidden), as for wg(8)."),
    ("WGRS_DISABLE_OFFLOAD", "If 1 (or true, yes), the daemon does not use TUN offloads (TSO, GRO) on Linux."),
    ("WGRS_AVX512", "If 0, the daemon does not use its AVX-512 ChaCha20-Poly1305 and uses ring's instead."),
    ("WGRS_CRYPTO_THREADS", "How many threads seal and open one large batch of packets: a number from 1 to 256, or auto (the default): half the cores, since the TUN side and the UDP side each fork over their own threads. On 2 cores auto is 1: all crypto stays on the packet threads (no workers). An invalid value is logged as an error and auto used."),
    ("WGRS_READY_FD", "Internal: the pipe a background daemon reports readiness on to the process that started it."),
];

/// Sections written by hand, in roff: (heading, paragraphs).
const FILES: &[(&str, &str)] = &[
    ("/var/run/wireguard/INTERFACE.sock", "The daemon's UAPI socket (created under umask 077: owner only); deleting it stops the daemon."),
    ("/etc/wireguard/INTERFACE.conf", "The configuration up, down, save and strip read for a bare interface name."),
];

/// Example command lines and what they do.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "umask 077; wgrs genkey | tee privatekey | wgrs pubkey > publickey",
        "Make a key pair.",
    ),
    (
        "wgrs up wg0",
        "Bring up /etc/wireguard/wg0.conf as wg-quick up would, with wgrs as the daemon.",
    ),
    (
        "wgrs show wg0",
        "Print the interface's state as wg show does.",
    ),
    (
        "wgrs -f wg0",
        "Run only the daemon for wg0, in the foreground; configure it with wg(8) or wgrs.",
    ),
    (
        "wgrs completions bash > /usr/share/bash-completion/completions/wgrs",
        "Install bash completion.",
    ),
];

/// The whole page, as roff.
pub(crate) fn render() -> String {
    let mut cmd = Cli::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone())
        .title("WGRS")
        .section("8")
        .manual("wgrs")
        .source(format!("wgrs v{}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    for part in [
        clap_mangen::Man::render_title,
        clap_mangen::Man::render_name_section,
        clap_mangen::Man::render_synopsis_section,
        clap_mangen::Man::render_description_section,
        clap_mangen::Man::render_options_section,
    ] {
        part(&man, &mut out).expect("rendering into memory cannot fail");
    }
    let mut roff = Roff::new();
    commands(&mut roff, &cmd);
    roff.control("SH", ["TYPOS"]).text([roman(typo::RULE)]);
    tagged(&mut roff, "ENVIRONMENT", ENVIRONMENT);
    tagged(&mut roff, "FILES", FILES);
    roff.control("SH", ["EXIT STATUS"]).text([roman(
        "0 on success, 1 on any error (bad arguments included); up, down and save exit with a failed hook's status.",
    )]);
    tagged(&mut roff, "EXAMPLES", EXAMPLES);
    roff.control("SH", ["SEE ALSO"])
        .text([roman("wg(8), wg-quick(8), wireguard-go(8), ip(8)")]);
    let mut page = String::from_utf8(out).expect("clap_mangen writes UTF-8");
    page.push_str(&roff.to_roff());
    page
}

/// One `.TP` entry per visible command: its usage, its description and its arguments.
fn commands(roff: &mut Roff, cmd: &clap::Command) {
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let usage = sub.clone().render_usage().to_string();
        let usage = usage
            .trim_start_matches("Usage: ")
            .replace("\n       ", " | ");
        roff.control("TP", []).text([bold(usage)]);
        if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
            roff.text([roman(about.to_string())]);
        }
        for arg in sub.get_positionals().filter(|a| !a.is_hide_set()) {
            let (Some(names), Some(help)) = (arg.get_value_names(), arg.get_help()) else {
                continue;
            };
            let names: Vec<String> = names.iter().map(ToString::to_string).collect();
            roff.control("br", [])
                .text([italic(names.join(" ")), roman(format!(": {help}"))]);
        }
    }
}

/// A section of `.TP` entries: a bold tag, then its text.
fn tagged(roff: &mut Roff, heading: &str, entries: &[(&str, &str)]) {
    roff.control("SH", [heading]);
    for (tag, text) in entries {
        roff.control("TP", [])
            .text([bold(*tag)])
            .text([roman(*text)]);
    }
}

/// Environment variable names the given Rust source reads: quoted `WG_*`, `WGRS_*` and
/// `LOG_LEVEL` literals.
fn env_names(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in source.match_indices('"') {
        let rest = &source[at + 1..];
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        let name = &rest[..len];
        let quoted = rest[len..].starts_with('"');
        let ours = name.starts_with("WG_") || name.starts_with("WGRS_") || name == "LOG_LEVEL";
        if quoted && ours && name.len() > 5 {
            names.push(name.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn repo() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn committed_man_page_is_what_the_definitions_render() {
        let fresh = render();
        let path = repo().join(PAGE);
        if std::env::var_os("WGRS_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &fresh).expect("write the man page");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{PAGE} is out of date with the clap definitions; regenerate it with \
             `WGRS_BLESS=1 cargo test --release --bin wgrs manpage` and commit it"
        );
    }

    #[test]
    fn every_command_has_an_entry() {
        let page = render();
        let mut cmd = Cli::command();
        cmd.build();
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let entry = format!(".TP\n\\fBwgrs {}", sub.get_name());
            assert!(
                page.contains(&entry),
                "no COMMANDS entry for {}",
                sub.get_name()
            );
        }
    }

    /// Rust sources under `dir`, test files excluded.
    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read source dir").flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                sources(&path, out);
            } else if name.ends_with(".rs") && name != "tests.rs" && !name.ends_with("_tests.rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_environment_variable_the_sources_read_is_documented() {
        let mut files = Vec::new();
        sources(&repo().join("src"), &mut files);
        sources(&repo().join("wg-quick-rs/src"), &mut files);
        let documented: Vec<&str> = ENVIRONMENT.iter().map(|(n, _)| *n).collect();
        let mut seen = 0;
        for file in files.iter().filter(|f| !f.ends_with("manpage.rs")) {
            let text = std::fs::read_to_string(file).expect("read source");
            for name in env_names(&text) {
                seen += 1;
                assert!(
                    documented.contains(&name.as_str()),
                    "{name} (read in {}) is not in the man page",
                    file.display()
                );
            }
        }
        assert!(
            seen >= 10,
            "the scan found only {seen} variables: is it still looking?"
        );
        let page = render();
        for name in documented {
            assert!(page.contains(&format!(".TP\n\\fB{name}\\fR")), "{name}");
        }
    }

    #[test]
    fn env_names_takes_quoted_names_only() {
        let src = r#"var("LOG_LEVEL"); env("WG_TUN_FD") // WG_NOT_QUOTED "wg_lower" "WGRS_X1""#;
        assert_eq!(env_names(src), ["LOG_LEVEL", "WG_TUN_FD", "WGRS_X1"]);
    }
}
