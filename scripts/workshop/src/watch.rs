//! `cargo workshop watch [CHAPTER]`: grades the chapter, then again each time one
//! of its files is saved, and explains the first failing check. When the chapter
//! is solved it moves on to the next one.
//!
//! It notices a save by polling the files' modification times twice a second:
//! simple, and it works on every filesystem, shared folders of a VM included
//! (inotify(7) does not see changes made on the host side of those).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Result;

use crate::grade::{self, chapter_short};
use crate::record;
use crate::workspace::{Chapter, Workspace};

const POLL: Duration = Duration::from_millis(500);

pub fn watch(workspace: &Workspace, wanted: Option<&str>) -> Result<()> {
    let mut chapter = match wanted {
        Some(wanted) => workspace.chapter(wanted)?,
        None => match current_chapter(workspace)? {
            Some(chapter) => chapter,
            None => {
                println!("Every chapter is recorded as solved: `cargo workshop watch CHAPTER` watches one anyway.");
                return Ok(());
            }
        },
    };
    loop {
        println!("\n==> grading {} (cargo test -p {}) ...", chapter.name, chapter.name);
        let graded = grade::grade(workspace, &chapter)?;
        println!("==> {}: {}\n", chapter.name, grade::summary(&graded.grading));
        if graded.grading.solved() {
            let chapters = workspace.chapters()?;
            match chapters.iter().find(|c| c.number > chapter.number) {
                Some(next) => {
                    println!(
                        "Chapter {} is solved! On to {}: read its page in the book, then edit {}/src.",
                        chapter_short(&chapter),
                        next.name,
                        workspace.shown(&next.student_dir)
                    );
                    chapter = next.clone();
                }
                None => println!("Chapter {} is solved: that was the last one!", chapter_short(&chapter)),
            }
        } else {
            print!("{}", grade::explain(workspace, &chapter, &graded));
        }
        println!(
            "\nWatching {}/ for changes (Ctrl-C to stop) ...",
            workspace.shown(&chapter.student_dir)
        );
        wait_for_a_change(&chapter);
    }
}

/// The first chapter not recorded as solved (in its current state).
pub fn current_chapter(workspace: &Workspace) -> Result<Option<Chapter>> {
    Ok(workspace.chapters()?.into_iter().find(|chapter| {
        !record::load_grading(workspace, chapter)
            .is_some_and(|g| g.solved() && g.fingerprint == record::fingerprint(chapter))
    }))
}

/// Blocks until a file of the chapter is saved (created, changed or removed),
/// then waits for the writes to settle: editors often save in several steps.
fn wait_for_a_change(chapter: &Chapter) {
    let before = times(chapter);
    loop {
        std::thread::sleep(POLL);
        if times(chapter) != before {
            break;
        }
    }
    loop {
        let now = times(chapter);
        std::thread::sleep(POLL);
        if times(chapter) == now {
            return;
        }
    }
}

fn times(chapter: &Chapter) -> BTreeMap<PathBuf, Option<SystemTime>> {
    chapter
        .student_files()
        .into_iter()
        .map(|file| {
            let time = std::fs::metadata(&file).and_then(|m| m.modified()).ok();
            (file, time)
        })
        .collect()
}
