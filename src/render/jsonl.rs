//! JSON Lines: one line per connection and per finding, then one per file, each with `kind`,
//! `schema_version`, `file` and `stream` (ready for jq, DuckDB or Spark).
//!
//! The lines are serialized straight into the writer given (no `serde_json::Value` trees): a
//! line's own keys are written by hand, then the fields of the model type follow through
//! [`Fields`], a serializer that hands each struct field to a sink, which writes it (or leaves it
//! out, or reorders it) without building anything in between.

use std::io::Write;

use serde::ser::{Impossible, SerializeStruct, Serializer};
use serde::Serialize;

use crate::model::*;

/// JSON Lines: one object for the connection (without its findings) and one per finding, each
/// with `kind`, `schema_version`, `file` and `stream`. Writers that are not buffered should be
/// given a `Vec<u8>` (reused from one connection to the next) or a `BufWriter`: the lines are
/// written in many small pieces.
pub fn write_jsonl_connection<W: Write>(
    out: &mut W,
    file: &str,
    c: &ConnectionReport,
) -> std::io::Result<()> {
    line_head(out, "connection", file)?;
    c.serialize(Fields(Inline {
        out: &mut *out,
        skip: &["findings"],
    }))?;
    out.write_all(b"}\n")?;
    write_findings(out, file, &c.findings)
}

/// JSON Lines: the lines of the file itself, written after its connections: one per finding
/// of the file (KDC errors no connection explains), then its summary object (`kind: file`).
pub fn write_jsonl_file<W: Write>(out: &mut W, r: &FileReport) -> std::io::Result<()> {
    write_findings(out, &r.file, &r.kerberos.findings)?;
    // The key order of this line is the one of its first version, which built a map of the
    // report and swap-removed `connections`, `schema_version` and `file` from it: the last two
    // fields present come first, the others follow in the order of `FileReport`.
    let mut fields = Vec::new();
    r.serialize(Fields(Collect {
        fields: &mut fields,
        skip: &["connections", "schema_version", "file"],
    }))?;
    if fields.len() >= 2 {
        let mut last_two = fields.split_off(fields.len() - 2);
        last_two.reverse();
        fields.splice(0..0, last_two);
    }
    line_head(out, "file", &r.file)?;
    for (key, value) in &fields {
        out.write_all(b",")?;
        serde_json::to_writer(&mut *out, key)?;
        out.write_all(b":")?;
        out.write_all(value)?;
    }
    out.write_all(b"}\n")
}

/// [`write_jsonl_connection`] into a new string.
pub fn jsonl_connection(file: &str, c: &ConnectionReport) -> String {
    let mut out = Vec::new();
    let _ = write_jsonl_connection(&mut out, file, c);
    String::from_utf8(out).unwrap_or_default()
}

/// [`write_jsonl_file`] into a new string.
pub fn jsonl_file(r: &FileReport) -> String {
    let mut out = Vec::new();
    let _ = write_jsonl_file(&mut out, r);
    String::from_utf8(out).unwrap_or_default()
}

/// One line per finding (`kind: finding`).
fn write_findings<W: Write>(out: &mut W, file: &str, findings: &[Finding]) -> std::io::Result<()> {
    for f in findings {
        line_head(out, "finding", file)?;
        f.serialize(Fields(Inline {
            out: &mut *out,
            skip: &[],
        }))?;
        out.write_all(b"}\n")?;
    }
    Ok(())
}

/// `{"kind":KIND,"schema_version":N,"file":FILE` (the object stays open).
fn line_head<W: Write>(out: &mut W, kind: &str, file: &str) -> std::io::Result<()> {
    out.write_all(b"{\"kind\":")?;
    serde_json::to_writer(&mut *out, kind)?;
    write!(out, ",\"schema_version\":{SCHEMA_VERSION},\"file\":")?;
    serde_json::to_writer(&mut *out, file)?;
    Ok(())
}

/// Receives the fields of a struct being serialized, in the order of its declaration (fields
/// skipped by `#[serde(skip...)]` never arrive).
trait FieldSink {
    fn field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), serde_json::Error>;
}

/// Writes each field as `,"key":value` into an object already open, but those of `skip`.
struct Inline<'a, W: Write> {
    out: &'a mut W,
    skip: &'static [&'static str],
}

impl<W: Write> FieldSink for Inline<'_, W> {
    fn field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        if self.skip.contains(&key) {
            return Ok(());
        }
        self.out.write_all(b",").map_err(serde_json::Error::io)?;
        serde_json::to_writer(&mut *self.out, key)?;
        self.out.write_all(b":").map_err(serde_json::Error::io)?;
        serde_json::to_writer(&mut *self.out, value)
    }
}

/// Keeps each field's JSON text, but those of `skip`, to be written in another order.
struct Collect<'a> {
    fields: &'a mut Vec<(&'static str, Vec<u8>)>,
    skip: &'static [&'static str],
}

impl FieldSink for Collect<'_> {
    fn field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        if !self.skip.contains(&key) {
            self.fields.push((key, serde_json::to_vec(value)?));
        }
        Ok(())
    }
}

/// A serializer for structs only (the model's report types), handing their fields to a sink.
struct Fields<S>(S);

fn not_a_struct() -> serde_json::Error {
    serde::ser::Error::custom("JSON Lines: only a struct's fields can be written on a line")
}

macro_rules! not_a_struct {
    ($($name:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $name(self, $(_: $arg),*) -> Result<$ret, serde_json::Error> {
            Err(not_a_struct())
        })*
    };
}

impl<S: FieldSink> Serializer for Fields<S> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = Impossible<(), serde_json::Error>;
    type SerializeTuple = Impossible<(), serde_json::Error>;
    type SerializeTupleStruct = Impossible<(), serde_json::Error>;
    type SerializeTupleVariant = Impossible<(), serde_json::Error>;
    type SerializeMap = Impossible<(), serde_json::Error>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), serde_json::Error>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, serde_json::Error> {
        Ok(self)
    }

    not_a_struct! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), serde_json::Error> {
        Err(not_a_struct())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), serde_json::Error> {
        Err(not_a_struct())
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), serde_json::Error> {
        Err(not_a_struct())
    }
}

impl<S: FieldSink> SerializeStruct for Fields<S> {
    type Ok = ();
    type Error = serde_json::Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        self.0.field(key, value)
    }

    fn end(self) -> Result<(), serde_json::Error> {
        Ok(())
    }
}
