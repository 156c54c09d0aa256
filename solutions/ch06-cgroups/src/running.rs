//! Which containers are running: each runtime holds a lock on a file named after
//! its container, /run/workshop/running/ID, from prepare to the end of cleanup.
//! The kernel drops the lock when the runtime dies, however it dies, so whatever
//! a container left behind (a cgroup, later an overlay or an IP lease) can be
//! reclaimed by the next run once nobody holds its lock. See flock(2).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use ch01::{Container, Mechanism};
use nix::fcntl::{Flock, FlockArg};

/// The workshop's state for running containers (a tmpfs: gone at reboot).
pub const RUNNING_DIR: &str = "/run/workshop/running";

/// The lock a runtime holds while its container exists.
pub struct RunningLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl RunningLock {
    /// Takes the lock for container `id`.
    pub fn acquire(id: &str) -> Result<RunningLock> {
        std::fs::create_dir_all(RUNNING_DIR).with_context(|| format!("creating {RUNNING_DIR}"))?;
        reclaim_stale_locks();
        let path = PathBuf::from(RUNNING_DIR).join(id);
        for _ in 0..10 {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            // Blocking: another run reclaiming stale locks may hold it for a moment
            // (it was not locked yet), then remove it. A lock on a removed file
            // says nothing, so then make a new one.
            let lock = Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, errno)| errno)
                .with_context(|| format!("locking {}", path.display()))?;
            let still_there = std::fs::metadata(&path).is_ok_and(|m| m.ino() == lock.metadata().map_or(0, |l| l.ino()));
            if still_there {
                return Ok(RunningLock { _lock: lock, path });
            }
        }
        bail!("{} kept being removed while it was locked", path.display())
    }

    /// Releases the lock and removes its file.
    pub fn release(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes the lock files nobody holds: a runtime killed before it made anything
/// else leaves only this file, which no other reclaim would find.
fn reclaim_stale_locks() {
    for entry in std::fs::read_dir(RUNNING_DIR).into_iter().flatten().flatten() {
        is_running(&entry.file_name().to_string_lossy()); // removes a stale one
    }
}

/// Whether a runtime still holds the lock of container `id`.
pub fn is_running(id: &str) -> bool {
    let path = PathBuf::from(RUNNING_DIR).join(id);
    let Ok(file) = OpenOptions::new().write(true).open(&path) else {
        return false;
    };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(_stale) => {
            let _ = std::fs::remove_file(&path);
            false
        }
        Err(_) => true,
    }
}

/// The mechanism that holds the lock: first in every chapter's list from here on,
/// so the lock is taken before anything is created and released after everything
/// is cleaned up (cleanup runs in reverse order).
#[derive(Default)]
pub struct Running {
    lock: Option<RunningLock>,
}

impl Mechanism for Running {
    fn name(&self) -> &'static str {
        "running lock"
    }

    fn prepare(&mut self, container: &Container) -> Result<()> {
        self.lock = Some(RunningLock::acquire(&container.id)?);
        Ok(())
    }

    fn cleanup(&mut self, _container: &Container) -> Result<()> {
        if let Some(lock) = self.lock.take() {
            lock.release();
        }
        Ok(())
    }
}
