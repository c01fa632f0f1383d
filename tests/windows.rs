//! The Windows side beyond Kerberos: `.etl` traces answered with the command that converts
//! them.

use std::process::Command;

fn tlsdiag(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn etl_trace_is_answered_with_the_conversion_command() {
    // Constructed from the documented layout (no Windows here): a WMI_BUFFER_HEADER of 0x48
    // bytes, then the SYSTEM_TRACE_HEADER of the logfile-header event (version 2, 64-bit system
    // header, marker 0xC0, hook 0x0000). The name says nothing: the content is recognised.
    let dir = std::env::temp_dir().join(format!("tlsdiag-etl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut b = vec![0u8; 4096];
    b[0..4].copy_from_slice(&0x10000u32.to_le_bytes());
    b[0x48..0x4e].copy_from_slice(&[2, 0, 2, 0xc0, 0, 0]);
    let path = dir.join("NetTrace.bin");
    std::fs::write(&path, &b).unwrap();
    let (code, _, err) = tlsdiag(&[path.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("a Windows ETW trace (.etl"), "{err}");
    assert!(
        err.contains("pktmon etl2pcap FILE.etl --out FILE.pcapng"),
        "{err}"
    );
    assert!(!err.contains("not a pcap or pcapng capture"), "{err}");
    // Any other bytes named .etl get the same answer instead of "not a pcap".
    let named = dir.join("trace.ETL");
    std::fs::write(&named, b"garbage that is no capture").unwrap();
    let (_, _, err) = tlsdiag(&[named.to_str().unwrap()]);
    assert!(err.contains("etl2pcapng"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
