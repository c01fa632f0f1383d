//! IIS W3C extended logs (`--iis-log`): the lines read (any `#Fields:` order, with or without
//! `c-port`), and their join to the capture's connections by client IP, server IP and port and
//! time. IIS writes a line when it sends the response, to the second, in UTC; a line belongs to
//! a connection that was open then (give or take the tolerance). Bad lines are counted, never
//! fatal.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The `reason` of HTTP exchanges made from log lines (the log has no reason phrase).
pub const FROM_LOG: &str = "(from the IIS log)";

/// One log line, as joined to a connection.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IisLine {
    /// The log file and the line number in it.
    pub file: String,
    pub line: usize,
    /// `date time` of the line (UTC, when the response was sent), Unix seconds.
    pub time: i64,
    pub client_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_port: Option<u16>,
    pub server_ip: String,
    pub server_port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `cs-uri-stem`, with `?cs-uri-query` when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    pub status: u16,
    pub substatus: u32,
    /// `sc-win32-status` and its name (`CERT_E_UNTRUSTEDROOT`).
    pub win32_status: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub win32_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_taken_ms: Option<u64>,
}

impl IisLine {
    /// `403.7`, or `403` when the sub-status is 0.
    pub fn status_text(&self) -> String {
        if self.substatus == 0 {
            self.status.to_string()
        } else {
            format!("{}.{}", self.status, self.substatus)
        }
    }
}

/// Names of the `sc-win32-status` values met behind client-certificate and Windows
/// authentication failures.
pub fn win32_name(code: u64) -> Option<&'static str> {
    Some(match code {
        0 => return None,
        5 => "ERROR_ACCESS_DENIED",
        64 => "ERROR_NETNAME_DELETED",
        1326 => "ERROR_LOGON_FAILURE",
        0x8009_0308 => "SEC_E_INVALID_TOKEN",
        0x8009_030C => "SEC_E_LOGON_DENIED",
        0x8009_030E => "SEC_E_NO_CREDENTIALS",
        0x8009_2013 => "CRYPT_E_REVOCATION_OFFLINE",
        0x800B_0101 => "CERT_E_EXPIRED",
        0x800B_0109 => "CERT_E_UNTRUSTEDROOT",
        0x800B_010A => "CERT_E_CHAINING",
        0x800B_010C => "CERT_E_REVOKED",
        0x800B_010E => "CERT_E_REVOCATION_FAILURE",
        0x800B_0110 => "CERT_E_WRONG_USAGE",
        _ => return None,
    })
}

/// The lines of the given files and directories (every `*.log` in a directory).
#[derive(Debug, Default)]
pub struct IisLog {
    pub lines: Vec<IisLine>,
    pub files: Vec<String>,
    /// Lines that could not be read (no `#Fields:` before them, a missing field, a bad value).
    pub skipped: usize,
}

/// Lines read at most, over all files.
const MAX_LINES: usize = 5_000_000;

impl IisLog {
    pub fn read(paths: &[PathBuf]) -> std::io::Result<IisLog> {
        let mut log = IisLog::default();
        for p in paths {
            if p.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(p)?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|f| f.extension().is_some_and(|e| e.eq_ignore_ascii_case("log")))
                    .collect();
                files.sort();
                for f in files {
                    log.read_file(&f)?;
                }
            } else {
                log.read_file(p)?;
            }
        }
        Ok(log)
    }

    fn read_file(&mut self, path: &Path) -> std::io::Result<()> {
        let bytes = std::fs::read(path)?;
        let name = path.display().to_string();
        self.add_text(&String::from_utf8_lossy(&bytes), &name);
        self.files.push(name);
        Ok(())
    }

    /// Reads the text of one log file.
    pub fn add_text(&mut self, text: &str, name: &str) {
        let mut fields: Option<Vec<String>> = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            if let Some(directive) = line.strip_prefix('#') {
                if let Some(f) = directive.strip_prefix("Fields:") {
                    fields = Some(f.split_whitespace().map(str::to_ascii_lowercase).collect());
                }
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            if self.lines.len() >= MAX_LINES {
                self.skipped += 1;
                continue;
            }
            match fields
                .as_deref()
                .and_then(|f| parse_line(f, line, name, n + 1))
            {
                Some(l) => self.lines.push(l),
                None => self.skipped += 1,
            }
        }
    }
}

fn parse_line(fields: &[String], line: &str, file: &str, number: usize) -> Option<IisLine> {
    let values: Vec<&str> = line.split(' ').collect();
    if values.len() != fields.len() {
        return None;
    }
    let get = |name: &str| {
        fields
            .iter()
            .position(|f| f == name)
            .map(|i| values[i])
            .filter(|v| *v != "-")
    };
    let time = date_time(get("date")?, get("time")?)?;
    let stem = get("cs-uri-stem").map(|s| s.chars().take(512).collect::<String>());
    let uri = match (stem, get("cs-uri-query")) {
        (Some(s), Some(q)) => Some(format!("{s}?{}", q.chars().take(512).collect::<String>())),
        (s, _) => s,
    };
    let win32_status = get("sc-win32-status").map_or(Some(0), |v| v.parse().ok())?;
    Some(IisLine {
        file: file.to_string(),
        line: number,
        time,
        client_ip: ip(get("c-ip")?)?,
        client_port: match get("c-port") {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        },
        server_ip: ip(get("s-ip")?)?,
        server_port: get("s-port")?.parse().ok()?,
        method: get("cs-method").map(|m| m.chars().take(32).collect()),
        uri,
        status: get("sc-status")?.parse().ok()?,
        substatus: get("sc-substatus").map_or(Some(0), |v| v.parse().ok())?,
        win32_status,
        win32_name: win32_name(win32_status),
        time_taken_ms: get("time-taken").and_then(|v| v.parse().ok()),
    })
}

/// An address as the capture writes it (IPv6 compressed, IPv4 dotted).
fn ip(s: &str) -> Option<String> {
    s.parse::<std::net::IpAddr>().ok().map(|a| a.to_string())
}

/// `2026-11-30` and `23:42:57` (UTC) to Unix seconds.
fn date_time(date: &str, time: &str) -> Option<i64> {
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|x| x.parse::<i64>().ok());
    let (h, min, s) = (t.next()??, t.next()??, t.next()??);
    // Years are bounded so the arithmetic below cannot overflow on a hostile line.
    if d.next().is_some()
        || !(1..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
    {
        return None;
    }
    if !(0..24).contains(&h) || !(0..60).contains(&min) || !(0..61).contains(&s) {
        return None;
    }
    let y = y - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146097 + doe - 719468) * 86400 + h * 3600 + min * 60 + s)
}

/// A line that matched several connections.
#[derive(Debug, Clone, Serialize)]
pub struct Ambiguous {
    pub file: String,
    pub line: usize,
    /// `tcp.stream` of every connection it could belong to.
    pub candidates: Vec<u64>,
}

/// What the join did (`iis_log` of the file report).
#[derive(Debug, Clone, Default, Serialize)]
pub struct JoinSummary {
    pub files: Vec<String>,
    pub lines: usize,
    /// Lines that could not be read.
    pub skipped: usize,
    /// Lines joined to exactly one connection.
    pub joined: usize,
    pub ambiguous: Vec<Ambiguous>,
    /// Lines that match no connection of the capture (other clients, other times).
    pub unmatched: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_in_any_order_and_bad_lines_counted() {
        let mut log = IisLog::default();
        log.add_text(
            "#Software: Microsoft Internet Information Services 10.0\r\n\
             #Fields: time c-ip date s-port s-ip sc-status sc-substatus sc-win32-status cs-uri-stem\r\n\
             23:42:57 10.0.0.5 2026-11-30 443 10.0.0.1 403 16 2148204809 /app\r\n\
             23:42:57 10.0.0.5 2026-11-30 443 10.0.0.1 403 16\r\n\
             25:00:00 10.0.0.5 2026-11-30 443 10.0.0.1 403 16 0 /x\r\n\
             23:42:58 not-an-ip 2026-11-30 443 10.0.0.1 200 0 0 /\r\n\
             23:42:58 10.0.0.5 999999999999999-11-30 443 10.0.0.1 200 0 0 /\r\n\
             23:42:58 10.0.0.5 2026-11-30 99999 10.0.0.1 200 0 0 /\r\n",
            "u_ex261130.log",
        );
        assert_eq!(log.skipped, 5);
        assert_eq!(log.lines.len(), 1);
        let l = &log.lines[0];
        assert_eq!(l.time, 1796082177);
        assert_eq!(l.status_text(), "403.16");
        assert_eq!(l.win32_name, Some("CERT_E_UNTRUSTEDROOT"));
        assert_eq!((l.line, l.client_port), (3, None));
        // Lines before any #Fields: cannot be read.
        let mut log = IisLog::default();
        log.add_text("2026-11-30 23:42:57 10.0.0.1 GET / - 443\n", "x.log");
        assert_eq!((log.lines.len(), log.skipped), (0, 1));
    }
}
