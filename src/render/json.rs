//! `-f json`: a file's whole report, pretty-printed (two spaces), serialized straight into the
//! writer given: from a held report, or connection by connection as they end
//! ([`JsonCollector`]), spooled and written in `tcp.stream` order after the file's header.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

use super::spool::Spool;
use crate::findings::DeferredLinks;
use crate::model::{ConnectionReport, FileReport};

/// Writes the report as `serde_json::to_writer_pretty` does, byte for byte, with fewer and larger
/// writes (a line break and its indentation are one write). `out` should be buffered (a
/// `BufWriter` or a `Vec<u8>`): the text is still written in many small pieces.
pub fn write_json_report<W: Write>(out: &mut W, r: &FileReport) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, Pretty::default());
    r.serialize(&mut ser).map_err(io::Error::from)
}

/// A file's JSON report made as its connections end, so that it is never held whole: each
/// connection is serialized at once (a 401/403 once linked, at the end: [`DeferredLinks`]) into
/// a [`Spool`], and [`JsonCollector::finish`] writes the file's header, then the connections in
/// `tcp.stream` order: the bytes [`write_json_report`] writes for the held report.
pub struct JsonCollector {
    spool: Spool<(u64, u64)>,
    links: DeferredLinks,
}

/// Where a connection stands in the report: an element of `connections`, two levels down.
const CONNECTION_DEPTH: usize = 2;

impl JsonCollector {
    /// A collector keeping up to `limit` bytes of serialized connections in memory.
    pub fn new(limit: usize) -> JsonCollector {
        JsonCollector {
            spool: Spool::new(limit),
            links: DeferredLinks::default(),
        }
    }

    /// Takes one connection's report as it ends.
    pub fn add(&mut self, c: ConnectionReport) -> io::Result<()> {
        match self.links.admit(c) {
            Some((place, c)) => self.put(place, &c),
            None => Ok(()),
        }
    }

    fn put(&mut self, place: (u64, u64), c: &ConnectionReport) -> io::Result<()> {
        self.spool.put(place, |buf| {
            let pretty = Pretty {
                depth: CONNECTION_DEPTH,
                has_value: false,
            };
            let mut ser = serde_json::Serializer::with_formatter(buf, pretty);
            c.serialize(&mut ser).map_err(io::Error::from)
        })
    }

    /// Writes the file's report: `report` is the analysis's report of the file, without its
    /// connections (they are the ones collected).
    pub fn finish<W: Write>(mut self, report: &FileReport, out: &mut W) -> io::Result<()> {
        for (place, c) in std::mem::take(&mut self.links).finish() {
            self.put(place, &c)?;
        }
        // The header is the report with no connection: it ends with the empty list, which the
        // spooled connections fill.
        let mut head = Vec::new();
        write_json_report(&mut head, report)?;
        const EMPTY_TAIL: &[u8] = b"[]\n}";
        if !report.connections.is_empty() || !head.ends_with(EMPTY_TAIL) {
            return Err(io::Error::other(
                "the file's report should end with its empty list of connections",
            ));
        }
        out.write_all(&head[..head.len() - EMPTY_TAIL.len() + 1])?;
        let any = !self.spool.is_empty();
        let mut first = true;
        let indent = &BREAKS[..2 + 2 * CONNECTION_DEPTH];
        self.spool.drain_sorted(|_, piece| {
            out.write_all(if first { &indent[1..] } else { indent })?;
            first = false;
            out.write_all(piece)
        })?;
        if any {
            out.write_all(&BREAKS[1..2 + 2 * (CONNECTION_DEPTH - 1)])?;
        }
        out.write_all(b"]\n}")
    }
}

/// `,` then a line break and up to [`MAX_DEPTH`] levels of two-space indentation.
const BREAKS: &[u8; 2 + 2 * MAX_DEPTH] = &{
    let mut b = [b' '; 2 + 2 * MAX_DEPTH];
    b[0] = b',';
    b[1] = b'\n';
    b
};
const MAX_DEPTH: usize = 64;

/// serde_json's `PrettyFormatter` with an indentation of two spaces, writing each line break
/// with its indentation at once (numbers and strings: the trait's defaults, as there).
#[derive(Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    /// A line break (after a comma when `comma`) and the indentation of `self.depth`.
    #[inline]
    fn newline<W: ?Sized + Write>(&self, out: &mut W, comma: bool) -> io::Result<()> {
        let from = if comma { 0 } else { 1 };
        if self.depth <= MAX_DEPTH {
            out.write_all(&BREAKS[from..2 + 2 * self.depth])
        } else {
            out.write_all(&BREAKS[from..2])?;
            (0..self.depth).try_for_each(|_| out.write_all(b"  "))
        }
    }
}

impl Formatter for Pretty {
    #[inline]
    fn begin_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        out.write_all(b"[")
    }

    #[inline]
    fn end_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.newline(out, false)?;
        }
        out.write_all(b"]")
    }

    #[inline]
    fn begin_array_value<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.newline(out, !first)
    }

    #[inline]
    fn end_array_value<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    #[inline]
    fn begin_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        out.write_all(b"{")
    }

    #[inline]
    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.newline(out, false)?;
        }
        out.write_all(b"}")
    }

    #[inline]
    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.newline(out, !first)
    }

    #[inline]
    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b": ")
    }

    #[inline]
    fn end_object_value<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Same bytes as `to_writer_pretty`, nesting deeper than the indentation table included.
    #[test]
    fn same_bytes_as_serde_json_pretty() {
        let mut deep = serde_json::json!({"leaf": [1, "two", null, {}, []]});
        for i in 0..70 {
            deep = serde_json::json!({ "level": i, "inner": [deep, {"a": "é\"\n"}], "e": {} });
        }
        let mut want = Vec::new();
        serde_json::to_writer_pretty(&mut want, &deep).unwrap();
        let mut got = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut got, Pretty::default());
        deep.serialize(&mut ser).unwrap();
        assert_eq!(
            String::from_utf8(got).unwrap(),
            String::from_utf8(want).unwrap()
        );
    }
}
