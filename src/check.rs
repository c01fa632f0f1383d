//! Regression corpus: each capture `X.pcap` may have `X.expect.json` beside it, or an entry in
//! its folder's `expect.toml`, listing what analysing it must give (finding codes with counts,
//! and key facts). `tlsdiag check DIR` compares, `--update` rewrites. Expectations are plain
//! JSON or TOML so that a reviewer can read a change to them in a diff.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::FileReport;
use crate::tls::{Detail, Direction};

/// What a capture must give. Every field is exact: a fact left out of a hand-written
/// expectation (they all default to zero or empty) must be absent from the capture.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Expectation {
    /// Key log to decrypt with, relative to the expectation file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keylog: Option<String>,
    #[serde(default)]
    pub tls_connections: usize,
    #[serde(default)]
    pub http_connections: usize,
    /// Finding code -> count over the file.
    #[serde(default)]
    pub findings: BTreeMap<String, usize>,
    /// CertificateRequests: "stream/frame" -> "N names, B bytes".
    #[serde(default)]
    pub certificate_requests: BTreeMap<String, String>,
    /// Client Certificates: "stream/frame" -> "empty" or "N certificates".
    #[serde(default)]
    pub client_certificates: BTreeMap<String, String>,
    /// HTTP status -> count.
    #[serde(default)]
    pub http_status: BTreeMap<String, usize>,
}

impl Expectation {
    /// What a report shows, in expectation form.
    pub fn from_report(report: &FileReport, keylog: Option<String>) -> Self {
        let mut e = Expectation {
            keylog,
            tls_connections: report.tls_connections,
            http_connections: report.http_connections,
            ..Default::default()
        };
        for c in &report.connections {
            for f in &c.findings {
                *e.findings.entry(f.code.to_string()).or_default() += 1;
            }
            for m in &c.messages {
                match &m.detail {
                    Some(Detail::CertificateRequest(cr)) => {
                        e.certificate_requests.insert(
                            format!("{}/{}", c.stream, m.frame),
                            format!("{} names, {} bytes", cr.ca_names.len(), cr.ca_list_bytes),
                        );
                    }
                    Some(Detail::Certificate(cert)) if m.direction == Direction::Client => {
                        e.client_certificates.insert(
                            format!("{}/{}", c.stream, m.frame),
                            if cert.empty {
                                "empty".to_string()
                            } else {
                                format!("{} certificates", cert.certificates.len())
                            },
                        );
                    }
                    _ => {}
                }
            }
            for status in c.http.iter().filter_map(|x| x.status) {
                *e.http_status.entry(status.to_string()).or_default() += 1;
            }
            for h in &c.http2_status {
                *e.http_status.entry(h.status.to_string()).or_default() += 1;
            }
        }
        e
    }

    /// Human-readable differences, one per line; empty when equal.
    pub fn diff(&self, actual: &Expectation) -> Vec<String> {
        let mut out = Vec::new();
        if self.tls_connections != actual.tls_connections {
            out.push(format!(
                "tls_connections: expected {}, got {}",
                self.tls_connections, actual.tls_connections
            ));
        }
        if self.http_connections != actual.http_connections {
            out.push(format!(
                "http_connections: expected {}, got {}",
                self.http_connections, actual.http_connections
            ));
        }
        diff_map("finding", &self.findings, &actual.findings, &mut out);
        diff_map(
            "certificate_request",
            &self.certificate_requests,
            &actual.certificate_requests,
            &mut out,
        );
        diff_map(
            "client_certificate",
            &self.client_certificates,
            &actual.client_certificates,
            &mut out,
        );
        diff_map(
            "http_status",
            &self.http_status,
            &actual.http_status,
            &mut out,
        );
        out
    }
}

fn diff_map<V: PartialEq + std::fmt::Display>(
    what: &str,
    expected: &BTreeMap<String, V>,
    actual: &BTreeMap<String, V>,
    out: &mut Vec<String>,
) {
    for (k, v) in expected {
        match actual.get(k) {
            None => out.push(format!("{what} {k}: expected {v}, got none")),
            Some(a) if a != v => out.push(format!("{what} {k}: expected {v}, got {a}")),
            _ => {}
        }
    }
    for (k, v) in actual {
        if !expected.contains_key(k) {
            out.push(format!("{what} {k}: not expected, got {v}"));
        }
    }
}

/// The expectation file of a capture: `X.pcap` -> `X.expect.json`; a compressed capture keeps
/// its whole name (`X.pcap.gz` -> `X.pcap.gz.expect.json`) so it does not share the file of `X.pcap`.
pub fn expectation_path(capture: &Path) -> PathBuf {
    let name = capture
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = [".pcapng", ".pcap", ".cap"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name);
    capture.with_file_name(format!("{stem}.expect.json"))
}

/// The key log beside a capture (`X.keys`), if any, as a name relative to it.
pub fn keylog_beside(capture: &Path) -> Option<String> {
    let name = capture.file_name()?.to_string_lossy().into_owned();
    let stem = name.split('.').next()?.to_string();
    let keys = format!("{stem}.keys");
    capture.with_file_name(&keys).exists().then_some(keys)
}

/// Reads an expectation file; Ok(None) when there is none.
pub fn read_expectation(path: &Path) -> Result<Option<Expectation>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The per-folder expectation file: one table per capture of the folder, keyed by file name.
pub const FOLDER_EXPECTATIONS: &str = "expect.toml";

/// Expectations of one folder, by capture file name.
pub type FolderExpectations = BTreeMap<String, Expectation>;

/// Where the expectation of a capture lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectationSource {
    /// `X.expect.json` beside the capture.
    Json(PathBuf),
    /// The entry named after the capture in its folder's `expect.toml`.
    Folder { file: PathBuf, entry: String },
}

impl ExpectationSource {
    /// The folder relative to which the key log name is read.
    pub fn dir(&self) -> &Path {
        let file = match self {
            ExpectationSource::Json(p) => p,
            ExpectationSource::Folder { file, .. } => file,
        };
        file.parent().unwrap_or(Path::new("."))
    }
}

impl std::fmt::Display for ExpectationSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectationSource::Json(p) => write!(f, "{}", p.display()),
            ExpectationSource::Folder { file, entry } => {
                write!(f, "{} [\"{entry}\"]", file.display())
            }
        }
    }
}

/// Reads a folder's `expect.toml`; Ok(None) when there is none.
pub fn read_folder_expectations(dir: &Path) -> Result<Option<FolderExpectations>, String> {
    let path = dir.join(FOLDER_EXPECTATIONS);
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The text of a folder's `expect.toml`.
pub fn folder_expectations_text(expectations: &FolderExpectations) -> Result<String, String> {
    let body = toml::to_string_pretty(expectations).map_err(|e| e.to_string())?;
    Ok(format!(
        "# What `tlsdiag check` expects of each capture in this folder (one table per file name).\n\
         # `tlsdiag check --update DIR` rewrites this file; an X.expect.json beside a capture wins.\n\n{body}"
    ))
}

/// The text of an `X.expect.json`.
pub fn json_expectation_text(expectation: &Expectation) -> String {
    serde_json::to_string_pretty(expectation).unwrap_or_default() + "\n"
}

/// What `check` has to do for a directory.
#[derive(Debug, Default)]
pub struct CheckPlan {
    /// Capture, where its expectation lives, and the expectation (None: to be created).
    pub items: Vec<(PathBuf, ExpectationSource, Option<Expectation>)>,
    /// Every `expect.toml` read, by path, as read.
    pub folders: BTreeMap<PathBuf, FolderExpectations>,
    /// `expect.toml` entries naming no capture of their folder: (file, entry).
    pub orphans: Vec<(PathBuf, String)>,
}

/// Finds every capture under `dir` and its expectation: `X.expect.json` first, then the entry in
/// the folder's `expect.toml`. Captures without either are left out, unless `update` is set:
/// then they get a new entry in the folder's `expect.toml` when the folder has one, and an
/// `X.expect.json` otherwise, decrypting with `X.keys` when one sits beside the capture.
pub fn plan_check(dir: &Path, update: bool) -> Result<CheckPlan, String> {
    let captures = captures_in(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut plan = CheckPlan::default();
    let mut folders: HashMap<PathBuf, Option<FolderExpectations>> = HashMap::new();
    let mut seen: HashMap<PathBuf, Vec<String>> = HashMap::new();
    for capture in captures {
        let folder = capture.parent().unwrap_or(Path::new(".")).to_path_buf();
        let name = capture
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !folders.contains_key(&folder) {
            folders.insert(folder.clone(), read_folder_expectations(&folder)?);
        }
        seen.entry(folder.clone()).or_default().push(name.clone());
        let json = expectation_path(&capture);
        let toml_file = folder.join(FOLDER_EXPECTATIONS);
        let in_folder = folders.get(&folder).and_then(|f| f.as_ref());
        let (source, expected) = if let Some(e) = read_expectation(&json)? {
            (ExpectationSource::Json(json), Some(e))
        } else if let Some(e) = in_folder.and_then(|m| m.get(&name)) {
            let source = ExpectationSource::Folder {
                file: toml_file,
                entry: name,
            };
            (source, Some(e.clone()))
        } else if update {
            let source = if in_folder.is_some() {
                ExpectationSource::Folder {
                    file: toml_file,
                    entry: name,
                }
            } else {
                ExpectationSource::Json(json)
            };
            let seed = Expectation {
                keylog: keylog_beside(&capture),
                ..Default::default()
            };
            (source, Some(seed).filter(|e| e.keylog.is_some()))
        } else {
            continue;
        };
        // A new expectation without a key log starts empty: `expected` None.
        plan.items.push((capture, source, expected));
    }
    for (folder, map) in folders {
        let Some(map) = map else { continue };
        let names = seen.get(&folder).map(Vec::as_slice).unwrap_or_default();
        let file = folder.join(FOLDER_EXPECTATIONS);
        for entry in map.keys().filter(|k| !names.contains(k)) {
            plan.orphans.push((file.clone(), entry.clone()));
        }
        plan.folders.insert(file, map);
    }
    plan.orphans.sort();
    Ok(plan)
}

/// Is this file name a capture? (pcap, pcapng, cap, possibly .gz/.zst)
pub fn looks_like_capture(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(&name);
    name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".cap")
}

/// Captures under a directory, recursively, in a stable (sorted) order.
pub fn captures_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if looks_like_capture(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            expectation_path(Path::new("a/b/x.pcap.gz")),
            PathBuf::from("a/b/x.pcap.gz.expect.json")
        );
        assert_eq!(
            expectation_path(Path::new("a/x.pcap")),
            PathBuf::from("a/x.expect.json")
        );
        assert_eq!(
            expectation_path(Path::new("y.pcapng")),
            PathBuf::from("y.expect.json")
        );
        assert!(looks_like_capture(Path::new("z.PCAPNG.zst")));
        assert!(!looks_like_capture(Path::new("z.keys")));
    }

    #[test]
    fn diff_reads_well() {
        let mut a = Expectation::default();
        a.findings.insert("client-cert-empty".into(), 1);
        let mut b = a.clone();
        b.findings.insert("client-cert-empty".into(), 2);
        b.findings.insert("handshake-failed".into(), 1);
        assert_eq!(
            a.diff(&b),
            vec![
                "finding client-cert-empty: expected 1, got 2",
                "finding handshake-failed: not expected, got 1"
            ]
        );
    }

    #[test]
    fn documented_formats_parse() {
        let doc = include_str!("../docs/json-schema.md");
        let section = &doc[doc.find("## Regression expectations").unwrap()..];
        let block = |fence: &str| {
            let start = section.find(fence).unwrap() + fence.len();
            let len = section[start..].find("```").unwrap();
            &section[start..start + len]
        };
        let json: Expectation = serde_json::from_str(block("```json\n")).unwrap();
        let toml: FolderExpectations = toml::from_str(block("```toml\n")).unwrap();
        let entry = &toml["x.pcap"];
        assert_eq!(entry.findings, json.findings);
        assert_eq!(entry.certificate_requests, json.certificate_requests);
        assert_eq!(entry.http_status["403"], 1);
        assert_eq!(entry.keylog.as_deref(), Some("x.keys"));
        // Left-out facts default to none.
        let minimal: FolderExpectations =
            toml::from_str("[\"y.pcap\"]\ntls_connections = 2\n").unwrap();
        assert_eq!(minimal["y.pcap"].tls_connections, 2);
        assert!(minimal["y.pcap"].findings.is_empty());
    }
}
