//! `--verbose`: the runtime narrates each kernel call it makes, so you can match
//! what happened with the book. Lines go to stderr and say which side made the call:
//!
//! ```text
//! [workshop parent] clone(CLONE_NEWPID | SIGCHLD) = 48211
//! [workshop child] chroot("/var/lib/workshop/busybox")
//! ```

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);
static IN_CHILD: AtomicBool = AtomicBool::new(false);

/// Turns narration on (from `-v`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether `-v` is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Called once in the child right after clone(2), so its lines say "child".
pub fn now_in_child() {
    IN_CHILD.store(true, Ordering::Relaxed);
}

/// Prints one narration line when `-v` is on.
pub fn say(what: fmt::Arguments) {
    if ENABLED.load(Ordering::Relaxed) {
        let side = if IN_CHILD.load(Ordering::Relaxed) {
            "child"
        } else {
            "parent"
        };
        // One write(2) for the whole line: eprintln! writes piece by piece, and the
        // container's own output, on the same terminal, could land in the middle.
        let line = format!("[workshop {side}] {what}\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}
