//! The parent/child sync channel: a socketpair(2) carrying a tiny typed protocol.
//!
//! ```text
//! parent                                  child
//!   | -- Continue ---------------------->   |  (sync point 1: parent side done)
//!   |                                       |  sets itself up, execve(2)
//!   |  <-- end of file ------------------   |  (sync point 2: exec succeeded)
//!   |  <-- Failed { exit_code, reason } --  |  (or: it could not)
//! ```
//!
//! Both ends are close-on-exec, so a successful execve(2) closes the child's end and
//! the parent reads end-of-file: that is how the parent knows the command started.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

use crate::verbose;

/// One message of the protocol.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// Parent to child: "my side is ready, go on".
    Continue,
    /// Child to parent: "I could not start the command".
    Failed { exit_code: i32, reason: String },
}

impl Message {
    fn encode(&self) -> String {
        match self {
            Message::Continue => "continue\n".to_string(),
            Message::Failed { exit_code, reason } => {
                format!("failed {exit_code} {}\n", reason.replace('\n', " "))
            }
        }
    }

    fn decode(line: &str) -> io::Result<Message> {
        let line = line.trim_end_matches('\n');
        if line == "continue" {
            return Ok(Message::Continue);
        }
        let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad sync message {line:?}"));
        let rest = line.strip_prefix("failed ").ok_or_else(bad)?;
        let (code, reason) = rest.split_once(' ').ok_or_else(bad)?;
        let exit_code = code.parse().map_err(|_| bad())?;
        Ok(Message::Failed {
            exit_code,
            reason: reason.to_string(),
        })
    }
}

/// How the child's start ended, as the parent learns it at sync point 2.
#[derive(Debug, PartialEq, Eq)]
pub enum ExecOutcome {
    /// The command is running.
    Started,
    /// The child gave up before or at execve(2).
    Failed { exit_code: i32, reason: String },
}

/// The parent's end of the channel.
pub struct ParentEnd(UnixStream);

/// The child's end of the channel.
pub struct ChildEnd(BufReader<UnixStream>);

/// Makes a connected pair of ends (both close-on-exec).
pub fn channel() -> io::Result<(ParentEnd, ChildEnd)> {
    verbose::say(format_args!(
        "socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): the sync channel"
    ));
    let (parent, child) = UnixStream::pair()?;
    Ok((ParentEnd(parent), ChildEnd(BufReader::new(child))))
}

impl ParentEnd {
    /// The file descriptor: the child closes its inherited copy of the parent's
    /// end, so that it reads end-of-file if the parent dies.
    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Sync point 1: tells the waiting child that the parent's side is ready.
    pub fn tell_child_to_continue(&mut self) -> io::Result<()> {
        verbose::say(format_args!("sync point 1: write(channel, \"continue\")"));
        self.0.write_all(Message::Continue.encode().as_bytes())
    }

    /// Sync point 2: waits until the child has executed the command (end of file)
    /// or reports why it could not.
    pub fn wait_for_exec(mut self) -> io::Result<ExecOutcome> {
        let mut text = String::new();
        self.0.read_to_string(&mut text)?;
        if text.is_empty() {
            verbose::say(format_args!(
                "sync point 2: read(channel) = end of file: the command is running"
            ));
            return Ok(ExecOutcome::Started);
        }
        verbose::say(format_args!("sync point 2: read(channel) = {:?}", text.trim_end()));
        match Message::decode(&text)? {
            Message::Failed { exit_code, reason } => Ok(ExecOutcome::Failed { exit_code, reason }),
            Message::Continue => Err(io::Error::new(io::ErrorKind::InvalidData, "child sent continue")),
        }
    }
}

impl ChildEnd {
    /// Sync point 1, child side: blocks until the parent says "continue".
    pub fn wait_for_parent(&mut self) -> io::Result<()> {
        let mut line = String::new();
        if self.0.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the parent went away"));
        }
        verbose::say(format_args!("sync point 1: read(channel) = {:?}", line.trim_end()));
        match Message::decode(&line)? {
            Message::Continue => Ok(()),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected {other:?}"),
            )),
        }
    }

    /// Whether the parent has died (its end of the channel is closed), without
    /// waiting: the parent sends nothing after "continue", so a read can only
    /// block (alive) or find end-of-file (gone).
    pub fn parent_is_gone(&mut self) -> bool {
        let stream = self.0.get_mut();
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let gone = matches!(stream.read(&mut [0u8; 1]), Ok(0));
        let _ = stream.set_nonblocking(false);
        gone
    }

    /// Tells the parent why the command could not be started.
    pub fn report_failure(&mut self, exit_code: i32, reason: &str) {
        let message = Message::Failed {
            exit_code,
            reason: reason.to_string(),
        };
        // If the parent is gone there is nobody to tell: ignore the error.
        let _ = self.0.get_mut().write_all(message.encode().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for message in [
            Message::Continue,
            Message::Failed {
                exit_code: 127,
                reason: "sh: not found".into(),
            },
        ] {
            assert_eq!(Message::decode(&message.encode()).unwrap(), message);
        }
    }

    #[test]
    fn end_of_file_means_the_command_started() {
        let (parent, child) = channel().unwrap();
        drop(child);
        assert_eq!(parent.wait_for_exec().unwrap(), ExecOutcome::Started);
    }

    #[test]
    fn a_failure_report_reaches_the_parent() {
        let (mut parent, mut child) = channel().unwrap();
        parent.tell_child_to_continue().unwrap();
        child.wait_for_parent().unwrap();
        child.report_failure(126, "permission denied");
        drop(child);
        let outcome = parent.wait_for_exec().unwrap();
        assert_eq!(
            outcome,
            ExecOutcome::Failed {
                exit_code: 126,
                reason: "permission denied".into()
            }
        );
    }
}
