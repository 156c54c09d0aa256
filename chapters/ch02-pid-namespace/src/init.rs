//! `--init`: a tiny init of the runtime's own as the container's PID 1.
//!
//! PID 1 of a PID namespace has two duties a normal program does not do:
//! - signals: the kernel drops a signal sent to PID 1 that it has no handler for
//!   (so `sleep` as PID 1 ignores SIGTERM), and the command may expect them;
//! - orphans: a process whose parent dies is reparented to PID 1, which must reap it
//!   with waitpid(2), or it stays a zombie.
//!
//! With `--init`, the child splits in two right before execve(2): the new process
//! goes on to execute the command (PID 2), the original stays PID 1 and does both
//! duties until the command ends, then exits with its status.

use anyhow::Result;
use ch01::exit_status::exit_code;
use ch01::{signals, verbose, Container, Mechanism};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// The init mechanism: must be the last one, so everything else is set up already.
pub struct Init;

impl Mechanism for Init {
    fn name(&self) -> &'static str {
        "init"
    }

    fn child_before_exec(&mut self, _container: &Container) -> Result<()> {
        // The supervised signals are still blocked here (the lifecycle unblocks them
        // right before execve), so none is lost between fork and the init's loop.
        verbose::say(format_args!(
            "fork(): PID 1 stays as the init, the new process runs the command"
        ));
        // SAFETY: the child is single-threaded, so the forked copy is consistent.
        match unsafe { fork() }? {
            ForkResult::Child => Ok(()),
            ForkResult::Parent { child } => run_init(child),
        }
    }
}

/// PID 1's loop: forward signals to the command, reap every child, and exit with the
/// command's status when it ends (the kernel then kills whatever is left).
fn run_init(command: Pid) -> ! {
    // Keep only stdin, stdout and stderr. The sync channel in particular must be
    // closed here, or the runtime would wait for it to close at the command's exec.
    // SAFETY: close_range(2) only closes file descriptors this process owns.
    unsafe { nix::libc::syscall(nix::libc::SYS_close_range, 3, u32::MAX, 0) };
    let supervised = signals::supervised_set();
    loop {
        match supervised.wait() {
            Ok(Signal::SIGCHLD) => {
                if let Some(status) = reap_children(command) {
                    std::process::exit(exit_code(status));
                }
            }
            Ok(signal) => signals::forward(command, signal),
            Err(error) => {
                ch01::message::print(format_args!("workshop init: sigwait failed: {error}"));
                std::process::exit(ch01::exit_status::RUNTIME_ERROR);
            }
        }
    }
}

// ANCHOR: reap_children
/// Reaps every child that has ended, without blocking. Returns the command's
/// status if the command is among them.
pub fn reap_children(command: Pid) -> Option<WaitStatus> {
    // exercise(reap_children): call waitpid(2) for *any* child (pid -1) with
    // WNOHANG until no ended child is left: StillAlive or the error ECHILD
    // means stop. Remember the status when the reaped pid is `command`; every
    // other one is an orphan you just saved from being a zombie (narrate it).
    todo!("exercise `reap_children` in src/init.rs")
}
// ANCHOR_END: reap_children
