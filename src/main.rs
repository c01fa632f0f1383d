//! Command-line front end: argument parsing and output only; the work is in the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use tlsdiag::{analyze_path, report, Options};

#[derive(Parser)]
#[command(
    name = "tlsdiag",
    version,
    about = "Explain TLS client-certificate failures from packet captures",
    long_about = "Reads pcap/pcapng captures (plain, gzip or zstd; '-' for standard input) and reports, \
connection by connection, every TLS handshake message with Wireshark's frame numbers.\n\n\
`tlsdiag FILE...` is short for `tlsdiag analyze FILE...`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse captures and print a report per connection.
    Analyze(AnalyzeArgs),
    /// Print the documentation of a finding code (cause, evidence, fix, references).
    Explain(ExplainArgs),
}

#[derive(clap::Args)]
struct ExplainArgs {
    /// Finding code, e.g. ca-list-over-limit.
    #[arg(required_unless_present = "all")]
    code: Option<String>,
    /// Every code.
    #[arg(long)]
    all: bool,
    /// Markdown (the form of docs/findings.md).
    #[arg(long, requires = "all")]
    markdown: bool,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files (pcap, pcapng, optionally .gz/.zst); '-' reads standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Out-of-order bytes buffered per TCP direction before a hole is given up.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    max_out_of_order: usize,
    /// CA lists in a CertificateRequest at least this large give the ca-list-large warning
    /// (Schannel truncates at 16384, which is always an error).
    #[arg(long, default_value_t = tlsdiag::findings::DEFAULT_CA_LIST_WARN, value_name = "BYTES")]
    ca_list_warn_bytes: usize,
    /// NSS key log file (SSLKEYLOGFILE format) to decrypt TLS; may be given several times.
    /// Without it, the file named by the SSLKEYLOGFILE environment variable is used. Keys in
    /// pcapng Decryption Secrets Blocks are always used.
    #[arg(long, value_name = "FILE")]
    keylog: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Exit code for usage and input errors.
const EXIT_INPUT_ERROR: u8 = 2;

fn main() -> ExitCode {
    // `tlsdiag FILE` is a shortcut for `tlsdiag analyze FILE`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(first) = args.get(1).and_then(|a| a.to_str()) {
        let known = [
            "analyze",
            "explain",
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
        Command::Analyze(a) => analyze(a),
        Command::Explain(e) => explain(e),
    }
}

fn explain(args: ExplainArgs) -> ExitCode {
    use tlsdiag::findings::{catalog_markdown, doc, explain_text, CATALOG};
    if args.all {
        if args.markdown {
            print!("{}", catalog_markdown());
        } else {
            for d in CATALOG {
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
                CATALOG
                    .iter()
                    .map(|d| d.code)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            ExitCode::from(EXIT_INPUT_ERROR)
        }
    }
}

fn analyze(args: AnalyzeArgs) -> ExitCode {
    let options = Options {
        max_out_of_order_bytes: args.max_out_of_order,
        thresholds: tlsdiag::findings::Thresholds {
            ca_list_warn_bytes: args.ca_list_warn_bytes,
        },
        ..Options::default()
    };
    let options = Options {
        keylog_files: if args.keylog.is_empty() {
            std::env::var_os("SSLKEYLOGFILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .into_iter()
                .collect()
        } else {
            args.keylog.clone()
        },
        ..options
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = false;
    let mut reports = Vec::new();
    for path in &args.files {
        match analyze_path(path, options.clone()) {
            Ok(r) => {
                for w in &r.warnings {
                    eprintln!("tlsdiag: {}: warning: {w}", path.display());
                }
                match args.format {
                    Format::Text => {
                        let _ = write!(out, "{}", report::render_text(&r));
                    }
                    Format::Json => reports.push(r),
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("tlsdiag: {}: {e}", path.display());
            }
        }
    }
    if let Format::Json = args.format {
        // One file gives one object; several give an array of them.
        let written = if reports.len() == 1 && args.files.len() == 1 {
            serde_json::to_writer_pretty(&mut out, &reports[0])
        } else {
            serde_json::to_writer_pretty(&mut out, &reports)
        };
        match written {
            Ok(()) => {
                let _ = writeln!(out);
            }
            Err(e) => {
                eprintln!("tlsdiag: cannot write JSON: {e}");
                return ExitCode::from(EXIT_INPUT_ERROR);
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_INPUT_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}
