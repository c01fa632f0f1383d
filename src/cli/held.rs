//! Output of files analysed ahead of their turn (`-j N` over many files), held until the files
//! before them are written so the result does not depend on scheduling. The bytes held in
//! memory by all files together stay under one budget; beyond it a file's output goes to an
//! unnamed temporary file (deleted by the system when closed), so an archive with one slow
//! file at its head cannot make memory grow with everything analysed behind it. The budget is
//! the analysis's own kind ([`Budget`]), shared by the worker threads: two writes racing for
//! its last bytes may pass it by one write, which is harmless here.

use std::fs::File;
use std::io::{self, Seek, Write};

use tlsdiag::budget::Budget;

/// One file's output, in memory while the budget allows, then in a temporary file.
pub(crate) struct HeldOutput {
    memory: Vec<u8>,
    spill: Option<File>,
    budget: Budget,
}

impl HeldOutput {
    pub(crate) fn new(budget: Budget) -> HeldOutput {
        HeldOutput {
            memory: Vec::new(),
            spill: None,
            budget,
        }
    }

    /// Writes everything held to `out`, in order, and frees it.
    pub(crate) fn write_to(mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&self.memory)?;
        self.release_memory();
        if let Some(mut file) = self.spill.take() {
            file.rewind()?;
            io::copy(&mut file, out)?;
        }
        Ok(())
    }

    fn release_memory(&mut self) {
        self.budget.release(self.memory.len());
        self.memory = Vec::new();
    }

    /// Moves what is in memory to a new temporary file.
    fn spill(&mut self) -> io::Result<&mut File> {
        let mut file = tempfile::tempfile()?;
        file.write_all(&self.memory)?;
        self.release_memory();
        Ok(self.spill.insert(file))
    }
}

impl Write for HeldOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(file) = self.spill.as_mut() {
            return file.write(buf);
        }
        if self.budget.try_reserve(buf.len()) {
            self.memory.extend_from_slice(buf);
            return Ok(buf.len());
        }
        self.spill()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.spill.as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for HeldOutput {
    fn drop(&mut self) {
        self.release_memory();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_over_the_budget_goes_to_a_file_and_comes_back_whole() {
        let budget = Budget::new(100);
        let mut small = HeldOutput::new(budget.clone());
        small.write_all(&[b'a'; 60]).unwrap();
        assert_eq!(budget.held(), 60);
        let mut large = HeldOutput::new(budget.clone());
        large.write_all(&[b'b'; 30]).unwrap();
        // 60 + 30 + 30 > 100: the second file moves to disk and gives its 30 bytes back.
        large.write_all(&[b'c'; 30]).unwrap();
        large.write_all(&[b'd'; 5]).unwrap();
        assert_eq!(budget.held(), 60);
        assert!(large.spill.is_some() && small.spill.is_none());
        let mut out = Vec::new();
        large.write_to(&mut out).unwrap();
        small.write_to(&mut out).unwrap();
        let mut expected = vec![b'b'; 30];
        expected.extend([b'c'; 30]);
        expected.extend([b'd'; 5]);
        expected.extend([b'a'; 60]);
        assert_eq!(out, expected);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn dropped_output_gives_its_budget_back() {
        let budget = Budget::new(10);
        let mut held = HeldOutput::new(budget.clone());
        held.write_all(b"12345").unwrap();
        drop(held);
        assert_eq!(budget.held(), 0);
    }
}
