//! Where the report goes with `-o FILE`: a file beside FILE under a temporary name, renamed onto
//! FILE once the whole report is written. A write that fails half-way (a full disk, a file size
//! limit) then leaves no half report under the name a pipeline reads, and an earlier report
//! there stays as it was. A FILE that exists and is not a regular file (`/dev/null`, a pipe, a
//! symbolic link) is written in place: renaming onto it would replace the device or the link.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The first error of the writes, kept: the report's writers go on past one (`let _ =`).
type FirstError = Rc<RefCell<Option<io::Error>>>;

/// The writer of `-o FILE`'s report.
pub(crate) struct ReportWriter {
    file: BufWriter<File>,
    error: FirstError,
}

impl Write for ReportWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf);
        self.keep(written)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let written = self.file.write_all(buf);
        self.keep(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.file.flush();
        self.keep(flushed)
    }
}

impl ReportWriter {
    fn keep<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            self.error
                .borrow_mut()
                .get_or_insert_with(|| io::Error::new(e.kind(), e.to_string()));
        }
        result
    }
}

/// Puts the report in place once written ([`Placement::finish`]); dropped before that, it
/// removes the temporary file (an early exit writes no report).
pub(crate) struct Placement {
    /// The temporary file and the name it takes, when the report is not written in place.
    rename: Option<(PathBuf, PathBuf)>,
    error: FirstError,
}

/// Opens the report's file for `target`.
pub(crate) fn create(target: &Path) -> io::Result<(ReportWriter, Placement)> {
    let error = FirstError::default();
    let existing = std::fs::symlink_metadata(target).ok();
    let in_place = existing.as_ref().is_some_and(|m| !m.file_type().is_file());
    let temp = temporary_name(target);
    let created = if in_place {
        None
    } else {
        File::create(&temp).ok()
    };
    let (file, rename) = match created {
        Some(file) => {
            // The report keeps the permissions of the one it replaces.
            if let Some(m) = &existing {
                let _ = file.set_permissions(m.permissions());
            }
            (file, Some((temp, target.to_path_buf())))
        }
        // A directory where a file may be replaced but not created: written in place.
        _ => (File::create(target)?, None),
    };
    let writer = ReportWriter {
        file: BufWriter::new(file),
        error: error.clone(),
    };
    Ok((writer, Placement { rename, error }))
}

/// `.NAME.tlsdiag-PID.tmp` beside `target`: the same file system, so the rename is atomic.
fn temporary_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temp = format!(".{name}.tlsdiag-{}.tmp", std::process::id());
    match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(temp),
        _ => PathBuf::from(temp),
    }
}

impl Placement {
    /// After the writer was flushed and dropped: renames the report into place, or, when a
    /// write failed, removes it and returns that error.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        let failed = self.error.borrow_mut().take();
        match (failed, self.rename.take()) {
            (Some(e), Some((temp, _))) => {
                let _ = std::fs::remove_file(temp);
                Err(e)
            }
            (Some(e), None) => Err(e),
            (None, Some((temp, target))) => std::fs::rename(&temp, target).inspect_err(|_| {
                let _ = std::fs::remove_file(&temp);
            }),
            (None, None) => Ok(()),
        }
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        if let Some((temp, _)) = self.rename.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tlsdiag-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(d: &Path) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn the_report_takes_its_name_only_once_written() {
        let d = dir("written");
        let target = d.join("report.json");
        std::fs::write(&target, "old").unwrap();
        let (mut w, placement) = create(&target).unwrap();
        w.write_all(b"new report").unwrap();
        w.flush().unwrap();
        // Until it is put in place, the earlier report is what a reader finds.
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(names(&d).len(), 2);
        drop(w);
        placement.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new report");
        assert_eq!(names(&d), ["report.json"]);
    }

    #[test]
    fn a_run_that_stops_early_leaves_no_file() {
        let d = dir("early");
        let (mut w, placement) = create(&d.join("report.json")).unwrap();
        w.write_all(b"half").unwrap();
        drop(w);
        drop(placement);
        assert!(names(&d).is_empty());
    }

    #[test]
    fn a_special_file_is_written_in_place() {
        let (mut w, placement) = create(Path::new("/dev/null")).unwrap();
        w.write_all(b"gone").unwrap();
        w.flush().unwrap();
        drop(w);
        placement.finish().unwrap();
        let m = std::fs::metadata("/dev/null").unwrap();
        assert!(!m.is_file(), "/dev/null is still a device");
        assert!(!temporary_name(Path::new("/dev/null")).exists());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_failed_write_leaves_the_earlier_report_and_says_why() {
        // /dev/full fails every write with ENOSPC: the writer is pointed at it in place of the
        // temporary file, as a full disk would do to it.
        let d = dir("full");
        let target = d.join("report.json");
        std::fs::write(&target, "old").unwrap();
        let (mut w, placement) = create(&target).unwrap();
        w.file = BufWriter::new(File::options().write(true).open("/dev/full").unwrap());
        let _ = w.write_all(&[b'x'; 100_000]);
        let _ = w.flush();
        drop(w);
        let e = placement.finish().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(names(&d), ["report.json"]);
    }
}
