//! Refusing a mistyped command: `wgrs shwo` must not quietly start a daemon for an interface
//! named `shwo` (wireguard-go's contract makes any unknown first word an interface name).
//!
//! The rule, also printed by `wgrs --help` ([`RULE`]): a first argument that is not a command is
//! refused when it contains no digit and is a prefix of a command, or is one typing mistake
//! (insertion, deletion, substitution or swap of neighbours; two when both words have six or
//! more letters) away from a command or from a word people reach for (`status`, `start`...).
//! `wgrs -f NAME` and `wgrs -- NAME` always start the daemon.

/// Words from other tools that people type instead of a command, and the command they want.
const HABITS: &[(&str, &str)] = &[
    ("status", "show"),
    ("list", "show"),
    ("ls", "show"),
    ("info", "show"),
    ("start", "up"),
    ("stop", "down"),
    ("reload", "syncconf"),
    ("version", "--version"),
];

/// How the rule reads in `wgrs --help` and in the man page.
pub(crate) const RULE: &str = "\
Typos are refused: a first argument that is not a command, contains no digit, and is a prefix
of a command or one typing mistake away from one (two for words of six letters or more; also
for words like status, start, stop, list) exits 1 with \"did you mean\" and starts nothing.
Interface names with a digit (wg0, tun1) always start the daemon; for any other name,
`wgrs -- NAME` (background) or `wgrs -f NAME` (foreground) does.";

/// Most commands named in one "did you mean".
const MAX_SUGGESTIONS: usize = 4;

/// Every command name: clap's visible commands (a test checks that they are all here), and
/// `wg`'s set/setconf/addconf/syncconf also while a build lacks one of them.
pub(crate) const KNOWN: &[&str] = &[
    "genkey",
    "genpsk",
    "pubkey",
    "up",
    "down",
    "save",
    "strip",
    "show",
    "showconf",
    "set",
    "setconf",
    "addconf",
    "syncconf",
    "completions",
    "help",
];

/// The commands `word` is probably a mistyping of (best first), or none if `word` is to be
/// taken as an interface name.
pub(crate) fn suggestions(word: &str) -> Vec<&'static str> {
    if word.is_empty() || word.bytes().any(|b| b.is_ascii_digit()) || KNOWN.contains(&word) {
        return Vec::new();
    }
    let lower = word.to_ascii_lowercase();
    let candidates = KNOWN.iter().map(|&c| (c, c)).chain(HABITS.iter().copied());
    let mut hits: Vec<(usize, &'static str)> = candidates
        .filter_map(|(looks_like, means)| Some((nearness(&lower, looks_like)?, means)))
        .collect();
    hits.sort_by_key(|&(distance, _)| distance);
    let mut out: Vec<&'static str> = Vec::new();
    for (_, name) in hits {
        if !out.contains(&name) && out.len() < MAX_SUGGESTIONS {
            out.push(name);
        }
    }
    out
}

/// `Some(distance)` when `word` is a prefix of `command` or close enough to it by edits.
fn nearness(word: &str, command: &str) -> Option<usize> {
    let distance = strsim::osa_distance(word, command);
    let limit = if word.len() >= 6 && command.len() >= 6 {
        2
    } else {
        1
    };
    (command.starts_with(word) || distance <= limit).then_some(distance)
}

/// The refusal for a command line whose first argument is a mistyped command, if it is one.
/// A first argument starting with `-` (`-f`, `--`, `--help`) is never checked.
pub(crate) fn check(args: &[std::ffi::OsString]) -> Option<String> {
    let first = args.get(1)?.to_str()?;
    if first.starts_with('-') {
        return None;
    }
    let choices = suggestions(first);
    (!choices.is_empty()).then(|| refusal(first, &choices))
}

/// Text for refusing `word`, given its suggestions (non-empty).
pub(crate) fn refusal(word: &str, suggestions: &[&str]) -> String {
    let quoted: Vec<String> = suggestions.iter().map(|s| format!("`{s}'")).collect();
    let list = match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    format!(
        "`{word}' is not a command; did you mean {list}?\n\
         (to start a daemon for an interface named `{word}', run: wgrs -- {word})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_from_the_issue_are_caught_with_the_right_suggestion() {
        for (typo, want) in [
            ("shwo", "show"),
            ("stauts", "show"),
            ("dwon", "down"),
            ("genky", "genkey"),
            ("sh", "show"),
            ("sohw", "show"),
            ("donw", "down"),
            ("upp", "up"),
            ("pu", "up"),
            ("shwoconf", "showconf"),
            ("shwocnof", "showconf"),
            ("pubkye", "pubkey"),
            ("genpks", "genpsk"),
            ("stirp", "strip"),
            ("svae", "save"),
            ("synconf", "syncconf"),
            ("addcnof", "addconf"),
            ("setocnf", "setconf"),
            ("sett", "set"),
            ("Show", "show"),
            ("completion", "completions"),
            ("status", "show"),
            ("stop", "down"),
            ("start", "up"),
            ("versoin", "--version"),
        ] {
            let got = suggestions(typo);
            assert_eq!(got.first(), Some(&want), "{typo}: {got:?}");
        }
    }

    #[test]
    fn interface_names_start_the_daemon() {
        for name in [
            "wg0", "wg1", "wg10", "tun0", "eth0", "wlan0", "utun3", "wgrs0", "sh0", "up1", "utun",
            "home", "work", "office", "mullvad", "proton", "vpn", "tun", "gw", "lan", "wan",
            "mesh", "peer", "server", "client", "pump", "hub", "wg-home", "corp",
        ] {
            assert_eq!(suggestions(name), Vec::<&str>::new(), "{name}");
        }
    }

    #[test]
    fn every_visible_command_is_known() {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
            assert!(
                KNOWN.contains(&sub.get_name()),
                "{} missing from KNOWN",
                sub.get_name()
            );
        }
        assert!(KNOWN.contains(&"help"), "clap's own help command");
    }

    #[test]
    fn exact_commands_are_not_typos() {
        for name in KNOWN {
            assert!(suggestions(name).is_empty(), "{name}");
        }
    }

    #[test]
    fn ambiguous_prefixes_list_several_at_most_four() {
        assert_eq!(suggestions("sh"), ["show", "showconf"]);
        let many = suggestions("s");
        assert_eq!(many.len(), MAX_SUGGESTIONS, "{many:?}");
    }

    #[test]
    fn only_the_first_argument_is_checked_and_flags_escape() {
        let argv = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(check(&argv(&["wgrs", "shwo"])).is_some());
        assert!(check(&argv(&["wgrs", "shwo", "wg0"])).is_some());
        assert!(check(&argv(&["wgrs", "show", "shwo"])).is_none());
        assert!(check(&argv(&["wgrs", "-f", "shwo"])).is_none());
        assert!(check(&argv(&["wgrs", "--", "shwo"])).is_none());
        assert!(check(&argv(&["wgrs", "wg0"])).is_none());
        assert!(check(&argv(&["wgrs"])).is_none());
    }

    #[test]
    fn the_refusal_names_the_word_the_choices_and_the_escape() {
        assert_eq!(
            refusal("sh", &["show", "showconf"]),
            "`sh' is not a command; did you mean `show' or `showconf'?\n\
             (to start a daemon for an interface named `sh', run: wgrs -- sh)"
        );
        assert!(refusal("x", &["a", "b", "c"]).contains("`a', `b' or `c'?"));
    }
}
