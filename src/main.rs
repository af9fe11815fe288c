//! The `wgrs` binary: hands the command line to `cli`, which parses it and runs one command.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
