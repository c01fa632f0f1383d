//! Parquet tables for archives (DuckDB, Spark, Dask): `connections`, `findings`, `certificates`
//! and `http`, one row per item, flat columns, with the capture file, `tcp.stream`, frames and
//! the schema version on every row. Each capture becomes one part file per table
//! (`DIR/TABLE/NAME-HASH.parquet`), so an archive's output grows by appending files.
//!
//! Rows are in `tcp.stream` order (connections ending on the same stream in the order they
//! ended), as in the held report. A file's report need not be held: [`ParquetCollector`] takes
//! each connection's report as it ends, encodes its rows of the four tables compactly into a
//! [`Spool`] (in memory up to a limit, in a temporary file past it), and at the end of the file
//! gives them back in stream order to the four writers, which write a row group whenever a table
//! has [`ROW_GROUP_ROWS`] rows. Memory is then bounded by the spool's limit, one row group per
//! table and the few 401/403 reports that wait to be linked to handshake problems (as
//! `correlate_all` links them in a held report). [`write_parquet`] writes a held (already
//! linked) report through the same rows and the same writers, so both give the same files.
//!
//! Written with the parquet crate's column writers, without Arrow: the tables are a few flat
//! columns of strings, integers and booleans, and Arrow would add a dozen crates to the build.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::Type;
use sha2::{Digest, Sha256};

use crate::findings::DeferredLinks;
use crate::model::*;
use crate::render::spool::Spool;
use crate::tls::Detail;

/// The tables written for every capture.
pub const TABLES: [&str; 4] = ["connections", "findings", "certificates", "http"];

/// Rows a table gathers before they are written as one row group, unless it first gathers
/// [`GROUP_TEXT_BYTES`] of text. Measured on 1 GB of handshakes (50,000 connections): groups of
/// 65,536 rows peaked at 107 MB, 16,384 at 67 MB (52 MB with the text limit); the files
/// differ by 1%.
pub const ROW_GROUP_ROWS: usize = 16_384;

/// Text a table gathers at most before its rows are written as a row group (findings carry
/// explanations of a few KB).
const GROUP_TEXT_BYTES: usize = 8 << 20;

/// A column's name and kind: `s` text, `i` 64-bit integer, `b` boolean; every column is
/// optional.
type Spec = &'static [(&'static str, char)];

const CONNECTIONS: usize = 0;
const FINDINGS: usize = 1;
const CERTIFICATES: usize = 2;
const HTTP: usize = 3;

/// The columns of the tables, in [`TABLES`]' order.
const SPECS: [Spec; 4] = [
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
];

// The encoding of one connection's rows: each row is a table byte (`ROW` + the table's place)
// followed by one cell per column of the table, in order. A cell is a tag byte, then for text
// its length (LEB128) and UTF-8 bytes, for an integer its zigzag LEB128; `FILE` stands for the
// capture's own name, which every row has.
const ROW: u8 = 0xd0;
const NULL: u8 = 0;
const TEXT: u8 = 1;
const INT: u8 = 2;
const FALSE: u8 = 3;
const TRUE: u8 = 4;
const FILE: u8 = 5;

/// Writes the cells of rows, in their tables' column order, into a spool piece.
struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    file: &'a str,
    table: usize,
    column: usize,
}

impl Encoder<'_> {
    fn row(&mut self, table: usize) {
        debug_assert_eq!(
            self.column,
            SPECS[self.table].len(),
            "a row left unfinished"
        );
        self.out.push(ROW + table as u8);
        self.table = table;
        self.column = 0;
    }

    /// The next column must be `name`, of kind `kind` (the row builder follows the specs).
    fn next(&mut self, name: &str, kind: char) {
        debug_assert_eq!(
            SPECS[self.table].get(self.column).copied(),
            Some((name, kind)),
            "row built out of the columns' order"
        );
        self.column += 1;
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    /// The columns that open the rows of `connections` and `findings`: which capture, which
    /// schema, which connection.
    fn connection_columns(
        &mut self,
        file: Option<&str>,
        schema: Option<i64>,
        stream: Option<i64>,
        c: &ConnectionReport,
    ) {
        self.text("file", file);
        self.int("schema_version", schema);
        self.int("stream", stream);
        self.text("client", Some(c.client.as_str()));
        self.text("server", Some(c.server.as_str()));
        self.text("sni", c.sni.as_deref());
    }

    fn text(&mut self, name: &str, v: Option<&str>) {
        self.next(name, 's');
        match v {
            None => self.out.push(NULL),
            Some(s) if s == self.file && name == "file" => self.out.push(FILE),
            Some(s) => {
                self.out.push(TEXT);
                self.varint(s.len() as u64);
                self.out.extend_from_slice(s.as_bytes());
            }
        }
    }

    fn int(&mut self, name: &str, v: Option<i64>) {
        self.next(name, 'i');
        match v {
            None => self.out.push(NULL),
            Some(i) => {
                self.out.push(INT);
                self.varint(((i << 1) ^ (i >> 63)) as u64);
            }
        }
    }

    fn boolean(&mut self, name: &str, v: Option<bool>) {
        self.next(name, 'b');
        self.out.push(match v {
            None => NULL,
            Some(false) => FALSE,
            Some(true) => TRUE,
        });
    }
}

/// The rows one connection gives the four tables (its own, one per finding, one per
/// certificate of each Certificate message, one per HTTP exchange), encoded onto `out`. The
/// only place rows are made, for the held report and for reports taken as they end.
fn connection_rows(file: &str, c: &ConnectionReport, out: &mut Vec<u8>) {
    let mut e = Encoder {
        out,
        file,
        table: CONNECTIONS,
        column: SPECS[CONNECTIONS].len(),
    };
    let schema = Some(SCHEMA_VERSION as i64);
    let file = Some(file);
    let stream = Some(c.stream as i64);
    e.row(CONNECTIONS);
    e.connection_columns(file, schema, stream, c);
    e.boolean("tls", Some(c.tls));
    e.text("tls_version", c.tls_version.as_deref());
    e.text("cipher_suite", c.cipher_suite.as_deref());
    e.int("first_frame", Some(c.first_frame as i64));
    e.int("last_frame", Some(c.last_frame as i64));
    e.int("start_ns", Some(c.start_ns));
    e.text("outcome", c.tls.then_some(c.outcome.status.word()));
    e.text("outcome_cause", c.outcome.cause.as_deref());
    e.int("outcome_frame", c.outcome.frame.map(|f| f as i64));
    e.int("handshakes", Some(c.handshakes.len() as i64));
    e.boolean("client_cert_requested", c.client_auth.requested);
    e.text("client_certificate", Some(c.client_auth.client_certificate));
    e.text("decryption", c.tls.then_some(c.decryption.status));
    e.int("findings", Some(c.findings.len() as i64));
    e.text(
        "worst_severity",
        c.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .map(Severity::word),
    );
    for f in &c.findings {
        e.row(FINDINGS);
        e.connection_columns(file, schema, stream, c);
        e.text("code", Some(f.code));
        e.text("severity", Some(f.severity.word()));
        e.text("title", Some(f.title.as_str()));
        e.text("explanation", Some(f.explanation.as_str()));
        e.text("frames", Some(&frames_text(&f.frames)));
        e.int("first_frame", f.frames.first().map(|&x| x as i64));
        e.text("filter", Some(f.filter.as_str()));
    }
    for m in &c.messages {
        let Some(Detail::Certificate(cert)) = &m.detail else {
            continue;
        };
        for (i, x) in cert.certificates.iter().enumerate() {
            e.row(CERTIFICATES);
            e.text("file", file);
            e.int("schema_version", schema);
            e.int("stream", stream);
            e.int("frame", Some(m.frame as i64));
            e.text("sender", Some(m.direction.word()));
            e.int("position", Some(i as i64));
            e.text("subject", Some(x.subject.as_str()));
            e.text("issuer", Some(x.issuer.as_str()));
            e.boolean("self_issued", Some(x.self_issued));
            e.text("serial", x.serial.as_deref());
            e.int("not_before", x.not_before);
            e.int("not_after", x.not_after);
            e.text("key", x.key.as_deref());
            e.int("key_bits", x.key_bits.map(i64::from));
            e.boolean("is_ca", x.is_ca);
            e.text("eku", Some(&x.eku.join(",")));
            e.text("sha256", Some(x.sha256.as_str()));
        }
    }
    for x in &c.http {
        e.row(HTTP);
        e.text("file", file);
        e.int("schema_version", schema);
        e.int("stream", stream);
        e.int("request_frame", x.request_frame.map(|f| f as i64));
        e.int("response_frame", x.response_frame.map(|f| f as i64));
        e.text("method", x.method.as_deref());
        e.text("target", x.target.as_deref());
        e.text("host", x.host.as_deref());
        e.int("status", x.status.map(i64::from));
        e.text("substatus", x.substatus.as_deref());
        e.text("reason", x.reason.as_deref());
        e.text("authorization", x.authorization.as_deref());
        e.text("www_authenticate", Some(&x.www_authenticate.join(",")));
        e.boolean("decrypted", Some(c.tls));
    }
    debug_assert_eq!(e.column, SPECS[e.table].len(), "a row left unfinished");
}

/// One column's values; `None` is a null.
enum Values {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

/// The rows of a table not yet written, column by column.
struct Table {
    columns: Vec<Values>,
    rows: usize,
    /// Bytes of text in the rows gathered.
    text_bytes: usize,
}

impl Table {
    fn new(spec: Spec) -> Table {
        let columns = spec
            .iter()
            .map(|&(_, kind)| match kind {
                's' => Values::Text(Vec::new()),
                'i' => Values::Int(Vec::new()),
                _ => Values::Bool(Vec::new()),
            })
            .collect();
        Table {
            columns,
            rows: 0,
            text_bytes: 0,
        }
    }

    /// Writes the rows gathered as one row group, and forgets them.
    fn write_group(&mut self, writer: &mut SerializedFileWriter<File>) -> Result<(), String> {
        let mut group = writer.next_row_group().map_err(|e| e.to_string())?;
        for values in &mut self.columns {
            let Some(mut column) = group.next_column().map_err(|e| e.to_string())? else {
                break;
            };
            let levels =
                |present: Vec<bool>| -> Vec<i16> { present.into_iter().map(i16::from).collect() };
            let written = match values {
                Values::Text(v) => {
                    let def = levels(v.iter().map(Option::is_some).collect());
                    let data: Vec<ByteArray> = v
                        .drain(..)
                        .flatten()
                        .map(|s| ByteArray::from(s.into_bytes()))
                        .collect();
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&data, Some(&def), None)
                }
                Values::Int(v) => {
                    let def = levels(v.iter().map(Option::is_some).collect());
                    let data: Vec<i64> = v.drain(..).flatten().collect();
                    column
                        .typed::<Int64Type>()
                        .write_batch(&data, Some(&def), None)
                }
                Values::Bool(v) => {
                    let def = levels(v.iter().map(Option::is_some).collect());
                    let data: Vec<bool> = v.drain(..).flatten().collect();
                    column
                        .typed::<BoolType>()
                        .write_batch(&data, Some(&def), None)
                }
            };
            written.map_err(|e| e.to_string())?;
            column.close().map_err(|e| e.to_string())?;
        }
        group.close().map_err(|e| e.to_string())?;
        self.rows = 0;
        self.text_bytes = 0;
        Ok(())
    }
}

/// A spool piece that does not decode.
fn bad(what: &str) -> String {
    format!("parquet: damaged row encoding ({what})")
}

/// Reads the cells of a piece made by [`connection_rows`].
struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Decoder<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.bytes.get(self.at).ok_or_else(|| bad("cut short"))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f)
                .checked_shl(shift)
                .filter(|x| x >> shift == u64::from(b & 0x7f))
                .ok_or_else(|| bad("integer too long"))?;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("integer too long"))
    }

    /// Decodes the piece's rows into `tables`, calling `row_done` with a table's place after
    /// each of its rows is complete.
    fn rows(
        mut self,
        file: &str,
        tables: &mut [Table; 4],
        mut row_done: impl FnMut(usize, &mut Table) -> Result<(), String>,
    ) -> Result<(), String> {
        while self.at < self.bytes.len() {
            let t = self.byte()?.wrapping_sub(ROW) as usize;
            let table = tables.get_mut(t).ok_or_else(|| bad("unknown table"))?;
            for values in &mut table.columns {
                let tag = self.byte()?;
                match (values, tag) {
                    (Values::Text(v), NULL) => v.push(None),
                    (Values::Int(v), NULL) => v.push(None),
                    (Values::Bool(v), NULL) => v.push(None),
                    (Values::Text(v), FILE) => {
                        table.text_bytes += file.len();
                        v.push(Some(file.to_string()))
                    }
                    (Values::Text(v), TEXT) => {
                        let len = self.varint()?;
                        let rest = self.bytes.len() - self.at;
                        let len = usize::try_from(len)
                            .ok()
                            .filter(|&l| l <= rest)
                            .ok_or_else(|| bad("text past the end"))?;
                        let s = std::str::from_utf8(&self.bytes[self.at..self.at + len])
                            .map_err(|_| bad("text not UTF-8"))?;
                        self.at += len;
                        table.text_bytes += len;
                        v.push(Some(s.to_string()));
                    }
                    (Values::Int(v), INT) => {
                        let z = self.varint()?;
                        v.push(Some((z >> 1) as i64 ^ -((z & 1) as i64)));
                    }
                    (Values::Bool(v), FALSE) => v.push(Some(false)),
                    (Values::Bool(v), TRUE) => v.push(Some(true)),
                    _ => return Err(bad("cell of the wrong kind")),
                }
            }
            table.rows += 1;
            row_done(t, table)?;
        }
        Ok(())
    }
}

/// Checks a spooled piece: decodes it and returns how many rows it gives each table (in
/// [`TABLES`]' order), or the error that a damaged piece is.
#[doc(hidden)]
pub fn decode_piece(piece: &[u8]) -> Result<[usize; 4], String> {
    let mut tables = SPECS.map(Table::new);
    let mut counts = [0; 4];
    Decoder {
        bytes: piece,
        at: 0,
    }
    .rows("", &mut tables, |t, _| {
        counts[t] += 1;
        Ok(())
    })?;
    Ok(counts)
}

/// The encoded rows of one connection, as spooled (for [`decode_piece`]'s tests).
#[doc(hidden)]
pub fn encode_connection(file: &str, c: &ConnectionReport) -> Vec<u8> {
    let mut out = Vec::new();
    connection_rows(file, c, &mut out);
    out
}

fn message_type(name: &str, spec: Spec) -> String {
    let mut m = format!("message {name} {{\n");
    for &(n, kind) in spec {
        let t = match kind {
            's' => "BYTE_ARRAY",
            'i' => "INT64",
            _ => "BOOLEAN",
        };
        let logical = if kind == 's' { " (UTF8)" } else { "" };
        m.push_str(&format!("  OPTIONAL {t} {n}{logical};\n"));
    }
    m.push('}');
    m
}

/// The four part files of one capture, open, with the rows not yet written as a row group.
struct Writers {
    file: String,
    tables: [Table; 4],
    writers: Vec<SerializedFileWriter<File>>,
    paths: Vec<PathBuf>,
    /// Row groups written to each table.
    groups: [usize; 4],
    group_rows: usize,
}

impl Writers {
    fn create(file: &str, dir: &Path, group_rows: usize) -> Result<Writers, String> {
        let name = part_name(file);
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .set_created_by(format!("tlsdiag {}", env!("CARGO_PKG_VERSION")))
                .build(),
        );
        let mut writers = Vec::new();
        let mut paths = Vec::new();
        for (table, spec) in TABLES.iter().zip(SPECS) {
            let sub = dir.join(table);
            std::fs::create_dir_all(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
            let path = sub.join(&name);
            let schema: Type =
                parse_message_type(&message_type(table, spec)).map_err(|e| e.to_string())?;
            let f = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            writers.push(
                SerializedFileWriter::new(f, Arc::new(schema), props.clone())
                    .map_err(|e| e.to_string())?,
            );
            paths.push(path);
        }
        Ok(Writers {
            file: file.to_string(),
            tables: SPECS.map(Table::new),
            writers,
            paths,
            groups: [0; 4],
            group_rows: group_rows.max(1),
        })
    }

    /// Adds the rows of one encoded connection, writing a row group whenever a table is full.
    fn add(&mut self, piece: &[u8]) -> Result<(), String> {
        let (writers, groups, group_rows) = (&mut self.writers, &mut self.groups, self.group_rows);
        Decoder {
            bytes: piece,
            at: 0,
        }
        .rows(&self.file, &mut self.tables, |t, table| {
            if table.rows >= group_rows || table.text_bytes >= GROUP_TEXT_BYTES {
                table.write_group(&mut writers[t])?;
                groups[t] += 1;
            }
            Ok(())
        })
    }

    /// Writes the last row groups (one, empty, for a table without rows) and closes the files.
    fn close(mut self) -> Result<Vec<PathBuf>, String> {
        for ((table, mut writer), groups) in
            self.tables.iter_mut().zip(self.writers).zip(self.groups)
        {
            if table.rows > 0 || groups == 0 {
                table.write_group(&mut writer)?;
            }
            writer.close().map_err(|e| e.to_string())?;
        }
        Ok(self.paths)
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

/// Writes the four tables of one capture's held report under `dir` and returns the files
/// written. The report's connections are taken as they stand (already linked, in stream
/// order), through the same rows and row groups as [`ParquetCollector`].
pub fn write_parquet(r: &FileReport, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut writers = Writers::create(&r.file, dir, ROW_GROUP_ROWS)?;
    let mut piece = Vec::new();
    for c in &r.connections {
        piece.clear();
        connection_rows(&r.file, c, &mut piece);
        writers.add(&piece)?;
    }
    writers.close()
}

/// A capture's Parquet tables gathered as its connections end, without keeping their reports:
/// each connection's rows are encoded into a spool at once under (stream, order of end), except
/// a 401/403's, whose report waits for the end of the file to be linked to handshake problems
/// before and after it (as `correlate_all` links them in a held report). [`finish`] then writes
/// the rows in stream order, row group by row group: the same files as [`write_parquet`] writes
/// for the held report.
///
/// [`finish`]: ParquetCollector::finish
pub struct ParquetCollector {
    file: String,
    dir: PathBuf,
    spool: Spool<(u64, u64)>,
    links: DeferredLinks,
    group_rows: usize,
}

impl ParquetCollector {
    /// A collector for capture `file` writing under `dir` (whose table directories are made at
    /// once), keeping up to `limit` bytes of encoded rows in memory and the rest in a temporary
    /// file.
    pub fn new(file: &str, dir: &Path, limit: usize) -> Result<ParquetCollector, String> {
        for table in TABLES {
            let sub = dir.join(table);
            std::fs::create_dir_all(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
        }
        Ok(ParquetCollector {
            file: file.to_string(),
            dir: dir.to_path_buf(),
            spool: Spool::new(limit),
            links: DeferredLinks::default(),
            group_rows: ROW_GROUP_ROWS,
        })
    }

    /// Rows per row group ([`ROW_GROUP_ROWS`] unless changed; at least one).
    pub fn with_row_group_rows(mut self, rows: usize) -> ParquetCollector {
        self.group_rows = rows.max(1);
        self
    }

    /// Bytes of encoded rows moved to the temporary file so far.
    pub fn spilled(&self) -> u64 {
        self.spool.spilled()
    }

    /// Takes one connection's report as it ends.
    pub fn add(&mut self, c: ConnectionReport) -> Result<(), String> {
        match self.links.admit(c) {
            Some((place, c)) => self.put(place, &c),
            None => Ok(()),
        }
    }

    fn put(&mut self, key: (u64, u64), c: &ConnectionReport) -> Result<(), String> {
        let file = &self.file;
        self.spool
            .put(key, |buf| {
                connection_rows(file, c, buf);
                Ok(())
            })
            .map_err(|e| format!("parquet: {e}"))
    }

    /// Links the waiting reports, writes the four tables and returns their files, as
    /// [`write_parquet`] does for the held report.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, String> {
        for (place, c) in std::mem::take(&mut self.links).finish() {
            self.put(place, &c)?;
        }
        let mut writers = Writers::create(&self.file, &self.dir, self.group_rows)?;
        self.spool
            .drain_sorted(|_, piece| writers.add(piece).map_err(io::Error::other))
            .map_err(|e| e.to_string())?;
        writers.close()
    }
}
