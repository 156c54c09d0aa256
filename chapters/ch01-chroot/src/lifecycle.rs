//! The container lifecycle: one fixed start sequence that every chapter reuses.
//! Mechanisms plug into it through the [`Mechanism`] hooks; the numbered steps
//! below are the ones the book's diagram shows.

use std::convert::Infallible;
use std::io::Write;
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{self, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{Pid, Uid};

use crate::cli::ContainerArgs;
use crate::command;
use crate::exit_status::{self, RUNTIME_ERROR};
use crate::mechanism::Mechanism;
use crate::signals;
use crate::sync::{self, ChildEnd, ExecOutcome};
use crate::verbose;

/// What every mechanism may read about the container being started.
#[derive(Debug, Clone)]
pub struct Container {
    /// A short random id (12 hex digits, as Docker shows them), for names the
    /// runtime gives to what it creates (a hostname, a cgroup, ...).
    pub id: String,
    /// The root filesystem, as an absolute path with no symlinks.
    pub rootfs: PathBuf,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Variables ("NAME=value") added to the command's environment (an image's).
    pub env: Vec<String>,
    /// The directory the command starts in, inside the container (default "/").
    pub workdir: Option<PathBuf>,
    /// The uid and gid the command runs as, inside the container (default root).
    pub user: Option<(u32, u32)>,
}

impl Container {
    /// Checks the command line before anything is changed on the host.
    pub fn from_args(args: &ContainerArgs) -> Result<Container> {
        let rootfs = args.rootfs.as_ref().context(
            "--rootfs DIR is missing: give the directory that becomes the container's root filesystem \
             (the workshop's default is /var/lib/workshop/busybox)",
        )?;
        Container::new(rootfs, args.command.clone())
    }

    /// A container for `command` in `rootfs`, with a new id.
    pub fn new(rootfs: &Path, command: Vec<String>) -> Result<Container> {
        if !Uid::effective().is_root() {
            bail!(
                "the runtime must run as root (namespaces, chroot and mounts need it): \
                 use sudo, or `cargo run`, which re-executes it with sudo for you"
            );
        }
        let rootfs = rootfs.canonicalize().with_context(|| {
            format!(
                "the rootfs {} does not exist: pass --rootfs DIR with a root filesystem in it \
                 (`sudo scripts/make-rootfs.sh DIR` makes one; the workshop's default is /var/lib/workshop/busybox)",
                rootfs.display()
            )
        })?;
        if !rootfs.is_dir() {
            bail!("the rootfs {} is not a directory", rootfs.display());
        }
        if command.is_empty() {
            bail!("no command to run: give one after the options (and after `--` if it has flags of its own)");
        }
        Ok(Container {
            id: new_container_id()?,
            rootfs,
            command,
            env: Vec::new(),
            workdir: None,
            user: None,
        })
    }
}

/// 12 random hex digits from the kernel's random number generator.
fn new_container_id() -> Result<String> {
    let mut bytes = [0u8; 6];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut bytes))
        .context("reading /dev/urandom for a container id")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

// ANCHOR: start_sequence
/// Runs one container from start to cleanup and returns the runtime's exit status.
pub fn run_container(args: &ContainerArgs, mechanisms: &mut [Box<dyn Mechanism>]) -> i32 {
    // 1. The command line was parsed by the chapter's main (clap).
    if args.verbose {
        verbose::enable();
    }
    match Container::from_args(args) {
        Ok(container) => run_prepared_container(&container, mechanisms),
        Err(error) => runtime_error(error),
    }
}

/// Runs a container already described (by the command line or by an image).
pub fn run_prepared_container(container: &Container, mechanisms: &mut [Box<dyn Mechanism>]) -> i32 {
    let container = container.clone();
    let mut prepared = 0;
    let outcome = without_panics(|| start_and_wait(&container, mechanisms, &mut prepared));

    // 10. Clean up, whatever happened: every mechanism that began preparing, in
    //     reverse order. The supervised signals are still blocked, so a second
    //     Ctrl-C cannot interrupt this.
    let mut cleaned = true;
    for mechanism in mechanisms[..prepared].iter_mut().rev() {
        // A panic in one (even a print to a stderr whose reader is gone) must not
        // skip the others; nor may this message.
        if let Err(error) = without_panics(|| mechanism.cleanup(&container)) {
            let name = mechanism.name();
            let _ = writeln!(
                std::io::stderr(),
                "workshop: error: cleaning up {name} failed: {error:#}"
            );
            cleaned = false;
        }
    }
    // 11. Exit with the container's status (or 125 when the runtime failed).
    match outcome {
        Ok(code) if cleaned => code,
        Ok(_) => RUNTIME_ERROR,
        Err(error) => runtime_error(error),
    }
}

fn start_and_wait(container: &Container, mechanisms: &mut [Box<dyn Mechanism>], prepared: &mut usize) -> Result<i32> {
    // 2. Prepare, in the parent, before the child exists.
    for mechanism in mechanisms.iter_mut() {
        *prepared += 1;
        let name = mechanism.name();
        mechanism
            .prepare(container)
            .with_context(|| format!("preparing {name} failed"))?;
    }

    // 3. The sync channel, and the signals the parent will forward, blocked.
    let (parent_end, child_end) = sync::channel().context("socketpair(2) failed")?;
    signals::block_supervised()?;

    // 4. Clone the child into the namespaces the mechanisms ask for.
    let flags = mechanisms
        .iter()
        .fold(CloneFlags::empty(), |flags, m| flags | m.clone_flags());
    let parent_fd = parent_end.raw_fd();
    let mut child_end = Some(child_end);
    let child = spawn_child(flags, &mut || {
        let mut channel = child_end.take().expect("the child runs once");
        child_main(container, mechanisms, &mut channel, parent_fd)
    })?;
    // 5. The parent closes the child's end (else it would never read end-of-file),
    //    then does its side while the child waits.
    drop(child_end);
    let result = without_panics(|| parent_side(container, mechanisms, parent_end, child));
    if result.is_err() {
        // The child must not outlive a failed start.
        let _ = signal::kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
    }
    result
}

fn parent_side(
    container: &Container,
    mechanisms: &mut [Box<dyn Mechanism>],
    mut parent_end: sync::ParentEnd,
    child: Pid,
) -> Result<i32> {
    for mechanism in mechanisms.iter_mut() {
        let name = mechanism.name();
        mechanism
            .parent_after_spawn(container, child)
            .with_context(|| format!("{name} (parent side) failed"))?;
    }
    // 6. Sync point 1: the parent's side is ready; let the child go on.
    parent_end
        .tell_child_to_continue()
        .context("the child went away before it started")?;

    // 8. Sync point 2: end-of-file means execve(2) succeeded.
    if let ExecOutcome::Failed { exit_code, reason } = parent_end.wait_for_exec()? {
        crate::message::print(format_args!("workshop: error: {reason}"));
        let _ = waitpid(child, None);
        return Ok(exit_code);
    }

    // 9. Supervise: forward signals until the container's process ends.
    let status = signals::supervise(child)?;
    Ok(exit_status::exit_code(status))
}

/// 7. The child: wait for the parent, set itself up, execute the command. Returns
///    only when it failed; the return value becomes the child's exit status.
fn child_main(
    container: &Container,
    mechanisms: &mut [Box<dyn Mechanism>],
    channel: &mut ChildEnd,
    parent_fd: RawFd,
) -> isize {
    verbose::now_in_child();
    // If the runtime dies (even by SIGKILL), the kernel kills the container too:
    // nothing may outlive the runtime that has to clean up after it. See prctl(2).
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    // Our copy of the parent's end: closed, so a dead parent reads as end-of-file
    // (which also covers a parent that died before the line above).
    let _ = nix::unistd::close(parent_fd);
    let attempt = panic::catch_unwind(AssertUnwindSafe(|| set_up_and_exec(container, mechanisms, channel)));
    let (exit_code, reason) = match attempt {
        Ok(Err(failure)) => failure,
        Ok(Ok(never)) => match never {},
        Err(_) => (
            RUNTIME_ERROR,
            "the container's setup panicked (message above): is an exercise still todo!()?".to_string(),
        ),
    };
    channel.report_failure(exit_code, &reason);
    exit_code as isize
}

fn set_up_and_exec(
    container: &Container,
    mechanisms: &mut [Box<dyn Mechanism>],
    channel: &mut ChildEnd,
) -> Result<Infallible, (i32, String)> {
    let failed = |error: anyhow::Error| (RUNTIME_ERROR, format!("{error:#}"));
    channel
        .wait_for_parent()
        .map_err(|error| (RUNTIME_ERROR, format!("sync with the parent failed: {error}")))?;
    for mechanism in mechanisms.iter_mut() {
        mechanism.child_before_exec(container).map_err(failed)?;
    }
    let env = command::with_extra_env(
        command::container_env(std::env::var("TERM").ok().as_deref()),
        &container.env,
    );
    command::enter_workdir_and_user(container).map_err(failed)?;
    // A hook that changed our credentials (setresuid in a user namespace, or the
    // image's user just above) also cleared the parent-death signal: ask for it
    // again, then make sure the parent did not die in between (its end of the
    // channel would be closed).
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    if channel.parent_is_gone() {
        return Err((
            RUNTIME_ERROR,
            "the runtime went away during the container's setup".to_string(),
        ));
    }
    signals::reset_for_exec().map_err(failed)?;
    command::exec_command(&container.command, &env)
}
// ANCHOR_END: start_sequence

/// clone(2) with `flags`, running `child` in the new process.
fn spawn_child(flags: CloneFlags, child: &mut dyn FnMut() -> isize) -> Result<Pid> {
    // The child runs on this stack: its own copy, as it gets a copy of all memory
    // (no CLONE_VM). Untouched pages cost nothing.
    let mut stack = vec![0u8; 8 * 1024 * 1024];
    // SAFETY: the runtime is single-threaded here, and without CLONE_VM the child
    // works on a private copy of the parent's memory, like after fork(2).
    let pid = unsafe { nix::sched::clone(Box::new(child), &mut stack, flags, Some(Signal::SIGCHLD as i32)) };
    let pid = pid.map_err(|errno| explain_clone_error(errno, flags))?;
    verbose::say(format_args!("clone({}) = {pid}", describe_flags(flags)));
    Ok(pid)
}

/// "CLONE_NEWPID | SIGCHLD": the flags as the man page spells them.
pub fn describe_flags(flags: CloneFlags) -> String {
    let mut names: Vec<&str> = flags.iter_names().map(|(name, _)| name).collect();
    names.push("SIGCHLD");
    names.join(" | ")
}

fn explain_clone_error(errno: Errno, flags: CloneFlags) -> anyhow::Error {
    let hint = match errno {
        Errno::EPERM => "the kernel refused to create the namespaces: run as root",
        Errno::EINVAL => "this combination of flags is not allowed (see clone(2), ERRORS)",
        Errno::ENOSPC | Errno::EUSERS => "too many namespaces of this kind (see /proc/sys/user/max_*_namespaces)",
        Errno::ENOMEM => "out of memory",
        _ => "see clone(2), ERRORS",
    };
    anyhow::anyhow!("clone({}) failed: {errno}: {hint}", describe_flags(flags))
}

/// Runs `step`, turning a panic (an unfinished `todo!()`, say) into an error, so the
/// lifecycle still kills the child and cleans up.
pub fn without_panics<T>(step: impl FnOnce() -> Result<T>) -> Result<T> {
    panic::catch_unwind(AssertUnwindSafe(step))
        .unwrap_or_else(|_| bail!("the runtime panicked (message above): is an exercise still todo!()?"))
}

fn runtime_error(error: anyhow::Error) -> i32 {
    crate::message::print(format_args!("workshop: error: {error:#}"));
    RUNTIME_ERROR
}
