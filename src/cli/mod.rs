//! The binary's commands, one file each over the library: `args` (clap definitions), `analyze`,
//! `check`; `explain` is small enough to live here. Exit codes are defined once, here.

mod analyze;
mod args;
mod calist;
mod check;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, ExplainArgs};

/// Exit code for usage and input errors.
pub(crate) const EXIT_INPUT_ERROR: u8 = 2;
pub(crate) const EXIT_FINDINGS: u8 = 1;

/// Parses the command line and runs the command; returns the process exit code.
pub fn run() -> ExitCode {
    // `tlsdiag FILE` is a shortcut for `tlsdiag analyze FILE`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(first) = args.get(1).and_then(|a| a.to_str()) {
        let known = [
            "analyze",
            "explain",
            "check",
            "calist",
            "help",
            "-h",
            "--help",
            "-V",
            "--version",
        ];
        if !known.contains(&first) {
            args.insert(1, "analyze".into());
        }
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_INPUT_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Analyze(a) => analyze::analyze(a),
        Command::Explain(e) => explain(e),
        Command::Check(c) => check::run_check(c),
        Command::Calist(c) => calist::run(c),
    }
}

fn explain(args: ExplainArgs) -> ExitCode {
    use tlsdiag::findings::{catalog, catalog_markdown, doc, explain_text};
    if args.all {
        if args.markdown {
            print!("{}", catalog_markdown());
        } else {
            for d in catalog() {
                println!("{}", explain_text(d));
            }
        }
        return ExitCode::SUCCESS;
    }
    let code = args.code.unwrap_or_default();
    match doc(&code) {
        Some(d) => {
            print!("{}", explain_text(d));
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "tlsdiag: unknown finding code '{code}'; known codes: {}",
                catalog().map(|d| d.code).collect::<Vec<_>>().join(", ")
            );
            ExitCode::from(EXIT_INPUT_ERROR)
        }
    }
}
