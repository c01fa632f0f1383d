//! The command line: clap definitions of every subcommand and option, and the library options
//! they turn into.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use tlsdiag::model::Severity;
use tlsdiag::Options;

/// What `--help` ends with: the exit codes (the README's "Exit codes" says the same).
pub(crate) const EXIT_CODES_HELP: &str = "Exit codes: 0 when every capture was read (whatever \
the findings, unless --fail-on); 1 when a finding at or above --fail-on exists; 2 on a usage \
error, an unreadable key log, or a capture that could not be read (the others are still reported).";

#[derive(Parser)]
#[command(
    name = "tlsdiag",
    version,
    about = "Explain TLS client-certificate failures from packet captures",
    long_about = "Reads pcap/pcapng captures (plain, gzip or zstd; '-' for standard input) and explains, \
connection by connection, why TLS client-certificate authentication failed, with Wireshark's frame \
numbers and display filters.\n\n`tlsdiag [OPTIONS] FILE...` analyses captures (the same as \
`tlsdiag analyze`); the commands below do the rest.",
    after_help = EXIT_CODES_HELP,
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// The bare form: `tlsdiag [OPTIONS] FILE...`.
    #[command(flatten)]
    pub(crate) analyze: AnalyzeArgs,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Analyse captures (files, directories, lists) and report per connection.
    Analyze(AnalyzeArgs),
    /// Print the documentation of a finding code (cause, evidence, fix, references).
    Explain(ExplainArgs),
    /// Run a regression corpus: compare each capture with its X.expect.json.
    Check(CheckArgs),
    /// Print the CA list a server trusting --trust would send in its CertificateRequest, with
    /// its size on the wire and the names past 12 KB and Schannel's 16,384 bytes.
    Calist(CalistArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `tlsdiag man > /usr/local/share/man/man1/tlsdiag.1`.
    Man,
}

#[derive(clap::Args)]
pub(crate) struct CalistArgs {
    /// Trusted certificates: PEM bundle, DER file, directory, or PKCS#7 .p7b/.sst; may be
    /// given several times.
    #[arg(long, value_name = "PATH", required = true)]
    pub(crate) trust: Vec<PathBuf>,
    /// Output format (text or json).
    #[arg(long, short = 'f', value_enum, default_value_t = CalistFormat::Text)]
    pub(crate) format: CalistFormat,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum CalistFormat {
    Text,
    Json,
}

#[derive(clap::Args, Clone)]
pub(crate) struct AnalysisOptions {
    /// NSS key log file (SSLKEYLOGFILE format) to decrypt TLS; may be given several times.
    /// Without it, the file named by the SSLKEYLOGFILE environment variable is used. Keys in
    /// pcapng Decryption Secrets Blocks are always used.
    #[arg(long, value_name = "FILE")]
    pub(crate) keylog: Vec<PathBuf>,
    /// The server's RSA private key, to decrypt connections with RSA key exchange (TLS 1.0-1.2)
    /// as the server would: PEM (PKCS#1 or PKCS#8), DER, or PKCS#12/PFX (with --key-password).
    /// May be given several times; each key is matched to server certificates by public key.
    #[arg(long, value_name = "FILE")]
    pub(crate) server_key: Vec<PathBuf>,
    /// Password of PKCS#12/PFX or encrypted PEM server keys. Without it, the environment
    /// variable TLSDIAG_KEY_PASSWORD is read. Never printed.
    #[arg(long, value_name = "PASS")]
    pub(crate) key_password: Option<String>,
    /// The server's trusted certificates, to validate client chains as the server would (PEM
    /// bundle, DER, directory, PKCS#7 .p7b/.sst); may be given several times.
    #[arg(long, value_name = "PATH")]
    pub(crate) trust: Vec<PathBuf>,
    /// The clients' trusted certificates, to validate the server's chain as a client would.
    #[arg(long, value_name = "PATH")]
    pub(crate) client_trust: Vec<PathBuf>,
    /// CA lists in a CertificateRequest at least this large give the ca-list-large warning
    /// (at 16384, where Schannel truncates, it is always an error).
    #[arg(long, default_value_t = tlsdiag::findings::DEFAULT_CA_LIST_WARN, value_name = "BYTES")]
    pub(crate) ca_list_warn_bytes: usize,
    /// Out-of-order bytes buffered per TCP direction before a hole is given up.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    pub(crate) max_out_of_order: usize,
    /// Memory held at once while waiting for more data: out-of-order TCP segments, incomplete
    /// TLS records and handshake messages, and IP fragments of all connections together (e.g.
    /// 32M, 1G, or bytes). Past it, what would be held is given up or dropped, and the report says what and
    /// where. With -j N, each of the N threads gets 1/N of it; over many files, the output of
    /// files waiting for their turn keeps a quarter of it in memory and the rest in temporary
    /// files, as do the pieces of a json, html or parquet report waiting for the file's end.
    #[arg(long, default_value = "32M", value_parser = tlsdiag::budget::parse_size, value_name = "SIZE")]
    pub(crate) max_memory: usize,
    /// Seconds of capture time without packets after which a connection is finalized.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub(crate) idle_timeout: u64,
    /// Live connections kept at most (the longest idle are finalized first beyond it).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub(crate) max_connections: usize,
    /// Files analysed in parallel (default: all cores). One file is analysed in two stages on
    /// two threads; a large uncompressed file whose summary or text report is written at the
    /// end is shared out among N.
    #[arg(short = 'j', long, value_name = "N")]
    pub(crate) jobs: Option<usize>,
    /// IIS W3C log file (u_ex*.log) or directory of them to join to the connections by client
    /// and server address and time; may be given several times (text and JSON output).
    #[arg(long, value_name = "PATH")]
    pub(crate) iis_log: Vec<PathBuf>,
    /// Seconds an IIS log line's time may lie outside a connection's packets (clock drift
    /// between the server and the capture; the log has whole seconds).
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    pub(crate) iis_log_tolerance: i64,
    /// Schannel events of the System log exported as XML (wevtutil qe ... /f:xml) or CSV
    /// (Get-WinEvent | Export-Csv), joined to the connections by alert and time (the same
    /// tolerance); may be given several times (text and JSON output).
    #[arg(long, value_name = "FILE")]
    pub(crate) schannel_events: Vec<PathBuf>,
}

#[derive(clap::Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub(crate) struct AnalyzeArgs {
    /// Capture files or directories (searched recursively for *.pcap, *.pcapng, *.cap,
    /// also .gz/.zst); '-' reads standard input.
    pub(crate) inputs: Vec<PathBuf>,
    /// Read more input paths from FILE, one per line ('-' for standard input); blank lines
    /// and lines starting with '#' are skipped.
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
    /// Quiet: no progress bar, no totals and no warnings, only the report (and errors).
    #[arg(long, short = 'q')]
    pub(crate) quiet: bool,
    /// No progress bar (which is drawn only on a terminal, after a second of work).
    #[arg(long)]
    pub(crate) no_progress: bool,
    /// Colour severities in text output: auto (on a terminal, unless NO_COLOR is set),
    /// always or never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub(crate) color: ColorChoice,
    /// Text: write each connection as soon as it ends (in order of end time) and the diagnosis
    /// after them, holding nothing back. The default for standard input and for files of
    /// 192 MiB or more; smaller files get the diagnosis first and connections in tcp.stream order.
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

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
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
    /// Loads the server keys; a file that cannot be read, or a wrong password, is an error.
    pub(crate) fn server_keys(&self) -> Result<tlsdiag::serverkey::ServerKeys, String> {
        let mut keys = tlsdiag::serverkey::ServerKeys::default();
        if self.server_key.is_empty() {
            return Ok(keys);
        }
        let password = self.key_password.clone().or_else(|| {
            std::env::var(tlsdiag::serverkey::PASSWORD_ENV)
                .ok()
                .filter(|p| !p.is_empty())
        });
        for path in &self.server_key {
            keys.add_file(path, password.as_deref())
                .map_err(|e| format!("--server-key {e}"))?;
        }
        Ok(keys)
    }

    /// Loads the trust stores; a path without certificates is an error.
    pub(crate) fn trust_stores(
        &self,
    ) -> Result<(tlsdiag::trust::TrustStore, tlsdiag::trust::TrustStore), String> {
        let load = |paths: &[PathBuf], option: &str| {
            let mut store = tlsdiag::trust::TrustStore::default();
            for p in paths {
                store.add_path(p).map_err(|e| format!("{option} {e}"))?;
            }
            for w in &store.warnings {
                eprintln!("tlsdiag: warning: {option} {w}");
            }
            Ok::<_, String>(store)
        };
        Ok((
            load(&self.trust, "--trust")?,
            load(&self.client_trust, "--client-trust")?,
        ))
    }

    /// Options with the keys and trust stores loaded.
    pub(crate) fn loaded_options(&self) -> Result<Options, String> {
        let mut options = self.options();
        options.server_keys = std::sync::Arc::new(self.server_keys()?);
        let (trust, client_trust) = self.trust_stores()?;
        options.trust = std::sync::Arc::new(trust);
        options.client_trust = std::sync::Arc::new(client_trust);
        Ok(options)
    }

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
            server_keys: Default::default(),
            trust: Default::default(),
            client_trust: Default::default(),
            idle_timeout_secs: self.idle_timeout,
            max_connections: self.max_connections,
            progress: None,
            shard: None,
            iis_log: None,
            iis_tolerance_secs: self.iis_log_tolerance,
            schannel: None,
            max_memory: self.max_memory,
        }
    }

    /// The worker threads; an error (not a panic) when the system cannot start any.
    pub(crate) fn pool(&self) -> Result<rayon::ThreadPool, String> {
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(j) = self.jobs.filter(|&j| j > 0) {
            builder = builder.num_threads(j);
        }
        builder
            .build()
            .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
            .map_err(|e| format!("cannot start worker threads: {e}"))
    }
}
