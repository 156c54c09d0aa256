//! `cargo workshop status`: every chapter, solved or not, and what to do next.
//!
//! Grading all ten chapters takes minutes, so by default status shows what the
//! runner recorded when it last graded each chapter (and says when the files
//! changed since); `--grade` grades every chapter now, `--grade ch03` one.

use anyhow::Result;

use crate::grade::{self, chapter_short};
use crate::record::{self, Grading};
use crate::workspace::{Chapter, Workspace};

pub fn status(workspace: &Workspace, grade_now: Option<Option<String>>) -> Result<()> {
    let chapters = workspace.chapters()?;
    let to_grade: Vec<&Chapter> = match &grade_now {
        None => Vec::new(),
        Some(None) => chapters.iter().collect(),
        Some(Some(wanted)) => {
            let chapter = workspace.chapter(wanted)?;
            chapters.iter().filter(|c| c.name == chapter.name).collect()
        }
    };
    let mut fresh = Vec::new();
    for (n, chapter) in to_grade.iter().enumerate() {
        eprintln!(
            "grading {} ({} of {}): cargo test -p {} ...",
            chapter.name,
            n + 1,
            to_grade.len(),
            chapter.name
        );
        let graded = grade::grade(workspace, chapter)?;
        eprintln!("    {}", grade::summary(&graded.grading));
        fresh.push(chapter.name.clone());
    }

    println!("{:<24} {:<24} GRADED", "CHAPTER", "STATE");
    let mut next: Option<(&Chapter, Option<Grading>)> = None;
    for chapter in &chapters {
        let recorded = record::load_grading(workspace, chapter);
        let (state, when) = match &recorded {
            None => ("not graded yet".to_string(), "-".to_string()),
            Some(grading) => {
                let mut when = if fresh.contains(&chapter.name) {
                    "now".to_string()
                } else {
                    format!("recorded {}", record::ago(grading.graded_at))
                };
                if grading.fingerprint != record::fingerprint(chapter) {
                    when.push_str(", edited since");
                }
                (grade::summary(grading), when)
            }
        };
        println!("{:<24} {:<24} {}", chapter.name, state, when);
        let current = recorded
            .as_ref()
            .is_some_and(|g| g.solved() && g.fingerprint == record::fingerprint(chapter));
        if !current && next.is_none() {
            next = Some((chapter, recorded));
        }
    }
    println!();
    if fresh.len() < chapters.len() {
        println!(
            "States are what this runner recorded when it last graded each chapter (in {}); plain\n\
             `cargo test -p ...` runs are not recorded. Grade now: `cargo workshop status --grade` (every\n\
             chapter: a few minutes) or `cargo workshop status --grade ch03` (one).",
            workspace.shown(&workspace.state_dir)
        );
    }
    match next {
        None => println!("Every chapter is solved. Well done! Going further: see the book's last pages."),
        Some((chapter, recorded)) => {
            let short = chapter_short(chapter);
            let why = match &recorded {
                None => "it has not been graded yet".to_string(),
                Some(g) if g.solved() => "it was solved, but edited since: grade it again".to_string(),
                Some(g) => grade::summary(g),
            };
            println!("Next: {} ({why}).", chapter.name);
            println!(
                "    read its page in the book, edit {}/src,",
                workspace.shown(&chapter.student_dir)
            );
            println!("    and run `cargo workshop watch {short}`: it grades each time you save.");
            println!("    Stuck? `cargo workshop hint {short}`.");
        }
    }
    Ok(())
}
