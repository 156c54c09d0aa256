//! Signals: the runtime stands between you and the container, so the signals you
//! send it (Ctrl-C, `kill`) must reach the container's process.
//!
//! The runtime blocks the signals it forwards (sigprocmask(2)) before it clones
//! the child, then takes them one at a time with sigwait(3): no handler runs at an
//! awkward moment and none is lost. A blocked signal is never discarded, which
//! also matters for a PID 1 (chapter 02).

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::signal::{self, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::verbose;

/// The signals the runtime passes on to the container.
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// The forwarded signals plus SIGCHLD, which says a child changed state.
pub fn supervised_set() -> SigSet {
    let mut set = SigSet::empty();
    for signal in FORWARDED {
        set.add(signal);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// "SIGINT, SIGTERM, ...": the supervised signals by name.
fn describe_set() -> String {
    supervised_set()
        .iter()
        .map(|signal| signal.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Blocks the supervised signals; returns the mask to restore before execve.
pub fn block_supervised() -> Result<SigSet> {
    verbose::say(format_args!("sigprocmask(SIG_BLOCK, {{{}}})", describe_set()));
    let mut old = SigSet::empty();
    signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&supervised_set()), Some(&mut old))
        .context("sigprocmask(2) failed")?;
    Ok(old)
}

/// Prepares signals for the command about to be executed: restores the mask the
/// runtime started with, and the default action for SIGPIPE, which the Rust
/// runtime ignores (an ignored signal stays ignored across execve(2), and
/// `yes | head` would then never stop).
pub fn restore_for_exec(mask: &SigSet) -> Result<()> {
    verbose::say(format_args!(
        "sigprocmask(SIG_SETMASK, the mask the runtime started with); signal(SIGPIPE, SIG_DFL)"
    ));
    signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(mask), None).context("sigprocmask(2) failed")?;
    // SAFETY: setting a default disposition installs no handler code.
    unsafe { signal::signal(Signal::SIGPIPE, signal::SigHandler::SigDfl) }.context("signal(SIGPIPE) failed")?;
    Ok(())
}

/// Sends `signal` to `pid`, narrated. A process that is already gone is fine.
pub fn forward(pid: Pid, signal: Signal) {
    verbose::say(format_args!("kill({pid}, {signal})"));
    match signal::kill(pid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(error) => eprintln!("workshop: could not forward {signal} to {pid}: {error}"),
    }
}

/// Waits for `child` to end, forwarding every supervised signal to it meanwhile.
/// The supervised signals must be blocked (see [`block_supervised`]).
pub fn supervise(child: Pid) -> Result<WaitStatus> {
    let set = supervised_set();
    loop {
        let signal = set.wait().context("sigwait(3) failed")?;
        if signal != Signal::SIGCHLD {
            forward(child, signal);
            continue;
        }
        match waitpid(child, Some(WaitPidFlag::WNOHANG)).context("waitpid(2) failed")? {
            status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..)) => {
                verbose::say(format_args!("waitpid({child}) = {}", describe(status)));
                return Ok(status);
            }
            _ => continue,
        }
    }
}

/// "exited with status 3", "killed by SIGTERM": a wait status in words.
pub fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, signal, _) => format!("killed by {signal}"),
        other => format!("{other:?}"),
    }
}
