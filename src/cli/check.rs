//! `tlsdiag check`: compares each capture of a regression corpus with its expectation, and
//! `--update` rewrites the expectations where they live.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tlsdiag::check::{self, Expectation};

use super::args::*;
use super::*;

/// (capture, where its expectation lives, expected, actual or error)
pub(crate) type CheckResult = (
    PathBuf,
    check::ExpectationSource,
    Option<Expectation>,
    Result<Expectation, String>,
);

pub(crate) fn run_check(args: CheckArgs) -> ExitCode {
    let plan = match check::plan_check(&args.dir, args.update) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tlsdiag: {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    if plan.items.is_empty() && plan.orphans.is_empty() {
        eprintln!(
            "tlsdiag: {}: no capture has an X.expect.json or an entry in its folder's {} \
             (use --update to create them)",
            args.dir.display(),
            check::FOLDER_EXPECTATIONS
        );
        return ExitCode::from(EXIT_INPUT_ERROR);
    }
    let base = match args.analysis.loaded_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tlsdiag: {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    let pool = match args.analysis.pool() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tlsdiag: {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    use rayon::prelude::*;
    let results: Vec<CheckResult> = pool.install(|| {
        plan.items
            .into_par_iter()
            .map(|(capture, source, expected)| {
                let keylog = expected.as_ref().and_then(|e| e.keylog.clone());
                let mut options = base.clone();
                if let Some(k) = &keylog {
                    options.keylog_files = vec![source.dir().join(k)];
                }
                let actual = tlsdiag::analyze_path(&capture, options)
                    .map(|r| Expectation::from_report(&r, keylog))
                    .map_err(|e| e.to_string());
                (capture, source, expected, actual)
            })
            .collect()
    });
    if args.update {
        return update_expectations(&results, plan.folders, &plan.orphans);
    }
    let mut failed = 0;
    let mut errors = 0;
    for (capture, _, expected, actual) in &results {
        let name = capture.display();
        let Some(actual) = analysed(capture, actual, &mut errors) else {
            continue;
        };
        let Some(expected) = expected else { continue };
        let diff = expected.diff(actual);
        if diff.is_empty() {
            println!("pass    {name}");
        } else {
            failed += 1;
            println!("FAIL    {name}");
            for line in diff {
                println!("          {line}");
            }
        }
    }
    for (file, entry) in &plan.orphans {
        println!(
            "FAIL    {} [\"{entry}\"]: no such capture in this folder",
            file.display()
        );
    }
    let orphans = plan.orphans.len();
    println!(
        "{} capture(s): {} passed, {} failed{}{}",
        results.len(),
        results.len() - failed - errors,
        failed,
        if orphans > 0 {
            format!(", {orphans} expectation(s) without a capture")
        } else {
            String::new()
        },
        if errors > 0 {
            format!(", {errors} unreadable")
        } else {
            String::new()
        }
    );
    if errors > 0 {
        ExitCode::from(EXIT_INPUT_ERROR)
    } else if failed > 0 || orphans > 0 {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// What a capture gave, or None after printing why it could not be read.
pub(crate) fn analysed<'a>(
    capture: &Path,
    actual: &'a Result<Expectation, String>,
    errors: &mut usize,
) -> Option<&'a Expectation> {
    match actual {
        Ok(a) => Some(a),
        Err(e) => {
            println!("ERROR   {}: {e}", capture.display());
            *errors += 1;
            None
        }
    }
}

/// `check --update`: writes what each capture gives now where its expectation lives, and drops
/// `expect.toml` entries whose capture is gone.
pub(crate) fn update_expectations(
    results: &[CheckResult],
    mut folders: std::collections::BTreeMap<PathBuf, check::FolderExpectations>,
    orphans: &[(PathBuf, String)],
) -> ExitCode {
    let mut errors = 0;
    let mut changed_folders = std::collections::BTreeSet::new();
    for (file, entry) in orphans {
        if let Some(map) = folders.get_mut(file) {
            map.remove(entry);
            changed_folders.insert(file.clone());
            println!("REMOVED {} [\"{entry}\"]", file.display());
        }
    }
    for (capture, source, expected, actual) in results {
        let name = capture.display();
        let Some(actual) = analysed(capture, actual, &mut errors) else {
            continue;
        };
        match source {
            check::ExpectationSource::Json(path) => {
                if let Err(e) = std::fs::write(path, check::json_expectation_text(actual)) {
                    println!("ERROR   {}: {e}", path.display());
                    errors += 1;
                    continue;
                }
            }
            check::ExpectationSource::Folder { file, entry } => {
                folders
                    .entry(file.clone())
                    .or_default()
                    .insert(entry.clone(), actual.clone());
                changed_folders.insert(file.clone());
            }
        }
        if expected.as_ref() != Some(actual) {
            println!("UPDATED {name}");
        } else {
            println!("same    {name}");
        }
    }
    for file in changed_folders {
        let written = check::folder_expectations_text(&folders[&file])
            .and_then(|text| std::fs::write(&file, text).map_err(|e| e.to_string()));
        if let Err(e) = written {
            println!("ERROR   {}: {e}", file.display());
            errors += 1;
        }
    }
    if errors > 0 {
        ExitCode::from(EXIT_INPUT_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}
