//! DNS answers (A, AAAA and CNAME, with name compression) remembered so findings can tell
//! whether the capture holds traffic to a host a certificate names (CRL, OCSP).

use std::net::{Ipv4Addr, Ipv6Addr};

use rustc_hash::FxHashMap;

/// Reads a possibly compressed DNS name at `pos`; returns it and the position after it.
pub(super) fn dns_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    for _ in 0..64 {
        let len = *msg.get(pos)? as usize;
        if len == 0 {
            return Some((name, end.unwrap_or(pos + 1)));
        }
        if len & 0xc0 == 0xc0 {
            let target = ((len & 0x3f) << 8) | *msg.get(pos + 1)? as usize;
            end.get_or_insert(pos + 2);
            pos = target;
            continue;
        }
        let label = msg.get(pos + 1..pos + 1 + len)?;
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
        pos += 1 + len;
    }
    None
}

/// Records the A/AAAA answers (and CNAME aliases) of a DNS response.
pub(super) fn dns_answers(msg: &[u8], out: &mut FxHashMap<String, Vec<String>>) {
    if msg.len() < 12 || msg[2] & 0x80 == 0 {
        return;
    }
    let questions = u16::from_be_bytes([msg[4], msg[5]]);
    let answers = u16::from_be_bytes([msg[6], msg[7]]);
    let mut pos = 12;
    for _ in 0..questions {
        let Some((_, next)) = dns_name(msg, pos) else {
            return;
        };
        pos = next + 4;
    }
    let mut aliases: Vec<(String, String)> = Vec::new();
    for _ in 0..answers.min(64) {
        let Some((name, next)) = dns_name(msg, pos) else {
            return;
        };
        let Some(fixed) = msg.get(next..next + 10) else {
            return;
        };
        let kind = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        let Some(rdata) = msg.get(next + 10..next + 10 + rdlen) else {
            return;
        };
        let ip = match (kind, rdlen) {
            (1, 4) => Some(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string()),
            (28, 16) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(rdata);
                Some(Ipv6Addr::from(a).to_string())
            }
            (5, _) => {
                if let Some((target, _)) = dns_name(msg, next + 10) {
                    aliases.push((name.clone(), target));
                }
                None
            }
            _ => None,
        };
        if let Some(ip) = ip {
            let ips = out.entry(name).or_default();
            if !ips.contains(&ip) && ips.len() < 16 {
                ips.push(ip);
            }
        }
        pos = next + 10 + rdlen;
    }
    // An alias resolves to what its target resolves to.
    for (alias, target) in aliases {
        if let Some(ips) = out.get(&target).cloned() {
            out.entry(alias).or_default().extend(ips);
        }
    }
}
