//! Schannel events from the Windows System log (`--schannel-events`), exported as XML
//! (`wevtutil qe System /q:"*[System[Provider[@Name='Schannel']]]" /f:xml`) or CSV
//! (`Get-WinEvent ... | Export-Csv`), and their join to the capture's connections: 36887/36888
//! (fatal alert received/generated) to the connection with that alert at that time, 36885 (CA
//! list truncated) to the connection whose CA list is over the limit. Events that cannot be read
//! are counted, never fatal.

use std::path::Path;

use serde::Serialize;

/// One Schannel event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SchannelEvent {
    /// The export file and the event's place in it (record number, or CSV row).
    pub source: String,
    pub id: u32,
    /// `TimeCreated`, nanoseconds since the Unix epoch (UTC).
    pub time_ns: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer: Option<String>,
    /// The TLS alert description of 36887/36888, and the Schannel error state of 36888.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_state: Option<u32>,
    /// What the event says, in words.
    pub meaning: &'static str,
}

/// The meaning of the Schannel event ids met behind client-certificate failures.
pub fn meaning(id: u32) -> &'static str {
    match id {
        36870 => "a fatal error occurred when accessing the TLS server credential private key",
        36874 => "the client offered no cipher suite the server supports",
        36885 => "the server's list of trusted certificate authorities for client authentication is too long and was truncated",
        36886 => "no suitable default server credential exists on this system",
        36887 => "a fatal alert was received from the remote endpoint",
        36888 => "a fatal alert was generated and sent to the remote endpoint",
        _ => "a Schannel event",
    }
}

/// The events of the export files.
#[derive(Debug, Default)]
pub struct SchannelLog {
    pub events: Vec<SchannelEvent>,
    pub files: Vec<String>,
    /// Events that could not be read (no id or time), or from another provider.
    pub skipped: usize,
}

/// Events read at most.
const MAX_EVENTS: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum SchannelError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: not an event export: {1}")]
    Format(String, String),
}

impl SchannelLog {
    pub fn read(paths: &[std::path::PathBuf]) -> Result<SchannelLog, SchannelError> {
        let mut log = SchannelLog::default();
        for p in paths {
            log.read_file(p)?;
        }
        Ok(log)
    }

    fn read_file(&mut self, path: &Path) -> Result<(), SchannelError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| SchannelError::Io(name.clone(), e))?;
        let text = decode_text(&bytes);
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        if trimmed.starts_with('<') {
            self.add_xml(trimmed, &name)?;
        } else {
            self.add_csv(trimmed, &name)?;
        }
        self.files.push(name);
        Ok(())
    }

    /// wevtutil's events, one `<Event>` after another (no root element unless `/e:` was given).
    pub fn add_xml(&mut self, text: &str, name: &str) -> Result<(), SchannelError> {
        let body = text.trim_start_matches(|c| c != '<');
        let body = match body.strip_prefix("<?xml") {
            Some(rest) => rest.split_once("?>").map_or("", |(_, r)| r),
            None => body,
        };
        let wrapped = format!("<Events>{body}</Events>");
        let doc = roxmltree::Document::parse(&wrapped)
            .map_err(|e| SchannelError::Format(name.to_string(), e.to_string()))?;
        for (i, ev) in doc
            .descendants()
            .filter(|n| n.has_tag_name("Event"))
            .enumerate()
        {
            if self.events.len() >= MAX_EVENTS {
                self.skipped += 1;
                continue;
            }
            match xml_event(ev, name, i + 1) {
                Some(e) => self.events.push(e),
                None => self.skipped += 1,
            }
        }
        Ok(())
    }

    /// `Get-WinEvent | Export-Csv`: an optional `#TYPE` line, a header, quoted fields (the
    /// Message spans lines). The alert code is read from the Message text.
    pub fn add_csv(&mut self, text: &str, name: &str) -> Result<(), SchannelError> {
        let body = match text.strip_prefix("#TYPE") {
            Some(rest) => rest.split_once('\n').map_or("", |(_, r)| r),
            None => text,
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(body.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| SchannelError::Format(name.to_string(), e.to_string()))?
            .clone();
        let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
        let (Some(id_col), Some(time_col)) = (col("Id"), col("TimeCreated")) else {
            return Err(SchannelError::Format(
                name.to_string(),
                "no Id and TimeCreated columns".into(),
            ));
        };
        let (msg_col, machine_col, provider_col) =
            (col("Message"), col("MachineName"), col("ProviderName"));
        for (i, row) in reader.records().enumerate() {
            let Ok(row) = row else {
                self.skipped += 1;
                continue;
            };
            if self.events.len() >= MAX_EVENTS {
                self.skipped += 1;
                continue;
            }
            let provider = provider_col.and_then(|c| row.get(c));
            let id = row.get(id_col).and_then(|v| v.trim().parse::<u32>().ok());
            let time = row.get(time_col).and_then(parse_time);
            let (Some(id), Some(time_ns)) = (id, time) else {
                self.skipped += 1;
                continue;
            };
            if provider.is_some_and(|p| !p.eq_ignore_ascii_case("Schannel")) {
                self.skipped += 1;
                continue;
            }
            let message = msg_col.and_then(|c| row.get(c)).unwrap_or("");
            self.events.push(SchannelEvent {
                source: format!("{name} row {}", i + 1),
                id,
                time_ns,
                computer: machine_col
                    .and_then(|c| row.get(c))
                    .filter(|s| !s.is_empty())
                    .map(|s| s.chars().take(128).collect()),
                // 36887 says "fatal alert code is N", 36888 "fatal error code is N" (Windows
                // 2008 R2: "The following fatal alert was generated: N").
                alert: [
                    "fatal alert code is ",
                    "fatal error code is ",
                    "fatal alert was generated: ",
                ]
                .iter()
                .find_map(|m| number_after(message, m))
                .and_then(|n| u8::try_from(n).ok()),
                error_state: number_after(message, "error state is ")
                    .and_then(|n| u32::try_from(n).ok()),
                meaning: meaning(id),
            });
        }
        Ok(())
    }
}

/// Text in UTF-8 or UTF-16 (Windows PowerShell 5 writes Export-Csv files in ASCII or UTF-16
/// with `-Encoding Unicode`; wevtutil output redirected by cmd is UTF-8 or ANSI).
fn decode_text(bytes: &[u8]) -> String {
    if bytes.starts_with(&[0xff, 0xfe]) {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(bytes).into_owned()
}

fn number_after(text: &str, marker: &str) -> Option<u64> {
    let i = text.find(marker)? + marker.len();
    let digits: String = text[i..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn xml_event(ev: roxmltree::Node<'_, '_>, name: &str, index: usize) -> Option<SchannelEvent> {
    let system = ev.children().find(|n| n.has_tag_name("System"))?;
    let child = |tag: &str| system.children().find(|n| n.has_tag_name(tag));
    let provider = child("Provider")?.attribute("Name")?;
    if !provider.eq_ignore_ascii_case("Schannel") {
        return None;
    }
    let id: u32 = child("EventID")?.text()?.trim().parse().ok()?;
    let time_ns = parse_time(child("TimeCreated")?.attribute("SystemTime")?)?;
    let record = child("EventRecordID")
        .and_then(|n| n.text())
        .map(|t| format!("record {}", t.trim()))
        .unwrap_or_else(|| format!("event {index}"));
    let data = |key: &str| -> Option<u64> {
        ev.descendants()
            .filter(|n| n.has_tag_name("Data"))
            .find(|n| n.attribute("Name") == Some(key))?
            .text()?
            .trim()
            .parse()
            .ok()
    };
    Some(SchannelEvent {
        source: format!("{name} {record}"),
        id,
        time_ns,
        computer: child("Computer")
            .and_then(|n| n.text())
            .map(|s| s.chars().take(128).collect()),
        alert: data("AlertDesc").and_then(|n| u8::try_from(n).ok()),
        error_state: data("ErrorState").and_then(|n| u32::try_from(n).ok()),
        meaning: meaning(id),
    })
}

/// `2026-11-22T05:55:28.0770000Z` (XML SystemTime, or ISO 8601 with `Z`) or the en-US
/// `11/22/2026 5:55:28 AM` of Export-Csv; both read as UTC.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some((date, time)) = s.split_once('T') {
        let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
        let (y, m, day) = (d.next()??, d.next()??, d.next()??);
        let time = time.trim_end_matches('Z');
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
        let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
        let digits: String = frac
            .chars()
            .take(9)
            .take_while(char::is_ascii_digit)
            .collect();
        let nanos = if digits.is_empty() {
            0
        } else {
            digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32)
        };
        // Nanoseconds in an i64 end in 2262: a later time is unreadable, not an overflow.
        return civil(y, m, day, h, min, sec)?
            .checked_mul(1_000_000_000)?
            .checked_add(nanos);
    }
    // M/D/YYYY h:mm:ss AM|PM
    let mut parts = s.split_whitespace();
    let (date, time, half) = (parts.next()?, parts.next()?, parts.next());
    let mut d = date.split('/').map(|x| x.parse::<i64>().ok());
    let (m, day, y) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|x| x.parse::<i64>().ok());
    let (mut h, min, sec) = (t.next()??, t.next()??, t.next()??);
    match half.map(str::to_ascii_uppercase).as_deref() {
        Some("AM") if h == 12 => h = 0,
        Some("PM") if h < 12 => h += 12,
        Some("AM" | "PM") | None => {}
        Some(_) => return None,
    }
    civil(y, m, day, h, min, sec)?.checked_mul(1_000_000_000)
}

fn civil(y: i64, m: i64, day: i64, h: i64, min: i64, s: i64) -> Option<i64> {
    // Years are bounded so the arithmetic below cannot overflow on a hostile export.
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    if !(0..24).contains(&h) {
        return None;
    }
    if !(0..60).contains(&min) || !(0..61).contains(&s) {
        return None;
    }
    let y = y - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146097 + doe - 719468) * 86400 + h * 3600 + min * 60 + s)
}

/// An event that matched several connections.
#[derive(Debug, Clone, Serialize)]
pub struct AmbiguousEvent {
    pub source: String,
    pub id: u32,
    pub candidates: Vec<u64>,
}

/// What the join did (`schannel` of the file report).
#[derive(Debug, Clone, Default, Serialize)]
pub struct JoinSummary {
    pub files: Vec<String>,
    pub events: usize,
    pub skipped: usize,
    pub joined: usize,
    pub ambiguous: Vec<AmbiguousEvent>,
    /// Events joined to no connection (other times, alerts the capture does not hold, ids
    /// with no connection-level meaning).
    pub unmatched: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2026-11-22T05:55:28.0770000Z"),
            Some(1_795_326_928_077_000_000)
        );
        assert_eq!(
            parse_time("11/22/2026 5:55:28 AM"),
            Some(1_795_326_928_000_000_000)
        );
        assert_eq!(
            parse_time("11/22/2026 5:55:28 PM"),
            Some(1_795_370_128_000_000_000)
        );
        assert_eq!(parse_time("13/22/2026 5:55:28 AM"), None);
        assert_eq!(parse_time("garbage"), None);
        assert_eq!(parse_time("999999999999999-01-01T00:00:00Z"), None);
        assert_eq!(
            parse_time("2026-01-01T00:00:00.99999999999999999999Z"),
            Some(1_767_225_600_999_999_999)
        );
    }

    #[test]
    fn times_past_2262_are_unreadable_not_an_overflow() {
        // Found by the `schannel` fuzz target: a year up to 9999 passes `civil`, but its
        // nanoseconds do not fit an i64 (the multiplication overflowed).
        assert_eq!(parse_time("2262-04-11T23:47:16.854775807Z"), Some(i64::MAX));
        assert_eq!(parse_time("2262-04-11T23:47:16.854775808Z"), None);
        assert_eq!(parse_time("2262-04-11T23:47:17Z"), None);
        assert_eq!(parse_time("9999-12-31T23:59:59Z"), None);
        assert_eq!(parse_time("11/22/9999 5:55:28 AM"), None);
        assert_eq!(parse_time("0001-01-01T00:00:00Z"), None);
        let mut log = SchannelLog::default();
        log.add_csv(
            "\"Id\",\"TimeCreated\"\n\"36887\",\"11/22/9999 5:55:28 AM\"\n\"36887\",\"11/22/2026 5:55:28 AM\"\n",
            "x.csv",
        )
        .unwrap();
        assert_eq!((log.events.len(), log.skipped), (1, 1));
    }

    #[test]
    fn bad_exports_are_clear_errors_or_counted() {
        let mut log = SchannelLog::default();
        assert!(log.add_xml("<Event><System>", "x.xml").is_err());
        assert!(log.add_csv("\"a\",\"b\"\n1,2\n", "x.csv").is_err());
        log.add_csv(
            "\"Id\",\"TimeCreated\"\n\"36887\",\"never\"\n\"x\",\"11/22/2026 5:55:28 AM\"\n",
            "x.csv",
        )
        .unwrap();
        assert_eq!((log.events.len(), log.skipped), (0, 2));
    }
}
