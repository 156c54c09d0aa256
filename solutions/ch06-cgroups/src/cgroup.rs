//! One cgroup interface, whatever the version: a directory in a cgroup filesystem,
//! whose files set limits and report usage, and whose `cgroup.procs` lists (and
//! takes) the processes in it. See cgroups(7).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ch01::verbose;
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::limits::Version;

/// What a container used, as its cgroups report it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Usage {
    /// The most memory it used at once, in bytes.
    pub peak_memory: Option<u64>,
    /// The CPU time it used, user and system, in microseconds.
    pub cpu_time_us: Option<u64>,
    /// How many of its processes the OOM killer ended.
    pub oom_kills: u64,
    /// How many times a fork failed at the pids limit.
    pub pids_limit_hits: u64,
}

/// The container's cgroup in one hierarchy. Two backends implement it:
/// [`CgroupV2`](crate::cgroup_v2::CgroupV2) and [`CgroupV1`](crate::cgroup_v1::CgroupV1).
pub trait Cgroup {
    /// Which cgroup version this hierarchy speaks.
    fn version(&self) -> Version;
    /// The container's directory, e.g. /sys/fs/cgroup/workshop/ID.
    fn dir(&self) -> &Path;
    /// The controllers of this hierarchy the container uses.
    fn controllers(&self) -> &[String];
    /// Creates the directory, with whatever this version needs first.
    fn create(&self) -> Result<()>;
    /// Adds what this hierarchy reports to `usage`.
    fn read_usage(&self, usage: &mut Usage);
    /// Ends every process still in the cgroup (without waiting).
    fn kill_all(&self) -> Result<()>;
}

/// Writes `value` to the cgroup file `dir/file`, narrated.
pub fn write_file(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    verbose::say(format_args!("write({path:?}, {value:?})"));
    std::fs::write(&path, value).with_context(|| format!("writing {value:?} to {} failed", path.display()))
}

/// The number after `key` in a "key value" file like memory.events, if any.
pub fn read_keyed(dir: &Path, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A file holding one number, like memory.peak.
pub fn read_number(dir: &Path, file: &str) -> Option<u64> {
    std::fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
}

/// The PIDs in a cgroup (only this cgroup, not its children).
pub fn processes(dir: &Path) -> Result<Vec<Pid>> {
    let text = std::fs::read_to_string(dir.join("cgroup.procs"))
        .with_context(|| format!("reading {}", dir.join("cgroup.procs").display()))?;
    Ok(text
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .map(Pid::from_raw)
        .collect())
}

// ANCHOR: join_cgroup
/// Moves the process `pid` (and, later, every child it forks) into the cgroup `dir`.
pub fn join_cgroup(dir: &Path, pid: Pid) -> Result<()> {
    // exercise(join_cgroup): a process joins a cgroup when its PID is written to
    // the cgroup's `cgroup.procs` file (the same in v1 and v2). Use `write_file`.
    // The parent does it while the child waits at sync point 1, so the command
    // is in its cgroup before it runs.
    // hint: `man 7 cgroups`, "Creating cgroups and moving processes": writing a PID into the
    //       cgroup's `cgroup.procs` file moves that process (and later its children) there.
    // hint: It is one call: `write_file(dir, "cgroup.procs", &pid.to_string())`.
    write_file(dir, "cgroup.procs", &pid.to_string())
    // end exercise
}
// ANCHOR_END: join_cgroup

// ANCHOR: remove_cgroup
/// Removes a container's cgroup: ends whatever still runs in it, waits until it is
/// empty, then removes its directory.
pub fn remove_cgroup(cgroup: &dyn Cgroup) -> Result<()> {
    // exercise(remove_cgroup): a cgroup directory can be removed (rmdir(2), with
    // std::fs::remove_dir) only once no process is in it. Call
    // `cgroup.kill_all()`, then poll `processes(cgroup.dir())` every few
    // milliseconds until it is empty (give up after 5 seconds with an error
    // that says which processes are left), then remove the directory. Processes
    // that are exiting still count: wait for them, do not fail at once.
    // hint: rmdir(2) of a cgroup fails with EBUSY while a process is in it: first
    //       `cgroup.kill_all()?`, then wait until `processes(cgroup.dir())?` is empty.
    // hint: Poll in a loop with `std::thread::sleep(Duration::from_millis(5))` and a deadline of
    //       `Instant::now() + Duration::from_secs(5)`; past it, `bail!` with the PIDs still listed.
    // hint: Pitfall: killed processes stay in cgroup.procs until they have finished exiting: do not
    //       fail at the first look. Remove with `std::fs::remove_dir` (not remove_dir_all: a
    //       cgroup's files cannot be deleted).
    let dir = cgroup.dir();
    cgroup.kill_all()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes(dir)?;
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "{} still holds processes {left:?} after they were killed",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    verbose::say(format_args!("rmdir({dir:?})"));
    std::fs::remove_dir(dir).with_context(|| format!("removing {}", dir.display()))
    // end exercise
}
// ANCHOR_END: remove_cgroup

/// Sends SIGKILL to every process listed in `dir`'s cgroup.procs, again and again
/// until none is left to signal (a process may fork while we kill).
pub fn kill_listed(dir: &Path) -> Result<()> {
    for _ in 0..100 {
        let left = processes(dir)?;
        if left.is_empty() {
            return Ok(());
        }
        for pid in left {
            match kill(pid, Signal::SIGKILL) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(error) => bail!("kill({pid}, SIGKILL) failed: {error}"),
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}
