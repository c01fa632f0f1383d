//! Parquet tables for archives (DuckDB, Spark, Dask): `connections`, `findings`, `certificates`
//! and `http`, one row per item, flat columns, with the capture file, `tcp.stream`, frames and
//! the schema version on every row. Each capture becomes one part file per table
//! (`DIR/TABLE/NAME-HASH.parquet`), so an archive's output grows by appending files.
//!
//! Written with the parquet crate's column writers, without Arrow: the tables are a few flat
//! columns of strings, integers and booleans, and Arrow would add a dozen crates to the build.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use sha2::{Digest, Sha256};

use crate::model::*;
use crate::tls::Detail;

/// The tables written for every capture.
pub const TABLES: [&str; 4] = ["connections", "findings", "certificates", "http"];

/// One column's values; `None` is a null.
enum Values {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

/// A table being filled row by row, column by column.
struct Table {
    name: &'static str,
    columns: Vec<(&'static str, Values)>,
}

impl Table {
    fn new(name: &'static str, spec: &[(&'static str, char)]) -> Table {
        let columns = spec
            .iter()
            .map(|&(n, kind)| {
                let v = match kind {
                    's' => Values::Text(Vec::new()),
                    'i' => Values::Int(Vec::new()),
                    _ => Values::Bool(Vec::new()),
                };
                (n, v)
            })
            .collect();
        Table { name, columns }
    }

    fn col(&mut self, name: &str) -> &mut Values {
        &mut self
            .columns
            .iter_mut()
            .find(|(n, _)| *n == name)
            .expect("column declared in the table's spec")
            .1
    }

    fn text(&mut self, name: &str, v: Option<impl Into<String>>) {
        if let Values::Text(c) = self.col(name) {
            c.push(v.map(Into::into));
        }
    }

    fn int(&mut self, name: &str, v: Option<i64>) {
        if let Values::Int(c) = self.col(name) {
            c.push(v);
        }
    }

    fn boolean(&mut self, name: &str, v: Option<bool>) {
        if let Values::Bool(c) = self.col(name) {
            c.push(v);
        }
    }

    fn message_type(&self) -> String {
        let mut m = format!("message {} {{\n", self.name);
        for (n, v) in &self.columns {
            let t = match v {
                Values::Text(_) => "BYTE_ARRAY",
                Values::Int(_) => "INT64",
                Values::Bool(_) => "BOOLEAN",
            };
            let logical = if matches!(v, Values::Text(_)) {
                " (UTF8)"
            } else {
                ""
            };
            m.push_str(&format!("  OPTIONAL {t} {n}{logical};\n"));
        }
        m.push('}');
        m
    }

    fn write(&self, path: &Path) -> Result<(), String> {
        let schema = parse_message_type(&self.message_type()).map_err(|e| e.to_string())?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_created_by(format!("tlsdiag {}", env!("CARGO_PKG_VERSION")))
            .build();
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props))
            .map_err(|e| e.to_string())?;
        let mut group = writer.next_row_group().map_err(|e| e.to_string())?;
        for (_, values) in &self.columns {
            let Some(mut column) = group.next_column().map_err(|e| e.to_string())? else {
                break;
            };
            let levels =
                |present: Vec<bool>| -> Vec<i16> { present.into_iter().map(i16::from).collect() };
            let written = match values {
                Values::Text(v) => {
                    let def = levels(v.iter().map(Option::is_some).collect());
                    let data: Vec<ByteArray> = v
                        .iter()
                        .flatten()
                        .map(|s| ByteArray::from(s.as_str()))
                        .collect();
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&data, Some(&def), None)
                }
                Values::Int(v) => {
                    let def = levels(v.iter().map(Option::is_some).collect());
                    let data: Vec<i64> = v.iter().flatten().copied().collect();
                    column
                        .typed::<Int64Type>()
                        .write_batch(&data, Some(&def), None)
                }
                Values::Bool(v) => {
                    let def = levels(v.iter().map(Option::is_some).collect());
                    let data: Vec<bool> = v.iter().flatten().copied().collect();
                    column
                        .typed::<BoolType>()
                        .write_batch(&data, Some(&def), None)
                }
            };
            written.map_err(|e| e.to_string())?;
            column.close().map_err(|e| e.to_string())?;
        }
        group.close().map_err(|e| e.to_string())?;
        writer.close().map_err(|e| e.to_string())?;
        Ok(())
    }
}

fn frames_text(frames: &[u64]) -> String {
    frames
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The part files' common name for a capture: its file stem and a hash of its whole path, so
/// captures with the same name in different directories do not overwrite each other.
pub fn part_name(file: &str) -> String {
    let stem: String = Path::new(file)
        .file_name()
        .map_or_else(|| "stdin".into(), |n| n.to_string_lossy().into_owned())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let hash = hex::encode(&Sha256::digest(file.as_bytes())[..4]);
    format!("{stem}-{hash}.parquet")
}

/// Writes the four tables of one capture's report under `dir` and returns the files written.
pub fn write_parquet(r: &FileReport, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let schema = SCHEMA_VERSION as i64;
    let mut connections = Table::new(
        "connections",
        &[
            ("file", 's'),
            ("schema_version", 'i'),
            ("stream", 'i'),
            ("client", 's'),
            ("server", 's'),
            ("sni", 's'),
            ("tls", 'b'),
            ("tls_version", 's'),
            ("cipher_suite", 's'),
            ("first_frame", 'i'),
            ("last_frame", 'i'),
            ("start_ns", 'i'),
            ("outcome", 's'),
            ("outcome_cause", 's'),
            ("outcome_frame", 'i'),
            ("handshakes", 'i'),
            ("client_cert_requested", 'b'),
            ("client_certificate", 's'),
            ("decryption", 's'),
            ("findings", 'i'),
            ("worst_severity", 's'),
        ],
    );
    let mut findings = Table::new(
        "findings",
        &[
            ("file", 's'),
            ("schema_version", 'i'),
            ("stream", 'i'),
            ("client", 's'),
            ("server", 's'),
            ("sni", 's'),
            ("code", 's'),
            ("severity", 's'),
            ("title", 's'),
            ("explanation", 's'),
            ("frames", 's'),
            ("first_frame", 'i'),
            ("filter", 's'),
        ],
    );
    let mut certificates = Table::new(
        "certificates",
        &[
            ("file", 's'),
            ("schema_version", 'i'),
            ("stream", 'i'),
            ("frame", 'i'),
            ("sender", 's'),
            ("position", 'i'),
            ("subject", 's'),
            ("issuer", 's'),
            ("self_issued", 'b'),
            ("serial", 's'),
            ("not_before", 'i'),
            ("not_after", 'i'),
            ("key", 's'),
            ("key_bits", 'i'),
            ("is_ca", 'b'),
            ("eku", 's'),
            ("sha256", 's'),
        ],
    );
    let mut http = Table::new(
        "http",
        &[
            ("file", 's'),
            ("schema_version", 'i'),
            ("stream", 'i'),
            ("request_frame", 'i'),
            ("response_frame", 'i'),
            ("method", 's'),
            ("target", 's'),
            ("host", 's'),
            ("status", 'i'),
            ("substatus", 's'),
            ("reason", 's'),
            ("authorization", 's'),
            ("www_authenticate", 's'),
            ("decrypted", 'b'),
        ],
    );
    let file = Some(r.file.as_str());
    for c in &r.connections {
        let stream = Some(c.stream as i64);
        connections.text("file", file);
        connections.int("schema_version", Some(schema));
        connections.int("stream", stream);
        connections.text("client", Some(c.client.as_str()));
        connections.text("server", Some(c.server.as_str()));
        connections.text("sni", c.sni.as_deref());
        connections.boolean("tls", Some(c.tls));
        connections.text("tls_version", c.tls_version.as_deref());
        connections.text("cipher_suite", c.cipher_suite.as_deref());
        connections.int("first_frame", Some(c.first_frame as i64));
        connections.int("last_frame", Some(c.last_frame as i64));
        connections.int("start_ns", Some(c.start_ns));
        connections.text("outcome", c.tls.then_some(c.outcome.status.word()));
        connections.text("outcome_cause", c.outcome.cause.as_deref());
        connections.int("outcome_frame", c.outcome.frame.map(|f| f as i64));
        connections.int("handshakes", Some(c.handshakes.len() as i64));
        connections.boolean("client_cert_requested", c.client_auth.requested);
        connections.text("client_certificate", Some(c.client_auth.client_certificate));
        connections.text("decryption", c.tls.then_some(c.decryption.status));
        connections.int("findings", Some(c.findings.len() as i64));
        connections.text(
            "worst_severity",
            c.findings
                .iter()
                .map(|f| f.severity)
                .max()
                .map(Severity::word),
        );
        for f in &c.findings {
            findings.text("file", file);
            findings.int("schema_version", Some(schema));
            findings.int("stream", stream);
            findings.text("client", Some(c.client.as_str()));
            findings.text("server", Some(c.server.as_str()));
            findings.text("sni", c.sni.as_deref());
            findings.text("code", Some(f.code));
            findings.text("severity", Some(f.severity.word()));
            findings.text("title", Some(f.title.as_str()));
            findings.text("explanation", Some(f.explanation.as_str()));
            findings.text("frames", Some(frames_text(&f.frames)));
            findings.int("first_frame", f.frames.first().map(|&x| x as i64));
            findings.text("filter", Some(f.filter.as_str()));
        }
        for m in &c.messages {
            let Some(Detail::Certificate(cert)) = &m.detail else {
                continue;
            };
            for (i, x) in cert.certificates.iter().enumerate() {
                certificates.text("file", file);
                certificates.int("schema_version", Some(schema));
                certificates.int("stream", stream);
                certificates.int("frame", Some(m.frame as i64));
                certificates.text("sender", Some(m.direction.word()));
                certificates.int("position", Some(i as i64));
                certificates.text("subject", Some(x.subject.as_str()));
                certificates.text("issuer", Some(x.issuer.as_str()));
                certificates.boolean("self_issued", Some(x.self_issued));
                certificates.text("serial", x.serial.as_deref());
                certificates.int("not_before", x.not_before);
                certificates.int("not_after", x.not_after);
                certificates.text("key", x.key.as_deref());
                certificates.int("key_bits", x.key_bits.map(i64::from));
                certificates.boolean("is_ca", x.is_ca);
                certificates.text("eku", Some(x.eku.join(",")));
                certificates.text("sha256", Some(x.sha256.as_str()));
            }
        }
        for x in &c.http {
            http.text("file", file);
            http.int("schema_version", Some(schema));
            http.int("stream", stream);
            http.int("request_frame", x.request_frame.map(|f| f as i64));
            http.int("response_frame", x.response_frame.map(|f| f as i64));
            http.text("method", x.method.as_deref());
            http.text("target", x.target.as_deref());
            http.text("host", x.host.as_deref());
            http.int("status", x.status.map(i64::from));
            http.text("substatus", x.substatus.as_deref());
            http.text("reason", x.reason.as_deref());
            http.text("authorization", x.authorization.as_deref());
            http.text("www_authenticate", Some(x.www_authenticate.join(",")));
            http.boolean("decrypted", Some(c.tls));
        }
    }
    let name = part_name(&r.file);
    let mut written = Vec::new();
    for table in [connections, findings, certificates, http] {
        let sub = dir.join(table.name);
        std::fs::create_dir_all(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
        let path = sub.join(&name);
        table.write(&path)?;
        written.push(path);
    }
    Ok(written)
}
