//! Reading what `cargo test` prints: the compiler's first error when the crate does
//! not build, else each test's result (`test NAME ... ok` / `FAILED`) and, for each
//! failed test, the message it panicked with (the `---- NAME stdout ----` sections).

/// What one `cargo test` run said.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub passed: Vec<String>,
    pub failed: Vec<String>,
    /// The compiler's first error, when the crate did not build.
    pub build_error: Option<String>,
    /// Each failed test's name and its whole section of the output.
    pub failures: Vec<(String, String)>,
}

/// A check's panic message, split the way the grader writes it (tests/src/ch01.rs
/// `expect`): what was expected, where to look, and the run it saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Where the check panicked, e.g. tests/src/ch01.rs:14:5.
    pub location: String,
    pub expected: String,
    pub where_to_look: Option<String>,
    /// The grader's "--- the run ---" block: the command, its exit status, its
    /// stdout and stderr.
    pub run: Option<String>,
}

pub fn parse(output: &str) -> Report {
    let mut report = Report::default();
    let lines: Vec<&str> = output.lines().collect();
    for line in &lines {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        if let Some(name) = rest.strip_suffix(" ... ok") {
            report.passed.push(name.to_string());
        } else if let Some(name) = rest.strip_suffix(" ... FAILED") {
            report.failed.push(name.to_string());
        }
    }
    // Failure sections: from "---- NAME stdout ----" to the next one or to the
    // closing "failures:" list.
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in &lines {
        let header = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
            .filter(|name| !name.contains(' '));
        if header.is_some() || *line == "failures:" {
            if let Some((name, body)) = current.take() {
                report.failures.push((name, body.join("\n").trim().to_string()));
            }
        }
        if let Some(name) = header {
            current = Some((name.to_string(), Vec::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push(line);
        }
    }
    if let Some((name, body)) = current {
        report.failures.push((name, body.join("\n").trim().to_string()));
    }
    if report.passed.is_empty() && report.failed.is_empty() {
        report.build_error = first_compiler_error(&lines);
    }
    report
}

/// The first `error...` block of the compiler's output (up to the blank line that
/// ends it), if there is one.
fn first_compiler_error(lines: &[&str]) -> Option<String> {
    let start = lines.iter().position(|l| l.starts_with("error"))?;
    let block: Vec<&str> = lines[start..]
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .copied()
        .collect();
    Some(block.join("\n"))
}

/// Splits a failed test's section into the parts of the grader's message.
pub fn failure(section: &str) -> Failure {
    // "thread 'NAME' (TID) panicked at FILE:LINE:COL:" then the message.
    let (location, message) = match section.split_once(" panicked at ") {
        Some((_, rest)) => {
            let (location, message) = rest.split_once('\n').unwrap_or((rest, ""));
            (location.trim_end_matches(':').to_string(), message)
        }
        None => (String::new(), section),
    };
    // libtest's note at the end is not part of the message (the container's own
    // panic, inside the message, may carry the same note: keep that one).
    let note = "\nnote: run with `RUST_BACKTRACE=1`";
    let message = match message.rfind(note) {
        Some(at) if !message[at + 1..].trim_end().contains('\n') => &message[..at],
        _ => message,
    };
    let (before_run, run) = match message.split_once("--- the run ---") {
        Some((before, run)) => (before, Some(format!("--- the run ---{}", run.trim_end()))),
        None => (message, None),
    };
    let (expected, where_to_look) = match before_run.split_once("\nWhere to look: ") {
        Some((expected, place)) => (expected, Some(place.trim().to_string())),
        None => (before_run, None),
    };
    Failure {
        location,
        expected: expected.trim().to_string(),
        where_to_look,
        run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape of `cargo test` output, as libtest and the grader's `expect`
    // print it (see tests/src/ch01.rs and tests/src/sandbox.rs).
    const OUTPUT: &str = "\
running 3 tests
test a_one ... ok
test b_two ... FAILED
test c_three ... FAILED

failures:

---- b_two stdout ----

thread 'b_two' (17676) panicked at tests/src/ch01.rs:14:5:
the container should say hello

Where to look: `greet` in src/hello.rs

--- the run ---
$ ch01-chroot run -- /bin/echo
exit status: 125
--- stdout ---
--- stderr ---
oops
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
workshop: error: the setup panicked
--------------

note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- c_three stdout ----

thread 'c_three' (17677) panicked at tests/src/sandbox.rs:285:21:
the container never printed \"ready\"

failures:
    b_two
    c_three

test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 4.09s
";

    #[test]
    fn results_and_failure_sections_are_read() {
        let report = parse(OUTPUT);
        assert_eq!(report.passed, ["a_one"]);
        assert_eq!(report.failed, ["b_two", "c_three"]);
        assert_eq!(report.build_error, None);
        assert_eq!(report.failures.len(), 2);
        let b = failure(&report.failures[0].1);
        assert_eq!(b.location, "tests/src/ch01.rs:14:5");
        assert_eq!(b.expected, "the container should say hello");
        assert_eq!(b.where_to_look.as_deref(), Some("`greet` in src/hello.rs"));
        let run = b.run.unwrap();
        assert!(run.starts_with("--- the run ---\n$ ch01-chroot run -- /bin/echo\nexit status: 125"));
        assert!(
            run.ends_with("backtrace\nworkshop: error: the setup panicked\n--------------"),
            "{run}"
        );
        let c = failure(&report.failures[1].1);
        assert_eq!(
            (c.expected.as_str(), c.run),
            ("the container never printed \"ready\"", None)
        );
    }

    #[test]
    fn a_build_failure_gives_the_first_compiler_error() {
        let output = "   Compiling ch01-chroot v0.1.0\nwarning: unused\n\nerror[E0308]: mismatched types\n --> src/chroot.rs:3:5\n  |\n\nerror: aborting\n";
        let report = parse(output);
        assert_eq!(
            report.build_error.as_deref(),
            Some("error[E0308]: mismatched types\n --> src/chroot.rs:3:5\n  |")
        );
    }
}
