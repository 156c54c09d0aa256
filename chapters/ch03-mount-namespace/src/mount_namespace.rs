//! The mount namespace (mount_namespaces(7)): the child gets its own copy of the
//! host's mount table. What it mounts or unmounts there is its own business, as
//! long as propagation to the host is switched off first.

use std::path::Path;

use anyhow::{Context, Result};
use ch01::{verbose, Container, Mechanism};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::CloneFlags;

use crate::{dev, pivot_root};

/// The mount namespace mechanism: the child's filesystem view, set up before exec.
pub struct MountNamespace;

impl Mechanism for MountNamespace {
    fn name(&self) -> &'static str {
        "mount namespace"
    }

    fn clone_flags(&self) -> CloneFlags {
        CloneFlags::CLONE_NEWNS
    }

    fn child_before_exec(&mut self, container: &Container) -> Result<()> {
        let rootfs = &container.rootfs;
        prepare_new_root(rootfs)?;
        dev::mount_dev(rootfs)?;
        dev::finish_dev(rootfs)?;
        // /proc and /sys before pivot_root: in a user namespace (chapter 05) the
        // kernel lets the container mount them only while the host's are still
        // visible in its mount namespace (see "mount_too_revealing" in mount(2)'s
        // EPERM and user_namespaces(7)).
        // Made if missing, as /sys and /tmp are: a rootfs without it then fails
        // on what it lacks (its command), not on a mount point.
        let proc = rootfs.join("proc");
        std::fs::create_dir_all(&proc).with_context(|| format!("creating {}", proc.display()))?;
        ch02::pid_namespace::mount_proc(&proc)?;
        mount_sys_and_tmp(rootfs)?;
        pivot_root::pivot_into(rootfs)
    }
}

// ANCHOR: prepare_new_root
/// Cuts this mount namespace off from the host's, then makes the rootfs a mount
/// point of its own, ready for pivot_root(2).
pub fn prepare_new_root(rootfs: &Path) -> Result<()> {
    // exercise(prepare_new_root): first make every mount under "/" private,
    // recursively: mount(None, "/", None, MS_REC | MS_PRIVATE, None). A new
    // mount namespace starts as a copy of the host's, and mounts marked shared
    // (systemd marks them so) would still propagate our mounts to the host.
    // Then bind-mount `rootfs` onto itself (MS_BIND | MS_REC): pivot_root needs
    // the new root to be a mount point. Use `mount_narrated` for both.
    todo!("exercise `prepare_new_root` in src/mount_namespace.rs")
}
// ANCHOR_END: prepare_new_root

/// /sys read-only (the container must not reconfigure the host's devices) and a
/// private, empty /tmp.
fn mount_sys_and_tmp(rootfs: &Path) -> Result<()> {
    let sys = rootfs.join("sys");
    let tmp = rootfs.join("tmp");
    for dir in [&sys, &tmp] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let read_only = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if let Err(error) = mount_narrated(Some(Path::new("sysfs")), &sys, Some("sysfs"), read_only, None) {
        // A new sysfs shows the network devices of the mounter's network namespace,
        // so the kernel refuses it (EPERM) to a user namespace (chapter 05) that
        // does not own one: bind the host's /sys instead, and make it read-only.
        if error.downcast_ref::<Errno>() != Some(&Errno::EPERM) {
            return Err(error);
        }
        verbose::say(format_args!(
            "  = EPERM: no network namespace of our own, so bind the host's /sys read-only"
        ));
        mount_narrated(
            Some(Path::new("/sys")),
            &sys,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        let remount = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | read_only;
        mount_narrated(None, &sys, None, remount, None)?;
    }
    let tmp_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount_narrated(
        Some(Path::new("tmpfs")),
        &tmp,
        Some("tmpfs"),
        tmp_flags,
        Some("mode=1777"),
    )
}

/// mount(2), narrated with `-v`, failing with a message that names the mount.
pub fn mount_narrated(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    let names: Vec<&str> = flags.iter_names().map(|(name, _)| name).collect();
    let shown = |value: Option<String>| value.unwrap_or_else(|| "NULL".into());
    let call = format!(
        "mount({}, {target:?}, {}, {}, {})",
        shown(source.map(|s| format!("{s:?}"))),
        shown(fstype.map(|t| format!("{t:?}"))),
        if names.is_empty() {
            "0".to_string()
        } else {
            names.join(" | ")
        },
        shown(data.map(|d| format!("{d:?}"))),
    );
    verbose::say(format_args!("{call}"));
    mount(source, target, fstype, flags, data).with_context(|| format!("{call} failed"))
}
