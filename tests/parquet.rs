//! `-f parquet` read back: every table has one row per item of the JSON report, with the same
//! key columns (file, stream, code, severity, frames, status...). Runs with `--features parquet`.
#![cfg(feature = "parquet")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

fn capture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

/// The rows of a part file as (column, value rendered as text) lists.
fn rows(path: &Path) -> Vec<Vec<(String, String)>> {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(name, field)| {
                    let value = match field {
                        Field::Null => "null".to_string(),
                        Field::Str(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (name.clone(), value)
                })
                .collect()
        })
        .collect()
}

fn get<'a>(row: &'a [(String, String)], column: &str) -> &'a str {
    &row.iter().find(|(n, _)| n == column).unwrap().1
}

#[test]
fn tables_match_the_json_report() {
    let out_dir = std::env::temp_dir().join(format!("tlsdiag-parquet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let files = [
        capture("tls12-client-cert-empty-required.pcap"),
        capture("http-401-403.pcap"),
        capture("tls12-ca-list-17k.pcap"),
    ];
    let status = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(["-f", "parquet", "-o", out_dir.to_str().unwrap()])
        .args(&files)
        .status()
        .unwrap();
    assert!(status.success());
    for f in &files {
        let name = f.display().to_string();
        let r = tlsdiag::analyze_path(f, tlsdiag::Options::default()).unwrap();
        let part = tlsdiag::render::parquet::part_name(&name);
        let table = |t: &str| rows(&out_dir.join(t).join(&part));

        let connections = table("connections");
        assert_eq!(connections.len(), r.connections.len(), "{name}");
        for (row, c) in connections.iter().zip(&r.connections) {
            assert_eq!(get(row, "file"), name);
            assert_eq!(get(row, "schema_version"), "3");
            assert_eq!(get(row, "stream"), c.stream.to_string());
            assert_eq!(get(row, "server"), c.server);
            assert_eq!(get(row, "findings"), c.findings.len().to_string());
            if c.tls {
                assert_eq!(get(row, "outcome"), c.outcome.status.word());
            }
        }

        let findings = table("findings");
        let expected: Vec<(String, String, String, String)> = r
            .connections
            .iter()
            .flat_map(|c| {
                c.findings.iter().map(move |f| {
                    let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
                    (
                        c.stream.to_string(),
                        f.code.to_string(),
                        f.severity.word().to_string(),
                        frames.join(","),
                    )
                })
            })
            .collect();
        let got: Vec<(String, String, String, String)> = findings
            .iter()
            .map(|row| {
                (
                    get(row, "stream").to_string(),
                    get(row, "code").to_string(),
                    get(row, "severity").to_string(),
                    get(row, "frames").to_string(),
                )
            })
            .collect();
        assert_eq!(got, expected, "{name}");

        let certificates = table("certificates");
        let expected_certs: usize = r
            .connections
            .iter()
            .flat_map(|c| &c.messages)
            .filter_map(|m| match &m.detail {
                Some(tlsdiag::tls::Detail::Certificate(x)) => Some(x.certificates.len()),
                _ => None,
            })
            .sum();
        assert_eq!(certificates.len(), expected_certs, "{name}");

        let http = table("http");
        let statuses: Vec<String> = r
            .connections
            .iter()
            .flat_map(|c| &c.http)
            .map(|x| x.status.map_or("null".into(), |s| s.to_string()))
            .collect();
        let got: Vec<String> = http
            .iter()
            .map(|row| get(row, "status").to_string())
            .collect();
        assert_eq!(got, statuses, "{name}");
    }
    // Exact facts on two of them.
    let empty = rows(
        &out_dir
            .join("findings")
            .join(tlsdiag::render::parquet::part_name(
                &files[0].display().to_string(),
            )),
    );
    assert_eq!(get(&empty[0], "code"), "client-cert-empty");
    assert_eq!(get(&empty[0], "frames"), "6,8");
    let http = rows(
        &out_dir
            .join("http")
            .join(tlsdiag::render::parquet::part_name(
                &files[1].display().to_string(),
            )),
    );
    let got: Vec<&str> = http.iter().map(|r| get(r, "status")).collect();
    assert_eq!(got, ["401", "200", "403"]);
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn parquet_needs_a_directory() {
    let out = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args([
            "-f",
            "parquet",
            capture("http-401-403.pcap").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give it with -o DIR"));
}

/// Every capture, ours and public, with the keys beside it, and the two files with a 403
/// linked to a handshake problem (one before, one after it).
fn all_captures() -> Vec<(PathBuf, tlsdiag::Options)> {
    let mut all = common::every_capture();
    all.extend(
        common::linked_captures()
            .into_iter()
            .map(|p| (p, tlsdiag::Options::default())),
    );
    all
}

/// The four files of `path` written by a `ParquetCollector` fed as connections end.
fn collect(
    path: &Path,
    options: &tlsdiag::Options,
    two_threads: bool,
    dir: &Path,
    limit: usize,
    group_rows: usize,
) -> (Vec<PathBuf>, u64) {
    use tlsdiag::render::parquet::ParquetCollector;
    let name = path.display().to_string();
    let mut collector = ParquetCollector::new(&name, dir, limit)
        .unwrap()
        .with_row_group_rows(group_rows);
    let (input, compression) = tlsdiag::capture::open_input(path).unwrap();
    tlsdiag::analyzer::analyze_streaming_unlinked(
        input,
        compression,
        name,
        options.clone(),
        two_threads,
        |c| collector.add(c).unwrap(),
    )
    .unwrap();
    let spilled = collector.spilled();
    (collector.finish().unwrap(), spilled)
}

fn scratch(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tlsdiag-parquet-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Tables written as connections end (only encoded rows and the 401/403 reports kept) are the
/// very files `write_parquet` writes for the held, linked report: byte for byte, on every
/// capture, on one and on two threads.
#[test]
fn tables_written_as_connections_end_are_those_of_the_held_report() {
    let (held_dir, streamed_dir) = (scratch("held"), scratch("streamed"));
    let mut linked = 0;
    let mut compared = 0;
    for (path, options) in all_captures() {
        let Ok(held) = tlsdiag::analyze_path(&path, options.clone()) else {
            continue;
        };
        assert_eq!(held.file, path.display().to_string());
        linked += held
            .connections
            .iter()
            .flat_map(|c| &c.findings)
            .filter(|f| f.explanation.contains("within a minute on tcp.stream"))
            .count();
        let expected = tlsdiag::render::parquet::write_parquet(&held, &held_dir).unwrap();
        assert_eq!(expected.len(), 4);
        for two_threads in [false, true] {
            let (got, _) = collect(
                &path,
                &options,
                two_threads,
                &streamed_dir,
                8 << 20,
                tlsdiag::render::parquet::ROW_GROUP_ROWS,
            );
            for (want, got) in expected.iter().zip(&got) {
                assert_eq!(
                    got.strip_prefix(&streamed_dir).unwrap(),
                    want.strip_prefix(&held_dir).unwrap()
                );
                assert!(
                    std::fs::read(got).unwrap() == std::fs::read(want).unwrap(),
                    "{} differs from the held report's {} (two threads: {two_threads})",
                    got.display(),
                    want.display()
                );
            }
        }
        compared += 1;
    }
    assert!(compared >= 59, "{compared}");
    // Two of the captures have a 403 linked to a handshake problem, so linking is compared too.
    assert_eq!(linked, 2);
    let _ = std::fs::remove_dir_all(&held_dir);
    let _ = std::fs::remove_dir_all(&streamed_dir);
}

/// Row groups of three rows and a spool of 64 bytes (spilled after nearly every connection)
/// give the same rows as the defaults, in many row groups.
#[test]
fn tiny_row_groups_and_a_spilled_spool_give_the_same_rows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The public capture with the most connections when it is there, else the largest of ours;
    // and one with a 403 linked to a handshake problem.
    let big = [
        "../shared/captures-public/dev/cisco+mercury/test/data/top_100_fingerprints.pcap",
        "captures/tls12-ca-list-37k.pcap",
    ]
    .iter()
    .map(|p| root.join(p))
    .find(|p| p.exists())
    .unwrap();
    let options = tlsdiag::Options::default();
    let (defaults, small) = (scratch("defaults"), scratch("small"));
    for path in [big.clone(), common::linked_captures().remove(1)] {
        let held = tlsdiag::analyze_path(&path, options.clone()).unwrap();
        for two_threads in [false, true] {
            let (want, _) = collect(
                &path,
                &options,
                two_threads,
                &defaults,
                8 << 20,
                tlsdiag::render::parquet::ROW_GROUP_ROWS,
            );
            let (got, spilled) = collect(&path, &options, two_threads, &small, 64, 3);
            assert!(spilled > 0, "{}", path.display());
            for (want, got) in want.iter().zip(&got) {
                let rows_want = rows(want);
                assert_eq!(rows(got), rows_want, "{}", got.display());
                let groups = SerializedFileReader::new(std::fs::File::open(got).unwrap())
                    .unwrap()
                    .metadata()
                    .num_row_groups();
                assert_eq!(
                    groups,
                    rows_want.len().div_ceil(3).max(1),
                    "{}",
                    got.display()
                );
            }
            let connections = rows(&got[0]);
            assert_eq!(connections.len(), held.connections.len());
            if path == big {
                assert!(connections.len() >= 10, "{}", connections.len());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&defaults);
    let _ = std::fs::remove_dir_all(&small);
}

/// A damaged spool piece is an error, never a panic.
#[test]
fn damaged_row_encodings_are_errors() {
    use tlsdiag::render::parquet::{decode_piece, encode_connection};
    let path = capture("http-401-403.pcap");
    let r = tlsdiag::analyze_path(&path, tlsdiag::Options::default()).unwrap();
    let name = path.display().to_string();
    assert_eq!(decode_piece(&[]), Ok([0; 4]));
    for c in &r.connections {
        let piece = encode_connection(&name, c);
        let certs: usize = c
            .messages
            .iter()
            .filter_map(|m| match &m.detail {
                Some(tlsdiag::tls::Detail::Certificate(x)) => Some(x.certificates.len()),
                _ => None,
            })
            .sum();
        assert_eq!(
            decode_piece(&piece),
            Ok([1, c.findings.len(), certs, c.http.len()])
        );
        // Cut anywhere inside its first row (the connection's: its table byte and 21 cells of at
        // least a byte each), and every byte changed in turn: errors or other rows, no panic.
        for cut in 1..22 {
            assert!(decode_piece(&piece[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..piece.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut damaged = piece.clone();
                damaged[i] ^= flip;
                let _ = decode_piece(&damaged);
            }
        }
    }
    let garbage: [&[u8]; 7] = [
        b"garbage",
        &[0xff; 32],
        // An unknown table; a text cell in an integer column.
        &[0xd7, 0],
        &[0xd0, 5, 1, 1, b'x'],
        // A text longer than the piece; an integer of more than 64 bits; text not UTF-8.
        &[0xd0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, b'a'],
        &[
            0xd0, 5, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ],
        &[0xd0, 1, 2, 0xc3, 0x28],
    ];
    for g in garbage {
        assert!(decode_piece(g).is_err(), "{g:?}");
    }
}
