//! `cargo workshop reset CHAPTER`: puts a student crate back the way the generator
//! writes it (all your work in that chapter is lost), after asking.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};

use crate::workspace::Workspace;

pub fn reset(workspace: &Workspace, wanted: &str, yes: bool) -> Result<()> {
    let chapter = workspace.chapter(wanted)?;
    let shown = workspace.shown(&chapter.student_dir);
    let differ = chaptergen::sync_chapter(&chapter.solution_dir, &chapter.student_dir, true, None)?;
    if differ == 0 {
        println!("{shown} is already as the generator writes it: nothing to reset.");
        return Ok(());
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!("not resetting {shown} without asking: run it on a terminal, or pass --yes");
        }
        print!("Reset {shown}? This throws away your changes to {differ} file(s) (listed above). [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing changed.");
            return Ok(());
        }
    }
    let changed = chaptergen::sync_chapter(&chapter.solution_dir, &chapter.student_dir, false, None)?;
    println!("Reset {shown}: {changed} file(s) restored from the generator.");
    Ok(())
}
