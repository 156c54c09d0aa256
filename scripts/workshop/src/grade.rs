//! Grading a chapter: exactly what README says, `cargo test -p chNN-name`, run in
//! the workspace; its output is read (src/libtest.rs), the result recorded
//! (src/record.rs) and explained: the first failing check, what it expected, what
//! the container showed, and how to get a hint.

use std::process::Command;

use anyhow::{Context, Result};

use crate::libtest::{self, Report};
use crate::record::{self, Grading};
use crate::workspace::{exercise_of, Chapter, Workspace};

/// One grading: its recorded result and what `cargo test` said.
pub struct Graded {
    pub grading: Grading,
    pub report: Report,
}

/// Runs the chapter's grader and records the result.
pub fn grade(workspace: &Workspace, chapter: &Chapter) -> Result<Graded> {
    // The files as they are now: an edit during the run makes the record stale.
    let fingerprint = record::fingerprint(chapter);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args(["test", "-p", &chapter.name, "--no-fail-fast", "--color", "never"])
        .current_dir(&workspace.root)
        // Backtraces would bury the grader's messages.
        .env("RUST_BACKTRACE", "0")
        .output()
        .with_context(|| format!("could not run {}", cargo.to_string_lossy()))?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report = libtest::parse(&text);
    let outcome = if report.build_error.is_some() || (report.passed.is_empty() && report.failed.is_empty()) {
        "build-failed"
    } else if report.failed.is_empty() && output.status.success() {
        "solved"
    } else {
        "failing"
    };
    let mut report = report;
    if outcome == "build-failed" && report.build_error.is_none() {
        // Not the compiler: show the end of what cargo said.
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        report.build_error = Some(lines[lines.len().saturating_sub(15)..].join("\n"));
    }
    let order = chapter.check_names();
    let mut failed = report.failed.clone();
    failed.sort_by_key(|name| order.iter().position(|o| o == name).unwrap_or(usize::MAX));
    let grading = Grading {
        graded_at: record::now(),
        fingerprint,
        outcome: outcome.to_string(),
        passed: report.passed.len(),
        failed,
    };
    record::save_grading(workspace, chapter, &grading)?;
    Ok(Graded { grading, report })
}

/// One line: "solved (14 checks pass)", "3 of 14 checks fail", "does not build".
pub fn summary(grading: &Grading) -> String {
    let total = grading.passed + grading.failed.len();
    match grading.outcome.as_str() {
        "solved" => format!("solved ({total} checks pass)"),
        "build-failed" => "does not build".to_string(),
        _ => format!("{} of {total} checks fail", grading.failed.len()),
    }
}

/// What a student needs after a grading that did not pass: the first failing
/// check (in the grader's order), what it expected, what the container showed,
/// and the hint command.
pub fn explain(workspace: &Workspace, chapter: &Chapter, graded: &Graded) -> String {
    let mut out = String::new();
    if let Some(error) = &graded.report.build_error {
        out.push_str("Your crate does not build. The compiler's first error:\n\n");
        out.push_str(&indent(error, 4));
        out.push_str(&format!(
            "\n\nSee everything with `cargo test -p {}`; `cargo workshop hint {}` helps with the exercises.\n",
            chapter.name,
            chapter_short(chapter)
        ));
        return out;
    }
    let Some(check) = graded.grading.failed.first() else {
        return out;
    };
    let exercises = chapter.exercises().unwrap_or_default();
    let exercise = exercise_of(check, &exercises);
    out.push_str(&format!("First failing check: {check}\n"));
    match exercise {
        Some(e) => out.push_str(&format!(
            "  it grades exercise `{}` in {}:{}\n",
            e.region.name,
            e.student_file.display(),
            e.region.begin + 1
        )),
        None => out.push_str("  a regression check: the runtime around the exercises\n"),
    }
    let section = graded
        .report
        .failures
        .iter()
        .find(|(name, _)| name == check)
        .map(|(_, s)| s.as_str())
        .unwrap_or("");
    let failure = libtest::failure(section);
    out.push_str("\nExpected:\n");
    out.push_str(&indent(&failure.expected, 4));
    out.push('\n');
    if let Some(place) = &failure.where_to_look {
        out.push_str(&format!("\nWhere to look: {place}\n"));
    }
    if let Some(run) = &failure.run {
        out.push_str("\nWhat the container showed:\n");
        out.push_str(&indent(&shorten(run, 40), 4));
        out.push('\n');
    }
    let todo = "not yet implemented: exercise `";
    if let Some(rest) = section.split(todo).nth(1) {
        let name = rest.split('`').next().unwrap_or("");
        out.push_str(&format!(
            "\nThe exercise `{name}` is still a todo!(): that is where to start.\n"
        ));
    }
    let more = graded.grading.failed.len() - 1;
    if more > 0 {
        out.push_str(&format!(
            "\n{more} more check(s) fail; all the details: `cargo test -p {}`.\n",
            chapter.name
        ));
    }
    let hint_for = exercise
        .map(|e| e.region.name.clone())
        .unwrap_or_else(|| chapter_short(chapter));
    let revealed = record::load_hints(workspace);
    let hints = exercise.map(|e| e.region.hints.len()).unwrap_or(0);
    let seen = exercise
        .and_then(|e| revealed.get(&e.region.name))
        .copied()
        .unwrap_or(0);
    if exercise.is_some() && hints > 0 {
        out.push_str(&format!(
            "Stuck? `cargo workshop hint {hint_for}` (hints seen: {} of {hints}).\n",
            seen.min(hints)
        ));
    } else {
        out.push_str(&format!("Stuck? `cargo workshop hint {hint_for}`.\n"));
    }
    out
}

/// "ch01" for ch01-chroot.
pub fn chapter_short(chapter: &Chapter) -> String {
    format!("ch{:02}", chapter.number)
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n")
}

/// At most `max` lines: the first ones and the last ones, with a marker between.
fn shorten(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= max {
        return text.to_string();
    }
    let head = max / 2;
    let tail = max - head;
    format!(
        "{}\n[... {} lines ...]\n{}",
        lines[..head].join("\n"),
        lines.len() - max,
        lines[lines.len() - tail..].join("\n")
    )
}
