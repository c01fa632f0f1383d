//! The report formats written as connections end (SARIF, JSON, HTML) give the bytes the held
//! report gives, on every capture, on one thread and two, including captures where a 403 is
//! linked to a handshake problem before and after it.

mod common;

use std::path::Path;

use tlsdiag::{ConnectionReport, FileReport, Options};

/// The file's report from the streamed analysis, each connection handed to `add` as it ends.
fn streamed(
    path: &Path,
    options: &Options,
    two_threads: bool,
    add: impl FnMut(ConnectionReport),
) -> FileReport {
    let (input, compression) = tlsdiag::capture::open_input(path).unwrap();
    tlsdiag::analyzer::analyze_streaming_unlinked(
        input,
        compression,
        path.display().to_string(),
        options.clone(),
        two_threads,
        add,
    )
    .unwrap()
}

/// Every capture and the two built ones, with the held report of those that can be read.
fn held_reports() -> Vec<(std::path::PathBuf, Options, FileReport)> {
    let mut all = common::every_capture();
    all.extend(
        common::linked_captures()
            .into_iter()
            .map(|p| (p, Options::default())),
    );
    all.into_iter()
        .filter_map(|(path, options)| {
            let held = tlsdiag::analyze_path(&path, options.clone()).ok()?;
            Some((path, options, held))
        })
        .collect()
}

#[test]
fn sarif_results_gathered_as_connections_end_are_those_of_the_held_report() {
    let mut linked = 0;
    for (path, options, held) in held_reports() {
        let expected = tlsdiag::render::sarif::sarif_results(&held);
        linked += expected.matches("within a minute on tcp.stream").count();
        for two_threads in [false, true] {
            let name = path.display().to_string();
            let mut collector = tlsdiag::render::sarif::SarifCollector::new(&name);
            streamed(&path, &options, two_threads, |c| collector.add(c));
            assert!(
                collector.finish() == expected,
                "{} (two threads: {two_threads})",
                path.display()
            );
        }
    }
    // Two of the captures have a 403 linked to a handshake problem (one before it, one after
    // it in the file), so linking is compared too.
    assert_eq!(linked, 2);
}

#[test]
fn json_written_from_connections_as_they_end_is_the_held_report() {
    let mut spilled = 0;
    for (path, options, held) in held_reports() {
        let mut expected = Vec::new();
        tlsdiag::render::write_json_report(&mut expected, &held).unwrap();
        // In memory, and in a temporary file after the first connection.
        for (two_threads, limit) in [(false, 1 << 20), (true, 1 << 20), (false, 0)] {
            let mut collector = tlsdiag::render::json::JsonCollector::new(limit);
            let report = streamed(&path, &options, two_threads, |c| collector.add(c).unwrap());
            spilled += (limit == 0 && !held.connections.is_empty()) as usize;
            let mut got = Vec::new();
            collector.finish(&report, &mut got).unwrap();
            assert!(
                got == expected,
                "{} (two threads: {two_threads}, limit {limit})",
                path.display()
            );
        }
    }
    assert!(spilled >= 50, "{spilled}");
}

#[test]
fn html_written_from_connections_as_they_end_is_the_held_report() {
    let mut both_kinds = 0;
    for (path, options, held) in held_reports() {
        let expected = tlsdiag::render::html::html_file(&held);
        both_kinds += (expected.contains("connection(s) without a problem")
            && expected.contains("id=\"stream-")) as usize;
        for (two_threads, limit) in [(false, 1 << 20), (true, 1 << 20), (false, 0)] {
            let mut collector = tlsdiag::render::html::HtmlCollector::new(limit);
            let report = streamed(&path, &options, two_threads, |c| collector.add(c).unwrap());
            let mut got = Vec::new();
            collector.finish(&report, &mut got).unwrap();
            assert!(
                got == expected.as_bytes(),
                "{} (two threads: {two_threads}, limit {limit})",
                path.display()
            );
        }
    }
    // Problems in detail and healthy connections in the table, in the same file.
    assert!(both_kinds >= 5, "{both_kinds}");
}
