//! The command line: clap definitions of every subcommand and option, and the library options
//! they turn into.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use tlsdiag::model::Severity;
use tlsdiag::Options;

#[derive(Parser)]
#[command(
    name = "tlsdiag",
    version,
    about = "Explain TLS client-certificate failures from packet captures",
    long_about = "Reads pcap/pcapng captures (plain, gzip or zstd; '-' for standard input) and explains, \
connection by connection, why TLS client-certificate authentication failed, with Wireshark's frame \
numbers and display filters.\n\n`tlsdiag FILE...` is short for `tlsdiag analyze FILE...`.\n\n\
Exit codes: 0 ok; 1 a finding at or above --fail-on; 2 usage error or a file that could not be read."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Analyse captures (files, directories, lists) and report per connection.
    Analyze(AnalyzeArgs),
    /// Print the documentation of a finding code (cause, evidence, fix, references).
    Explain(ExplainArgs),
    /// Run a regression corpus: compare each capture with its X.expect.json.
    Check(CheckArgs),
}

#[derive(clap::Args, Clone)]
pub(crate) struct AnalysisOptions {
    /// NSS key log file (SSLKEYLOGFILE format) to decrypt TLS; may be given several times.
    /// Without it, the file named by the SSLKEYLOGFILE environment variable is used. Keys in
    /// pcapng Decryption Secrets Blocks are always used.
    #[arg(long, value_name = "FILE")]
    pub(crate) keylog: Vec<PathBuf>,
    /// CA lists in a CertificateRequest at least this large give the ca-list-large warning
    /// (at 16384, where Schannel truncates, it is always an error).
    #[arg(long, default_value_t = tlsdiag::findings::DEFAULT_CA_LIST_WARN, value_name = "BYTES")]
    pub(crate) ca_list_warn_bytes: usize,
    /// Out-of-order bytes buffered per TCP direction before a hole is given up.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    pub(crate) max_out_of_order: usize,
    /// Seconds of capture time without packets after which a connection is finalized.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub(crate) idle_timeout: u64,
    /// Live connections kept at most (the longest idle are finalized first beyond it).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub(crate) max_connections: usize,
    /// Files analysed in parallel (default: all cores). With one large uncompressed file and
    /// --format json or summary, its conversations are shared out among N threads instead.
    #[arg(short = 'j', long, value_name = "N")]
    pub(crate) jobs: Option<usize>,
}

#[derive(clap::Args)]
pub(crate) struct AnalyzeArgs {
    /// Capture files or directories (searched recursively for *.pcap, *.pcapng, *.cap,
    /// also .gz/.zst); '-' reads standard input.
    pub(crate) inputs: Vec<PathBuf>,
    /// Read more input paths from FILE, one per line ('-' for standard input).
    #[arg(long, value_name = "FILE")]
    pub(crate) files_from: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Write the report to FILE instead of standard output (with -f parquet: the directory
    /// that receives the tables).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Exit with code 1 when a finding of this severity or worse exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub(crate) fail_on: Option<FailOn>,
    /// No progress bar and no summary on standard error.
    #[arg(long, short = 'q')]
    pub(crate) quiet: bool,
    /// Text: write each connection as soon as it ends (in order of end time) and the diagnosis
    /// after them, holding nothing back. The default for standard input and for files of
    /// 256 MiB or more; smaller files get the diagnosis first and connections in tcp.stream order.
    #[arg(long)]
    pub(crate) stream: bool,
    #[command(flatten)]
    pub(crate) analysis: AnalysisOptions,
}

#[derive(clap::Args)]
pub(crate) struct ExplainArgs {
    /// Finding code, e.g. ca-list-over-limit.
    #[arg(required_unless_present = "all")]
    pub(crate) code: Option<String>,
    /// Every code.
    #[arg(long)]
    pub(crate) all: bool,
    /// Markdown (the form of docs/findings.md).
    #[arg(long, requires = "all")]
    pub(crate) markdown: bool,
}

#[derive(clap::Args)]
pub(crate) struct CheckArgs {
    /// Directory of captures, each with X.expect.json beside it or an entry in its folder's
    /// expect.toml (the JSON file wins when both exist).
    pub(crate) dir: PathBuf,
    /// Rewrite the expectations from what the captures give now. Missing ones are created: in
    /// the folder's expect.toml when it has one (an empty file will do), else as X.expect.json;
    /// they decrypt with the key log X.keys when one sits beside the capture.
    #[arg(long)]
    pub(crate) update: bool,
    #[command(flatten)]
    pub(crate) analysis: AnalysisOptions,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Json,
    Jsonl,
    /// Only each file's counts and findings summary (for large archives).
    Summary,
    /// SARIF 2.1.0 (one run; a result per finding), for CI systems and code scanning.
    Sarif,
    /// Parquet tables under the directory given with -o (builds with the `parquet` feature).
    Parquet,
    /// One self-contained HTML page (verdict, handshake ladders, CA lists, chains).
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FailOn {
    Error,
    Warning,
    Info,
}

impl FailOn {
    pub(crate) fn severity(self) -> Severity {
        match self {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Info => Severity::Info,
        }
    }
}

impl AnalysisOptions {
    pub(crate) fn options(&self) -> Options {
        Options {
            max_out_of_order_bytes: self.max_out_of_order,
            thresholds: tlsdiag::findings::Thresholds {
                ca_list_warn_bytes: self.ca_list_warn_bytes,
            },
            keylog_files: if self.keylog.is_empty() {
                std::env::var_os("SSLKEYLOGFILE")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
                    .into_iter()
                    .collect()
            } else {
                self.keylog.clone()
            },
            idle_timeout_secs: self.idle_timeout,
            max_connections: self.max_connections,
            progress: None,
            shard: None,
        }
    }

    pub(crate) fn pool(&self) -> rayon::ThreadPool {
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(j) = self.jobs.filter(|&j| j > 0) {
            builder = builder.num_threads(j);
        }
        builder.build().unwrap_or_else(|_| {
            rayon::ThreadPoolBuilder::new()
                .build()
                .expect("thread pool")
        })
    }
}
