//! Where things are: the workspace, its chapters, their exercises, and the
//! directory where the runner keeps what it records (target/workshop/).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chaptergen::regions::{regions, Region};

/// The workspace the runner works on.
pub struct Workspace {
    pub root: PathBuf,
    /// Where the runner records gradings and revealed hints.
    pub state_dir: PathBuf,
}

/// One chapter: its solution crate and the student crate generated from it.
#[derive(Debug, Clone)]
pub struct Chapter {
    /// 1 for ch01-chroot.
    pub number: u32,
    /// The directory name, e.g. "ch01-chroot" (also the student package's name).
    pub name: String,
    pub solution_dir: PathBuf,
    pub student_dir: PathBuf,
}

/// An exercise of a chapter, read from the solution's markers.
#[derive(Debug, Clone)]
pub struct Exercise {
    pub region: Region,
    /// The student's file, relative to the workspace: chapters/ch01-chroot/src/chroot.rs.
    pub student_file: PathBuf,
}

impl Workspace {
    /// The workspace this runner was built in, or WORKSHOP_ROOT (tests use a
    /// scratch copy). Records go to $CARGO_TARGET_DIR/workshop or target/workshop.
    pub fn find() -> Result<Workspace> {
        let root = match std::env::var_os("WORKSHOP_ROOT") {
            Some(root) => PathBuf::from(root),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
        };
        let root = root
            .canonicalize()
            .with_context(|| format!("the workspace {} does not exist", root.display()))?;
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => root.join(dir),
            None => root.join("target"),
        };
        Ok(Workspace {
            state_dir: target.join("workshop"),
            root,
        })
    }

    /// Every chapter, in order (from the solutions/ directory).
    pub fn chapters(&self) -> Result<Vec<Chapter>> {
        let dir = self.root.join("solutions");
        let mut chapters = Vec::new();
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some(number) = name
                .strip_prefix("ch")
                .and_then(|n| n.get(..2))
                .and_then(|n| n.parse().ok())
            else {
                continue;
            };
            chapters.push(Chapter {
                number,
                student_dir: self.root.join("chapters").join(&name),
                solution_dir: path,
                name,
            });
        }
        chapters.sort_by_key(|c| c.number);
        Ok(chapters)
    }

    /// The chapter `wanted` names: "3", "03", "ch03", "ch03-mount-namespace" or
    /// "mount-namespace".
    pub fn chapter(&self, wanted: &str) -> Result<Chapter> {
        let chapters = self.chapters()?;
        let wanted = wanted.trim().to_lowercase();
        let number: Option<u32> = wanted.strip_prefix("ch").unwrap_or(&wanted).parse().ok();
        let found = chapters
            .iter()
            .find(|c| Some(c.number) == number || c.name == wanted || c.name.get(5..) == Some(wanted.as_str()));
        match found {
            Some(chapter) => Ok(chapter.clone()),
            None => bail!(
                "no chapter {wanted:?}: the chapters are {}",
                chapters.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// A path relative to the workspace, for messages.
    pub fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }
}

impl Chapter {
    /// The exercises of this chapter, in the order the grader checks them (the
    /// order of the checks in tests/grade.rs), then any others in file order.
    pub fn exercises(&self) -> Result<Vec<Exercise>> {
        let src = self.solution_dir.join("src");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
            .with_context(|| format!("reading {}", src.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        files.sort();
        let mut exercises = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let found = regions(&text).with_context(|| format!("{}", file.display()))?;
            for region in found {
                exercises.push(Exercise {
                    region,
                    student_file: Path::new("chapters")
                        .join(&self.name)
                        .join("src")
                        .join(file.file_name().unwrap()),
                });
            }
        }
        let order = self.check_names();
        let position = |e: &Exercise| {
            order
                .iter()
                .position(|check| exercise_of(check, std::slice::from_ref(e)).is_some())
                .unwrap_or(usize::MAX)
        };
        exercises.sort_by_key(position);
        Ok(exercises)
    }

    /// The names of the grader's checks, in the order tests/grade.rs lists them.
    pub fn check_names(&self) -> Vec<String> {
        let grade = std::fs::read_to_string(self.student_dir.join("tests/grade.rs")).unwrap_or_default();
        let mut names = Vec::new();
        let mut after_test = false;
        for line in grade.lines().map(str::trim) {
            if line == "#[test]" {
                after_test = true;
            } else if let Some(rest) = line.strip_prefix("fn ").filter(|_| after_test) {
                names.extend(rest.split('(').next().map(str::to_string));
                after_test = false;
            }
        }
        names
    }

    /// The student's source files (what `watch` watches and a grading's record
    /// remembers the state of).
    pub fn student_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for dir in ["src", "tests"] {
            collect_files(&self.student_dir.join(dir), &mut files);
        }
        files.push(self.student_dir.join("Cargo.toml"));
        files.sort();
        files
    }
}

/// The exercise a check grades: its name starts with the exercise's name
/// (`find_in_path_finds_commands` grades `find_in_path`). Regression checks
/// (`regression_...`) grade none.
pub fn exercise_of<'a>(check: &str, exercises: &'a [Exercise]) -> Option<&'a Exercise> {
    exercises
        .iter()
        .filter(|e| check == e.region.name || check.starts_with(&format!("{}_", e.region.name)))
        .max_by_key(|e| e.region.name.len())
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}
