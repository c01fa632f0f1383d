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
        assert_eq!(l["schema_version"], 3);
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
    // Every format, and output held for its turn mostly in temporary files: a quarter of a
    // 64 KiB budget stays in memory, and most captures' output is larger. (Each of the two
    // threads analyses with half of the budget, as -j 1 does with 32 KiB.)
    for format in ["jsonl", "text", "json", "html", "sarif"] {
        let run = |jobs: &str, memory: &str| {
            let out = tlsdiag(&[
                "-q",
                "-f",
                format,
                "-j",
                jobs,
                "--max-memory",
                memory,
                dir.to_str().unwrap(),
            ]);
            assert!(out.status.success(), "{format} -j {jobs}");
            out.stdout
        };
        let one = run("1", "32K");
        assert!(
            one == run("2", "64K"),
            "{format}: -j 2 with held output spilled differs"
        );
    }
}

/// JSON of a directory, made as connections end (spooled to temporary files past a small
/// budget), is the array of the files' held reports, on one thread and two.
#[test]
fn json_of_a_directory_is_its_held_reports() {
    let dir = captures();
    let mut files: Vec<PathBuf> = tlsdiag::check::captures_in(&dir).unwrap();
    files.sort();
    let parts: Vec<String> = files
        .iter()
        .filter_map(|f| tlsdiag::analyze_path(f, tlsdiag::Options::default()).ok())
        .map(|r| {
            let mut part = Vec::new();
            tlsdiag::render::write_json_report(&mut part, &r).unwrap();
            String::from_utf8(part).unwrap()
        })
        .collect();
    assert!(parts.len() >= 20, "{}", parts.len());
    let expected = format!("[\n{}\n]\n", parts.join(",\n"));
    for jobs in ["1", "2"] {
        let out = tlsdiag(&["-q", "-f", "json", "-j", jobs, dir.to_str().unwrap()]);
        assert!(out.status.success(), "-j {jobs}");
        assert!(
            out.stdout == expected.as_bytes(),
            "-j {jobs}: the directory's JSON is not its held reports"
        );
    }
    // One file: its report and a line break.
    let one = &files[0];
    let out = tlsdiag(&["-f", "json", one.to_str().unwrap()]);
    let held = tlsdiag::analyze_path(one, tlsdiag::Options::default()).unwrap();
    let mut want = Vec::new();
    tlsdiag::render::write_json_report(&mut want, &held).unwrap();
    want.push(b'\n');
    assert!(out.stdout == want);
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

#[test]
fn check_reads_and_updates_a_folder_expect_toml() {
    let dir = temp_dir("check-toml");
    for name in [
        "tls12-ca-list-17k.pcap",
        "tls12-client-cert-empty-required.pcap",
    ] {
        std::fs::copy(captures().join(name), dir.join(name)).unwrap();
    }
    let run = |args: &[&str]| {
        let out = tlsdiag(args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), text)
    };
    let d = dir.to_str().unwrap();
    // No expectation anywhere: a usage error that says how to create them.
    assert_eq!(run(&["check", d]).0, Some(2));

    // An empty expect.toml collects the new expectations on --update.
    std::fs::write(dir.join("expect.toml"), "").unwrap();
    let (code, text) = run(&["check", "--update", d]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text.matches("UPDATED ").count(), 2, "{text}");
    assert!(!dir.join("tls12-ca-list-17k.expect.json").exists());
    let toml = std::fs::read_to_string(dir.join("expect.toml")).unwrap();
    assert!(toml.contains("[\"tls12-ca-list-17k.pcap\".findings]\nca-list-over-limit = 1\n"));
    assert!(
        toml.contains("\"0/10\" = \"83 names, 17006 bytes\""),
        "{toml}"
    );
    assert!(toml.contains("\"0/8\" = \"empty\""), "{toml}");
    // The TOML entry says what the corpus's JSON file says.
    let entries: std::collections::BTreeMap<String, tlsdiag::check::Expectation> =
        toml::from_str(&toml).unwrap();
    let mut json: tlsdiag::check::Expectation = serde_json::from_str(
        &std::fs::read_to_string(captures().join("tls12-client-cert-empty-required.expect.json"))
            .unwrap(),
    )
    .unwrap();
    // The corpus decrypts this one with the key log beside it; the copy has none.
    json.keylog = None;
    assert_eq!(entries["tls12-client-cert-empty-required.pcap"], json);
    let (code, text) = run(&["check", d]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("2 capture(s): 2 passed, 0 failed"), "{text}");

    // A changed count fails with the difference, naming the capture.
    let changed = toml.replace("client-cert-empty = 1", "client-cert-empty = 2");
    assert_ne!(changed, toml);
    std::fs::write(dir.join("expect.toml"), &changed).unwrap();
    let (code, text) = run(&["check", d]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("FAIL    ") && text.contains("tls12-client-cert-empty-required.pcap\n"),
        "{text}"
    );
    assert!(
        text.contains("finding client-cert-empty: expected 2, got 1"),
        "{text}"
    );

    // An X.expect.json beside the capture wins over the folder's entry.
    std::fs::write(
        dir.join("tls12-client-cert-empty-required.expect.json"),
        serde_json::to_string(&json).unwrap(),
    )
    .unwrap();
    assert_eq!(run(&["check", d]).0, Some(0));
    std::fs::remove_file(dir.join("tls12-client-cert-empty-required.expect.json")).unwrap();

    // An entry whose capture is gone fails; --update drops it.
    std::fs::remove_file(dir.join("tls12-ca-list-17k.pcap")).unwrap();
    let (code, text) = run(&["check", d]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("[\"tls12-ca-list-17k.pcap\"]: no such capture in this folder"),
        "{text}"
    );
    let (code, text) = run(&["check", "--update", d]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("REMOVED "), "{text}");
    let toml = std::fs::read_to_string(dir.join("expect.toml")).unwrap();
    assert!(!toml.contains("tls12-ca-list-17k"), "{toml}");
    assert!(toml.contains("client-cert-empty = 1"), "{toml}");

    // A malformed expect.toml is an input error naming the file.
    std::fs::write(dir.join("expect.toml"), "[\"x.pcap\"\ntls = ").unwrap();
    let out = tlsdiag(&["check", d]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expect.toml"));
    std::fs::remove_dir_all(&dir).ok();
}

/// `-o FILE` under a file size limit that the report passes (as a full disk would stop it): exit
/// code 2 with the reason, the earlier report left as it was, and no half report or temporary
/// file beside it. Without the limit, the report takes the name.
#[test]
#[cfg(target_os = "linux")]
fn a_report_that_cannot_be_written_whole_leaves_the_earlier_one() {
    let dir = temp_dir("output-limit");
    let report = dir.join("report.json");
    std::fs::write(&report, "earlier report").unwrap();
    let capture = captures().join("tls12-ca-list-37k.pcap");
    // The shell ignores SIGXFSZ (inherited across exec) so that a write past the limit fails
    // with EFBIG instead of killing the process; `ulimit -f 16` is 8 or 16 KiB depending on
    // the shell, less than this report.
    let out = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 16; exec \"$0\" -f json -o \"$1\" \"$2\"")
        .arg(env!("CARGO_BIN_EXE_tlsdiag"))
        .arg(&report)
        .arg(&capture)
        .output()
        .expect("run sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write the report: File too large"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "earlier report");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["report.json"]);

    let out = tlsdiag(&[
        "-f",
        "json",
        "-o",
        report.to_str().unwrap(),
        capture.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read(&report).unwrap();
    assert!(written.len() > 16 << 10, "{} bytes", written.len());
    let v: Value = serde_json::from_slice(&written).unwrap();
    assert_eq!(
        v["connections"][0]["findings"][0]["code"],
        "ca-list-over-limit"
    );
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["report.json"]);
    std::fs::remove_dir_all(&dir).ok();
}
