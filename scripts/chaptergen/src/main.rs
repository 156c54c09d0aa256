//! chaptergen: writes the student crates in `chapters/` from the reference
//! solutions in `solutions/`, the one source of truth for every exercise.
//!
//! In a solution, an exercise region looks like this:
//!
//! ```text
//!     // exercise(enter_rootfs): what the student must do, in comment lines
//!     // that go on as long as needed.
//!     ...the reference code...
//!     // end exercise
//! ```
//!
//! In the student crate the comment lines stay and the code becomes a `todo!()`.
//! The student crate is renamed (`ch01-chroot-solution` -> `ch01-chroot`); it keeps
//! depending on the *solutions* of earlier chapters.
//!
//! Usage: `cargo chaptergen` rewrites chapters/; `cargo chaptergen --check` only
//! compares and fails when the committed chapters/ differ (CI runs it).
//! `cargo chaptergen --only NAME` writes chapters/ with only exercise NAME unsolved
//! (the other regions keep their solution): scripts/prove-graders-fail.sh uses it,
//! in a scratch copy of the workspace, to prove each exercise's checks fail alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const SOLUTION_SUFFIX: &str = "-solution";
const BEGIN: &str = "// exercise(";
const END: &str = "// end exercise";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|arg| arg == "--check");
    let only = args
        .iter()
        .position(|arg| arg == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let root = workspace_root();
    match run(&root, check, only.as_deref()) {
        Ok(0) if check => println!("chapters/ is up to date with solutions/"),
        Ok(changed) if check => {
            eprintln!("chapters/ differs from what the generator writes in {changed} file(s): run `cargo chaptergen`");
            std::process::exit(1);
        }
        Ok(changed) => println!("wrote chapters/ ({changed} file(s) changed)"),
        Err(error) => {
            eprintln!("chaptergen: error: {error:#}");
            std::process::exit(1);
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Generates every chapter; writes (or, with `check`, only compares). Returns the
/// number of files that differ.
pub fn run(root: &Path, check: bool, only: Option<&str>) -> Result<usize> {
    let mut changed = 0;
    for solution in sorted_dirs(&root.join("solutions"))? {
        let name = solution.file_name().unwrap().to_string_lossy().into_owned();
        let target = root.join("chapters").join(&name);
        let wanted = generate_chapter(&solution, only)?;
        let existing = read_tree(&target)?;
        for (path, content) in &wanted {
            if existing.get(path) != Some(content) {
                changed += 1;
                if check {
                    eprintln!("differs: chapters/{name}/{}", path.display());
                } else {
                    let file = target.join(path);
                    std::fs::create_dir_all(file.parent().unwrap())?;
                    std::fs::write(&file, content).with_context(|| format!("writing {}", file.display()))?;
                }
            }
        }
        for path in existing.keys().filter(|path| !wanted.contains_key(*path)) {
            changed += 1;
            if check {
                eprintln!("not generated: chapters/{name}/{}", path.display());
            } else {
                std::fs::remove_file(target.join(path))?;
            }
        }
    }
    Ok(changed)
}

/// The student crate for one solution crate: relative path -> content.
pub fn generate_chapter(solution: &Path, only: Option<&str>) -> Result<BTreeMap<PathBuf, String>> {
    let package = package_name(&solution.join("Cargo.toml"))?;
    let Some(student) = package.strip_suffix(SOLUTION_SUFFIX) else {
        bail!(
            "{}: a solution package's name must end in {SOLUTION_SUFFIX}",
            solution.display()
        );
    };
    let renames = [
        (package.clone(), student.to_string()),
        (package.replace('-', "_"), student.replace('-', "_")),
    ];
    let mut files = BTreeMap::new();
    for (path, content) in read_tree(solution)? {
        let mut text = content;
        for (from, to) in &renames {
            text = text
                .replace(&format!("{from}\""), &format!("{to}\""))
                .replace(&format!("{from}::"), &format!("{to}::"));
        }
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => student_manifest(&text),
            Some("rs") => {
                let shown = format!("src/{}", path.file_name().unwrap().to_string_lossy());
                let text = strip_exercises(&text, &shown, only).with_context(|| format!("{}", path.display()))?;
                if path == Path::new("src/lib.rs") {
                    allow_unfinished_code(&text)
                } else {
                    text
                }
            }
            _ => text,
        };
        files.insert(path, text);
    }
    Ok(files)
}

/// The manifest of the student crate: its description says so, and path
/// dependencies on earlier chapters point at their solutions.
fn student_manifest(manifest: &str) -> String {
    manifest
        .replace("(reference solution)", "(exercise)")
        .replace("path = \"../ch", "path = \"../../solutions/ch")
}

/// Replaces the code of each exercise region with `todo!()`, keeping the comment
/// lines that describe the task. With `only`, just that exercise is replaced.
pub fn strip_exercises(source: &str, shown_path: &str, only: Option<&str>) -> Result<String> {
    let mut out = String::new();
    let mut lines = source.lines().enumerate();
    while let Some((number, line)) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(END) {
            bail!("line {}: `{END}` without an exercise before it", number + 1);
        }
        let Some(rest) = trimmed.strip_prefix(BEGIN) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let Some((name, _)) = rest.split_once("):") else {
            bail!(
                "line {}: write an exercise marker as `{BEGIN}NAME): what to do`",
                number + 1
            );
        };
        let indent = &line[..line.len() - trimmed.len()];
        let solve = only.is_some_and(|only| only != name);
        out.push_str(line);
        out.push('\n');
        let mut describing = true;
        let mut closed = false;
        for (number, line) in lines.by_ref() {
            let trimmed = line.trim_start();
            if trimmed.starts_with(END) {
                closed = true;
                break;
            }
            if trimmed.starts_with(BEGIN) {
                bail!("line {}: an exercise inside exercise `{name}`", number + 1);
            }
            if solve || (describing && trimmed.starts_with("//")) {
                out.push_str(line);
                out.push('\n');
            } else {
                describing = false;
            }
        }
        if !closed {
            bail!("exercise `{name}` has no `{END}` line");
        }
        if !solve {
            out.push_str(&format!("{indent}todo!(\"exercise `{name}` in {shown_path}\")\n"));
        }
    }
    Ok(out)
}

/// An unfinished exercise leaves parameters and imports unused: the student crate
/// allows that, so its first build shows the todo!()s rather than warnings.
fn allow_unfinished_code(lib: &str) -> String {
    let attribute = "// Generated by `cargo chaptergen` from the reference solution: your work goes\n\
                     // where the todo!()s are. Unused code is allowed while exercises are unfinished.\n\
                     #![allow(unused_imports, unused_variables, unused_mut, dead_code)]\n";
    let docs_end = lib
        .lines()
        .take_while(|line| line.starts_with("//!"))
        .map(|line| line.len() + 1)
        .sum::<usize>();
    format!("{}{}{}", &lib[..docs_end], attribute, &lib[docs_end..])
}

fn package_name(manifest: &Path) -> Result<String> {
    let text = std::fs::read_to_string(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    text.lines()
        .find_map(|line| line.strip_prefix("name = \"")?.strip_suffix('"').map(str::to_string))
        .with_context(|| format!("{}: no package name", manifest.display()))
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Every file under `dir` (relative path -> content), skipping build output.
fn read_tree(dir: &Path) -> Result<BTreeMap<PathBuf, String>> {
    let mut files = BTreeMap::new();
    if dir.exists() {
        collect(dir, dir, &mut files)?;
    }
    Ok(files)
}

fn collect(base: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, String>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().unwrap().to_string_lossy();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(base, &path, files)?;
        } else {
            let content = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            files.insert(path.strip_prefix(base).unwrap().to_path_buf(), content);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exercise_keeps_its_description_and_loses_its_code() {
        let solution = "fn f(x: u8) -> u8 {\n    // exercise(double): return twice x.\n    // Mind the overflow.\n    x.wrapping_mul(2)\n    // a comment in the solution\n    // end exercise\n}\n";
        let student = strip_exercises(solution, "src/f.rs", None).unwrap();
        assert_eq!(
            student,
            "fn f(x: u8) -> u8 {\n    // exercise(double): return twice x.\n    // Mind the overflow.\n    todo!(\"exercise `double` in src/f.rs\")\n}\n"
        );
    }

    #[test]
    fn only_one_exercise_can_be_left_unsolved() {
        let solution = "// exercise(a): do a\na()\n// end exercise\n// exercise(b): do b\nb()\n// end exercise\n";
        let student = strip_exercises(solution, "f", Some("b")).unwrap();
        assert_eq!(
            student,
            "// exercise(a): do a\na()\n// exercise(b): do b\ntodo!(\"exercise `b` in f\")\n"
        );
    }

    #[test]
    fn broken_markers_are_refused() {
        assert!(strip_exercises("// exercise(a): x\ncode\n", "f", None).is_err());
        assert!(strip_exercises("// end exercise\n", "f", None).is_err());
        assert!(strip_exercises("// exercise(a): x\n// exercise(b): y\n// end exercise\n", "f", None).is_err());
        assert!(strip_exercises("// exercise(a) no colon\n// end exercise\n", "f", None).is_err());
    }

    #[test]
    fn the_student_manifest_depends_on_earlier_solutions() {
        let manifest = "name = \"ch02-x\"\nch01 = { package = \"ch01-chroot-solution\", path = \"../ch01-chroot\" }\n";
        assert!(student_manifest(manifest)
            .contains("package = \"ch01-chroot-solution\", path = \"../../solutions/ch01-chroot\""));
    }

    /// The committed chapters/ are exactly what the generator writes.
    #[test]
    fn committed_chapters_match_the_solutions() {
        let changed = run(&workspace_root(), true, None).unwrap();
        assert_eq!(
            changed, 0,
            "chapters/ is out of date: run `cargo chaptergen` (see the files listed above)"
        );
    }
}
