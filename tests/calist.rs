//! `tlsdiag calist`: the CA list a server trusting a store would send, checked name by name
//! against sizes computed independently (captures/serverkey/trust/300-cas.expected.txt) and
//! against the CertificateRequest of a real capture made with the same store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tlsdiag::trust::TrustStore;

fn trust() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/serverkey/trust")
}

fn calist(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .current_dir(trust())
        .arg("calist")
        .args(args)
        .output()
        .unwrap()
}

fn store(paths: &[&str]) -> TrustStore {
    let mut s = TrustStore::default();
    for p in paths {
        s.add_path(&trust().join(p)).unwrap();
    }
    s
}

#[test]
fn three_hundred_cas_match_the_independent_sizes() {
    let plan = store(&["300-cas.pem"]).ca_list();
    let expected = std::fs::read_to_string(trust().join("300-cas.expected.txt")).unwrap();
    let rows: Vec<Vec<&str>> = expected
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|l| l.splitn(4, '\t').collect())
        .collect();
    assert_eq!(rows.len(), 300);
    assert_eq!(plan.names.len(), 300);
    for (row, name) in rows.iter().zip(&plan.names) {
        assert_eq!(row[0].parse::<usize>().unwrap(), name.index);
        assert_eq!(
            row[1].parse::<usize>().unwrap(),
            name.der_len,
            "#{}",
            name.index
        );
        assert_eq!(
            row[2].parse::<usize>().unwrap(),
            name.running_total,
            "#{}",
            name.index
        );
        assert_eq!(row[3], name.dn, "#{}", name.index);
    }
    assert_eq!(plan.ca_list_bytes, 32_737);
    assert_eq!(plan.passes_warn_at, Some(114));
    assert_eq!(plan.names[113].running_total, 12_337);
    assert_eq!(plan.passes_schannel_at, Some(150));
    assert_eq!(plan.names[149].running_total, 16_483);
    assert_eq!(plan.cut, 151);
    assert!(!plan.names[148].past_schannel && plan.names[149].past_schannel);
}

#[test]
fn text_output_names_the_limits_and_the_cut() {
    let out = calist(&["--trust", "300-cas.pem"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("CA list a server trusting these certificates would send: 300 name(s), 32,737 bytes on the wire"), "{text}");
    assert!(
        text.contains("passes 12,288 bytes at name #114 (12,337 bytes)"),
        "{text}"
    );
    assert!(text.contains("passes Schannel's 16,384 bytes at name #150 (16,483 bytes): Schannel would cut names #150-#300 (151 names)"), "{text}");
    assert!(text.contains("  150   104   16483  CN=tlsdiag CA 150 Devices,OU=Policy Delta Internal Delta,O=Devices,C=US  [cut by Schannel]"), "{text}");
    assert!(
        text.contains("  114   110   12337  CN=tlsdiag CA 114 "),
        "{text}"
    );
}

#[test]
fn json_has_the_wire_total_and_the_names() {
    let out = calist(&["--trust", "300-cas.pem", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = &v["ca_list"];
    assert_eq!(list["ca_list_bytes"], 32_737);
    assert_eq!(list["count"], 300);
    assert_eq!(list["passes_warn_at"], 114);
    assert_eq!(list["passes_schannel_at"], 150);
    assert_eq!(
        list["names"][0]["dn"],
        "CN=tlsdiag CA 001 Department Alpha Federation Department Workstatio,C=US"
    );
    assert_eq!(list["names"][299]["running_total"], 32_737);
    assert_eq!(v["trust"][0], "300-cas.pem");
}

#[test]
fn every_store_format_reads_the_same_certificates() {
    let subjects = |paths: &[&str]| -> Vec<String> {
        store(paths)
            .ca_list()
            .names
            .into_iter()
            .map(|n| n.dn)
            .collect()
    };
    let root = "CN=tlsdiag Serverkey Root CA,O=tlsdiag serverkey PKI,C=US";
    let inter = "CN=tlsdiag Serverkey Intermediate CA,O=tlsdiag serverkey PKI,C=US";
    let unrelated = "CN=Unrelated Root CA,O=Unrelated Org,C=US";
    assert_eq!(subjects(&["root.pem"]), vec![root]);
    assert_eq!(subjects(&["root.der"]), vec![root]);
    assert_eq!(subjects(&["roots.p7b"]), vec![root, inter]);
    assert_eq!(subjects(&["bundle.pem"]), vec![root, inter, unrelated]);
    // The directory's rehash symlinks point at the same files: each certificate once.
    let dir = store(&["dir"]);
    assert_eq!(dir.certs.len(), 3);
    // Several stores: duplicates across them are dropped.
    assert_eq!(
        subjects(&["root.der", "bundle.pem", "roots.p7b"]),
        vec![root, inter, unrelated]
    );
}

#[test]
fn the_plan_matches_what_the_server_sent() {
    // s_server was given trust/root.pem as its client CA file: its CertificateRequest in
    // rsa-kx-tls12-gcm.pcap carries exactly this list.
    let plan = store(&["root.pem"]).ca_list();
    assert_eq!(plan.ca_list_bytes, 85);
    let r = tlsdiag::analyze_path(
        &trust().join("../rsa-kx-tls12-gcm.pcap"),
        tlsdiag::Options::default(),
    )
    .unwrap();
    let cr = r.connections[0]
        .messages
        .iter()
        .find_map(|m| match &m.detail {
            Some(tlsdiag::tls::Detail::CertificateRequest(cr)) => Some(cr.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(cr.ca_list_bytes, plan.ca_list_bytes);
    assert_eq!(cr.ca_names[0].dn, plan.names[0].dn);
}

#[test]
fn bad_input_is_a_clear_error() {
    let out = calist(&["--trust", "../server-key.pkcs8.pem"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "tlsdiag: --trust ../server-key.pkcs8.pem: no CERTIFICATE block in the PEM text"
    );
    let out = calist(&["--trust", "no-such-file"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("tlsdiag: --trust no-such-file: "));
    let out = calist(&[]);
    assert_eq!(out.status.code(), Some(2));
}
