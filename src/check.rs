//! Regression corpus: each capture `X.pcap` may have `X.expect.json` beside it listing what
//! analysing it must give (finding codes with counts, and key facts). `tlsdiag check DIR`
//! compares, `--update` rewrites. The expectation is a plain JSON object so that a reviewer can
//! read a change to it in a diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::FileReport;
use crate::tls::{Detail, Direction};

/// What a capture must give.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Expectation {
    /// Key log to decrypt with, relative to the expectation file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keylog: Option<String>,
    pub tls_connections: usize,
    pub http_connections: usize,
    /// Finding code -> count over the file.
    pub findings: BTreeMap<String, usize>,
    /// CertificateRequests: "stream/frame" -> "N names, B bytes".
    pub certificate_requests: BTreeMap<String, String>,
    /// Client Certificates: "stream/frame" -> "empty" or "N certificates".
    pub client_certificates: BTreeMap<String, String>,
    /// HTTP status -> count.
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
}
