//! The PID namespace (pid_namespaces(7)): the child is cloned into a new one, so its
//! first process is PID 1 there, while the host sees it under an ordinary PID.
//!
//! /proc shows the processes of the PID namespace of whoever mounted it, so the
//! container needs a proc filesystem mounted from inside. There is no mount
//! namespace yet (chapter 03): that mount lands in the host's mount table at
//! ROOTFS/proc, and the runtime must unmount it when the container ends. From
//! chapter 03 on, the mount namespace mounts /proc with the container's other
//! filesystems ([`PidNamespace::leaving_proc_to_the_mount_namespace`]).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ch01::{verbose, Container, Mechanism};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// The PID namespace mechanism.
pub struct PidNamespace {
    /// Whether this mechanism mounts /proc itself (chapter 02).
    mounts_proc: bool,
    /// ROOTFS/proc as the host sees it, once `prepare` has checked it.
    proc_on_host: Option<PathBuf>,
}

impl PidNamespace {
    /// Chapter 02: the mechanism mounts /proc in the child, after chroot, and
    /// unmounts it from the host's mount table at the end.
    pub fn mounting_proc() -> PidNamespace {
        PidNamespace {
            mounts_proc: true,
            proc_on_host: None,
        }
    }

    /// From chapter 03 on: the mount namespace mounts /proc (with [`mount_proc`]),
    /// and it never reaches the host's mount table.
    pub fn leaving_proc_to_the_mount_namespace() -> PidNamespace {
        PidNamespace {
            mounts_proc: false,
            proc_on_host: None,
        }
    }
}

impl Mechanism for PidNamespace {
    fn name(&self) -> &'static str {
        "pid namespace"
    }

    fn clone_flags(&self) -> CloneFlags {
        pid_namespace_flags()
    }

    fn prepare(&mut self, container: &Container) -> Result<()> {
        if !self.mounts_proc {
            return Ok(());
        }
        let proc_dir = container.rootfs.join("proc");
        if !proc_dir.exists() {
            std::fs::create_dir(&proc_dir).with_context(|| format!("could not create {}", proc_dir.display()))?;
        }
        if is_mount_point(&proc_dir)? {
            reclaim_stale_proc(&proc_dir)?;
        }
        self.proc_on_host = Some(proc_dir);
        Ok(())
    }

    fn parent_after_spawn(&mut self, _container: &Container, child: Pid) -> Result<()> {
        verbose::say(format_args!("the container's PID 1 is PID {child} on the host"));
        Ok(())
    }

    fn child_before_exec(&mut self, _container: &Container) -> Result<()> {
        // The child has entered the rootfs already (chroot), so this is its own /proc.
        if self.mounts_proc {
            mount_proc(Path::new("/proc"))?;
        }
        Ok(())
    }

    fn cleanup(&mut self, _container: &Container) -> Result<()> {
        let Some(proc_dir) = self.proc_on_host.take() else {
            return Ok(());
        };
        if is_mount_point(&proc_dir)? {
            unmount(&proc_dir)?;
        }
        Ok(())
    }
}

// ANCHOR: pid_namespace_flags
/// The clone(2) flags that give the child a PID namespace of its own.
pub fn pid_namespace_flags() -> CloneFlags {
    // exercise(pid_namespace_flags): return the clone flag for a new PID
    // namespace (see clone(2) and pid_namespaces(7)).
    // hint: `man 7 pid_namespaces`: one flag of `nix::sched::CloneFlags` asks clone(2) for a new
    //       PID namespace.
    // hint: It is `CloneFlags::CLONE_NEWPID`: the child becomes PID 1 of the new namespace.
    CloneFlags::CLONE_NEWPID
    // end exercise
}
// ANCHOR_END: pid_namespace_flags

// ANCHOR: mount_proc
/// Mounts a proc filesystem on `target` (the rootfs's /proc), showing the PID
/// namespace of the calling process.
pub fn mount_proc(target: &Path) -> Result<()> {
    // exercise(mount_proc): mount(2) a filesystem of type "proc" (source "proc")
    // on `target` with nix::mount::mount. Nothing in /proc needs to be
    // executable, setuid or a device: pass MS_NOSUID | MS_NODEV | MS_NOEXEC.
    // Narrate it with `verbose::say`.
    // hint: `nix::mount::mount(source, target, fstype, flags, data)`: source `Some("proc")`, fstype
    //       `Some("proc")`, data `None::<&str>` (`man 5 proc`).
    // hint: The flags: `MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC`. Narrate with
    //       `verbose::say` first, and add `.context(...)` to the mount's error.
    // hint: Why a new /proc at all: the host's /proc shows the host's PID namespace; a proc mounted
    //       from inside the new namespace shows only the container's processes.
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    verbose::say(format_args!(
        "mount(\"proc\", {target:?}, \"proc\", MS_NOSUID | MS_NODEV | MS_NOEXEC)"
    ));
    mount(Some("proc"), target, Some("proc"), flags, None::<&str>).context("mounting /proc failed")?;
    Ok(())
    // end exercise
}
// ANCHOR_END: mount_proc

/// A proc mount left at ROOTFS/proc: a crashed run's is unmounted, a running
/// container's is refused. A crashed run's PID namespace has no live process left
/// (at most zombies its reaper has not collected yet).
fn reclaim_stale_proc(proc_dir: &Path) -> Result<()> {
    let live = std::fs::read_dir(proc_dir)?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .any(|entry| !is_zombie(&entry.path()));
    if live {
        bail!(
            "{} is in use by another container running on this rootfs: \
             wait for it to end, or use another rootfs (chapter 03 lifts this limit)",
            proc_dir.display()
        );
    }
    ch01::message::print(format_args!(
        "workshop: {} was left mounted by an earlier run: unmounting it",
        proc_dir.display()
    ));
    unmount(proc_dir)
}

/// Whether the process behind a /proc/PID directory is a zombie (state Z in its stat).
fn is_zombie(pid_dir: &Path) -> bool {
    let stat = std::fs::read_to_string(pid_dir.join("stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses and may hold spaces.
    stat.rsplit(')')
        .next()
        .is_some_and(|rest| rest.trim_start().starts_with('Z'))
}

fn unmount(path: &Path) -> Result<()> {
    verbose::say(format_args!("umount2({path:?}, MNT_DETACH)"));
    umount2(path, MntFlags::MNT_DETACH).with_context(|| format!("could not unmount {}", path.display()))
}

/// Whether `path` (absolute, canonical) is a mount point in this mount namespace.
pub fn is_mount_point(path: &Path) -> Result<bool> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    let wanted = path.to_string_lossy();
    // Field 5 is the mount point, with spaces and the like written as \040 (octal).
    Ok(mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|point| unescape(point) == wanted))
}

fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        match u8::from_str_radix(rest.get(i + 1..i + 4).unwrap_or(""), 8) {
            Ok(byte) => {
                out.push(byte as char);
                rest = &rest[i + 4..];
            }
            Err(_) => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}
