//! What the runner remembers between runs, as small text files in target/workshop/:
//! the last grading of each chapter it ran (grades/CHAPTER.txt) and how many hints
//! of each exercise were revealed (hints.txt). Plain `cargo test -p ...` runs are not
//! recorded: only the gradings this runner performs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::workspace::{Chapter, Workspace};

/// The result of one grading of a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grading {
    /// Seconds since the Unix epoch.
    pub graded_at: u64,
    /// The state of the student's files when it was graded ([`fingerprint`]).
    pub fingerprint: String,
    /// "solved", "failing" or "build-failed".
    pub outcome: String,
    pub passed: usize,
    pub failed: Vec<String>,
}

impl Grading {
    pub fn solved(&self) -> bool {
        self.outcome == "solved"
    }

    fn to_text(&self) -> String {
        format!(
            "graded_at={}\nfingerprint={}\noutcome={}\npassed={}\nfailed={}\n",
            self.graded_at,
            self.fingerprint,
            self.outcome,
            self.passed,
            self.failed.join(",")
        )
    }

    fn from_text(text: &str) -> Option<Grading> {
        let fields: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        Some(Grading {
            graded_at: fields.get("graded_at")?.parse().ok()?,
            fingerprint: fields.get("fingerprint")?.to_string(),
            outcome: fields.get("outcome")?.to_string(),
            passed: fields.get("passed")?.parse().ok()?,
            failed: fields
                .get("failed")?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

fn grading_file(workspace: &Workspace, chapter: &Chapter) -> PathBuf {
    workspace.state_dir.join("grades").join(format!("{}.txt", chapter.name))
}

pub fn save_grading(workspace: &Workspace, chapter: &Chapter, grading: &Grading) -> Result<()> {
    write_file(&grading_file(workspace, chapter), &grading.to_text())
}

pub fn load_grading(workspace: &Workspace, chapter: &Chapter) -> Option<Grading> {
    let text = std::fs::read_to_string(grading_file(workspace, chapter)).ok()?;
    Grading::from_text(&text)
}

/// A fingerprint of the student's files (names and contents): a recorded grading
/// whose fingerprint differs was made before the files were last edited.
pub fn fingerprint(chapter: &Chapter) -> String {
    // FNV-1a, 64 bits: stable across runs and Rust versions, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut add = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in chapter.student_files() {
        add(file
            .strip_prefix(&chapter.student_dir)
            .unwrap_or(&file)
            .to_string_lossy()
            .as_bytes());
        add(&[0]);
        add(&std::fs::read(&file).unwrap_or_default());
        add(&[0]);
    }
    format!("{hash:016x}")
}

/// How many hints of each exercise were revealed.
pub fn load_hints(workspace: &Workspace) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(workspace.state_dir.join("hints.txt")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter_map(|(name, count)| Some((name.to_string(), count.parse().ok()?)))
        .collect()
}

pub fn save_hints(workspace: &Workspace, hints: &BTreeMap<String, usize>) -> Result<()> {
    let text: String = hints.iter().map(|(name, count)| format!("{name}={count}\n")).collect();
    write_file(&workspace.state_dir.join("hints.txt"), &text)
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// "just now", "5 min ago", "3 h ago", "2 days ago".
pub fn ago(then: u64) -> String {
    let seconds = now().saturating_sub(then);
    match seconds {
        0..=59 => "just now".to_string(),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86399 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86400),
    }
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write_file(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().unwrap();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, text).with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))
}
