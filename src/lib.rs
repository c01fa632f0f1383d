//! tlsdiag reads packet captures offline and explains why TLS client-certificate
//! authentication failed.
//!
//! The modules follow the data: [`capture`] streams pcap/pcapng blocks, [`packet`] peels link
//! layers and IP down to TCP segments, [`tcp`] numbers conversations like Wireshark and
//! reassembles each direction, [`tls`] frames records and reassembles handshake messages,
//! [`x509`] describes certificates and names, [`analyzer`] wires them together for one capture,
//! [`findings`] explains what went wrong, and [`report`] renders it all. [`budget`] bounds the
//! bytes held while waiting for more (`--max-memory`).

pub mod analyzer;
pub mod budget;
pub mod capture;
pub mod check;
pub mod findings;
pub mod http;
pub mod iislog;
pub mod kerberos;
pub mod keylog;
pub mod model;
pub mod packet;
pub mod render;
pub mod schannel;
pub mod serverkey;
pub mod tcp;
pub mod tls;
pub mod trust;
pub mod x509;

pub use analyzer::{analyze_bytes, analyze_path, analyze_path_sharded, Analyzer, Options};
pub use model::{ConnectionReport, FileReport};
