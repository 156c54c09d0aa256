//! `cargo workshop hint [CHAPTER | EXERCISE]`: reveals the next hint of an exercise,
//! one at a time. The hints are the `// hint:` lines of the exercise's region in
//! the solution (the generator leaves them out of the student crate); how many were
//! revealed is remembered in target/workshop/hints.txt.

use anyhow::{bail, Result};

use crate::grade::chapter_short;
use crate::record;
use crate::watch::current_chapter;
use crate::workspace::{exercise_of, Chapter, Exercise, Workspace};

pub fn hint(workspace: &Workspace, wanted: Option<&str>) -> Result<()> {
    let (chapter, exercise, why) = choose(workspace, wanted)?;
    let name = &exercise.region.name;
    let hints = &exercise.region.hints;
    let mut revealed = record::load_hints(workspace);
    let seen = revealed.get(name).copied().unwrap_or(0);
    let shown = (seen + 1).min(hints.len());
    if shown > seen {
        revealed.insert(name.clone(), shown);
        record::save_hints(workspace, &revealed)?;
    }

    println!(
        "Exercise `{name}` of {}, in {}:{} ({why})",
        chapter.name,
        exercise.student_file.display(),
        exercise.region.begin + 1
    );
    println!();
    for line in &exercise.region.task {
        println!("    {line}");
    }
    println!();
    if hints.is_empty() {
        println!("This exercise has no hints. Its task above, and the chapter's page in the book, say it all.");
    }
    for (n, hint) in hints.iter().take(shown).enumerate() {
        let new = if n + 1 == shown && shown > seen { " (new)" } else { "" };
        println!("Hint {} of {}{new}:", n + 1, hints.len());
        println!("{}\n", wrap(hint, 4, 96));
    }
    if !hints.is_empty() && shown < hints.len() {
        println!("Run `cargo workshop hint {name}` again for the next hint.");
    } else if !hints.is_empty() {
        println!(
            "That was the last hint. Still stuck? The reference solution is in {}/src/{} (exercise `{name}`),\n\
             and `cargo run -p {}-solution -- run -v ...` shows what it does.",
            workspace.shown(&chapter.solution_dir),
            exercise.student_file.file_name().unwrap().to_string_lossy(),
            chapter.name
        );
    }
    let others: Vec<String> = chapter
        .exercises()?
        .iter()
        .filter(|e| &e.region.name != name)
        .map(|e| {
            let seen = revealed.get(&e.region.name).copied().unwrap_or(0);
            format!("{} ({} of {} hints seen)", e.region.name, seen, e.region.hints.len())
        })
        .collect();
    if !others.is_empty() {
        println!("Other exercises of {}: {}.", chapter_short(&chapter), others.join(", "));
    }
    Ok(())
}

/// The exercise to give a hint for: the one named, or in the chapter (named, or the
/// current one), the one its last recorded grading failed first.
fn choose(workspace: &Workspace, wanted: Option<&str>) -> Result<(Chapter, Exercise, String)> {
    if let Some(wanted) = wanted {
        for chapter in workspace.chapters()? {
            if let Some(exercise) = chapter.exercises()?.into_iter().find(|e| e.region.name == wanted) {
                return Ok((chapter, exercise, "the exercise you named".to_string()));
            }
        }
    }
    let chapter = match wanted {
        Some(wanted) => workspace
            .chapter(wanted)
            .map_err(|e| anyhow::anyhow!("{e}; or name an exercise: `grep -rn \"exercise(\" chapters` lists them"))?,
        None => match current_chapter(workspace)? {
            Some(chapter) => chapter,
            None => bail!("every chapter is recorded as solved: name a chapter or an exercise"),
        },
    };
    let exercises = chapter.exercises()?;
    let Some(first) = exercises.first().cloned() else {
        bail!("{} has no exercises", chapter.name);
    };
    let failing = record::load_grading(workspace, &chapter).and_then(|grading| {
        grading
            .failed
            .iter()
            .find_map(|check| exercise_of(check, &exercises).map(|e| (e.clone(), check.clone())))
    });
    Ok(match failing {
        Some((exercise, check)) => (chapter, exercise, format!("its check {check} failed when last graded")),
        None => (
            chapter,
            first,
            "the chapter's first exercise; `cargo workshop hint NAME` picks another".to_string(),
        ),
    })
}

/// `text` as lines of at most `width` characters, each indented by `indent`.
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let mut lines = vec![pad.clone()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().unwrap();
        if line.len() > indent && line.len() + 1 + word.len() > width {
            lines.push(format!("{pad}{word}"));
        } else {
            if line.len() > indent {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines.join("\n")
}
