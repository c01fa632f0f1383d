//! One file analysed on several threads gives exactly the report of one thread: same
//! connections in the same order, `tcp.stream` numbers, findings, counts and summary. Two
//! threads run the analysis as two stages (`analyze_pipelined`, and `analyze_path_sharded` with
//! 2); more share the conversations out (`analyze_path_sharded` with 3).

use std::path::{Path, PathBuf};

fn captures_under(dir: &Path) -> Vec<PathBuf> {
    if !dir.exists() {
        return Vec::new();
    }
    tlsdiag::check::captures_in(dir).unwrap()
}

fn same_report_sharded(path: &Path) {
    let mut options = tlsdiag::Options::default();
    if let Some(keys) = tlsdiag::check::keylog_beside(path) {
        options.keylog_files = vec![path.with_file_name(keys)];
    }
    let one = tlsdiag::analyze_path(path, options.clone());
    for shards in [2, 3] {
        let many = tlsdiag::analyze_path_sharded(path, options.clone(), shards);
        match (&one, &many) {
            (Ok(a), Ok(b)) => {
                let a = serde_json::to_value(a).unwrap();
                let b = serde_json::to_value(b).unwrap();
                assert!(a == b, "{}: {shards} shards differ", path.display());
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("{}: one thread and {shards} disagree", path.display()),
        }
        let summary = tlsdiag::analyzer::summarize_path_sharded(path, options.clone(), shards).ok();
        if let (Ok(a), Some(b)) = (&one, summary) {
            assert_eq!(a.tls_connections, b.tls_connections, "{}", path.display());
            assert_eq!(a.handshakes, b.handshakes, "{}", path.display());
            assert_eq!(a.summary.by_code, b.summary.by_code, "{}", path.display());
            assert!(b.connections.is_empty());
        }
    }
}

/// The reports streamed by the two-stage analysis, in order, and its file report, are those of
/// one thread, byte for byte once serialized.
fn same_stream_on_two_threads(path: &Path) {
    let mut options = tlsdiag::Options::default();
    if let Some(keys) = tlsdiag::check::keylog_beside(path) {
        options.keylog_files = vec![path.with_file_name(keys)];
    }
    let run = |two: bool| {
        let (input, compression) = tlsdiag::capture::open_input(path).unwrap();
        let mut lines = Vec::new();
        let sink = |c: tlsdiag::ConnectionReport| lines.push(serde_json::to_string(&c).unwrap());
        let name = path.display().to_string();
        let report = if two {
            tlsdiag::analyzer::analyze_pipelined(input, compression, name, options.clone(), sink)
        } else {
            tlsdiag::analyzer::analyze_streaming(input, compression, name, options.clone(), sink)
        };
        let report = report.map(|r| serde_json::to_string(&r).unwrap());
        (report.map_err(|e| e.to_string()), lines)
    };
    let (one, one_lines) = run(false);
    let (two, two_lines) = run(true);
    assert_eq!(one, two, "{}: file reports differ", path.display());
    assert!(
        one_lines == two_lines,
        "{}: streamed reports differ",
        path.display()
    );
}

#[test]
fn two_stages_stream_what_one_thread_streams() {
    let ours = captures_under(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"));
    let public =
        captures_under(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public"));
    assert!(ours.len() >= 59);
    for path in ours.iter().chain(&public) {
        same_stream_on_two_threads(path);
    }
}

#[test]
fn sharded_equals_one_thread_on_our_captures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let all = captures_under(&dir);
    assert!(all.len() >= 59);
    for path in all {
        same_report_sharded(&path);
    }
}

#[test]
fn sharded_equals_one_thread_on_public_captures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public");
    let all = captures_under(&dir);
    if all.is_empty() {
        eprintln!("../shared/captures-public not present: skipped");
        return;
    }
    assert!(all.len() >= 80);
    for path in all {
        same_report_sharded(&path);
    }
}

#[test]
fn more_than_one_conversation_lands_in_each_shard() {
    // Guards against a hash that sends everything to one shard (then the test above proves
    // nothing): the handshake-heavy seed has many conversations, split about evenly.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/handshake-heavy.pcap");
    let whole = tlsdiag::analyze_path(&path, tlsdiag::Options::default()).unwrap();
    let total = whole.tls_connections;
    assert!(total >= 30, "{total}");
    for index in 0..2 {
        let options = tlsdiag::Options {
            shard: Some((index, 2)),
            ..Default::default()
        };
        let part = tlsdiag::analyze_path(&path, options).unwrap();
        assert!(
            part.tls_connections > total / 4 && part.tls_connections < total * 3 / 4,
            "shard {index}: {} of {total}",
            part.tls_connections
        );
    }
}

#[path = "common/replicate.rs"]
mod replicate;

#[test]
fn the_cli_shares_one_large_file_out_and_prints_the_same() {
    // 33 MB of the real handshake-heavy seed, copied with new addresses: above the size from
    // which one file is shared out among threads.
    let seed = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/handshake-heavy.pcap"),
    )
    .unwrap();
    let (big, _) = replicate::replicate(&seed, 33 << 20);
    let dir = std::env::temp_dir().join(format!("tlsdiag-shard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("big.pcap");
    std::fs::write(&file, big).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
            .args(args)
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let one = run(&["-f", "json", "-j", "1"]);
    let two = run(&["-f", "json", "-j", "2"]);
    assert!(one.len() > 1_000_000);
    assert!(one == two, "-j 1 and -j 2 JSON differ");
    let v: serde_json::Value = serde_json::from_str(&two).unwrap();
    assert!(v["tls_connections"].as_u64().unwrap() > 1000);
    // The summary's counts agree too (its timing lines aside).
    let counts = |s: String| -> Vec<String> {
        s.lines()
            .filter(|l| !l.contains("MB/s") && !l.contains("seconds"))
            .map(String::from)
            .collect()
    };
    assert_eq!(
        counts(run(&["-f", "summary", "-j", "1"])),
        counts(run(&["-f", "summary", "-j", "2"]))
    );
    // Streamed formats: the second thread writes the reports as they end.
    for args in [&["-f", "jsonl"][..], &["-f", "text", "--stream"][..]] {
        let one = run(&[args, &["-j", "1"]].concat());
        let two = run(&[args, &["-j", "2"]].concat());
        assert!(one.len() > 1_000_000, "{args:?}");
        assert!(one == two, "{args:?}: -j 1 and -j 2 differ");
    }
    std::fs::remove_dir_all(&dir).ok();
}
