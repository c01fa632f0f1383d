//! `-f html`: one self-contained page (nothing fetched), with the verdict, a ladder diagram per
//! problem connection, the CA list with its sizes, the chains as cards and copyable filters;
//! rendered in headless Chromium, which must report no console error.

use std::path::{Path, PathBuf};
use std::process::Command;

fn capture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

fn html(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(["-f", "html"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn page() -> String {
    let reneg = capture("clientauth/reneg-aborted-empty-cert.pcap");
    let reneg_keys = capture("clientauth/reneg-aborted-empty-cert.keys");
    let ca = capture("tls12-ca-list-17k.pcap");
    let ca_keys = capture("tls12-ca-list-17k.keys");
    let ok = capture("tls13-cr-small.pcap");
    html(&[
        "--keylog",
        reneg_keys.to_str().unwrap(),
        "--keylog",
        ca_keys.to_str().unwrap(),
        reneg.to_str().unwrap(),
        ca.to_str().unwrap(),
        ok.to_str().unwrap(),
    ])
}

#[test]
fn html_report_is_self_contained_and_complete() {
    let page = page();
    assert!(page.starts_with("<!DOCTYPE html>"));
    // Nothing outside the file: no fetched scripts, styles, images or fonts.
    for external in [
        "src=\"http",
        "href=\"http",
        "@import",
        "url(http",
        "url(//",
        "<link",
        "<img",
    ] {
        assert!(!page.contains(external), "{external}");
    }
    // The verdict before the first connection.
    let verdict = page.find("<h2>Verdict</h2>").unwrap();
    assert!(verdict < page.find("id=\"stream-0\"").unwrap());
    // The renegotiation aborted after the empty certificate: its ladder marks the fatal alert.
    assert!(page.contains("renegotiation started by the server (failed)"));
    assert!(page.contains("font-weight=\"700\">Alert fatal handshake_failure (40)</text>"));
    assert!(page.contains(">frame 15</text>"));
    assert!(page.contains("Certificate (empty) (decrypted)"));
    // The 17 KB CA list: 83 rows, the 16,384-byte line drawn once, the rows past it marked.
    assert!(page.contains("CertificateRequest (frame 10): 83 CA name(s), 17006 bytes"));
    assert_eq!(page.matches("<tr class=\"limit over\">").count(), 1);
    assert_eq!(page.matches("<tr class=\"over\">").count(), 2);
    assert_eq!(page.matches("<tr class=\"warnline\">").count(), 1);
    // Filters with copy buttons.
    assert!(page.contains(
        "<button class=\"copy\" type=\"button\" data-filter=\"tcp.stream eq 0 &amp;&amp; tls.handshake.type == 13\">copy</button>"
    ));
    // The healthy TLS 1.3 capture is in the table, not drawn.
    assert!(page.contains("1 connection(s) without a problem"));
}

/// Headless Chromium loads the page; its script must run to the end and no console message may
/// appear. Skipped (with a message) where Chromium is absent, unless TLSDIAG_REQUIRE_CHROMIUM is
/// set, as .ci/run does after installing it.
#[test]
fn html_report_renders_in_chromium_without_console_errors() {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(chromium) = chromium else {
        assert!(
            std::env::var_os("TLSDIAG_REQUIRE_CHROMIUM").is_none(),
            "Chromium is required (TLSDIAG_REQUIRE_CHROMIUM) but not installed"
        );
        println!("SKIPPED: no chromium on this machine (apt-get install chromium)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("tlsdiag-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.html");
    std::fs::write(&file, page()).unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            "--dump-dom",
        ])
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "{console:#?}");
    assert!(
        dom.contains("data-ready=\"ok\""),
        "the page's script did not finish"
    );
    assert!(dom.contains("<svg"));
    let _ = std::fs::remove_dir_all(&dir);
}
