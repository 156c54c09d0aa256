//! Messages for the user on stderr: errors, warnings, what a run cleaned up.
//!
//! `eprintln!` panics when stderr cannot be written (its reader is gone, as after
//! `2>&1 | head -1`: write(2) fails with EPIPE). A runtime must clean up whatever
//! happens to its stderr, so its messages go through [`print`], which drops a line
//! it cannot write.

use std::fmt;
use std::io::Write;

/// Writes `what` and a newline to stderr, in one write(2); a failure is ignored.
pub fn print(what: fmt::Arguments) {
    let line = format!("{what}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}
