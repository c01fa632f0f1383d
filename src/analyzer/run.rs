//! The entry points over whole inputs: a file or bytes at once, streamed connection by
//! connection, in two stages on two threads (packets; reports), or shared out among more
//! threads (each reading the file, each keeping its share of the conversations), and the joins
//! of outside logs that need every report.

use super::*;
use crate::findings;

/// Reads and analyses one capture, handing each connection's report to `sink` as soon as the
/// connection is finalized (in the order connections end). The returned report has no
/// connections but counts them all.
pub fn analyze_streaming<F>(
    input: Box<dyn std::io::Read + Send>,
    compression: capture::Compression,
    name: String,
    options: Options,
    sink: F,
) -> Result<FileReport, CaptureError>
where
    F: FnMut(ConnectionReport),
{
    streaming((input, compression), name, options, false, sink)
}

/// Like [`analyze_streaming`] (on two threads when `two_threads`, as [`analyze_pipelined`]),
/// but a 401/403 is not linked to the earlier connections' handshake problems as it ends: for
/// a caller that links it both ways once the file is read ([`findings::ProblemIndex`]).
pub fn analyze_streaming_unlinked<F>(
    input: Box<dyn std::io::Read + Send>,
    compression: capture::Compression,
    name: String,
    options: Options,
    two_threads: bool,
    sink: F,
) -> Result<FileReport, CaptureError>
where
    F: FnMut(ConnectionReport),
{
    if two_threads {
        pipelined((input, compression), name, options, true, sink).map(|(report, _)| report)
    } else {
        streaming((input, compression), name, options, true, sink)
    }
}

/// The one-thread streamed run; `keep_all_reports` turns off linking as connections end.
fn streaming<F>(
    (input, compression): (Box<dyn std::io::Read + Send>, capture::Compression),
    name: String,
    options: Options,
    keep_all_reports: bool,
    mut sink: F,
) -> Result<FileReport, CaptureError>
where
    F: FnMut(ConnectionReport),
{
    let counter = options.progress.clone();
    let mut analyzer = Analyzer::new(options);
    if keep_all_reports {
        analyzer.keep_all_reports();
    }
    let outcome = capture::read_capture_counted(input, compression, counter, |ev| {
        match ev {
            CaptureEvent::Packet(p) => analyzer.packet(&p),
            CaptureEvent::TlsSecrets(text) => analyzer.tls_secrets(text),
        }
        if !analyzer.finished.is_empty() {
            for r in analyzer.take_finished() {
                sink(r);
            }
        }
    })?;
    let (report, rest) = analyzer.finish(name, outcome);
    for r in rest {
        sink(r);
    }
    Ok(report)
}

/// Like [`analyze_streaming`] on two threads: the calling thread makes the reports and
/// hands them to `sink` while a second thread reads the capture and follows its packets
/// (`-j 2` on one file). The first stage hands finalized connections and Kerberos messages to
/// the second in order ([`reporter`](super::reporter)), so the reports, their order and the
/// file's report are the same as on one thread.
pub fn analyze_pipelined<F>(
    input: Box<dyn std::io::Read + Send>,
    compression: capture::Compression,
    name: String,
    options: Options,
    sink: F,
) -> Result<FileReport, CaptureError>
where
    F: FnMut(ConnectionReport),
{
    pipelined((input, compression), name, options, false, sink).map(|(report, _)| report)
}

/// Batches of events in flight between the two stages at most (each of [`EVENT_BATCH`]
/// connections): the first stage waits when the second falls behind, so memory stays bounded.
const PIPELINE_DEPTH: usize = 16;

/// The two-stage run behind [`analyze_pipelined`]; also returns the keys of the distinct
/// certificates seen (for merging shards). A third thread reads the capture ahead of the first
/// stage, which parses the blocks where they lie in its chunks ([`capture::read_capture_ahead`]).
/// Measured on two cores with the 1 GB bench captures, it pays
/// where the second stage has little to do (summary of handshake-heavy traffic 0.61 to 0.42 s;
/// JSON Lines of bulk traffic 0.28 to 0.19 s). Where both stages are busy (JSON Lines of
/// handshake-heavy traffic) it cost until it ran at a lower priority than theirs, reading in
/// their gaps instead of taking their cores (`READ_AHEAD_NICE` in `capture/input.rs`).
fn pipelined<F>(
    (input, compression): (Box<dyn std::io::Read + Send>, capture::Compression),
    name: String,
    options: Options,
    keep_all_reports: bool,
    mut sink: F,
) -> Result<(FileReport, Vec<(usize, u64)>), CaptureError>
where
    F: FnMut(ConnectionReport),
{
    let mut reporter = Reporter::new(findings_context(&options));
    reporter.keeps_all_reports = keep_all_reports;
    let (to, from) = std::sync::mpsc::sync_channel::<Vec<Event>>(PIPELINE_DEPTH);
    std::thread::scope(|scope| {
        let first = scope.spawn(move || {
            let counter = options.progress.clone();
            let mut analyzer = Analyzer::with_channel(options, to);
            let outcome =
                capture::read_capture_ahead(input, compression, counter, |ev| match ev {
                    CaptureEvent::Packet(p) => analyzer.packet(&p),
                    CaptureEvent::TlsSecrets(text) => analyzer.tls_secrets(text),
                })?;
            let certificates = analyzer.state.tls.certs.keys().collect();
            let budget = analyzer.state.tls.budget.clone();
            // Dropping the analyzer closes the channel: the second stage's loop ends.
            let report = analyzer.finish_first_stage(name, outcome);
            Ok::<_, CaptureError>((report, certificates, budget))
        });
        for batch in from {
            for event in batch {
                reporter.event(event, &mut sink);
            }
        }
        let (mut report, certificates, budget) = first
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        reporter.complete(&mut report);
        // The second stage dropped the last connections' buffers.
        debug_assert_eq!(budget.held(), 0, "every buffer gave its bytes back");
        Ok((report, certificates))
    })
}

/// Joins IIS log lines to the connections and evaluates again the connections that got HTTP
/// answers from it; says whether any did.
fn join_iis_log(
    report: &mut FileReport,
    connections: &mut [ConnectionReport],
    log: &crate::iislog::IisLog,
    options: &Options,
) -> bool {
    let (changed, summary) = iis_join::join(log, connections, options.iis_tolerance_secs);
    report.iis_log = Some(summary);
    if changed.is_empty() {
        return false;
    }
    let mut ctx = FindingsContext::new(options.thresholds.clone());
    let mut attached = FxHashSet::default();
    for c in connections
        .iter_mut()
        .filter(|c| changed.contains(&c.stream))
    {
        findings::evaluate_into(c, &mut ctx);
        findings::kerberos_rules(c, &report.kerberos.messages, &mut attached);
        if c.http_version.is_none() {
            report.http_connections += 1;
        }
    }
    true
}

/// Takes file-level findings back out of a summary's counts.
fn uncount(summary: &mut model::Summary, findings: &[model::Finding]) {
    for f in findings {
        for (map, key) in [
            (&mut summary.by_code, f.code),
            (&mut summary.by_severity, f.severity.word()),
        ] {
            if let Some(n) = map.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
    }
}

/// Reads and analyses one capture file (`-` for standard input), keeping every connection's
/// report in `tcp.stream` order.
pub fn analyze_path(path: &Path, options: Options) -> Result<FileReport, CaptureError> {
    let (input, compression) = capture::open_input(path)?;
    collect(input, compression, path.display().to_string(), options)
}

/// Analyses a capture held in memory (tests, fuzzing).
pub fn analyze_bytes(
    name: &str,
    bytes: Vec<u8>,
    options: Options,
) -> Result<FileReport, CaptureError> {
    let (input, compression) = capture::decompress(Box::new(std::io::Cursor::new(bytes)))?;
    collect(input, compression, name.to_string(), options)
}

/// Reports of one capture kept whole: the file's report, every connection's report in the
/// order they ended, and the keys of the distinct certificates seen.
type Collected = (FileReport, Vec<ConnectionReport>, Vec<(usize, u64)>);

fn collect_unsorted(
    input: Box<dyn std::io::Read + Send>,
    compression: capture::Compression,
    name: String,
    options: Options,
    keep_reports: bool,
) -> Result<Collected, CaptureError> {
    let counter = options.progress.clone();
    let mut analyzer = Analyzer::new(options);
    analyzer.keep_all_reports();
    let mut connections = Vec::new();
    let outcome = capture::read_capture_counted(input, compression, counter, |ev| {
        match ev {
            CaptureEvent::Packet(p) => analyzer.packet(&p),
            CaptureEvent::TlsSecrets(text) => analyzer.tls_secrets(text),
        }
        if !analyzer.finished.is_empty() {
            if keep_reports {
                connections.append(&mut analyzer.finished);
            } else {
                analyzer.finished.clear();
            }
        }
    })?;
    let certificates = analyzer.state.tls.certs.keys().collect();
    let (report, rest) = analyzer.finish(name, outcome);
    if keep_reports {
        connections.extend(rest);
    }
    Ok((report, connections, certificates))
}

/// Puts the connections in `tcp.stream` order, links them, and hands them to the file report.
fn complete(
    mut report: FileReport,
    mut connections: Vec<ConnectionReport>,
    options: &Options,
) -> FileReport {
    connections.sort_by_key(|c| c.stream);
    let mut changed = false;
    if let Some(log) = &options.iis_log {
        changed |= join_iis_log(&mut report, &mut connections, log, options);
    }
    if let Some(log) = &options.schannel {
        let (c, summary) = schannel_join::join(log, &mut connections, options.iis_tolerance_secs);
        report.schannel = Some(summary);
        changed |= c;
    }
    if changed {
        // Findings changed after they were counted: count the file again.
        let mut summary = model::Summary::default();
        for c in connections.iter() {
            summary.add_connection(c);
        }
        for f in &report.kerberos.findings {
            summary.add(f);
        }
        report.summary = summary;
    }
    findings::correlate_all(&mut connections);
    report.connections = connections;
    report
}

fn collect(
    input: Box<dyn std::io::Read + Send>,
    compression: capture::Compression,
    name: String,
    options: Options,
) -> Result<FileReport, CaptureError> {
    let (report, connections, _) =
        collect_unsorted(input, compression, name, options.clone(), true)?;
    Ok(complete(report, connections, &options))
}

/// Like [`analyze_path`], on `shards` threads. Two run the analysis in two stages (see
/// [`analyze_pipelined`]), as does standard input, which cannot be read twice. With more, each
/// reads the whole file and decodes every packet, and tracks every TCP conversation (so
/// `tcp.stream` numbers stay Wireshark's), but reassembles and analyses only the conversations
/// its shard owns. The result is the same report as [`analyze_path`].
pub fn analyze_path_sharded(
    path: &Path,
    options: Options,
    shards: u32,
) -> Result<FileReport, CaptureError> {
    if shards <= 1 {
        return analyze_path(path, options);
    }
    if shards == 2 || path == Path::new("-") {
        // Two threads: one reads and follows the packets, the other makes the reports.
        let mut connections = Vec::new();
        let name = path.display().to_string();
        let input = capture::open_input(path)?;
        let (report, _) = pipelined(input, name, options.clone(), true, |c| connections.push(c))?;
        return Ok(complete(report, connections, &options));
    }
    sharded(path, options, shards, true)
}

/// Like [`analyze_path_sharded`] but keeps no connection reports, only the file's counts and
/// findings summary, so memory stays bounded (`--format summary`).
pub fn summarize_path_sharded(
    path: &Path,
    options: Options,
    shards: u32,
) -> Result<FileReport, CaptureError> {
    if shards == 2 || (shards > 2 && path == Path::new("-")) {
        let (input, compression) = capture::open_input(path)?;
        let name = path.display().to_string();
        return analyze_pipelined(input, compression, name, options, drop);
    }
    if shards <= 1 {
        let (input, compression) = capture::open_input(path)?;
        return analyze_streaming(
            input,
            compression,
            path.display().to_string(),
            options,
            drop,
        );
    }
    sharded(path, options, shards, false)
}

fn sharded(
    path: &Path,
    options: Options,
    shards: u32,
    keep_reports: bool,
) -> Result<FileReport, CaptureError> {
    let name = path.display().to_string();
    let results: Vec<Result<Collected, CaptureError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..shards)
            .map(|index| {
                let mut options = options.clone();
                options.shard = Some((index, shards));
                // The shards run at once: each holds its share of the memory budget.
                options.max_memory /= shards as usize;
                if index > 0 {
                    // Every shard reads the whole file: count its bytes once.
                    options.progress = None;
                }
                let name = name.clone();
                scope.spawn(move || {
                    let (input, compression) = capture::open_input(path)?;
                    collect_unsorted(input, compression, name, options, keep_reports)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut results = results.into_iter();
    let Some(first) = results.next() else {
        return analyze_path(path, options);
    };
    let (mut report, mut connections, certificates) = first?;
    let mut distinct: FxHashSet<(usize, u64)> = certificates.into_iter().collect();
    // Every shard sees all of Kerberos but ties it to its own connections only: a KDC error
    // is said once per file when no shard tied it to a connection.
    let mut krb_file = std::mem::take(&mut report.kerberos.findings);
    uncount(&mut report.summary, &krb_file);
    for other in results {
        let (mut other, more, certificates) = other?;
        let theirs = std::mem::take(&mut other.kerberos.findings);
        uncount(&mut other.summary, &theirs);
        krb_file.retain(|f| {
            theirs
                .iter()
                .any(|g| g.code == f.code && g.frames == f.frames)
        });
        // File-level facts (packets, conversations, decoder counters, warnings about the
        // file) are the same in every shard; what each shard analysed adds up.
        report.summary.merge(other.summary);
        report.tls_connections += other.tls_connections;
        report.http_connections += other.http_connections;
        report.handshakes += other.handshakes;
        for w in other.warnings {
            if !report.warnings.contains(&w) {
                report.warnings.push(w);
            }
        }
        connections.extend(more);
        distinct.extend(certificates);
    }
    report.distinct_certificates = distinct.len();
    for f in &krb_file {
        report.summary.add(f);
    }
    report.kerberos.findings = krb_file;
    Ok(complete(report, connections, &options))
}
