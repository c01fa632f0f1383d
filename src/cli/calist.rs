//! `tlsdiag calist`: the CA list a server trusting the given certificates would send, before it
//! is deployed, with the sizes that decide whether clients (and Schannel) cope with it.

use std::process::ExitCode;

use tlsdiag::trust::{CaListPlan, TrustStore};

use super::args::{CalistArgs, CalistFormat};
use super::EXIT_INPUT_ERROR;

pub(crate) fn run(args: CalistArgs) -> ExitCode {
    let mut store = TrustStore::default();
    for path in &args.trust {
        if let Err(e) = store.add_path(path) {
            eprintln!("tlsdiag: --trust {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    }
    for w in &store.warnings {
        eprintln!("tlsdiag: warning: {w}");
    }
    let plan = store.ca_list();
    match args.format {
        CalistFormat::Json => {
            let trust: Vec<String> = args.trust.iter().map(|p| p.display().to_string()).collect();
            let value = serde_json::json!({ "trust": trust, "ca_list": plan });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
        CalistFormat::Text => print!("{}", render(&plan)),
    }
    ExitCode::SUCCESS
}

/// 32737 -> "32,737".
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn render(plan: &CaListPlan) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "CA list a server trusting these certificates would send: {} name(s), {} bytes on the wire (ca_list_bytes: 2-byte length plus DER per name)",
        plan.count,
        thousands(plan.ca_list_bytes)
    );
    let _ = writeln!(o, "{:>5} {:>5} {:>7}  name", "#", "DER", "total");
    for n in &plan.names {
        let mark = if n.past_schannel {
            "  [cut by Schannel]"
        } else if n.past_warn {
            "  [past 12 KB]"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "{:>5} {:>5} {:>7}  {}{mark}",
            n.index,
            n.der_len,
            n.running_total,
            tlsdiag::render::text::escape_controls(&n.dn)
        );
    }
    let at = |i: Option<usize>| i.and_then(|i| plan.names.get(i - 1));
    match at(plan.passes_warn_at) {
        Some(n) => {
            let _ = writeln!(
                o,
                "passes {} bytes at name #{} ({} bytes): large lists break some clients (the ca-list-large warning)",
                thousands(plan.warn_bytes),
                n.index,
                thousands(n.running_total)
            );
        }
        None => {
            let _ = writeln!(o, "stays within {} bytes", thousands(plan.warn_bytes));
        }
    }
    match at(plan.passes_schannel_at) {
        Some(n) => {
            let _ = writeln!(
                o,
                "passes Schannel's {} bytes at name #{} ({} bytes): Schannel would cut names #{}-#{} ({} names); clients whose issuer is among them find no matching certificate",
                thousands(plan.schannel_limit),
                n.index,
                thousands(n.running_total),
                n.index,
                plan.count,
                plan.cut
            );
        }
        None => {
            let _ = writeln!(
                o,
                "stays within Schannel's {} bytes",
                thousands(plan.schannel_limit)
            );
        }
    }
    o
}
