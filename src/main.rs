//! Command-line front end: arguments, input lists, parallelism and output; the analysis is in
//! the library.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

use tlsdiag::check::{self, Expectation};
use tlsdiag::model::{Severity, Summary};
use tlsdiag::{capture, model, render, FileReport, Options};

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
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse captures (files, directories, lists) and report per connection.
    Analyze(AnalyzeArgs),
    /// Print the documentation of a finding code (cause, evidence, fix, references).
    Explain(ExplainArgs),
    /// Run a regression corpus: compare each capture with its X.expect.json.
    Check(CheckArgs),
}

#[derive(clap::Args, Clone)]
struct AnalysisOptions {
    /// NSS key log file (SSLKEYLOGFILE format) to decrypt TLS; may be given several times.
    /// Without it, the file named by the SSLKEYLOGFILE environment variable is used. Keys in
    /// pcapng Decryption Secrets Blocks are always used.
    #[arg(long, value_name = "FILE")]
    keylog: Vec<PathBuf>,
    /// CA lists in a CertificateRequest at least this large give the ca-list-large warning
    /// (at 16384, where Schannel truncates, it is always an error).
    #[arg(long, default_value_t = tlsdiag::findings::DEFAULT_CA_LIST_WARN, value_name = "BYTES")]
    ca_list_warn_bytes: usize,
    /// Out-of-order bytes buffered per TCP direction before a hole is given up.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    max_out_of_order: usize,
    /// Seconds of capture time without packets after which a connection is finalized.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    idle_timeout: u64,
    /// Live connections kept at most (the longest idle are finalized first beyond it).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    max_connections: usize,
    /// Files analysed in parallel (default: all cores). With one large uncompressed file and
    /// --format json or summary, its conversations are shared out among N threads instead.
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files or directories (searched recursively for *.pcap, *.pcapng, *.cap,
    /// also .gz/.zst); '-' reads standard input.
    inputs: Vec<PathBuf>,
    /// Read more input paths from FILE, one per line ('-' for standard input).
    #[arg(long, value_name = "FILE")]
    files_from: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit with code 1 when a finding of this severity or worse exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<FailOn>,
    /// No progress bar and no summary on standard error.
    #[arg(long, short = 'q')]
    quiet: bool,
    #[command(flatten)]
    analysis: AnalysisOptions,
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
struct CheckArgs {
    /// Directory of captures, each with X.expect.json beside it or an entry in its folder's
    /// expect.toml (the JSON file wins when both exist).
    dir: PathBuf,
    /// Rewrite the expectations from what the captures give now. Missing ones are created: in
    /// the folder's expect.toml when it has one (an empty file will do), else as X.expect.json;
    /// they decrypt with the key log X.keys when one sits beside the capture.
    #[arg(long)]
    update: bool,
    #[command(flatten)]
    analysis: AnalysisOptions,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Jsonl,
    /// Only each file's counts and findings summary (for large archives).
    Summary,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Info,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Info => Severity::Info,
        }
    }
}

/// Exit code for usage and input errors.
const EXIT_INPUT_ERROR: u8 = 2;
const EXIT_FINDINGS: u8 = 1;

fn main() -> ExitCode {
    // `tlsdiag FILE` is a shortcut for `tlsdiag analyze FILE`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(first) = args.get(1).and_then(|a| a.to_str()) {
        let known = [
            "analyze",
            "explain",
            "check",
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
        Command::Check(c) => run_check(c),
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

impl AnalysisOptions {
    fn options(&self) -> Options {
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

    fn pool(&self) -> rayon::ThreadPool {
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

/// Expands the inputs: directories recursively, `--files-from` lists; input order is kept.
fn collect_inputs(args: &AnalyzeArgs) -> Result<Vec<PathBuf>, String> {
    let mut raw = args.inputs.clone();
    if let Some(list) = &args.files_from {
        let text = if list.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(list)
        }
        .map_err(|e| format!("{}: {e}", list.display()))?;
        raw.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(PathBuf::from),
        );
    }
    let mut out = Vec::new();
    for p in raw {
        if p.is_dir() {
            let found = check::captures_in(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            if found.is_empty() {
                eprintln!(
                    "tlsdiag: {}: no capture files in this directory",
                    p.display()
                );
            }
            out.extend(found);
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

/// What one file's analysis produced (its rendered output went to the writer given).
struct FileOutput {
    index: usize,
    report: Option<FileReport>,
    error: Option<String>,
    elapsed: Duration,
}

/// Files at least this large are worth sharding (see `shards_for`).
const SHARD_MIN_BYTES: u64 = 32 << 20;

/// Threads to analyse one file on: several only when the output waits for the end of the file
/// anyway (json, summary), the file can be read once per thread (a regular, uncompressed file:
/// every shard reads all of it) and is large enough for the threads to pay.
fn shards_for(path: &Path, format: Format, jobs: Option<usize>) -> u32 {
    let threads = jobs
        .filter(|&j| j > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let wanted = threads > 1 && matches!(format, Format::Json | Format::Summary);
    // Standard input is never a regular file here, so it is not opened (that would consume it).
    let large = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() >= SHARD_MIN_BYTES);
    if wanted
        && large
        && matches!(
            capture::open_input(path),
            Ok((_, capture::Compression::None))
        )
    {
        threads.min(64) as u32
    } else {
        1
    }
}

/// Analyses one file, writing each connection to `out` as soon as it ends (text and JSON Lines),
/// then the file's own lines. JSON is written by the caller from the returned report.
fn process(
    index: usize,
    path: &Path,
    options: Options,
    format: Format,
    shards: u32,
    out: &mut dyn Write,
) -> FileOutput {
    let started = Instant::now();
    let name = path.display().to_string();
    let result = match format {
        // The whole report is written at the end: analyse on `shards` threads.
        Format::Json => tlsdiag::analyze_path_sharded(path, options, shards),
        Format::Summary => tlsdiag::analyzer::summarize_path_sharded(path, options, shards),
        Format::Text | Format::Jsonl => stream_file(path, &name, options, format, out),
    };
    let elapsed = started.elapsed();
    match result {
        Ok(r) => {
            let _ = match format {
                // Connections came first, as they ended; the file's counts close its part.
                Format::Text | Format::Summary => out
                    .write_all(render::render_file_header(&r).as_bytes())
                    .and_then(|_| out.write_all(render::render_findings_summary(&r).as_bytes())),
                Format::Jsonl => out.write_all(render::jsonl_file(&r).as_bytes()),
                Format::Json => Ok(()),
            };
            FileOutput {
                index,
                report: Some(r),
                error: None,
                elapsed,
            }
        }
        Err(e) => FileOutput {
            index,
            report: None,
            error: Some(format!("{name}: {e}")),
            elapsed,
        },
    }
}

/// Streams one file's connections to `out` as they end.
fn stream_file(
    path: &Path,
    name: &str,
    options: Options,
    format: Format,
    out: &mut dyn Write,
) -> Result<tlsdiag::FileReport, capture::CaptureError> {
    let (input, compression) = capture::open_input(path)?;
    tlsdiag::analyzer::analyze_streaming(input, compression, name.to_string(), options, |c| {
        let _ = match format {
            Format::Text => out
                .write_all(render::render_connection_text(&c).as_bytes())
                .and_then(|_| out.write_all(b"\n")),
            Format::Jsonl => out.write_all(render::jsonl_connection(name, &c).as_bytes()),
            Format::Json | Format::Summary => Ok(()),
        };
    })
}

/// Draws a progress bar on a terminal once the work has lasted a second.
fn progress_thread(
    total: u64,
    read: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut bar: Option<indicatif::ProgressBar> = None;
        while !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            if bar.is_none() && start.elapsed() >= Duration::from_secs(1) {
                let b = indicatif::ProgressBar::new(total.max(1));
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar = Some(b);
            }
            if let Some(b) = &bar {
                b.set_position(read.load(Ordering::Relaxed).min(total));
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    })
}

fn analyze(args: AnalyzeArgs) -> ExitCode {
    let inputs = match collect_inputs(&args) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("tlsdiag: {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    if inputs.is_empty() {
        eprintln!("tlsdiag: no input: give capture files, directories or --files-from");
        return ExitCode::from(EXIT_INPUT_ERROR);
    }
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("tlsdiag: {}: {e}", path.display());
                return ExitCode::from(EXIT_INPUT_ERROR);
            }
        },
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let started = Instant::now();
    let read = Arc::new(AtomicU64::new(0));
    let mut options = args.analysis.options();
    options.progress = Some(read.clone());
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let done = Arc::new(AtomicBool::new(false));
    let total: u64 = inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = show_progress.then(|| progress_thread(total, read.clone(), done.clone()));

    // One file at a time (one input, or -j 1): every connection is written as it ends.
    // Several files in parallel: each file's output is held until its turn, so that the result
    // is the same whatever the scheduling.
    let format = args.format;
    let mut totals = Totals::default();
    let mut json_written = 0usize;
    let many = inputs.len() > 1;
    if format == Format::Json && many {
        let _ = out.write_all(b"[\n");
    }
    let mut finish_file =
        |r: FileOutput, rendered: &[u8], out: &mut dyn Write, totals: &mut Totals| {
            totals.add(&r);
            if let Some(e) = &r.error {
                eprintln!("tlsdiag: {e}");
                if format == Format::Jsonl {
                    let line = serde_json::json!({
                        "kind": "error", "schema_version": model::SCHEMA_VERSION,
                        "file": inputs[r.index].display().to_string(), "error": e,
                    });
                    let _ = writeln!(out, "{line}");
                }
            } else if let Some(rep) = &r.report {
                for w in &rep.warnings {
                    eprintln!("tlsdiag: {}: warning: {w}", rep.file);
                }
            }
            let _ = out.write_all(rendered);
            if format == Format::Json {
                if let Some(rep) = &r.report {
                    if json_written > 0 {
                        let _ = out.write_all(b",\n");
                    }
                    let _ = serde_json::to_writer_pretty(&mut *out, rep);
                    if !many {
                        let _ = out.write_all(b"\n");
                    }
                    json_written += 1;
                }
            } else if format == Format::Text && many {
                let _ = out.write_all(b"\n");
            }
        };
    let sequential = !many || args.analysis.jobs == Some(1);
    if sequential {
        for (i, path) in inputs.iter().enumerate() {
            let shards = if many {
                1
            } else {
                shards_for(path, format, args.analysis.jobs)
            };
            let r = process(i, path, options.clone(), format, shards, &mut out);
            finish_file(r, &[], &mut out, &mut totals);
        }
    } else {
        let pool = args.analysis.pool();
        let (tx, rx) = mpsc::channel::<(FileOutput, Vec<u8>)>();
        std::thread::scope(|scope| {
            let inputs = &inputs;
            let options = &options;
            scope.spawn(move || {
                pool.scope(|s| {
                    for (i, path) in inputs.iter().enumerate() {
                        let tx = tx.clone();
                        let options = options.clone();
                        s.spawn(move |_| {
                            let mut rendered = Vec::new();
                            let r = process(i, path, options, format, 1, &mut rendered);
                            let _ = tx.send((r, rendered));
                        });
                    }
                });
            });
            let mut pending: std::collections::BTreeMap<usize, (FileOutput, Vec<u8>)> =
                Default::default();
            let mut next = 0;
            for (r, rendered) in rx.iter().take(inputs.len()) {
                pending.insert(r.index, (r, rendered));
                while let Some((r, rendered)) = pending.remove(&next) {
                    finish_file(r, &rendered, &mut out, &mut totals);
                    next += 1;
                }
            }
        });
    }
    if format == Format::Json && many {
        let _ = out.write_all(b"\n]\n");
    }
    done.store(true, Ordering::Relaxed);
    if let Some(b) = bar {
        let _ = b.join();
    }
    if (format == Format::Text && inputs.len() > 1) || format == Format::Summary {
        let _ = out.write_all(totals.render(started.elapsed()).as_bytes());
    }
    if let Err(e) = out.flush() {
        eprintln!("tlsdiag: cannot write the report: {e}");
        return ExitCode::from(EXIT_INPUT_ERROR);
    }
    if !args.quiet
        && matches!(format, Format::Json | Format::Jsonl)
        && std::io::stderr().is_terminal()
    {
        eprint!("{}", totals.render(started.elapsed()));
    }
    if totals.errors > 0 {
        return ExitCode::from(EXIT_INPUT_ERROR);
    }
    if let Some(level) = args.fail_on {
        if totals.worst.is_some_and(|w| w >= level.severity()) {
            return ExitCode::from(EXIT_FINDINGS);
        }
    }
    ExitCode::SUCCESS
}

/// Counts over all files, for the summary and the exit code.
#[derive(Default)]
struct Totals {
    files: usize,
    errors: usize,
    packets: u64,
    bytes: u64,
    conversations: u64,
    tls: usize,
    http: usize,
    handshakes: usize,
    summary: Summary,
    worst: Option<Severity>,
    cpu: Duration,
}

impl Totals {
    fn add(&mut self, r: &FileOutput) {
        self.files += 1;
        self.cpu += r.elapsed;
        let Some(rep) = &r.report else {
            self.errors += 1;
            return;
        };
        self.packets += rep.capture.packets;
        self.bytes += rep.capture.bytes_read;
        self.conversations += rep.tcp_conversations;
        self.tls += rep.tls_connections;
        self.http += rep.http_connections;
        self.handshakes += rep.handshakes;
        for (code, n) in &rep.summary.by_code {
            *self.summary.by_code.entry(code).or_default() += n;
        }
        for (sev, n) in &rep.summary.by_severity {
            *self.summary.by_severity.entry(sev).or_default() += n;
            let s = match *sev {
                "error" => Severity::Error,
                "warning" => Severity::Warning,
                _ => Severity::Info,
            };
            if *n > 0 && self.worst.is_none_or(|w| s > w) {
                self.worst = Some(s);
            }
        }
    }

    fn render(&self, wall: Duration) -> String {
        let secs = wall.as_secs_f64().max(1e-6);
        let mut o = format!(
            "== {} file(s){}, {} packets, {} TCP conversations, {} with TLS ({} handshakes), {} with HTTP; {:.2} s, {:.1} MB/s\n",
            self.files,
            if self.errors > 0 { format!(" ({} unreadable)", self.errors) } else { String::new() },
            self.packets,
            self.conversations,
            self.tls,
            self.handshakes,
            self.http,
            secs,
            self.bytes as f64 / 1e6 / secs
        );
        if self.summary.by_code.is_empty() {
            o.push_str("== no findings\n");
        } else {
            let sev: Vec<String> = ["error", "warning", "info"]
                .iter()
                .filter_map(|s| self.summary.by_severity.get(s).map(|n| format!("{n} {s}")))
                .collect();
            o.push_str(&format!("== findings: {}\n", sev.join(", ")));
            for (code, n) in &self.summary.by_code {
                o.push_str(&format!("   {n:>6}  {code}\n"));
            }
        }
        o
    }
}

/// (capture, where its expectation lives, expected, actual or error)
type CheckResult = (
    PathBuf,
    check::ExpectationSource,
    Option<Expectation>,
    Result<Expectation, String>,
);

fn run_check(args: CheckArgs) -> ExitCode {
    let plan = match check::plan_check(&args.dir, args.update) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tlsdiag: {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    if plan.items.is_empty() && plan.orphans.is_empty() {
        eprintln!(
            "tlsdiag: {}: no capture has an X.expect.json or an entry in its folder's {} \
             (use --update to create them)",
            args.dir.display(),
            check::FOLDER_EXPECTATIONS
        );
        return ExitCode::from(EXIT_INPUT_ERROR);
    }
    let base = args.analysis.options();
    let pool = args.analysis.pool();
    use rayon::prelude::*;
    let results: Vec<CheckResult> = pool.install(|| {
        plan.items
            .into_par_iter()
            .map(|(capture, source, expected)| {
                let keylog = expected.as_ref().and_then(|e| e.keylog.clone());
                let mut options = base.clone();
                if let Some(k) = &keylog {
                    options.keylog_files = vec![source.dir().join(k)];
                }
                let actual = tlsdiag::analyze_path(&capture, options)
                    .map(|r| Expectation::from_report(&r, keylog))
                    .map_err(|e| e.to_string());
                (capture, source, expected, actual)
            })
            .collect()
    });
    if args.update {
        return update_expectations(&results, plan.folders, &plan.orphans);
    }
    let mut failed = 0;
    let mut errors = 0;
    for (capture, _, expected, actual) in &results {
        let name = capture.display();
        let Some(actual) = analysed(capture, actual, &mut errors) else {
            continue;
        };
        let Some(expected) = expected else { continue };
        let diff = expected.diff(actual);
        if diff.is_empty() {
            println!("pass    {name}");
        } else {
            failed += 1;
            println!("FAIL    {name}");
            for line in diff {
                println!("          {line}");
            }
        }
    }
    for (file, entry) in &plan.orphans {
        println!(
            "FAIL    {} [\"{entry}\"]: no such capture in this folder",
            file.display()
        );
    }
    let orphans = plan.orphans.len();
    println!(
        "{} capture(s): {} passed, {} failed{}{}",
        results.len(),
        results.len() - failed - errors,
        failed,
        if orphans > 0 {
            format!(", {orphans} expectation(s) without a capture")
        } else {
            String::new()
        },
        if errors > 0 {
            format!(", {errors} unreadable")
        } else {
            String::new()
        }
    );
    if errors > 0 {
        ExitCode::from(EXIT_INPUT_ERROR)
    } else if failed > 0 || orphans > 0 {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// What a capture gave, or None after printing why it could not be read.
fn analysed<'a>(
    capture: &Path,
    actual: &'a Result<Expectation, String>,
    errors: &mut usize,
) -> Option<&'a Expectation> {
    match actual {
        Ok(a) => Some(a),
        Err(e) => {
            println!("ERROR   {}: {e}", capture.display());
            *errors += 1;
            None
        }
    }
}

/// `check --update`: writes what each capture gives now where its expectation lives, and drops
/// `expect.toml` entries whose capture is gone.
fn update_expectations(
    results: &[CheckResult],
    mut folders: std::collections::BTreeMap<PathBuf, check::FolderExpectations>,
    orphans: &[(PathBuf, String)],
) -> ExitCode {
    let mut errors = 0;
    let mut changed_folders = std::collections::BTreeSet::new();
    for (file, entry) in orphans {
        if let Some(map) = folders.get_mut(file) {
            map.remove(entry);
            changed_folders.insert(file.clone());
            println!("REMOVED {} [\"{entry}\"]", file.display());
        }
    }
    for (capture, source, expected, actual) in results {
        let name = capture.display();
        let Some(actual) = analysed(capture, actual, &mut errors) else {
            continue;
        };
        match source {
            check::ExpectationSource::Json(path) => {
                if let Err(e) = std::fs::write(path, check::json_expectation_text(actual)) {
                    println!("ERROR   {}: {e}", path.display());
                    errors += 1;
                    continue;
                }
            }
            check::ExpectationSource::Folder { file, entry } => {
                folders
                    .entry(file.clone())
                    .or_default()
                    .insert(entry.clone(), actual.clone());
                changed_folders.insert(file.clone());
            }
        }
        if expected.as_ref() != Some(actual) {
            println!("UPDATED {name}");
        } else {
            println!("same    {name}");
        }
    }
    for file in changed_folders {
        let written = check::folder_expectations_text(&folders[&file])
            .and_then(|text| std::fs::write(&file, text).map_err(|e| e.to_string()));
        if let Err(e) = written {
            println!("ERROR   {}: {e}", file.display());
            errors += 1;
        }
    }
    if errors > 0 {
        ExitCode::from(EXIT_INPUT_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}
