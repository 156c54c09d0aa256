//! The exercise regions of a solution file, read the same way by the generator
//! (which turns them into `todo!()`s) and by the runner (`cargo workshop hint`).
//!
//! ```text
//!     // exercise(enter_rootfs): what the student must do, in comment lines
//!     // that go on as long as needed.
//!     // hint: a first nudge (the student sees it with `cargo workshop hint`).
//!     // hint: a second, more precise one; a hint may go on
//!     //       over several comment lines.
//!     ...the reference code...
//!     // end exercise
//! ```
//!
//! The header is the marker line and the comment lines right after it. Hints come
//! last in the header: every comment line from the first `// hint:` to the code
//! belongs to a hint, and each `// hint:` starts a new one.

use anyhow::{bail, Result};

pub const BEGIN: &str = "// exercise(";
pub const END: &str = "// end exercise";
pub const HINT: &str = "// hint:";
/// mdBook anchor lines are never part of a hint.
const ANCHOR: &str = "// ANCHOR";

/// One exercise region of a source file. Line numbers are 0-based indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub name: String,
    /// The `// exercise(NAME): ...` line.
    pub begin: usize,
    /// The `// end exercise` line.
    pub end: usize,
    /// The task, as the student reads it: the marker's text and the comment lines
    /// after it, without the comment markers.
    pub task: Vec<String>,
    /// The hints, in the order they are revealed.
    pub hints: Vec<String>,
    /// The lines that hold the hints (the generator leaves them out).
    pub hint_lines: Vec<usize>,
    /// The first line of the reference code (after the header).
    pub code: usize,
}

/// Every exercise region of `source`, in order. Fails on broken markers.
pub fn regions(source: &str) -> Result<Vec<Region>> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    let mut number = 0;
    while number < lines.len() {
        let trimmed = lines[number].trim_start();
        if trimmed.starts_with(END) {
            bail!("line {}: `{END}` without an exercise before it", number + 1);
        }
        if trimmed.starts_with(HINT) {
            bail!("line {}: a `{HINT}` line outside an exercise header", number + 1);
        }
        let Some(rest) = trimmed.strip_prefix(BEGIN) else {
            number += 1;
            continue;
        };
        let Some((name, first)) = rest.split_once("):") else {
            bail!(
                "line {}: write an exercise marker as `{BEGIN}NAME): what to do`",
                number + 1
            );
        };
        let region = read_region(&lines, number, name, first.trim())?;
        number = region.end + 1;
        found.push(region);
    }
    Ok(found)
}

/// Reads the region whose marker is line `begin`.
fn read_region(lines: &[&str], begin: usize, name: &str, first: &str) -> Result<Region> {
    let mut task = vec![first.to_string()];
    let mut hints: Vec<String> = Vec::new();
    let mut hint_lines = Vec::new();
    let mut line = begin + 1;
    // The header: comment lines right after the marker.
    while let Some(text) = lines.get(line).map(|l| l.trim_start()) {
        if !text.starts_with("//") || text.starts_with(END) {
            break;
        }
        if text.starts_with(BEGIN) {
            bail!("line {}: an exercise inside exercise `{name}`", line + 1);
        }
        let more = text.trim_start_matches('/').trim();
        if text.starts_with(ANCHOR) {
            // Kept where it is, and never part of the task or a hint.
        } else if let Some(hint) = text.strip_prefix(HINT) {
            hint_lines.push(line);
            hints.push(hint.trim().to_string());
        } else if let Some(last) = hints.last_mut() {
            // Every comment line after the first hint belongs to a hint.
            hint_lines.push(line);
            if !more.is_empty() {
                last.push(' ');
                last.push_str(more);
            }
        } else {
            task.push(more.to_string());
        }
        line += 1;
    }
    let code = line;
    // The code, up to the end marker.
    loop {
        let Some(text) = lines.get(line).map(|l| l.trim_start()) else {
            bail!("exercise `{name}` has no `{END}` line");
        };
        if text.starts_with(END) {
            break;
        }
        if text.starts_with(BEGIN) {
            bail!("line {}: an exercise inside exercise `{name}`", line + 1);
        }
        if text.starts_with(HINT) {
            bail!(
                "line {}: a hint of `{name}` after its code: hints go last in the header",
                line + 1
            );
        }
        line += 1;
    }
    Ok(Region {
        name: name.to_string(),
        begin,
        end: line,
        task,
        hints,
        hint_lines,
        code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "fn f() {\n    // exercise(one): do one\n    // thing.\n    // hint: look at man 2 chroot\n    // hint: then chdir,\n    //       to \"/\".\n    one()\n    // end exercise\n}\n// exercise(two): do two\ntwo()\n// end exercise\n";

    #[test]
    fn the_task_and_the_hints_are_read_apart() {
        let found = regions(SOURCE).unwrap();
        assert_eq!(found.len(), 2);
        let one = &found[0];
        assert_eq!(one.name, "one");
        assert_eq!((one.begin, one.code, one.end), (1, 6, 7));
        assert_eq!(one.task, ["do one", "thing."]);
        assert_eq!(one.hints, ["look at man 2 chroot", "then chdir, to \"/\"."]);
        assert_eq!(one.hint_lines, [3, 4, 5]);
        let two = &found[1];
        assert_eq!(
            (two.name.as_str(), two.hints.len(), two.hint_lines.len()),
            ("two", 0, 0)
        );
    }

    #[test]
    fn misplaced_hints_are_refused() {
        assert!(regions("// hint: where?\n").is_err());
        assert!(regions("// exercise(a): x\ncode\n// hint: late\n// end exercise\n").is_err());
    }
}
