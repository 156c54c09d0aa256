//! The command line. Later chapters add their own flags next to these with
//! `#[command(flatten)]`, so every chapter's `run` accepts everything before it.

use std::path::PathBuf;

use clap::{Args, Parser};

use crate::exit_status::RUNTIME_ERROR;

/// The flags every chapter's `run` has.
#[derive(Args, Debug, Clone)]
pub struct ContainerArgs {
    /// The directory that becomes the container's root filesystem (required until
    /// chapter 09, where an image can be given instead).
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,

    /// Narrate every kernel call the runtime makes, in order, on stderr.
    #[arg(short, long)]
    pub verbose: bool,

    /// The command to run in the container, and its arguments
    /// (put `--` before it when it has flags of its own).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Parses the command line. A usage error exits with 125, as `docker run` does, so
/// that a typo can never be mistaken for the container's own exit code.
pub fn parse_or_exit<P: Parser>() -> P {
    match P::try_parse() {
        Ok(parsed) => parsed,
        Err(error) => {
            let _ = error.print();
            std::process::exit(if error.use_stderr() { RUNTIME_ERROR } else { 0 });
        }
    }
}
