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

/// Blocks the supervised signals, so they wait for [`supervise`] to take them.
pub fn block_supervised() -> Result<()> {
    verbose::say(format_args!("sigprocmask(SIG_BLOCK, {{{}}})", describe_set()));
    signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&supervised_set()), None).context("sigprocmask(2) failed")?;
    Ok(())
}

/// Gives the command about to be executed a clean start: no blocked signal, and
/// the default action for the forwarded signals and SIGPIPE. Both a signal mask and
/// an ignored signal survive execve(2): the Rust runtime ignores SIGPIPE (so
/// `yes | head` would never stop), and a runtime started in the background by a
/// shell ignores SIGINT and SIGQUIT (so Ctrl-C could never reach the container).
pub fn reset_for_exec() -> Result<()> {
    verbose::say(format_args!(
        "sigprocmask(SIG_SETMASK, {{}}); signal(SIGPIPE and the forwarded signals, SIG_DFL)"
    ));
    for signal in FORWARDED.into_iter().chain([Signal::SIGPIPE]) {
        // SAFETY: setting a default disposition installs no handler code.
        unsafe { signal::signal(signal, signal::SigHandler::SigDfl) }.context("signal(2) failed")?;
    }
    signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).context("sigprocmask(2) failed")?;
    Ok(())
}

/// Sends `signal` to `pid`, narrated. A process that is already gone is fine.
pub fn forward(pid: Pid, signal: Signal) {
    verbose::say(format_args!("kill({pid}, {signal})"));
    match signal::kill(pid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(error) => crate::message::print(format_args!("workshop: could not forward {signal} to {pid}: {error}")),
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
