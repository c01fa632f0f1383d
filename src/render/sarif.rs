//! SARIF 2.1.0 for CI systems and code scanning: one run whose rules are the finding catalog and
//! whose results are the findings, written piece by piece (head, each file's results, tail) so
//! an archive of captures never has to be held in memory.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::findings::{catalog, explain_text, CodeDoc, DeferredLinks};
use crate::model::*;

/// Where docs/findings.md is published; each rule's `helpUri` is its section there.
pub const FINDINGS_DOC_URL: &str =
    concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/findings.md");

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn rule(d: &CodeDoc) -> Value {
    json!({
        "id": d.code,
        "shortDescription": { "text": d.title },
        "fullDescription": { "text": d.cause },
        "help": { "text": explain_text(d) },
        "helpUri": format!("{FINDINGS_DOC_URL}#{}", d.code),
        "defaultConfiguration": { "level": level(d.severity) },
    })
}

/// A capture's path as a URI reference: unreserved characters and `/` kept, the rest
/// percent-encoded (a file name with spaces or `#` must not change the reference's meaning).
pub fn path_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Stable across runs and checkouts: the capture's file name (not its directory), the server
/// and the finding code.
fn fingerprint(file: &str, server: &str, code: &str) -> String {
    let name = std::path::Path::new(file)
        .file_name()
        .map_or_else(|| file.into(), |n| n.to_string_lossy());
    let digest = Sha256::digest(format!("{name}\n{server}\n{code}").as_bytes());
    hex::encode(&digest[..16])
}

/// The log's opening, up to the start of the results array: the tool with every finding code
/// as a rule (so `ruleIndex` is the code's place in the catalog, whatever fired).
pub fn sarif_head() -> String {
    let rules: Vec<Value> = catalog().map(rule).collect();
    let driver = json!({
        "name": "tlsdiag",
        "version": env!("CARGO_PKG_VERSION"),
        "informationUri": env!("CARGO_PKG_REPOSITORY"),
        "rules": rules,
    });
    format!(
        "{{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n    {{\n      \"tool\": {{ \"driver\": {} }},\n      \"columnKind\": \"utf16CodeUnits\",\n      \"results\": [\n",
        driver
    )
}

/// One result per finding of the file, one JSON object per line, joined by `,\n` (the caller
/// puts `,\n` between the parts of two files).
pub fn sarif_results(r: &FileReport) -> String {
    let codes: Vec<&str> = catalog().map(|d| d.code).collect();
    let uri = path_uri(&r.file);
    let mut lines: Vec<String> = Vec::new();
    for c in &r.connections {
        connection_results(&r.file, &uri, &codes, c, &mut lines);
    }
    lines.join(",\n")
}

/// The results of one connection's findings.
fn connection_results(
    file: &str,
    uri: &str,
    codes: &[&str],
    c: &ConnectionReport,
    lines: &mut Vec<String>,
) {
    for f in &c.findings {
        let mut result = json!({
            "ruleId": f.code,
            "level": level(f.severity),
            "message": { "text": format!("{}. {}", f.title.trim_end_matches('.'), f.explanation) },
            "locations": [{
                "physicalLocation": { "artifactLocation": { "uri": uri } },
                "logicalLocations": [{
                    "name": format!("tcp.stream {}", c.stream),
                    "fullyQualifiedName": format!("{} -> {} (tcp.stream {})", c.client, c.server, c.stream),
                    "kind": "resource",
                }],
            }],
            "partialFingerprints": { "tlsdiagFinding/v1": fingerprint(file, &c.server, f.code) },
            "properties": {
                "stream": c.stream,
                "client": c.client,
                "server": c.server,
                "frames": f.frames,
                "wiresharkFilter": f.filter,
                "outcome": c.outcome.status.word(),
            },
        });
        if let Some(i) = codes.iter().position(|&k| k == f.code) {
            result["ruleIndex"] = i.into();
        }
        lines.push(format!("        {result}"));
    }
}

/// A file's SARIF results gathered as its connections end, without keeping their reports
/// (a 401/403's waits to be linked, see [`DeferredLinks`]); then put in stream order, as a held
/// report has them. Only the results and those few reports are kept.
pub struct SarifCollector {
    file: String,
    uri: String,
    codes: Vec<&'static str>,
    /// Results by their connection's place in `tcp.stream` order.
    results: Vec<((u64, u64), Vec<String>)>,
    links: DeferredLinks,
}

impl SarifCollector {
    pub fn new(file: &str) -> SarifCollector {
        SarifCollector {
            file: file.to_string(),
            uri: path_uri(file),
            codes: catalog().map(|d| d.code).collect(),
            results: Vec::new(),
            links: DeferredLinks::default(),
        }
    }

    /// Takes one connection's report as it ends.
    pub fn add(&mut self, c: ConnectionReport) {
        if let Some((place, c)) = self.links.admit(c) {
            self.push(place, &c);
        }
    }

    fn push(&mut self, place: (u64, u64), c: &ConnectionReport) {
        if !c.findings.is_empty() {
            let mut lines = Vec::new();
            connection_results(&self.file, &self.uri, &self.codes, c, &mut lines);
            self.results.push((place, lines));
        }
    }

    /// The file's results, as [`sarif_results`] writes them for the held report.
    pub fn finish(mut self) -> String {
        for (place, c) in std::mem::take(&mut self.links).finish() {
            self.push(place, &c);
        }
        self.results.sort_unstable_by_key(|(place, _)| *place);
        // Each result is freed as soon as it is copied: the file's results are held once.
        let mut out = String::new();
        for line in self.results.into_iter().flat_map(|(_, lines)| lines) {
            if !out.is_empty() {
                out.push_str(",\n");
            }
            out.push_str(&line);
        }
        out
    }
}

/// Closes the results and the log; `errors` (files that could not be read) become tool
/// execution notifications, and the run is marked unsuccessful when there are any.
pub fn sarif_tail(errors: &[String]) -> String {
    let notifications: Vec<Value> = errors
        .iter()
        .map(|e| json!({ "level": "error", "message": { "text": e } }))
        .collect();
    let invocation = json!({
        "executionSuccessful": errors.is_empty(),
        "toolExecutionNotifications": notifications,
    });
    format!("\n      ],\n      \"invocations\": [ {invocation} ]\n    }}\n  ]\n}}\n")
}
