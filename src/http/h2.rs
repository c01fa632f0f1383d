//! HTTP/2 response `:status` values read from HEADERS frames where that needs no HPACK dynamic
//! table (indexed static entries, or literals with the `:status` name, Huffman digits decoded).

/// Reads HTTP/2 frames of one direction and yields the `:status` of response HEADERS when it is
/// encoded without the HPACK dynamic table (indexed static entries, or literals with the
/// `:status` name; Huffman-coded digits are decoded).
#[derive(Default)]
pub(super) struct H2Reader {
    buf: Vec<u8>,
    broken: bool,
}

impl H2Reader {
    pub(super) fn feed(&mut self, bytes: &[u8], server: bool) -> Vec<u16> {
        let mut out = Vec::new();
        if self.broken || !server {
            return out;
        }
        self.buf.extend_from_slice(bytes);
        let mut pos = 0;
        while self.buf.len() >= pos + 9 {
            let len = u32::from_be_bytes([0, self.buf[pos], self.buf[pos + 1], self.buf[pos + 2]])
                as usize;
            if len > 1 << 24 {
                self.broken = true;
                break;
            }
            if self.buf.len() < pos + 9 + len {
                break;
            }
            let kind = self.buf[pos + 3];
            let flags = self.buf[pos + 4];
            let payload = &self.buf[pos + 9..pos + 9 + len];
            if kind == 1 {
                if let Some(s) = h2_status(payload, flags) {
                    out.push(s);
                }
            }
            pos += 9 + len;
        }
        self.buf.drain(..pos);
        if self.buf.len() > 1 << 20 {
            self.broken = true;
            self.buf.clear();
        }
        out
    }
}

/// `:status` from the start of a HEADERS frame's header block.
pub(crate) fn h2_status(payload: &[u8], flags: u8) -> Option<u16> {
    let mut p = payload;
    if flags & 0x08 != 0 {
        let pad = *p.first()? as usize;
        p = p.get(1..p.len().checked_sub(pad)?)?;
    }
    if flags & 0x20 != 0 {
        p = p.get(5..)?;
    }
    // Skip dynamic table size updates (001xxxxx, a 5-bit-prefix integer).
    while p.first().is_some_and(|b| b & 0xe0 == 0x20) {
        p = skip_hpack_int(p, 5)?;
    }
    let first = *p.first()?;
    // Indexed header field: static table entries 8..14 are :status values.
    if first & 0x80 != 0 {
        return match first & 0x7f {
            8 => Some(200),
            9 => Some(204),
            10 => Some(206),
            11 => Some(304),
            12 => Some(400),
            13 => Some(404),
            14 => Some(500),
            _ => None,
        };
    }
    // Literal with indexed name: 01xxxxxx (6-bit index) or 0000xxxx / 0001xxxx (4-bit index).
    let index = if first & 0xc0 == 0x40 {
        first & 0x3f
    } else {
        first & 0x0f
    };
    if !(8..=14).contains(&index) {
        return None;
    }
    let len_byte = *p.get(1)?;
    let huffman = len_byte & 0x80 != 0;
    let len = (len_byte & 0x7f) as usize;
    let value = p.get(2..2 + len)?;
    let text = if huffman {
        huffman_digits(value)?
    } else {
        String::from_utf8_lossy(value).into_owned()
    };
    text.parse().ok()
}

/// Skips an HPACK integer with an `n`-bit prefix (RFC 7541 5.1).
pub(crate) fn skip_hpack_int(p: &[u8], n: u32) -> Option<&[u8]> {
    let max = (1u8 << n) - 1;
    if p.first()? & max != max {
        return p.get(1..);
    }
    let mut i = 1;
    while p.get(i)? & 0x80 != 0 {
        i += 1;
        if i > 6 {
            return None;
        }
    }
    p.get(i + 1..)
}

/// Decodes a Huffman-coded string made of digits only (RFC 7541 appendix B codes for '0'-'9').
pub(crate) fn huffman_digits(bytes: &[u8]) -> Option<String> {
    let codes: [(u32, u8); 10] = [
        (0b00000, 5),
        (0b00001, 5),
        (0b00010, 5),
        (0b011001, 6),
        (0b011010, 6),
        (0b011011, 6),
        (0b011100, 6),
        (0b011101, 6),
        (0b011110, 6),
        (0b011111, 6),
    ];
    let mut out = String::new();
    let mut acc: u32 = 0;
    let mut bits = 0u8;
    for &b in bytes {
        acc = (acc << 8) | b as u32;
        bits += 8;
        loop {
            let mut matched = false;
            for (digit, &(code, len)) in codes.iter().enumerate() {
                if bits >= len && (acc >> (bits - len)) & ((1 << len) - 1) == code {
                    out.push((b'0' + digit as u8) as char);
                    bits -= len;
                    acc &= (1u32 << bits) - 1;
                    matched = true;
                    break;
                }
            }
            if !matched || bits < 5 {
                break;
            }
        }
        // Eight bits that start no digit's code are not padding either: not digits. (Going on
        // would let `bits` grow past 32 and overflow the shifts; found by fuzz/http.)
        if bits >= 8 {
            return None;
        }
    }
    // What is left must be EOS padding: all ones, under 8 bits.
    (bits < 8 && acc == (1u32 << bits) - 1).then_some(out)
}
