//! A minimal /dev: a tmpfs holding only the device nodes a program expects, bind
//! mounted from the host's /dev (bind mounts work where mknod(2) is not allowed,
//! which will matter in a user namespace), plus its own /dev/pts and /dev/shm.

use std::path::Path;

use anyhow::{Context, Result};
use ch01::verbose;
use nix::mount::MsFlags;

use crate::mount_namespace::mount_narrated;

/// The device nodes every container gets, as docker and runc give them.
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

// ANCHOR: mount_dev
/// Mounts a tmpfs on rootfs/dev and bind-mounts each of [`DEVICES`] from the host.
pub fn mount_dev(rootfs: &Path) -> Result<()> {
    // exercise(mount_dev): create rootfs/dev if needed and mount a "tmpfs" there
    // (flags MS_NOSUID | MS_STRICTATIME, data "mode=755"). Then, for each name
    // in DEVICES: create an empty file rootfs/dev/NAME (a bind mount needs a
    // target of the same kind) and bind-mount /dev/NAME onto it (MS_BIND).
    // hint: `std::fs::create_dir_all(rootfs.join("dev"))`, then
    //       `mount_narrated(Some(Path::new("tmpfs")), &dev, Some("tmpfs"), MsFlags::MS_NOSUID |
    //       MsFlags::MS_STRICTATIME, Some("mode=755"))`.
    // hint: For each name of DEVICES: `std::fs::File::create(dev.join(name))` makes the empty file
    //       the bind mount needs as its target (a device node binds onto a file, not a directory).
    // hint: Then `mount_narrated(Some(&Path::new("/dev").join(name)), &target, None,
    //       MsFlags::MS_BIND, None)`: the host's device node appears inside, nothing else of the
    //       host's /dev does.
    let dev = rootfs.join("dev");
    std::fs::create_dir_all(&dev).with_context(|| format!("creating {}", dev.display()))?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME;
    mount_narrated(Some(Path::new("tmpfs")), &dev, Some("tmpfs"), flags, Some("mode=755"))?;
    for name in DEVICES {
        let target = dev.join(name);
        std::fs::File::create(&target).with_context(|| format!("creating {}", target.display()))?;
        mount_narrated(
            Some(&Path::new("/dev").join(name)),
            &target,
            None,
            MsFlags::MS_BIND,
            None,
        )?;
    }
    Ok(())
    // end exercise
}
// ANCHOR_END: mount_dev

/// The rest of /dev: a devpts instance of the container's own for terminals,
/// /dev/shm, the console when a terminal is attached, and the usual symlinks.
pub fn finish_dev(rootfs: &Path) -> Result<()> {
    let dev = rootfs.join("dev");
    let pts = dev.join("pts");
    let shm = dev.join("shm");
    for dir in [&pts, &shm] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    // newinstance: its own set of pty numbers, not the host's (see devpts in mount(8)).
    mount_narrated(
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        flags,
        Some("newinstance,ptmxmode=0666,mode=620"),
    )?;
    let shm_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount_narrated(
        Some(Path::new("shm")),
        &shm,
        Some("tmpfs"),
        shm_flags,
        Some("mode=1777"),
    )?;
    let links = [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    for (name, target) in links {
        let link = dev.join(name);
        verbose::say(format_args!("symlink({target:?}, {link:?})"));
        std::os::unix::fs::symlink(target, &link).with_context(|| format!("creating {}", link.display()))?;
    }
    // With a terminal on stdin, /dev/console is that terminal (as in runc).
    if let Ok(terminal) = nix::unistd::ttyname(std::io::stdin()) {
        let console = dev.join("console");
        std::fs::File::create(&console).context("creating /dev/console")?;
        mount_narrated(Some(&terminal), &console, None, MsFlags::MS_BIND, None)?;
    }
    Ok(())
}
