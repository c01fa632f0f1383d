//! Batch and CI use: directories with a corrupt file, JSON Lines, --fail-on exit codes,
//! --files-from, --output, deterministic output whatever the parallelism, and `check`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

fn tlsdiag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(args)
        .output()
        .expect("run tlsdiag")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tlsdiag-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn directory_with_a_corrupt_file() {
    let dir = temp_dir("corrupt");
    for name in ["tls12-cr-small.pcap", "tls12-client-cert-empty.pcap"] {
        std::fs::copy(captures().join(name), dir.join("sub").join(name)).ok();
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::copy(captures().join(name), dir.join("sub").join(name)).unwrap();
    }
    std::fs::write(dir.join("broken.pcap"), b"this is not a capture at all").unwrap();
    let out = tlsdiag(&["-j", "2", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unreadable file gives exit code 2"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.pcap: not a pcap or pcapng capture"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("tls12-cr-small.pcap: pcap, 17 packets"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tls12-client-cert-empty.pcap: pcap"),
        "{stdout}"
    );
    assert!(stdout.contains("== 3 file(s) (1 unreadable)"), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn json_lines_carry_kind_version_file_and_stream() {
    let out = tlsdiag(&[
        "-f",
        "jsonl",
        captures()
            .join("tls12-client-cert-empty-required.pcap")
            .to_str()
            .unwrap(),
        captures().join("http-401-403.pcap").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        vec![
            "connection",
            "finding",
            "finding",
            "file",
            "connection",
            "finding",
            "finding",
            "file"
        ]
    );
    for l in &lines {
        assert_eq!(l["schema_version"], 1);
        assert!(l["file"].as_str().unwrap().ends_with(".pcap"));
        if l["kind"] != "file" {
            assert_eq!(l["stream"], 0);
        }
    }
    assert_eq!(lines[1]["code"], "client-cert-empty");
    assert_eq!(lines[1]["frames"], serde_json::json!([6, 8]));
    assert_eq!(lines[2]["code"], "handshake-failed");
    assert_eq!(lines[3]["summary"]["by_severity"]["error"], 2);
}

#[test]
fn fail_on_sets_the_exit_code() {
    let path = |n: &str| captures().join(n).to_str().unwrap().to_string();
    let code = |args: &[&str]| tlsdiag(args).status.code();
    let failing = path("tls12-client-cert-empty-required.pcap");
    let warning_only = path("tls12-ca-list-13k.pcap");
    let clean = path("tls12-cr-small.pcap");
    assert_eq!(code(&["--fail-on", "error", "-q", &failing]), Some(1));
    assert_eq!(code(&["--fail-on", "error", "-q", &warning_only]), Some(0));
    assert_eq!(
        code(&["--fail-on", "warning", "-q", &warning_only]),
        Some(1)
    );
    assert_eq!(code(&["--fail-on", "info", "-q", &clean]), Some(0));
    assert_eq!(
        code(&["-q", &failing]),
        Some(0),
        "without --fail-on findings do not fail"
    );
}

#[test]
fn files_from_and_output_file() {
    let dir = temp_dir("list");
    let list = dir.join("list.txt");
    std::fs::write(
        &list,
        format!(
            "{}\n\n{}\n",
            captures().join("tls12-ca-list-17k.pcap").display(),
            captures().join("tls12-ca-list-empty.pcap").display()
        ),
    )
    .unwrap();
    let report = dir.join("out.json");
    let out = tlsdiag(&[
        "--files-from",
        list.to_str().unwrap(),
        "-f",
        "json",
        "-o",
        report.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let files = v.as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(
        files[0]["connections"][0]["findings"][0]["code"],
        "ca-list-over-limit"
    );
    assert_eq!(
        files[1]["connections"][0]["findings"][0]["code"],
        "ca-list-empty"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn output_does_not_depend_on_parallelism() {
    let dir = captures();
    let one = tlsdiag(&["-f", "jsonl", "-j", "1", dir.to_str().unwrap()]);
    let two = tlsdiag(&["-f", "jsonl", "-j", "2", dir.to_str().unwrap()]);
    assert!(one.status.success() && two.status.success());
    assert!(one.stdout.len() > 10_000);
    assert!(one.stdout == two.stdout, "-j 1 and -j 2 outputs differ");
}

#[test]
fn check_passes_on_the_corpus_and_shows_a_readable_diff() {
    let out = tlsdiag(&["check", captures().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // Every capture of captures/ has an expectation and meets it.
    let captures_count = std::fs::read_dir(captures())
        .unwrap()
        .filter(|e| tlsdiag::check::looks_like_capture(&e.as_ref().unwrap().path()))
        .count();
    assert!(captures_count >= 59);
    let line = format!("{captures_count} capture(s): {captures_count} passed, 0 failed");
    assert!(text.contains(&line), "{text}");

    // Change one expectation in a copy: check fails and says what differs.
    let dir = temp_dir("check");
    std::fs::copy(
        captures().join("tls12-ca-list-17k.pcap"),
        dir.join("x.pcap"),
    )
    .unwrap();
    let expect = std::fs::read_to_string(captures().join("tls12-ca-list-17k.expect.json")).unwrap();
    let changed = expect.replace("\"ca-list-over-limit\": 1", "\"ca-list-large\": 1");
    assert_ne!(expect, changed);
    std::fs::write(dir.join("x.expect.json"), changed).unwrap();
    let out = tlsdiag(&["check", dir.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL    "), "{text}");
    assert!(
        text.contains("finding ca-list-large: expected 1, got none"),
        "{text}"
    );
    assert!(
        text.contains("finding ca-list-over-limit: not expected, got 1"),
        "{text}"
    );
    // --update rewrites it, and then it passes.
    assert_eq!(
        tlsdiag(&["check", "--update", dir.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        tlsdiag(&["check", dir.to_str().unwrap()]).status.code(),
        Some(0)
    );
    std::fs::remove_dir_all(&dir).ok();
}
