//! Output of files analysed ahead of their turn (`-j N` over many files), held until the files
//! before them are written so the result does not depend on scheduling. The bytes held in
//! memory by all files together stay under one budget; beyond it a file's output goes to an
//! unnamed temporary file (deleted by the system when closed), so an archive with one slow
//! file at its head cannot make memory grow with everything analysed behind it.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of held output that may stay in memory, all files together.
#[derive(Debug)]
pub(crate) struct HeldBudget {
    limit: usize,
    used: AtomicUsize,
    /// Files whose output went to a temporary file.
    spilled: AtomicUsize,
}

impl HeldBudget {
    pub(crate) fn new(limit: usize) -> Arc<HeldBudget> {
        Arc::new(HeldBudget {
            limit,
            used: AtomicUsize::new(0),
            spilled: AtomicUsize::new(0),
        })
    }

    /// Takes `n` bytes of the budget if they are free.
    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&u| u <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    /// Bytes held in memory now.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Files whose output was held in a temporary file.
    #[cfg(test)]
    fn spilled(&self) -> usize {
        self.spilled.load(Ordering::Acquire)
    }
}

/// One file's output, in memory while the budget allows, then in a temporary file.
pub(crate) struct HeldOutput {
    memory: Vec<u8>,
    spill: Option<File>,
    budget: Arc<HeldBudget>,
}

impl HeldOutput {
    pub(crate) fn new(budget: Arc<HeldBudget>) -> HeldOutput {
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
        self.budget.give_back(self.memory.len());
        self.memory = Vec::new();
    }

    /// Moves what is in memory to a new temporary file.
    fn spill(&mut self) -> io::Result<&mut File> {
        let mut file = tempfile::tempfile()?;
        file.write_all(&self.memory)?;
        self.release_memory();
        self.budget.spilled.fetch_add(1, Ordering::AcqRel);
        Ok(self.spill.insert(file))
    }
}

impl Write for HeldOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(file) = self.spill.as_mut() {
            return file.write(buf);
        }
        if self.budget.take(buf.len()) {
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
        let budget = HeldBudget::new(100);
        let mut small = HeldOutput::new(budget.clone());
        small.write_all(&[b'a'; 60]).unwrap();
        assert_eq!(budget.used(), 60);
        let mut large = HeldOutput::new(budget.clone());
        large.write_all(&[b'b'; 30]).unwrap();
        // 60 + 30 + 30 > 100: the second file moves to disk and gives its 30 bytes back.
        large.write_all(&[b'c'; 30]).unwrap();
        large.write_all(&[b'd'; 5]).unwrap();
        assert_eq!(budget.used(), 60);
        assert_eq!(budget.spilled(), 1);
        let mut out = Vec::new();
        large.write_to(&mut out).unwrap();
        small.write_to(&mut out).unwrap();
        let mut expected = vec![b'b'; 30];
        expected.extend([b'c'; 30]);
        expected.extend([b'd'; 5]);
        expected.extend([b'a'; 60]);
        assert_eq!(out, expected);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn dropped_output_gives_its_budget_back() {
        let budget = HeldBudget::new(10);
        let mut held = HeldOutput::new(budget.clone());
        held.write_all(b"12345").unwrap();
        drop(held);
        assert_eq!(budget.used(), 0);
    }
}
