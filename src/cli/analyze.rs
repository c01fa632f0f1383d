//! `tlsdiag analyze`: lists the inputs, runs files in parallel (or one large file sharded), shows
//! progress, writes each format in input order and ends with the totals line.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tlsdiag::check::{self};
use tlsdiag::model::{Severity, Summary};
use tlsdiag::{capture, model, render, FileReport, Options};

use super::args::*;
use super::collect::{self, Collector, Prefixed};
use super::held::HeldOutput;
use super::*;

/// Expands the inputs: directories recursively, `--files-from` lists; input order is kept.
pub(crate) fn collect_inputs(args: &AnalyzeArgs) -> Result<Vec<PathBuf>, String> {
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
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
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
pub(crate) struct FileOutput {
    pub(crate) index: usize,
    pub(crate) report: Option<FileReport>,
    pub(crate) error: Option<String>,
    pub(crate) elapsed: Duration,
    /// SARIF results gathered as the connections ended (the report then has none).
    pub(crate) sarif: Option<String>,
}

/// Files at least this large are worth sharding (see `shards_for`).
pub(crate) const SHARD_MIN_BYTES: u64 = 32 << 20;

/// Reads every key log once before any capture: an unreadable one is a usage error (said once,
/// exit 2); lines that cannot be used are one warning per file with their count and the first
/// line numbers. Returns those warnings' texts, which the per-capture reports then leave out.
fn check_key_logs(files: &[PathBuf], quiet: bool) -> Result<Vec<String>, String> {
    let mut said = Vec::new();
    for path in files {
        let mut log = tlsdiag::keylog::KeyLog::new();
        log.add_file(path)
            .map_err(|e| format!("key log {}: {e}", path.display()))?;
        if log.warnings.is_empty() {
            continue;
        }
        let numbers: Vec<&str> = log
            .warnings
            .iter()
            .filter_map(|w| w.rsplit_once(" line ").map(|(_, rest)| rest))
            .filter_map(|rest| rest.split(':').next())
            .take(5)
            .collect();
        let count = if log.warnings.len() >= 100 {
            "100 or more".to_string()
        } else {
            log.warnings.len().to_string()
        };
        if !quiet {
            eprintln!(
                "tlsdiag: warning: key log {}: {count} line(s) could not be used (line {}{}); {} client random(s) read",
                path.display(),
                numbers.join(", "),
                if log.warnings.len() > numbers.len() { ", ..." } else { "" },
                log.len()
            );
        }
        said.extend(log.warnings);
    }
    Ok(said)
}

/// Colours the severity words of text output for a terminal (the library renders plain text).
struct ColorWriter {
    inner: Box<dyn Write>,
    pending: Vec<u8>,
}

impl Write for ColorWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') {
            let lines: Vec<u8> = self.pending.drain(..=end).collect();
            self.inner
                .write_all(colorize(&String::from_utf8_lossy(&lines)).as_bytes())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let rest = std::mem::take(&mut self.pending);
        self.inner
            .write_all(colorize(&String::from_utf8_lossy(&rest)).as_bytes())?;
        self.inner.flush()
    }
}

/// ERROR in red, WARNING in yellow, INFO in cyan, where a finding line starts with them.
fn colorize(text: &str) -> String {
    let mut o = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let painted = [("ERROR", "31"), ("WARNING", "33"), ("INFO", "36")]
            .iter()
            .find_map(|(word, code)| {
                line.strip_prefix("  ")
                    .and_then(|rest| rest.strip_prefix(word))
                    .filter(|rest| rest.starts_with(' '))
                    .map(|rest| format!("  \x1b[1;{code}m{word}\x1b[0m{rest}"))
            });
        o.push_str(painted.as_deref().unwrap_or(line));
    }
    o
}

/// With `-f parquet`, the directory given with -o (created if needed); an error when the build
/// has no Parquet support or no directory was given.
fn parquet_dir(args: &AnalyzeArgs) -> Result<Option<PathBuf>, String> {
    if args.format != Format::Parquet {
        return Ok(None);
    }
    if !cfg!(feature = "parquet") {
        return Err("this tlsdiag was built without Parquet support: build it with `cargo build --release --features parquet`".into());
    }
    let dir = args
        .output
        .clone()
        .ok_or("-f parquet writes tables into a directory: give it with -o DIR")?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(Some(dir))
}

/// Text reports of inputs at least this large are streamed (connections as they end, the
/// diagnosis after them) instead of held for a verdict-first report. A held text report of
/// handshake-heavy traffic peaked at 54 MB for 134 MB of capture and 98 MB for 263 MB: this
/// bound keeps it under 100 MB.
pub(crate) const STREAM_TEXT_BYTES: u64 = 192 << 20;

/// Whether the text report of `path` is streamed: asked for, standard input (its size is not
/// known), or a file of [`STREAM_TEXT_BYTES`] or more.
pub(crate) fn streams_text(path: &Path, asked: bool) -> bool {
    asked
        || path == Path::new("-")
        || std::fs::metadata(path).map_or(true, |m| !m.is_file() || m.len() >= STREAM_TEXT_BYTES)
}

/// Threads to analyse one file on. Two: one reads and follows the packets, the other makes
/// the reports and writes them (any input, any format). More than two only for a summary or
/// text that is not streamed (the formats that wait for the whole report: json, html, sarif
/// and parquet are made as connections end instead, in bounded memory, on two threads), when
/// the file can be read once per thread (a regular, uncompressed file: every shard reads all
/// of it) and is large enough for the threads to pay; otherwise two.
pub(crate) fn shards_for(path: &Path, format: Format, stream: bool, jobs: Option<usize>) -> u32 {
    let threads = jobs
        .filter(|&j| j > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads <= 1 {
        return 1;
    }
    let held = match format {
        Format::Summary => true,
        Format::Text => !streams_text(path, stream),
        Format::Json | Format::Sarif | Format::Parquet | Format::Html | Format::Jsonl => false,
    };
    // Standard input is never a regular file here, so it is not opened (that would consume it).
    let large = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() >= SHARD_MIN_BYTES);
    if threads > 2
        && held
        && large
        && matches!(
            capture::open_input(path),
            Ok((_, capture::Compression::None))
        )
    {
        threads.min(64) as u32
    } else {
        2
    }
}

/// Analyses one file and writes its part of the report: text verdict first (header,
/// diagnosis, connections by tcp.stream), or streamed (each connection as it ends, then header
/// and diagnosis) for standard input, large files and `--stream`; JSON Lines always streamed.
/// JSON, HTML and Parquet are made as connections end and written in `tcp.stream` order after
/// the file's header (`render::spool`); SARIF results are handed to the caller, which writes
/// them between the log's head and tail. With outside logs to join (`--iis-log`,
/// `--schannel-events`), the whole report is held and joined first.
pub(crate) fn process(
    index: usize,
    path: &Path,
    options: Options,
    format: Format,
    (shards, stream, said_once): (u32, bool, &[String]),
    tables: Option<&Path>,
    out: &mut dyn Write,
) -> FileOutput {
    let started = Instant::now();
    let name = path.display().to_string();
    let joins = options.iis_log.is_some() || options.schannel.is_some();
    let streamed = match format {
        // The IIS log is joined once every connection is known: held output only.
        Format::Text => streams_text(path, stream) && !joins,
        Format::Jsonl => true,
        Format::Json | Format::Summary | Format::Sarif | Format::Parquet | Format::Html => false,
    };
    // The formats whose file header comes first are made as connections end, a piece for each,
    // unless outside logs are joined to the whole report first.
    let limit = options.max_memory / 4;
    let failed = |error: String, elapsed: Duration| FileOutput {
        index,
        report: None,
        error: Some(format!("{name}: {error}")),
        elapsed,
        sarif: None,
    };
    let mut collector = match joins {
        true => None,
        false => match Collector::for_format(format, &name, tables, limit) {
            Ok(c) => c,
            Err(e) => return failed(e, started.elapsed()),
        },
    };
    let mut collect_error = None;
    let result = match format {
        _ if streamed => stream_file(path, &name, options, format, shards >= 2, out),
        _ if collector.is_some() => capture::open_input(path).and_then(|(input, compression)| {
            let sink = |c| {
                if let Some(collector) = collector.as_mut() {
                    if let Err(e) = collector.add(c) {
                        collect_error.get_or_insert(e);
                    }
                }
            };
            tlsdiag::analyzer::analyze_streaming_unlinked(
                input,
                compression,
                name.clone(),
                options,
                shards >= 2,
                sink,
            )
        }),
        // The whole report is written at the end: analyse on `shards` threads.
        Format::Json | Format::Text | Format::Sarif | Format::Parquet | Format::Html => {
            tlsdiag::analyze_path_sharded(path, options, shards)
        }
        Format::Summary | Format::Jsonl => {
            tlsdiag::analyzer::summarize_path_sharded(path, options, shards)
        }
    };
    let elapsed = started.elapsed();
    let failed = |error: String| failed(error, elapsed);
    if let Some(e) = collect_error {
        return failed(format!("cannot keep the report's pieces: {e}"));
    }
    match result {
        Ok(mut r) => {
            // Warnings the command already gave once (about the key logs) are not repeated
            // in every file's part.
            r.warnings.retain(|w| !said_once.contains(w));
            let written = match collector {
                Some(c) => c.finish(&r, tables, out),
                None => write_part(format, streamed, &r, tables, out).map(|_| None),
            };
            let sarif = match written {
                Ok(sarif) => sarif,
                Err(e) => return failed(e),
            };
            if format != Format::Sarif {
                // Rendered already: while the file waits for its turn only its counts are
                // needed.
                r.connections = Vec::new();
            }
            FileOutput {
                index,
                report: Some(r),
                error: None,
                elapsed,
                sarif,
            }
        }
        Err(e) => failed(e.to_string()),
    }
}

/// Writes a file's part from its report: held (every connection in it) or the header and
/// verdict that close a streamed part. SARIF is written by the caller.
fn write_part(
    format: Format,
    streamed: bool,
    r: &FileReport,
    tables: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let written = match format {
        Format::Json => collect::write_json(out, |w| render::write_json_report(w, r)),
        Format::Html => out.write_all(render::html::html_file(r).as_bytes()),
        Format::Text if !streamed => out.write_all(render::render_text(r).as_bytes()),
        // Connections came first, as they ended; the file's header and verdict close its part.
        Format::Text | Format::Summary => out
            .write_all(render::render_file_header(r).as_bytes())
            .and_then(|_| out.write_all(render::render_diagnosis(r).as_bytes())),
        Format::Jsonl => {
            let mut lines = Vec::with_capacity(4096);
            render::write_jsonl_file(&mut lines, r).and_then(|_| out.write_all(&lines))
        }
        Format::Parquet => return collect::write_held_parquet(r, tables, out),
        Format::Sarif => Ok(()),
    };
    collect::written(written)
}

/// Streams one file's connections to `out` as they end (the reports made and written on a
/// second thread when `two_threads`).
pub(crate) fn stream_file(
    path: &Path,
    name: &str,
    options: Options,
    format: Format,
    two_threads: bool,
    out: &mut dyn Write,
) -> Result<tlsdiag::FileReport, capture::CaptureError> {
    let (input, compression) = capture::open_input(path)?;
    let run = if two_threads {
        tlsdiag::analyzer::analyze_pipelined
    } else {
        tlsdiag::analyzer::analyze_streaming
    };
    // JSON lines are serialized into this buffer (in many small pieces, which would each be a
    // dynamic call on `out`) and handed to `out` in large blocks.
    let mut lines: Vec<u8> = Vec::with_capacity(2 * JSONL_BLOCK);
    let result = run(input, compression, name.to_string(), options, &mut |c| {
        let _ = match format {
            Format::Text => out
                .write_all(render::render_connection_text(&c).as_bytes())
                .and_then(|_| out.write_all(b"\n")),
            Format::Jsonl => {
                let _ = render::write_jsonl_connection(&mut lines, name, &c);
                if lines.len() >= JSONL_BLOCK {
                    let written = out.write_all(&lines);
                    lines.clear();
                    written
                } else {
                    Ok(())
                }
            }
            Format::Json | Format::Summary | Format::Sarif | Format::Parquet | Format::Html => {
                Ok(())
            }
        };
    });
    // Also when the capture ends in an error: the connections before it are reported.
    let _ = out.write_all(&lines);
    result
}

/// JSON lines are handed to the output in blocks of about this size.
const JSONL_BLOCK: usize = 64 << 10;

/// Draws a progress bar on a terminal once the work has lasted a second.
pub(crate) fn progress_thread(
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

pub(crate) fn analyze(args: AnalyzeArgs) -> ExitCode {
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
    let parquet_dir = match parquet_dir(&args) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tlsdiag: {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    // Keys and trust stores are read (and PKCS#12 files decrypted) once, before any output.
    let loaded = match args.analysis.loaded_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tlsdiag: {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    // With -o FILE, what puts the report in place once it is whole.
    let mut report_placement = None;
    let mut out: Box<dyn Write> = match &args.output {
        // -f parquet: -o names the tables' directory; standard output lists what was written.
        Some(_) if parquet_dir.is_some() => {
            Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
        }
        Some(path) => match super::output::create(path) {
            Ok((writer, placement)) => {
                report_placement = Some(placement);
                Box::new(writer)
            }
            Err(e) => {
                eprintln!("tlsdiag: {}: {e}", path.display());
                return ExitCode::from(EXIT_INPUT_ERROR);
            }
        },
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let started = Instant::now();
    let format = args.format;
    // Key logs named on the command line must be readable; one named by SSLKEYLOGFILE (often
    // set for a browser, and maybe not written yet) stays a warning.
    let said_once = match check_key_logs(&args.analysis.keylog, args.quiet) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("tlsdiag: {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    let read = Arc::new(AtomicU64::new(0));
    let mut options = loaded;
    options.progress = Some(read.clone());
    if !args.analysis.iis_log.is_empty() {
        match tlsdiag::iislog::IisLog::read(&args.analysis.iis_log) {
            Ok(log) => options.iis_log = Some(Arc::new(log)),
            Err(e) => {
                eprintln!("tlsdiag: --iis-log: {e}");
                return ExitCode::from(EXIT_INPUT_ERROR);
            }
        }
        if matches!(args.format, Format::Jsonl | Format::Summary) {
            eprintln!("tlsdiag: warning: --iis-log is joined only with --format text or json");
        }
    }
    if !args.analysis.schannel_events.is_empty() {
        match tlsdiag::schannel::SchannelLog::read(&args.analysis.schannel_events) {
            Ok(log) => options.schannel = Some(Arc::new(log)),
            Err(e) => {
                eprintln!("tlsdiag: --schannel-events: {e}");
                return ExitCode::from(EXIT_INPUT_ERROR);
            }
        }
        if matches!(args.format, Format::Jsonl | Format::Summary) {
            eprintln!(
                "tlsdiag: warning: --schannel-events are joined only with --format text or json"
            );
        }
    }
    let show_progress = !args.quiet && !args.no_progress && std::io::stderr().is_terminal();
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    } && format == Format::Text;
    if color {
        out = Box::new(ColorWriter {
            inner: out,
            pending: Vec::new(),
        });
    }
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
    let mut totals = Totals::default();
    // Files whose JSON report was written (they are separated by commas).
    let json_written = std::cell::Cell::new(0usize);
    let many = inputs.len() > 1;
    if format == Format::Json && many {
        let _ = out.write_all(b"[\n");
    }
    let mut sarif_parts = 0usize;
    let mut unreadable: Vec<String> = Vec::new();
    if format == Format::Sarif {
        let _ = out.write_all(render::sarif::sarif_head().as_bytes());
    }
    if format == Format::Html {
        let title = match inputs.len() {
            1 => format!("tlsdiag: {}", inputs[0].display()),
            n => format!("tlsdiag: {} captures", n),
        };
        let _ = out.write_all(render::html::html_head(&title).as_bytes());
    }
    let mut finish_file = |mut r: FileOutput,
                           rendered: Option<HeldOutput>,
                           out: &mut dyn Write,
                           totals: &mut Totals| {
        totals.add(&r);
        if let Some(e) = &r.error {
            eprintln!("tlsdiag: {e}");
            unreadable.push(e.clone());
            if format == Format::Jsonl {
                #[derive(serde::Serialize)]
                struct ErrorLine<'a> {
                    kind: &'static str,
                    schema_version: u32,
                    file: &'a str,
                    error: &'a str,
                }
                let line = ErrorLine {
                    kind: "error",
                    schema_version: model::SCHEMA_VERSION,
                    file: &inputs[r.index].display().to_string(),
                    error: e,
                };
                if let Ok(line) = serde_json::to_string(&line) {
                    let _ = writeln!(out, "{line}");
                }
            }
        } else if let Some(rep) = &r.report {
            for w in rep.warnings.iter().filter(|_| !args.quiet) {
                // A warning about the key logs holds for every file: said once.
                eprintln!("tlsdiag: {}: warning: {w}", rep.file);
            }
        }
        if let Some(held) = rendered {
            if format == Format::Json && r.report.is_some() && json_written.get() > 0 {
                let _ = out.write_all(b",\n");
            }
            if let Err(e) = held.write_to(out) {
                eprintln!(
                    "tlsdiag: {}: held output lost: {e}",
                    inputs[r.index].display()
                );
            }
        }
        if format == Format::Json && r.report.is_some() {
            if !many {
                let _ = out.write_all(b"\n");
            }
            json_written.set(json_written.get() + 1);
        } else if format == Format::Sarif {
            let part = match (r.sarif.take(), &r.report) {
                (Some(part), Some(_)) => part,
                (None, Some(report)) => render::sarif::sarif_results(report),
                (_, None) => String::new(),
            };
            if !part.is_empty() {
                if sarif_parts > 0 {
                    let _ = out.write_all(b",\n");
                }
                let _ = out.write_all(part.as_bytes());
                sarif_parts += 1;
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
                shards_for(path, format, args.stream, args.analysis.jobs)
            };
            // A file's JSON report follows the one before with a comma, if it has one.
            let comma: &[u8] = if format == Format::Json && json_written.get() > 0 {
                b",\n"
            } else {
                b""
            };
            let r = process(
                i,
                path,
                options.clone(),
                format,
                (shards, args.stream, &said_once),
                parquet_dir.as_deref(),
                &mut Prefixed::new(&mut out, comma),
            );
            finish_file(r, None, &mut out, &mut totals);
        }
    } else {
        let pool = match args.analysis.pool() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("tlsdiag: {e}");
                return ExitCode::from(EXIT_INPUT_ERROR);
            }
        };
        // Output held for its turn takes a quarter of the memory budget.
        let held_budget = tlsdiag::budget::Budget::new(options.max_memory / 4);
        // Files analysed at once share the memory budget (see tlsdiag::budget).
        let mut options = options.clone();
        options.max_memory /= pool.current_num_threads().clamp(1, inputs.len().max(1));
        let (tx, rx) = mpsc::channel::<(FileOutput, HeldOutput)>();
        std::thread::scope(|scope| {
            let inputs = &inputs;
            let options = &options;
            let stream = args.stream;
            let parquet_dir = parquet_dir.as_deref();
            let said_once = &said_once[..];
            scope.spawn(move || {
                pool.scope(|s| {
                    for (i, path) in inputs.iter().enumerate() {
                        let tx = tx.clone();
                        let options = options.clone();
                        let held_budget = held_budget.clone();
                        s.spawn(move |_| {
                            let mut rendered = HeldOutput::new(held_budget);
                            let r = process(
                                i,
                                path,
                                options,
                                format,
                                (1, stream, said_once),
                                parquet_dir,
                                &mut rendered,
                            );
                            let _ = tx.send((r, rendered));
                        });
                    }
                });
            });
            let mut pending: std::collections::BTreeMap<usize, (FileOutput, HeldOutput)> =
                Default::default();
            let mut next = 0;
            for (r, rendered) in rx.iter().take(inputs.len()) {
                pending.insert(r.index, (r, rendered));
                while let Some((r, rendered)) = pending.remove(&next) {
                    finish_file(r, Some(rendered), &mut out, &mut totals);
                    next += 1;
                }
            }
        });
    }
    if format == Format::Json && many {
        let _ = out.write_all(b"\n]\n");
    }
    if format == Format::Sarif {
        let _ = out.write_all(render::sarif::sarif_tail(&unreadable).as_bytes());
    }
    if format == Format::Html {
        let _ = out.write_all(render::html::html_tail().as_bytes());
    }
    done.store(true, Ordering::Relaxed);
    if let Some(b) = bar {
        let _ = b.join();
    }
    if !args.quiet && ((format == Format::Text && inputs.len() > 1) || format == Format::Summary) {
        let _ = out.write_all(totals.render(started.elapsed()).as_bytes());
    }
    if !args.quiet
        && matches!(format, Format::Text | Format::Summary)
        && !totals.summary.by_code.is_empty()
    {
        let _ = out.write_all(b"`tlsdiag explain CODE` tells more about a code.\n");
    }
    let flushed = out.flush();
    drop(out);
    let placed = match report_placement {
        Some(placement) => placement.finish(),
        None => Ok(()),
    };
    if let Err(e) = flushed.and(placed) {
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
pub(crate) struct Totals {
    pub(crate) files: usize,
    pub(crate) errors: usize,
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    pub(crate) conversations: u64,
    pub(crate) tls: usize,
    pub(crate) http: usize,
    pub(crate) handshakes: usize,
    pub(crate) summary: Summary,
    pub(crate) worst: Option<Severity>,
    pub(crate) cpu: Duration,
}

impl Totals {
    pub(crate) fn add(&mut self, r: &FileOutput) {
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

    pub(crate) fn render(&self, wall: Duration) -> String {
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
            let width = self
                .summary
                .by_code
                .values()
                .map(|n| n.to_string().len())
                .max()
                .unwrap_or(1);
            for (code, n) in &self.summary.by_code {
                o.push_str(&format!("   {n:>width$}  {code}\n"));
            }
        }
        o
    }
}
