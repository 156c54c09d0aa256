//! What `pull` shows while it works, as `docker pull` shows it: one line per
//! layer, a download bar updated in place, then the image's digest.
//!
//! ```text
//! latest: Pulling from workshop/busybox
//! 3f4d90098f5b: Pull complete
//! 9c2a5e1b7d40: Downloading [=========>              ]  1.2MB/3.1MB
//! ```
//!
//! The lines go to stderr, and only when stderr is a terminal: a script that
//! pipes `pull` reads the stdout line and no progress noise.

use std::io::{IsTerminal, Write};

/// Progress lines for one pull; silent unless stderr is a terminal.
pub struct Progress {
    on_terminal: bool,
}

impl Progress {
    /// Shows progress if stderr is a terminal (see isatty(3)).
    pub fn new() -> Progress {
        Progress {
            on_terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Progress that shows nothing (for a download that is not a layer).
    pub fn silent() -> Progress {
        Progress { on_terminal: false }
    }

    /// A line of its own, e.g. "latest: Pulling from library/alpine".
    pub fn line(&self, text: &str) {
        if self.on_terminal {
            ch01::message::print(format_args!("{text}"));
        }
    }

    /// The final state of one layer: "SHORTID: Pull complete" (replaces its bar).
    pub fn layer(&self, digest: &str, status: &str) {
        if self.on_terminal {
            let _ = write!(std::io::stderr(), "\r{}: {status}\x1b[K\n", short(digest));
        }
    }

    /// The layer's download bar, redrawn in place ("\r" back to the line's start,
    /// "ESC [K" erases what the longer previous text left).
    pub fn downloading(&self, digest: &str, done: u64, total: u64) {
        if !self.on_terminal {
            return;
        }
        const WIDTH: u64 = 25;
        let filled = (done.min(total) * WIDTH).checked_div(total).unwrap_or(WIDTH);
        let bar: String = (0..WIDTH)
            .map(|i| match i.cmp(&filled) {
                std::cmp::Ordering::Less => '=',
                std::cmp::Ordering::Equal => '>',
                std::cmp::Ordering::Greater => ' ',
            })
            .collect();
        let mut stderr = std::io::stderr();
        let _ = write!(
            stderr,
            "\r{}: Downloading [{bar}] {}/{}\x1b[K",
            short(digest),
            megabytes(done),
            megabytes(total)
        );
        let _ = stderr.flush();
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// The 12 hex digits Docker shows for a digest.
pub fn short(digest: &str) -> &str {
    let hex = digest.trim_start_matches("sha256:");
    &hex[..hex.len().min(12)]
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1}MB", bytes as f64 / 1e6)
}
