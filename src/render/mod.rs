//! Output formats, one file each, all reading the plain-data model only: `text` for people,
//! `jsonl` for pipelines, `sarif` for CI systems, `html` to look at; JSON is the model serialised as it stands (`docs/json-schema.md`).

pub mod html;
pub mod json;
pub mod jsonl;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod sarif;
pub mod spool;
pub mod text;

pub use json::write_json_report;
pub use jsonl::{jsonl_connection, jsonl_file, write_jsonl_connection, write_jsonl_file};
pub use text::{render_connection_text, render_diagnosis, render_file_header, render_text};
