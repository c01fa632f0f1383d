//! `-f parquet` read back: every table has one row per item of the JSON report, with the same
//! key columns (file, stream, code, severity, frames, status...). Runs with `--features parquet`.
#![cfg(feature = "parquet")]

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
