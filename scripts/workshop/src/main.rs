//! The workshop runner, `cargo workshop COMMAND` (the alias is in .cargo/config.toml):
//!
//! - `status`: every chapter, solved or not, and what to do next;
//! - `watch`: grades the current chapter each time you save, explains the first
//!   failing check;
//! - `hint`: the next hint for an exercise, one at a time;
//! - `reset`: puts a chapter's crate back as the generator writes it;
//! - `doctor`: can this machine run the workshop, and what to fix.
//!
//! It runs as you (scripts/sudo-runner lets it through without sudo): it writes
//! into your checkout. The gradings it starts (`cargo test -p ...`) go through
//! sudo-runner as usual. It records what it learns in target/workshop/.

mod doctor;
mod grade;
mod hint;
mod libtest;
mod record;
mod reset;
mod status;
mod trials;
mod watch;
mod workspace;

use clap::{Parser, Subcommand};

use crate::workspace::Workspace;

#[derive(Parser)]
#[command(
    name = "cargo workshop",
    about = "The workshop runner: status, watch, hint, reset, doctor"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Every chapter, solved or not (as last graded by this runner), and what to do next.
    Status {
        /// Grade now: every chapter (takes minutes), or the one named (e.g. ch03).
        #[arg(long, value_name = "CHAPTER", num_args = 0..=1, default_missing_value = "all")]
        grade: Option<String>,
    },
    /// Grade a chapter each time one of its files is saved (default: the first unsolved one).
    Watch { chapter: Option<String> },
    /// Reveal the next hint, for an exercise (e.g. find_in_path) or a chapter (e.g. ch01).
    Hint { chapter_or_exercise: Option<String> },
    /// Restore a chapter's crate (chapters/chNN-...) from the generator, after asking.
    Reset {
        chapter: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Check that this machine can run the workshop; exits 1 when a check fails.
    Doctor {
        /// Only the kernel trials, as tab-separated rows (the doctor runs this with sudo).
        #[arg(long, hide = true)]
        trials: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = (|| -> anyhow::Result<bool> {
        if let Commands::Doctor { trials: true } = cli.command {
            return Ok(doctor::print_trials());
        }
        let workspace = Workspace::find()?;
        match cli.command {
            Commands::Status { grade } => {
                let grade = grade.map(|g| (g != "all").then_some(g));
                status::status(&workspace, grade)?;
                Ok(true)
            }
            Commands::Watch { chapter } => watch::watch(&workspace, chapter.as_deref()).map(|_| true),
            Commands::Hint { chapter_or_exercise } => {
                hint::hint(&workspace, chapter_or_exercise.as_deref()).map(|_| true)
            }
            Commands::Reset { chapter, yes } => reset::reset(&workspace, &chapter, yes).map(|_| true),
            Commands::Doctor { .. } => doctor::doctor(&workspace),
        }
    })();
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(error) => {
            eprintln!("workshop: error: {error:#}");
            std::process::exit(1);
        }
    }
}
