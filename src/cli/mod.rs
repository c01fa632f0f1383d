//! The binary's commands, one file each over the library: `args` (clap definitions), `analyze`,
//! `check`; `explain` is small enough to live here. Exit codes are defined once, here.

mod analyze;
mod args;
mod calist;
mod check;
mod collect;
mod held;
mod output;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, ExplainArgs};

/// Exit code for usage and input errors.
pub(crate) const EXIT_INPUT_ERROR: u8 = 2;
pub(crate) const EXIT_FINDINGS: u8 = 1;

/// Parses the command line and runs the command; returns the process exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
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
        None => analyze::analyze(cli.analyze),
        Some(Command::Analyze(a)) => analyze::analyze(a),
        Some(Command::Explain(e)) => explain(e),
        Some(Command::Check(c)) => check::run_check(c),
        Some(Command::Calist(c)) => calist::run(c),
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "tlsdiag", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Some(Command::Man) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tlsdiag: {e}");
                    ExitCode::from(EXIT_INPUT_ERROR)
                }
            }
        }
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
