//! Running a binary with its stderr on a terminal: a pseudo-terminal (pty(7))
//! the check opens, so a program that asks isatty(3) gets "yes" and the check
//! reads what a person at that terminal would have seen.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

use nix::pty::openpty;

/// What a run with stderr on a terminal produced.
#[derive(Debug)]
pub struct TerminalRun {
    /// The exit code (None if killed by a signal).
    pub code: Option<i32>,
    /// stdout, which was a pipe.
    pub stdout: String,
    /// Everything written to the terminal, control characters included.
    pub terminal: String,
}

impl TerminalRun {
    /// The terminal's text as lines, each as it was left on the screen: a
    /// carriage return starts the line over, "ESC [ K" erasures are dropped.
    pub fn screen_lines(&self) -> Vec<String> {
        self.terminal
            .replace("\x1b[K", "")
            .split('\n')
            .map(|line| {
                line.rsplit('\r')
                    .find(|part| !part.is_empty())
                    .unwrap_or("")
                    .to_string()
            })
            .filter(|line| !line.is_empty())
            .collect()
    }
}

/// Runs `binary args` with stdin empty, stdout a pipe and stderr a new terminal.
pub fn run_with_stderr_on_terminal(binary: &str, args: &[&str]) -> TerminalRun {
    let pty = openpty(None, None).expect("openpty");
    let terminal_side: OwnedFd = pty.slave;
    let mut child = Command::new(binary)
        .args(args)
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(terminal_side))
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {binary}: {e}"));
    // The child holds the only terminal side now: when it exits, reading the
    // controller side ends (Linux answers EIO, which ends the loop).
    let mut controller = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(n) = controller.read(&mut buffer) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buffer[..n]);
        }
        seen
    });
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let status = child.wait().unwrap();
    let terminal = reader.join().unwrap();
    TerminalRun {
        code: status.code(),
        stdout,
        // The terminal turns "\n" into "\r\n" (onlcr): keep one line end.
        terminal: String::from_utf8_lossy(&terminal).replace("\r\n", "\n"),
    }
}
