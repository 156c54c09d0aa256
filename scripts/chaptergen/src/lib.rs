//! The chapter generator as a library: the exercise regions of the solutions
//! ([`regions`]) and the student crates written from them. The `chaptergen` binary
//! (src/main.rs) and the workshop runner (scripts/workshop) both use it.

pub mod regions;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const SOLUTION_SUFFIX: &str = "-solution";

/// Generates every chapter; writes (or, with `check`, only compares). Returns the
/// number of files that differ.
pub fn run(root: &Path, check: bool, only: Option<&str>) -> Result<usize> {
    let mut changed = 0;
    for solution in sorted_dirs(&root.join("solutions"))? {
        let name = solution.file_name().unwrap().to_string_lossy().into_owned();
        changed += sync_chapter(&solution, &root.join("chapters").join(&name), check, only)?;
    }
    Ok(changed)
}

/// Writes one student crate, `target`, from its solution (or, with `check`, only
/// compares): files that differ are rewritten, files the generator does not write
/// are removed. Returns the number of files that differ.
pub fn sync_chapter(solution: &Path, target: &Path, check: bool, only: Option<&str>) -> Result<usize> {
    let name = solution.file_name().unwrap().to_string_lossy().into_owned();
    let wanted = generate_chapter(solution, only)?;
    let existing = read_tree(target)?;
    let mut changed = 0;
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
/// lines that describe the task and leaving out the hints. With `only`, just that
/// exercise is replaced (the others keep their code, still without hints).
pub fn strip_exercises(source: &str, shown_path: &str, only: Option<&str>) -> Result<String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::new();
    let mut next = 0;
    for region in regions::regions(source)? {
        let solve = only.is_some_and(|only| only != region.name);
        let shown = if solve { region.end } else { region.code };
        for (number, line) in lines.iter().enumerate().take(shown).skip(next) {
            if !region.hint_lines.contains(&number) {
                out.push_str(line);
                out.push('\n');
            }
        }
        if !solve {
            let marker = lines[region.begin];
            let indent = &marker[..marker.len() - marker.trim_start().len()];
            out.push_str(&format!(
                "{indent}todo!(\"exercise `{}` in {shown_path}\")\n",
                region.name
            ));
        }
        next = region.end + 1;
    }
    for line in &lines[next..] {
        out.push_str(line);
        out.push('\n');
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

    #[test]
    fn hints_are_left_out_of_the_student_crate() {
        let solution = "fn f() {\n    // exercise(a): do a\n    // hint: first\n    // hint: second,\n    //       longer\n    a()\n    // end exercise\n}\n";
        let student = strip_exercises(solution, "f", None).unwrap();
        assert_eq!(
            student,
            "fn f() {\n    // exercise(a): do a\n    todo!(\"exercise `a` in f\")\n}\n"
        );
        let solved = strip_exercises(solution, "f", Some("other")).unwrap();
        assert_eq!(solved, "fn f() {\n    // exercise(a): do a\n    a()\n}\n");
    }

    /// The committed chapters/ are exactly what the generator writes.
    #[test]
    fn committed_chapters_match_the_solutions() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let changed = run(&root, true, None).unwrap();
        assert_eq!(
            changed, 0,
            "chapters/ is out of date: run `cargo chaptergen` (see the files listed above)"
        );
    }
}
