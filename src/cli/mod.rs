//! Command-line front end: parse arguments with clap, dispatch to one command, map failures to
//! the messages and exit codes `wg` and wireguard-go use.
//!
//! Adding a command: a variant in [`Command`], a module beside `keys`, an arm in [`dispatch`].
//! The wireguard-go contract `wgrs [-f|--foreground] IFNAME` will join [`Cli`] as an optional
//! positional plus flag (with `args_conflicts_with_subcommands`).

mod completions;
mod keys;
#[cfg(test)]
mod manpage;
mod quick;
mod set;
mod show;
mod typo;

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

/// `wgrs`: a WireGuard-compatible userspace tunnel.
#[derive(Debug, Parser)]
#[command(
    name = "wgrs",
    version = concat!("v", env!("CARGO_PKG_VERSION")),
    about = "A WireGuard-compatible userspace tunnel",
    long_about = "A WireGuard-compatible userspace tunnel: a drop-in for wireguard-go (the same \
command line, UAPI socket and behaviour, so wg(8) and wg-quick(8) drive it unchanged) that also \
does wg-quick's jobs (up, down, save, strip) and wg's (keys, show and the other commands \
below) itself.",
    arg_required_else_help = true,
    args_conflicts_with_subcommands = true,
    override_usage = "wgrs [-f|--foreground] INTERFACE-NAME\n       wgrs <COMMAND>",
    after_help = typo::RULE
)]
struct Cli {
    /// Stay in the foreground instead of re-executing as a background daemon
    #[arg(short = 'f', long = "foreground")]
    foreground: bool,
    /// Run the userspace WireGuard daemon for this interface (wireguard-go's contract)
    #[arg(value_name = "INTERFACE-NAME")]
    interface: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The subcommands. Key commands mirror `wg genkey|genpsk|pubkey` byte for byte.
#[derive(Debug, Subcommand)]
enum Command {
    /// Generates a new private key and writes it to stdout
    #[command(disable_help_flag = true)]
    Genkey(NoArgs),
    /// Generates a new preshared key and writes it to stdout
    #[command(disable_help_flag = true)]
    Genpsk(NoArgs),
    /// Reads a private key from stdin and writes a public key to stdout
    #[command(disable_help_flag = true)]
    Pubkey(NoArgs),
    /// wg-quick up: bring up the interface described by a config file
    Up(QuickArg),
    /// wg-quick down: tear down an interface brought up with `up`
    Down(QuickArg),
    /// wg-quick save: write the running configuration back to its file
    Save(QuickArg),
    /// wg-quick strip: print the config file without wg-quick's own keys
    Strip(QuickArg),
    /// Prints a completion script for bash, zsh or fish (e.g. `wgrs completions bash`)
    Completions(completions::ShellArg),
    /// Shows the current configuration and device information (as `wg show`)
    #[command(
        disable_help_flag = true,
        override_usage = "wgrs show [{ <interface> | all | interfaces } [PARAM]]"
    )]
    Show(ShowArgs),
    /// Shows the current configuration of an interface, for use with `setconf` (as `wg showconf`)
    #[command(disable_help_flag = true, override_usage = "wgrs showconf <interface>")]
    Showconf(ShowconfArgs),
    /// Change the current configuration, add peers, remove peers, or change peers (as `wg set`)
    #[command(
        disable_help_flag = true,
        override_usage = "wgrs set <interface> [listen-port <port>] [fwmark <mark>] \
            [private-key <file path>] [peer <base64 public key> [remove] \
            [preshared-key <file path>] [endpoint <ip>:<port>] \
            [persistent-keepalive <interval seconds>] \
            [allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...] ]..."
    )]
    Set(RawArgs),
    /// Applies a configuration file to a WireGuard interface (as `wg setconf`)
    #[command(
        disable_help_flag = true,
        override_usage = "wgrs setconf <interface> <configuration filename>"
    )]
    Setconf(RawArgs),
    /// Appends a configuration file to a WireGuard interface (as `wg addconf`)
    #[command(
        disable_help_flag = true,
        override_usage = "wgrs addconf <interface> <configuration filename>"
    )]
    Addconf(RawArgs),
    /// Synchronizes a configuration file to a WireGuard interface (as `wg syncconf`)
    #[command(
        disable_help_flag = true,
        override_usage = "wgrs syncconf <interface> <configuration filename>"
    )]
    Syncconf(RawArgs),
    /// macOS route monitor started by `up` (internal)
    #[command(name = "__route-monitor", hide = true)]
    RouteMonitor(MonitorArg),
}

/// The spec file `up` wrote for the route monitor.
#[derive(Debug, Args)]
struct MonitorArg {
    #[arg(value_name = "SPEC_FILE")]
    spec: std::path::PathBuf,
}

/// `wg show`'s arguments, taken as they come and checked by hand as wg checks them (so that
/// `show help` and wrong counts earn wg's usage text, not clap's).
#[derive(Debug, Args)]
struct ShowArgs {
    /// An interface, `all` or `interfaces` (none: all), then optionally one of public-key,
    /// private-key, listen-port, fwmark, peers, preshared-keys, endpoints, allowed-ips,
    /// latest-handshakes, transfer, persistent-keepalive, dump
    #[arg(
        value_name = "ARG",
        num_args = 0..,
        allow_hyphen_values = true,
        trailing_var_arg = true
    )]
    args: Vec<OsString>,
}

/// `wg showconf`'s argument (exactly one, checked by hand).
#[derive(Debug, Args)]
struct ShowconfArgs {
    /// The interface
    #[arg(
        value_name = "INTERFACE",
        num_args = 0..,
        allow_hyphen_values = true,
        trailing_var_arg = true
    )]
    args: Vec<OsString>,
}

/// Arguments taken as they come and checked by hand as `wg` checks them (so that `--help` and
/// wrong counts earn wg's usage text, not clap's).
#[derive(Debug, Args)]
struct RawArgs {
    /// The interface, then the options or the configuration file
    #[arg(
        value_name = "ARG",
        num_args = 0..,
        allow_hyphen_values = true,
        trailing_var_arg = true
    )]
    args: Vec<OsString>,
}

/// `CONFIG_FILE | INTERFACE`, as wg-quick takes it.
#[derive(Debug, Args)]
struct QuickArg {
    /// `wg0` (meaning /etc/wireguard/wg0.conf) or a path ending in `.conf`
    #[arg(value_name = "CONFIG_FILE | INTERFACE", value_hint = clap::ValueHint::FilePath)]
    config: String,
}

/// `wg`'s key commands take no arguments; anything given (even `--help`) earns wg's one-line
/// usage message instead of a clap error, so it is collected here and checked by hand.
#[derive(Debug, Args)]
struct NoArgs {
    #[arg(hide = true, num_args = 0.., allow_hyphen_values = true, trailing_var_arg = true)]
    extra: Vec<OsString>,
}

impl NoArgs {
    /// `Ok` when no arguments were given; otherwise the usage failure for `subcommand`.
    fn require_none(&self, subcommand: &'static str) -> Result<(), Failure> {
        if self.extra.is_empty() {
            Ok(())
        } else {
            Err(Failure::Usage(subcommand))
        }
    }
}

/// Why a command failed, and so what goes to stderr before exiting with status 1.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Wrong arguments: `Usage: {argv0} {subcommand}`.
    Usage(&'static str),
    /// An error: `{argv0}: {message}` (wg prefixes errors with its `argv[0]`).
    Message(String),
    /// An error with a specific exit status (a failed hook's, as wg-quick passes it on).
    MessageCode(String, i32),
    /// A line printed as is, like C's `perror` output (`getrandom: ...`).
    Plain(String),
    /// Nothing to print (e.g. stdout's reader went away); just exit 1.
    Quiet,
}

/// Parse the process arguments, run the command and return its exit status.
pub fn run() -> ExitCode {
    let argv0 = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "wgrs".to_owned());
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(refusal) = typo::check(&args) {
        report(&argv0, &Failure::Message(refusal));
        return ExitCode::FAILURE;
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => return clap_exit(&err),
    };
    let command = match (cli.command, cli.interface) {
        (Some(c), _) => c,
        (None, Some(ifname)) => return wgrs::driver::daemon::run(&ifname, cli.foreground),
        (None, None) => {
            report(
                &argv0,
                &Failure::Message("missing INTERFACE-NAME (see --help)".into()),
            );
            return ExitCode::FAILURE;
        }
    };
    match dispatch(command, &argv0) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            report(&argv0, &failure);
            match failure {
                Failure::MessageCode(_, code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn dispatch(command: Command, argv0: &str) -> Result<(), Failure> {
    match command {
        Command::Genkey(args) => args.require_none("genkey").and_then(|()| keys::genkey()),
        Command::Genpsk(args) => args.require_none("genpsk").and_then(|()| keys::genpsk()),
        Command::Pubkey(args) => args.require_none("pubkey").and_then(|()| keys::pubkey()),
        Command::Up(a) => quick::run(quick::Quick::Up, &a.config),
        Command::Down(a) => quick::run(quick::Quick::Down, &a.config),
        Command::Save(a) => quick::run(quick::Quick::Save, &a.config),
        Command::Strip(a) => quick::run(quick::Quick::Strip, &a.config),
        Command::Completions(a) => completions::print(a.shell),
        Command::RouteMonitor(a) => {
            wg_quick_rs::exec::monitor::run_monitor(&a.spec).map_err(Failure::Message)
        }
        Command::Show(a) => show::show(&a.args, argv0),
        Command::Showconf(a) => show::showconf(&a.args),
        Command::Set(a) => set::set(&a.args),
        Command::Setconf(a) => set::setconf(&a.args, set::ConfMode::Set),
        Command::Addconf(a) => set::setconf(&a.args, set::ConfMode::Add),
        Command::Syncconf(a) => set::setconf(&a.args, set::ConfMode::Sync),
    }
}

/// Print clap's help, version or error text. Help and version exit 0; usage errors exit 1, as
/// in wg and wireguard-go (clap's own default would be 2).
fn clap_exit(err: &clap::Error) -> ExitCode {
    // Nothing sensible is left to do if even this write fails.
    let _ = err.print();
    if err.use_stderr() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Write `failure` to stderr in wg's format.
fn report(argv0: &str, failure: &Failure) {
    let text = match failure {
        Failure::Usage(subcommand) => format!("Usage: {argv0} {subcommand}\n"),
        Failure::Message(message) | Failure::MessageCode(message, _) => {
            format!("{argv0}: {message}\n")
        }
        Failure::Plain(line) => format!("{line}\n"),
        Failure::Quiet => return,
    };
    // As with fputs(3) in wg: an unwritable stderr is not itself reported.
    let _ = io::stderr().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn extra_arguments_to_key_commands_are_collected_not_rejected() {
        for args in [
            &["wgrs", "genkey", "x"][..],
            &["wgrs", "genpsk", "--help"],
            &["wgrs", "pubkey", "-x", "y"],
        ] {
            let cli = Cli::try_parse_from(args).expect("parses");
            assert!(
                dispatch_usage(cli.command.expect("a subcommand")).is_some(),
                "{args:?}"
            );
        }
    }

    #[test]
    fn show_arguments_are_collected_for_wgs_own_checks() {
        for (args, want) in [
            (&["wgrs", "show"][..], 0),
            (&["wgrs", "show", "wg0", "dump"], 2),
            (&["wgrs", "show", "--help"], 1),
            (&["wgrs", "show", "a", "b", "c"], 3),
        ] {
            match Cli::try_parse_from(args).expect("parses").command {
                Some(Command::Show(a)) => assert_eq!(a.args.len(), want, "{args:?}"),
                other => panic!("{args:?}: {other:?}"),
            }
        }
        match Cli::try_parse_from(["wgrs", "showconf", "-x", "y"]).map(|c| c.command) {
            Ok(Some(Command::Showconf(a))) => assert_eq!(a.args, ["-x", "y"]),
            other => panic!("{other:?}"),
        }
    }

    /// The usage failure a command would produce, without running it.
    fn dispatch_usage(command: Command) -> Option<Failure> {
        let (args, name) = match &command {
            Command::Genkey(a) => (a, "genkey"),
            Command::Genpsk(a) => (a, "genpsk"),
            Command::Pubkey(a) => (a, "pubkey"),
            _ => return None,
        };
        args.require_none(name).err()
    }
}
