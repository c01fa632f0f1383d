//! The `tlsdiag` binary: a thin front end over the library (see `cli`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
