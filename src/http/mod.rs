//! HTTP: requests and responses of one connection, from plaintext TCP or decrypted TLS.
//!
//! httparse reads the heads; bodies are framed here (Content-Length, chunked, until close) and
//! skipped, except the first 64 KiB of error responses, kept to find the IIS sub-status
//! ("403.7") that detailed error pages carry. Responses are paired with requests in order
//! (keep-alive and pipelining); interim 1xx responses pair with nothing, except 101 Switching
//! Protocols, which is final: it answers its request and ends HTTP on the connection. HTTP/2 is recognised by
//! its connection preface, and response `:status` values are read from HEADERS frames where
//! that needs no HPACK dynamic table.

mod auth;
mod h2;
mod iis;

use std::collections::VecDeque;

use auth::{basic_user, negotiate, token_kind};
use h2::H2Reader;
pub use iis::{iis_substatus, substatus_meaning};

use serde::Serialize;

/// Heads larger than this are not HTTP we can use.
const MAX_HEAD: usize = 64 * 1024;
/// Body bytes of an error response kept to look for the IIS sub-status.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Exchanges recorded per connection.
const MAX_EXCHANGES: usize = 4096;

/// One request and its response (either may be missing from the capture).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Exchange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Scheme of the request's Authorization header (Basic, NTLM, Negotiate...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    /// What an NTLM/Negotiate token is: `kerberos`, `ntlm` (SPNEGO or raw NTLMSSP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<&'static str>,
    /// The SPNEGO/Kerberos content of a Negotiate Authorization token (an AP-REQ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negotiate_request: Option<crate::kerberos::NegotiateToken>,
    /// User name of Basic credentials (the password is never kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// IIS sub-status ("403.7"), from the error body or inferred from the handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substatus: Option<String>,
    /// `body` or `inferred`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substatus_source: Option<&'static str>,
    /// Schemes offered in WWW-Authenticate headers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub www_authenticate: Vec<String>,
    /// The SPNEGO/Kerberos content of the response's `WWW-Authenticate: Negotiate` token (an
    /// AP-REP, or the KRB-ERROR of a rejected ticket).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negotiate_response: Option<crate::kerberos::NegotiateToken>,
    /// Why the request head could not be parsed (httparse's error), when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed_request: Option<String>,
    /// Part of the response body was not in the capture.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub body_incomplete: bool,
    #[serde(skip)]
    pub ts_ns: i64,
    #[serde(skip)]
    expects_no_body: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// First bytes not seen yet.
    Detect,
    Head,
    Body {
        body: Body,
        /// Exchange whose error body is being kept.
        keep_for: Option<usize>,
    },
    /// Not HTTP/1 (or lost beyond repair).
    Off,
}

struct Direction {
    state: State,
    buf: Vec<u8>,
    head_frame: u64,
    /// Line buffer for chunk sizes and trailers.
    line: Vec<u8>,
    /// Exchange whose body is being read, and whether it is the response's.
    body_owner: Option<(usize, bool)>,
    /// Frame of the last bytes seen, where a message read until now ends.
    last_frame: u64,
}

impl Direction {
    fn new() -> Self {
        Direction {
            state: State::Detect,
            buf: Vec::new(),
            head_frame: 0,
            line: Vec::new(),
            body_owner: None,
            last_frame: 0,
        }
    }
}

/// HTTP seen on one connection.
pub struct HttpSession {
    dirs: [Direction; 2],
    /// TCP direction index of the client (the side that sends requests).
    client_dir: Option<u8>,
    pub exchanges: Vec<Exchange>,
    unanswered: VecDeque<usize>,
    error_body: Vec<u8>,
    /// The client sent the HTTP/2 connection preface.
    pub http2: bool,
    h2: [H2Reader; 2],
    pub http2_status: Vec<(u64, u16)>,
    pub notes: Vec<String>,
}

impl Default for HttpSession {
    fn default() -> Self {
        Self::new()
    }
}

fn is_method_start(b: &[u8]) -> bool {
    let token_len = b
        .iter()
        .take(16)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    token_len >= 3
        && b.get(token_len) == Some(&b' ')
        && b.get(token_len + 1).is_some_and(|c| *c != b' ')
}

fn is_response_start(b: &[u8]) -> bool {
    b.starts_with(b"HTTP/1.")
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

impl HttpSession {
    pub fn new() -> Self {
        HttpSession {
            dirs: [Direction::new(), Direction::new()],
            client_dir: None,
            exchanges: Vec::new(),
            unanswered: VecDeque::new(),
            error_body: Vec::new(),
            http2: false,
            h2: [H2Reader::default(), H2Reader::default()],
            http2_status: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// True when neither direction can be HTTP any more.
    pub fn gave_up(&self) -> bool {
        !self.http2 && self.dirs.iter().all(|d| d.state == State::Off)
    }

    /// HTTP was found.
    pub fn detected(&self) -> bool {
        self.http2 || !self.exchanges.is_empty()
    }

    /// A CONNECT request was seen: TLS may follow inside the tunnel.
    pub fn tunnel_requested(&self) -> bool {
        self.exchanges
            .iter()
            .any(|e| e.method.as_deref() == Some("CONNECT"))
    }

    pub fn client_dir(&self) -> Option<u8> {
        self.client_dir
    }

    /// Takes contiguous bytes of direction `dir`.
    pub fn on_data(&mut self, dir: u8, mut bytes: &[u8], frame: u64, ts_ns: i64) {
        let d = (dir & 1) as usize;
        if self.http2 {
            self.h2_data(d, bytes, frame);
            return;
        }
        self.dirs[d].last_frame = frame;
        while !bytes.is_empty() {
            match self.dirs[d].state.clone() {
                State::Off => return,
                State::Detect => {
                    if bytes.starts_with(&H2_PREFACE[..bytes.len().min(H2_PREFACE.len())])
                        && bytes.len() >= 4
                    {
                        self.http2 = true;
                        self.client_dir = Some(dir);
                        let rest = bytes.get(H2_PREFACE.len()..).unwrap_or(&[]);
                        self.h2_data(d, rest, frame);
                        return;
                    }
                    if is_method_start(bytes) || is_response_start(bytes) {
                        if self.client_dir.is_none() {
                            self.client_dir =
                                Some(if is_method_start(bytes) { dir } else { 1 - dir });
                        }
                        self.dirs[d].state = State::Head;
                    } else {
                        self.dirs[d].state = State::Off;
                        return;
                    }
                }
                State::Head => {
                    let used = self.head_bytes(d, bytes, frame, ts_ns);
                    bytes = &bytes[used..];
                }
                State::Body { body, keep_for } => {
                    let used = self.body_bytes(d, bytes, body, keep_for);
                    bytes = &bytes[used..];
                }
            }
        }
    }

    /// Bytes of direction `dir` were lost.
    pub fn on_gap(&mut self, dir: u8, len: u64) {
        let d = (dir & 1) as usize;
        let state = self.dirs[d].state.clone();
        match state {
            State::Body {
                body: Body::Length(n),
                keep_for,
            } if len < n => {
                if let Some(i) = keep_for {
                    self.exchanges[i].body_incomplete = true;
                }
                self.dirs[d].state = State::Body {
                    body: Body::Length(n - len),
                    keep_for,
                };
            }
            State::Off | State::Detect => {}
            State::Head if !self.dirs[d].buf.is_empty() => {
                // The head was cut: keep what its first line says.
                let head = std::mem::take(&mut self.dirs[d].buf);
                self.partial_head(d, &head);
                self.dirs[d].state = State::Detect;
            }
            _ => {
                if let State::Body {
                    keep_for: Some(i), ..
                } = state
                {
                    self.exchanges[i].body_incomplete = true;
                }
                self.finish_body(d);
                // Resynchronise on the next head.
                self.dirs[d].state = State::Detect;
                self.dirs[d].buf.clear();
            }
        }
    }

    fn head_bytes(&mut self, d: usize, bytes: &[u8], frame: u64, ts_ns: i64) -> usize {
        let dir = &mut self.dirs[d];
        if dir.buf.is_empty() {
            dir.head_frame = frame;
        }
        // Find the end of the head in the buffered part plus this chunk.
        let before = dir.buf.len();
        let search_from = before.saturating_sub(3);
        let take = bytes.len().min(MAX_HEAD + 4 - before.min(MAX_HEAD));
        dir.buf.extend_from_slice(&bytes[..take]);
        let Some(pos) = find(&dir.buf[search_from..], b"\r\n\r\n").map(|p| p + search_from + 4)
        else {
            if dir.buf.len() > MAX_HEAD {
                dir.state = State::Off;
                dir.buf.clear();
                self.note("an HTTP head longer than 64 KiB: stopped reading this direction".into());
            }
            return take;
        };
        let head = std::mem::take(&mut dir.buf);
        let used = pos - before;
        let is_client = Some(d as u8) == self.client_dir;
        if is_client {
            self.request(d, &head[..pos], frame, ts_ns);
        } else {
            self.response(d, &head[..pos], frame, ts_ns);
        }
        used
    }

    /// A head cut short by a capture gap: record its request or status line.
    fn partial_head(&mut self, d: usize, head: &[u8]) {
        let line_end = head
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(head.len());
        let line = String::from_utf8_lossy(&head[..line_end]);
        let mut parts = line.splitn(3, ' ');
        let (a, b, c) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let frame = self.dirs[d].head_frame;
        if Some(d as u8) == self.client_dir && c.starts_with("HTTP/1.") {
            if self.exchanges.len() < MAX_EXCHANGES {
                self.exchanges.push(Exchange {
                    request_frame: Some(frame),
                    method: Some(a.to_string()),
                    target: Some(truncate(b, 512)),
                    ..Default::default()
                });
                self.unanswered.push_back(self.exchanges.len() - 1);
            }
        } else if a.starts_with("HTTP/1.") {
            let Ok(status) = b.parse::<u16>() else { return };
            if (100..200).contains(&status) {
                return;
            }
            let index = match self.unanswered.pop_front() {
                Some(i) => i,
                None if self.exchanges.len() < MAX_EXCHANGES => {
                    self.exchanges.push(Exchange::default());
                    self.exchanges.len() - 1
                }
                None => return,
            };
            let ex = &mut self.exchanges[index];
            ex.response_frame = Some(frame);
            ex.status = Some(status);
            ex.reason = Some(truncate(c, 128));
            ex.body_incomplete = true;
        }
    }

    fn request(&mut self, d: usize, head: &[u8], frame: u64, ts_ns: i64) {
        let mut headers = [httparse::EMPTY_HEADER; 96];
        let mut req = httparse::Request::new(&mut headers);
        let problem = match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => None,
            Ok(httparse::Status::Partial) => Some("the head ends early".to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            // The server answers it (often 400): keep it so the answer pairs with it, and stop
            // reading this direction, whose framing can no longer be trusted.
            if self.exchanges.len() < MAX_EXCHANGES {
                let line_end = head
                    .iter()
                    .position(|&b| b == b'\r' || b == b'\n')
                    .unwrap_or(head.len());
                let line = String::from_utf8_lossy(&head[..line_end]);
                let mut parts = line.splitn(3, ' ');
                self.exchanges.push(Exchange {
                    request_frame: Some(frame),
                    method: parts.next().map(|m| truncate(m, 32)),
                    target: parts.next().map(|t| truncate(t, 512)),
                    malformed_request: Some(problem),
                    ts_ns,
                    ..Default::default()
                });
                self.unanswered.push_back(self.exchanges.len() - 1);
            }
            self.dirs[d].state = State::Off;
            return;
        }
        let mut ex = Exchange {
            request_frame: Some(frame),
            method: req.method.map(str::to_string),
            target: req.path.map(|p| truncate(p, 512)),
            ts_ns,
            ..Default::default()
        };
        let mut length = 0u64;
        let mut chunked = false;
        for h in req.headers.iter() {
            let value = String::from_utf8_lossy(h.value);
            match h.name.to_ascii_lowercase().as_str() {
                "host" => ex.host = Some(truncate(&value, 256)),
                "authorization" => {
                    let (scheme, token) = value.split_once(' ').unwrap_or((&value, ""));
                    ex.authorization = Some(scheme.to_string());
                    let token = token.trim();
                    match scheme.to_ascii_lowercase().as_str() {
                        "basic" => ex.basic_user = basic_user(token),
                        "negotiate" | "ntlm" => {
                            ex.auth_token = token_kind(token);
                            ex.negotiate_request = negotiate(token);
                        }
                        _ => {}
                    }
                }
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                _ => {}
            }
        }
        ex.expects_no_body = ex.method.as_deref() == Some("HEAD");
        if self.exchanges.len() < MAX_EXCHANGES {
            self.exchanges.push(ex);
            self.unanswered.push_back(self.exchanges.len() - 1);
        }
        self.dirs[d].body_owner = self.unanswered.back().map(|&i| (i, false));
        self.dirs[d].state = if chunked {
            State::Body {
                body: Body::Chunked(Chunk::Size),
                keep_for: None,
            }
        } else if length > 0 {
            State::Body {
                body: Body::Length(length),
                keep_for: None,
            }
        } else {
            State::Head
        };
    }

    fn response(&mut self, d: usize, head: &[u8], frame: u64, ts_ns: i64) {
        let mut headers = [httparse::EMPTY_HEADER; 96];
        let mut resp = httparse::Response::new(&mut headers);
        if !matches!(resp.parse(head), Ok(httparse::Status::Complete(_))) {
            self.dirs[d].state = State::Off;
            return;
        }
        let status = resp.code.unwrap_or(0);
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut www = Vec::new();
        let mut negotiate_response = None;
        let mut upgrade: Option<String> = None;
        for h in resp.headers.iter() {
            let value = String::from_utf8_lossy(h.value);
            match h.name.to_ascii_lowercase().as_str() {
                "www-authenticate" => {
                    let scheme = value.split([' ', ',']).next().unwrap_or("").to_string();
                    if scheme.eq_ignore_ascii_case("negotiate") && negotiate_response.is_none() {
                        negotiate_response = negotiate(value[scheme.len()..].trim());
                    }
                    if !scheme.is_empty() && !www.contains(&scheme) {
                        www.push(scheme);
                    }
                }
                "content-length" => length = value.trim().parse().ok(),
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                "upgrade" => upgrade = Some(truncate(value.trim(), 64).to_ascii_lowercase()),
                _ => {}
            }
        }
        if (100..200).contains(&status) && status != 101 {
            // Interim response (100 Continue): the final one follows.
            self.dirs[d].state = State::Head;
            return;
        }
        let index = match self.unanswered.pop_front() {
            Some(i) => i,
            None => {
                if self.exchanges.len() >= MAX_EXCHANGES {
                    self.dirs[d].state = State::Off;
                    return;
                }
                self.exchanges.push(Exchange::default());
                self.exchanges.len() - 1
            }
        };
        let ex = &mut self.exchanges[index];
        ex.response_frame = Some(frame);
        ex.status = Some(status);
        ex.reason = resp.reason.map(|r| truncate(r, 128));
        ex.www_authenticate = www;
        ex.negotiate_response = negotiate_response;
        if ex.ts_ns == 0 {
            ex.ts_ns = ts_ns;
        }
        if status == 101 {
            // Switching Protocols is final: the bytes after it, both ways, are the new
            // protocol (WebSocket, h2c...), not HTTP.
            let to = upgrade.unwrap_or_else(|| "another protocol".into());
            self.note(format!("upgraded to {to} at frame {frame}"));
            for dir in &mut self.dirs {
                dir.state = State::Off;
                dir.buf.clear();
            }
            self.unanswered.clear();
            return;
        }
        let no_body = ex.expects_no_body || status == 204 || status == 304;
        self.dirs[d].body_owner = Some((index, true));
        let keep_for = (status >= 400).then_some(index);
        self.error_body.clear();
        self.dirs[d].state = if no_body {
            State::Head
        } else if chunked {
            State::Body {
                body: Body::Chunked(Chunk::Size),
                keep_for,
            }
        } else {
            match length {
                Some(0) => State::Head,
                Some(n) => State::Body {
                    body: Body::Length(n),
                    keep_for,
                },
                None => State::Body {
                    body: Body::UntilClose,
                    keep_for,
                },
            }
        };
        if self.dirs[d].state == State::Head && keep_for.is_some() {
            self.finish_body(d);
        }
    }

    /// Consumes body bytes; returns how many were used.
    fn body_bytes(&mut self, d: usize, bytes: &[u8], body: Body, keep_for: Option<usize>) -> usize {
        let keep = |s: &mut Self, part: &[u8]| {
            if keep_for.is_some() && s.error_body.len() < MAX_ERROR_BODY {
                let room = MAX_ERROR_BODY - s.error_body.len();
                s.error_body
                    .extend_from_slice(&part[..part.len().min(room)]);
            }
        };
        match body {
            Body::UntilClose => {
                keep(self, bytes);
                bytes.len()
            }
            Body::Length(n) => {
                let take = (n.min(bytes.len() as u64)) as usize;
                keep(self, &bytes[..take]);
                if take as u64 == n {
                    self.finish_body(d);
                    self.dirs[d].state = State::Head;
                } else {
                    self.dirs[d].state = State::Body {
                        body: Body::Length(n - take as u64),
                        keep_for,
                    };
                }
                take
            }
            Body::Chunked(chunk) => {
                let mut used = 0;
                let mut chunk = chunk;
                while used < bytes.len() {
                    match chunk {
                        Chunk::Size | Chunk::Trailer => {
                            let Some(nl) = bytes[used..].iter().position(|&b| b == b'\n') else {
                                let line = &mut self.dirs[d].line;
                                if line.len() < 1024 {
                                    line.extend_from_slice(&bytes[used..]);
                                }
                                used = bytes.len();
                                break;
                            };
                            let line = &mut self.dirs[d].line;
                            line.extend_from_slice(&bytes[used..used + nl]);
                            used += nl + 1;
                            let text = String::from_utf8_lossy(line).trim().to_string();
                            line.clear();
                            if chunk == Chunk::Trailer {
                                if text.is_empty() {
                                    self.finish_body(d);
                                    self.dirs[d].state = State::Head;
                                    return used;
                                }
                                continue;
                            }
                            let hex = text.split(';').next().unwrap_or("").trim();
                            match u64::from_str_radix(hex, 16) {
                                Ok(0) => chunk = Chunk::Trailer,
                                Ok(n) => chunk = Chunk::Data(n),
                                Err(_) => {
                                    // Not a chunk size: the framing is lost.
                                    self.finish_body(d);
                                    self.dirs[d].state = State::Detect;
                                    return used;
                                }
                            }
                        }
                        Chunk::Data(n) => {
                            let take = (n.min((bytes.len() - used) as u64)) as usize;
                            keep(self, &bytes[used..used + take]);
                            used += take;
                            chunk = if take as u64 == n {
                                Chunk::DataEnd
                            } else {
                                Chunk::Data(n - take as u64)
                            };
                        }
                        Chunk::DataEnd => {
                            // The CRLF after the chunk data.
                            match bytes[used] {
                                b'\r' => used += 1,
                                b'\n' => {
                                    used += 1;
                                    chunk = Chunk::Size;
                                }
                                _ => chunk = Chunk::Size,
                            }
                        }
                    }
                }
                self.dirs[d].state = State::Body {
                    body: Body::Chunked(chunk),
                    keep_for,
                };
                used
            }
        }
    }

    /// The body of the current message ended (Wireshark shows the message in the frame that
    /// completes its body); for an error response, look for the IIS sub-status in it.
    fn finish_body(&mut self, d: usize) {
        if let Some((i, response)) = self.dirs[d].body_owner.take() {
            let frame = self.dirs[d].last_frame;
            let incomplete = self.exchanges[i].body_incomplete;
            if frame > 0 && !incomplete {
                if response {
                    self.exchanges[i].response_frame = Some(frame);
                } else {
                    self.exchanges[i].request_frame = Some(frame);
                }
            }
        }
        if let State::Body {
            keep_for: Some(i), ..
        } = self.dirs[d].state
        {
            self.set_substatus(i);
        }
        if let Some(i) = self.exchanges.len().checked_sub(1) {
            if self.exchanges[i].substatus.is_none() && !self.error_body.is_empty() {
                self.set_substatus(i);
            }
        }
        self.error_body.clear();
    }

    fn set_substatus(&mut self, i: usize) {
        let Some(status) = self.exchanges[i].status else {
            return;
        };
        if self.exchanges[i].substatus.is_none() {
            self.exchanges[i].substatus = iis_substatus(&self.error_body, status);
            if self.exchanges[i].substatus.is_some() {
                self.exchanges[i].substatus_source = Some("body");
            }
        }
    }

    /// End of the connection: a body read until close is complete now.
    pub fn finish(&mut self) {
        for d in 0..2 {
            if matches!(self.dirs[d].state, State::Body { .. }) {
                self.finish_body(d);
            }
        }
    }

    fn note(&mut self, text: String) {
        if self.notes.len() < 16 && !self.notes.contains(&text) {
            self.notes.push(text);
        }
    }

    fn h2_data(&mut self, d: usize, bytes: &[u8], frame: u64) {
        let server = Some(d as u8) != self.client_dir;
        let reader = &mut self.h2[d];
        for status in reader.feed(bytes, server) {
            if self.http2_status.len() < MAX_EXCHANGES {
                self.http2_status.push((frame, status));
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// The user name of Basic credentials, never the password.
#[cfg(test)]
mod tests {
    use super::h2::{h2_status, huffman_digits};
    use super::*;

    fn feed(s: &mut HttpSession, dir: u8, text: &[u8], frame: u64) {
        s.on_data(dir, text, frame, 0);
    }

    #[test]
    fn switching_protocols_is_final_and_ends_http() {
        let mut s = HttpSession::new();
        feed(
            &mut s,
            0,
            b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            4,
        );
        feed(&mut s, 1, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello", 6);
        // WebSocket frames both ways, one of them looking like HTTP: not parsed.
        feed(&mut s, 0, b"\x81\x85abcdHTTP/1.1 200 OK\r\n\r\n", 8);
        feed(&mut s, 1, b"GET / HTTP/1.1\r\n\r\n", 9);
        assert_eq!(s.exchanges.len(), 1);
        let ex = &s.exchanges[0];
        assert_eq!(
            (ex.request_frame, ex.response_frame, ex.status),
            (Some(4), Some(6), Some(101))
        );
        assert_eq!(ex.method.as_deref(), Some("GET"));
        assert_eq!(
            s.notes,
            vec!["upgraded to websocket at frame 6".to_string()]
        );
        assert!(s.unanswered.is_empty());
    }

    #[test]
    fn keep_alive_pipelining_and_continue() {
        let mut s = HttpSession::new();
        feed(&mut s, 0, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n", 1);
        feed(
            &mut s,
            1,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            2,
        );
        feed(&mut s, 1, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nTransfer-Encoding: chunked\r\n\r\n", 3);
        feed(
            &mut s,
            1,
            b"1a\r\nHTTP Error 401.2 - Unauth\r\n0\r\n\r\n",
            4,
        );
        assert_eq!(s.exchanges.len(), 2);
        assert_eq!(s.exchanges[0].status, Some(200));
        assert_eq!(s.exchanges[0].response_frame, Some(2));
        let b = &s.exchanges[1];
        // The response shows in the frame that completes its chunked body, as in Wireshark.
        assert_eq!(
            (b.status, b.request_frame, b.response_frame),
            (Some(401), Some(1), Some(4))
        );
        assert_eq!(b.www_authenticate, vec!["Negotiate", "NTLM"]);
        assert_eq!(b.basic_user.as_deref(), Some("alice"));
        assert_eq!(b.substatus.as_deref(), Some("401.2"));
    }

    #[test]
    fn response_without_request_and_gap_in_body() {
        let mut s = HttpSession::new();
        feed(
            &mut s,
            1,
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\nabc",
            7,
        );
        s.on_gap(1, 50);
        feed(&mut s, 1, &[b'x'; 47], 8);
        feed(
            &mut s,
            1,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            9,
        );
        assert_eq!(s.exchanges.len(), 2);
        assert_eq!(s.exchanges[0].status, Some(403));
        assert!(s.exchanges[0].body_incomplete);
        assert_eq!(s.exchanges[1].status, Some(200));
    }

    #[test]
    fn tokens() {
        assert_eq!(token_kind("TlRMTVNTUAABAAAAB4IIog=="), Some("ntlm"));
        assert_eq!(basic_user("dXNlcjpwYXNz").as_deref(), Some("user"));
        assert_eq!(
            iis_substatus(b"HTTP Error 403.16 - Forbidden", 403).as_deref(),
            Some("403.16")
        );
        assert_eq!(iis_substatus(b"version 1403.7", 403), None);
        assert_eq!(substatus_meaning("403.7"), "client certificate required");
    }

    proptest::proptest! {
        /// Any bytes, cut anywhere, with gaps: no panic, and bounded state.
        #[test]
        fn arbitrary_input_never_panics(
            chunks in proptest::collection::vec(
                (proptest::num::u8::ANY, proptest::collection::vec(proptest::num::u8::ANY, 0..300)),
                1..40,
            ),
        ) {
            let mut s = HttpSession::new();
            // Start as HTTP so the parser (not just detection) sees the bytes.
            s.on_data(0, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0);
            s.on_data(1, b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n", 2, 0);
            for (i, (sel, bytes)) in chunks.iter().enumerate() {
                let dir = sel & 1;
                if sel & 0x30 == 0x30 {
                    s.on_gap(dir, bytes.len() as u64 + 1);
                } else {
                    s.on_data(dir, bytes, i as u64 + 3, 0);
                }
            }
            s.finish();
            proptest::prop_assert!(s.exchanges.len() <= MAX_EXCHANGES);
        }
    }

    #[test]
    fn not_http_gives_up() {
        let mut s = HttpSession::new();
        feed(&mut s, 0, b"\x16\x03\x01\x00\x05hello", 1);
        feed(&mut s, 1, b"SSH-2.0-OpenSSH", 2);
        assert!(s.gave_up());
    }

    #[test]
    fn http2_status_from_static_and_huffman() {
        // :status 200 indexed (0x88); :status 401 as literal with Huffman digits.
        assert_eq!(h2_status(&[0x88], 0x04), Some(200));
        // "401" = 011010 00000 00001 -> 0110 1000 0000 0001 + padding: 0x68 0x01 then 0b1.. ;
        // 16 bits exactly, so no padding: 0x68, 0x01.
        assert_eq!(huffman_digits(&[0x68, 0x01]).as_deref(), Some("401"));
        assert_eq!(h2_status(&[0x48, 0x82, 0x68, 0x01], 0x04), Some(401));
        assert_eq!(h2_status(&[0x48, 0x03, b'4', b'0', b'3'], 0x04), Some(403));
        // A dynamic table size update with a multi-byte integer comes first.
        assert_eq!(h2_status(&[0x3f, 0xe1, 0x5f, 0x88], 0x04), Some(200));
    }

    #[test]
    fn huffman_bytes_that_are_not_digits() {
        // Found by fuzz/http: bits that match no digit code piled up until the shifts
        // overflowed (a panic in debug builds). They are simply not digits.
        assert_eq!(huffman_digits(&[0xff; 6]), None);
        assert_eq!(huffman_digits(&[0xb3; 40]), None);
        assert_eq!(
            h2_status(&[0x48, 0x86, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0x04),
            None
        );
        // Padding of up to 7 one bits still ends a digit string: "1" = 00001 + 111.
        assert_eq!(huffman_digits(&[0b0000_1111]).as_deref(), Some("1"));
    }
}
