//! The pieces of a file's report made as its connections end (`render::spool`): for JSON,
//! HTML and Parquet, whose file header comes before the connections, and SARIF, whose results
//! go between the log's head and tail; then each format's part written once the file's report
//! is known. Also Parquet's tables from a held report (a capture joined to outside logs).

use std::io::Write;
use std::path::Path;

use tlsdiag::{render, FileReport};

use super::args::Format;

/// Writes `prefix` before the first bytes written through it, if any are.
pub(crate) struct Prefixed<'a> {
    out: &'a mut dyn Write,
    prefix: &'a [u8],
}

impl<'a> Prefixed<'a> {
    pub(crate) fn new(out: &'a mut dyn Write, prefix: &'a [u8]) -> Prefixed<'a> {
        Prefixed { out, prefix }
    }
}

impl Write for Prefixed<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !buf.is_empty() && !self.prefix.is_empty() {
            self.out.write_all(self.prefix)?;
            self.prefix = &[];
        }
        self.out.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Makes one file's report pieces as its connections end (see `render::spool`).
pub(crate) enum Collector {
    Sarif(render::sarif::SarifCollector),
    Json(render::json::JsonCollector),
    Html(render::html::HtmlCollector),
    /// With what the tables will hold, for the listing.
    #[cfg(feature = "parquet")]
    Parquet {
        tables: render::parquet::ParquetCollector,
        connections: usize,
        findings: usize,
    },
}

/// The Parquet tables of a capture made as its connections end, under `dir`.
#[cfg(feature = "parquet")]
fn parquet_collector(
    file: &str,
    dir: Option<&Path>,
    limit: usize,
) -> Result<Option<Collector>, String> {
    let Some(dir) = dir else {
        return Ok(None);
    };
    Ok(Some(Collector::Parquet {
        tables: render::parquet::ParquetCollector::new(file, dir, limit)?,
        connections: 0,
        findings: 0,
    }))
}

#[cfg(not(feature = "parquet"))]
fn parquet_collector(_: &str, _: Option<&Path>, _: usize) -> Result<Option<Collector>, String> {
    Err("built without Parquet support".into())
}

impl Collector {
    pub(crate) fn add(&mut self, c: tlsdiag::ConnectionReport) -> std::io::Result<()> {
        match self {
            Collector::Sarif(s) => {
                s.add(c);
                Ok(())
            }
            Collector::Json(j) => j.add(c),
            Collector::Html(h) => h.add(c),
            #[cfg(feature = "parquet")]
            Collector::Parquet {
                tables,
                connections,
                findings,
            } => {
                *connections += 1;
                *findings += c.findings.len();
                tables.add(c).map_err(std::io::Error::other)
            }
        }
    }
}

impl Collector {
    /// The collector of `format` for capture `name` (Parquet's writing under `tables`), each
    /// keeping up to `limit` bytes of pieces in memory; `None` for the formats streamed or
    /// written from the file's counts.
    pub(crate) fn for_format(
        format: Format,
        name: &str,
        tables: Option<&Path>,
        limit: usize,
    ) -> Result<Option<Collector>, String> {
        Ok(match format {
            Format::Parquet => return parquet_collector(name, tables, limit),
            Format::Sarif => Some(Collector::Sarif(render::sarif::SarifCollector::new(name))),
            Format::Json => Some(Collector::Json(render::json::JsonCollector::new(limit))),
            Format::Html => Some(Collector::Html(render::html::HtmlCollector::new(limit))),
            Format::Text | Format::Jsonl | Format::Summary => None,
        })
    }

    /// Writes the file's part to `out` (`r` is the file's report, without connections); SARIF
    /// results are returned for the caller to place.
    pub(crate) fn finish(
        self,
        r: &FileReport,
        // Only Parquet's tables have a directory.
        #[cfg_attr(not(feature = "parquet"), allow(unused_variables))] tables: Option<&Path>,
        out: &mut dyn Write,
    ) -> Result<Option<String>, String> {
        let result = match self {
            Collector::Sarif(c) => return Ok(Some(c.finish())),
            Collector::Json(c) => write_json(out, |w| c.finish(r, w)),
            Collector::Html(c) => c.finish(r, out),
            #[cfg(feature = "parquet")]
            Collector::Parquet {
                tables: collected,
                connections,
                findings,
            } => {
                collected.finish()?;
                match tables {
                    Some(dir) => {
                        let listing = parquet_listing(connections, findings, dir, &r.file);
                        writeln!(out, "{}: {listing}", r.file)
                    }
                    None => Ok(()),
                }
            }
        };
        written(result).map(|_| None)
    }
}

/// JSON is serialized through a buffer of its own: every small piece of the pretty-printed
/// text would otherwise be a dynamic call on `out`.
pub(crate) fn write_json(
    out: &mut dyn Write,
    write: impl FnOnce(&mut std::io::BufWriter<&mut dyn Write>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
    write(&mut w)?;
    w.flush()
}

/// A write's outcome as the file's: a closed pipe is not the file's error (the end of the
/// command says it once).
pub(crate) fn written(result: std::io::Result<()>) -> Result<(), String> {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the report: {e}"))
        }
        _ => Ok(()),
    }
}

/// A held report's Parquet tables, and the line saying what they hold.
pub(crate) fn write_held_parquet(
    r: &FileReport,
    tables: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let Some(dir) = tables else {
        return Ok(());
    };
    write_parquet(r, dir)?;
    let findings = r.connections.iter().map(|c| c.findings.len()).sum();
    let listing = parquet_listing(r.connections.len(), findings, dir, &r.file);
    written(writeln!(out, "{}: {listing}", r.file))
}

/// What a capture's tables hold and where they are.
fn parquet_listing(connections: usize, findings: usize, dir: &Path, file: &str) -> String {
    #[cfg(feature = "parquet")]
    let (tables, part) = (
        render::parquet::TABLES.join(","),
        render::parquet::part_name(file),
    );
    #[cfg(not(feature = "parquet"))]
    let (tables, part) = (String::new(), file.to_string());
    format!(
        "{connections} connection(s), {findings} finding(s) -> {}/{{{tables}}}/{part}",
        dir.display(),
    )
}

/// Writes a held report's tables (the report of a capture joined to outside logs).
#[cfg(feature = "parquet")]
fn write_parquet(r: &tlsdiag::FileReport, dir: &Path) -> Result<(), String> {
    render::parquet::write_parquet(r, dir).map(|_| ())
}

#[cfg(not(feature = "parquet"))]
fn write_parquet(_: &tlsdiag::FileReport, _: &Path) -> Result<(), String> {
    Err("built without Parquet support".into())
}
