//! chaptergen: writes the student crates in `chapters/` from the reference
//! solutions in `solutions/`, the one source of truth for every exercise.
//!
//! In a solution, an exercise region looks like this:
//!
//! ```text
//!     // exercise(enter_rootfs): what the student must do, in comment lines
//!     // that go on as long as needed.
//!     // hint: a first nudge; hints come last in the header.
//!     // hint: a second one, more precise.
//!     ...the reference code...
//!     // end exercise
//! ```
//!
//! In the student crate the comment lines stay and the code becomes a `todo!()`;
//! the hints are left out (`cargo workshop hint` reveals them one at a time).
//! The student crate is renamed (`ch01-chroot-solution` -> `ch01-chroot`); it keeps
//! depending on the *solutions* of earlier chapters.
//!
//! The region parser and the generator are a library (src/lib.rs), so the workshop
//! runner (`cargo workshop hint`, `cargo workshop reset`) reads the same markers.
//!
//! Usage: `cargo chaptergen` rewrites chapters/; `cargo chaptergen --check` only
//! compares and fails when the committed chapters/ differ (CI runs it).
//! `cargo chaptergen --only NAME` writes chapters/ with only exercise NAME unsolved
//! (the other regions keep their solution): scripts/prove-graders-fail.sh uses it,
//! in a scratch copy of the workspace, to prove each exercise's checks fail alone.

use std::path::{Path, PathBuf};

use chaptergen::run;

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
