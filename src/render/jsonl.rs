//! JSON Lines: one line per connection and per finding, then one per file, each with `kind`,
//! `schema_version`, `file` and `stream` (ready for jq, DuckDB or Spark).

use crate::model::*;

/// JSON Lines: one object for the connection (without its findings) and one per finding, each
/// with `kind`, `schema_version`, `file` and `stream`.
pub fn jsonl_connection(file: &str, c: &ConnectionReport) -> String {
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

/// JSON Lines: the file's summary object (`kind: file`), written after its connections.
pub fn jsonl_file(r: &FileReport) -> String {
    let mut out = String::new();
    // Findings of the file itself (KDC errors no connection explains) get their lines too.
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
