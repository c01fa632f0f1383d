//! JSON Lines are serialized straight into the output (no `serde_json::Value` trees): the lines
//! must stay byte for byte those of the first version, which built a `Value` map per line. That
//! version is kept here as the reference and both are run on every capture of `captures/`, with
//! and without keys, and with an IIS log and Schannel events joined (the optional fields of the
//! file line, which decide its key order).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tlsdiag::model::{ConnectionReport, SCHEMA_VERSION};
use tlsdiag::{analyze_path, render, FileReport, Options};

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// The first version of `jsonl_connection`: a `Value` map per line.
fn reference_connection(file: &str, c: &ConnectionReport) -> String {
    let mut out = String::new();
    if let Ok(serde_json::Value::Object(mut map)) = serde_json::to_value(c) {
        map.remove("findings");
        let mut line = serde_json::Map::new();
        line.insert("kind".into(), "connection".into());
        line.insert("schema_version".into(), SCHEMA_VERSION.into());
        line.insert("file".into(), file.into());
        line.extend(map);
        out.push_str(&serde_json::Value::Object(line).to_string());
        out.push('\n');
    }
    for f in &c.findings {
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(f) {
            let mut line = serde_json::Map::new();
            line.insert("kind".into(), "finding".into());
            line.insert("schema_version".into(), SCHEMA_VERSION.into());
            line.insert("file".into(), file.into());
            line.extend(map);
            out.push_str(&serde_json::Value::Object(line).to_string());
            out.push('\n');
        }
    }
    out
}

/// The first version of `jsonl_file` (its key order comes from `Map::remove`, a swap-remove).
fn reference_file(r: &FileReport) -> String {
    let mut out = String::new();
    for f in &r.kerberos.findings {
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(f) {
            let mut line = serde_json::Map::new();
            line.insert("kind".into(), "finding".into());
            line.insert("schema_version".into(), SCHEMA_VERSION.into());
            line.insert("file".into(), r.file.clone().into());
            line.extend(map);
            out.push_str(&serde_json::Value::Object(line).to_string());
            out.push('\n');
        }
    }
    if let Ok(serde_json::Value::Object(mut map)) = serde_json::to_value(r) {
        map.remove("connections");
        map.remove("schema_version");
        map.remove("file");
        let mut line = serde_json::Map::new();
        line.insert("kind".into(), "file".into());
        line.insert("schema_version".into(), SCHEMA_VERSION.into());
        line.insert("file".into(), r.file.clone().into());
        line.extend(map);
        out.push_str(&serde_json::Value::Object(line).to_string());
        out.push('\n');
    }
    out
}

/// Compares every line of a report; returns how many lines were compared.
fn same_as_reference(r: &FileReport) -> usize {
    let mut buf = Vec::new();
    let mut lines = 0;
    for c in &r.connections {
        let want = reference_connection(&r.file, c);
        buf.clear();
        render::write_jsonl_connection(&mut buf, &r.file, c).unwrap();
        assert_eq!(
            String::from_utf8(buf.clone()).unwrap(),
            want,
            "{} stream {}",
            r.file,
            c.stream
        );
        assert_eq!(render::jsonl_connection(&r.file, c), want);
        lines += want.lines().count();
    }
    let want = reference_file(r);
    buf.clear();
    render::write_jsonl_file(&mut buf, r).unwrap();
    assert_eq!(String::from_utf8(buf).unwrap(), want, "{}", r.file);
    assert_eq!(render::jsonl_file(r), want);
    lines + want.lines().count()
}

#[test]
fn jsonl_lines_are_those_of_the_value_version_on_every_capture() {
    let mut files = 0;
    let mut lines = 0;
    for path in tlsdiag::check::captures_in(&captures()).unwrap() {
        let keys = PathBuf::from(
            path.to_string_lossy()
                .replace(".pcapng", ".keys")
                .replace(".pcap", ".keys"),
        );
        let Ok(r) = analyze_path(&path, Options::default()) else {
            continue;
        };
        lines += same_as_reference(&r);
        files += 1;
        if keys.is_file() {
            let options = Options {
                keylog_files: vec![keys],
                ..Options::default()
            };
            if let Ok(r) = analyze_path(&path, options) {
                lines += same_as_reference(&r);
            }
        }
    }
    assert!(files > 100, "{files} captures");
    assert!(lines > 500, "{lines} lines");
}

#[test]
fn jsonl_lines_with_iis_log_and_schannel_events_are_those_of_the_value_version() {
    let iis = Arc::new(tlsdiag::iislog::IisLog::read(&[captures().join("iislogs")]).unwrap());
    for export in ["system-schannel.xml", "system-schannel.csv"] {
        let events = Arc::new(
            tlsdiag::schannel::SchannelLog::read(&[captures().join("schannel").join(export)])
                .unwrap(),
        );
        for (capture, iis_log, schannel) in [
            ("nginx-mtls-403.pcap", Some(iis.clone()), None),
            ("nginx-mtls-403.pcap", None, Some(events.clone())),
            (
                "nginx-mtls-403.pcap",
                Some(iis.clone()),
                Some(events.clone()),
            ),
        ] {
            let options = Options {
                iis_log,
                schannel,
                ..Options::default()
            };
            let r = analyze_path(&captures().join(capture), options).unwrap();
            assert!(r.iis_log.is_some() || r.schannel.is_some());
            same_as_reference(&r);
        }
    }
}
