//! Shared by the targets whose input the CLI reads from a file it is given (`--iis-log`,
//! `--schannel-events`, `--server-key`, `--trust`): they call the same path-taking entry points,
//! so the input is written to a scratch file first.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Writes `data` to this process's scratch file and returns its path. The file is in
/// `/dev/shm` when there is one (memory, not disk: one write per execution), else in the
/// temporary directory; one file per process and target, overwritten on every execution.
pub fn scratch_file(target: &str, extension: &str, data: &[u8]) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let base = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("tlsdiag-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    });
    let path = dir.join(format!("{target}.{extension}"));
    std::fs::write(&path, data).expect("scratch file");
    path
}
