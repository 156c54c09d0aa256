//! pivot_root(2): make the rootfs the root of this mount namespace, and unmount the
//! host's root from it. Unlike chroot, nothing of the host's filesystem is left in
//! the namespace to walk back to: the chroot escape of chapter 01 fails.

use std::path::Path;

use anyhow::{Context, Result};
use ch01::verbose;
use nix::errno::Errno;
use nix::mount::{umount2, MntFlags};

// ANCHOR: pivot_into
/// Switches the root of this mount namespace to `rootfs` (a mount point already)
/// and gets rid of the old root.
pub fn pivot_into(rootfs: &Path) -> Result<()> {
    // exercise(pivot_into): chdir into `rootfs`, then call
    // nix::unistd::pivot_root(".", "."): the rootfs becomes "/", and the old
    // root is stacked on top of it, at the same place (see NOTES in
    // pivot_root(2): this needs no directory for the old root, so it works on
    // a rootfs you cannot write to). Unmount that old root with
    // umount2(".", MNT_DETACH) (lazily: it is busy), then chdir("/"). Turn a
    // pivot_root error into a helpful one with `explain_pivot_root_error`, and
    // narrate each call with `verbose::say`.
    // hint: Read the NOTES of `man 2 pivot_root`: after `chdir(rootfs)`, `pivot_root(".", ".")`
    //       stacks the old root on top of the new one, at the same place.
    // hint: Then `umount2(".", MntFlags::MNT_DETACH)` takes the old root away (lazily: it is still
    //       busy), and `chdir("/")` moves into the new root.
    // hint: Map a pivot_root error with `.map_err(explain_pivot_root_error)?` (EINVAL usually means
    //       the rootfs is not a mount point: did `prepare_new_root` bind-mount it?). Narrate each
    //       call.
    verbose::say(format_args!("chdir({rootfs:?})"));
    nix::unistd::chdir(rootfs).with_context(|| format!("chdir({rootfs:?}) failed"))?;
    verbose::say(format_args!("pivot_root(\".\", \".\")"));
    nix::unistd::pivot_root(".", ".").map_err(explain_pivot_root_error)?;
    verbose::say(format_args!("umount2(\".\", MNT_DETACH)"));
    umount2(".", MntFlags::MNT_DETACH).context("unmounting the old root failed")?;
    verbose::say(format_args!("chdir(\"/\")"));
    nix::unistd::chdir("/").context("chdir(\"/\") failed")?;
    Ok(())
    // end exercise
}
// ANCHOR_END: pivot_into

/// pivot_root's errors, with what usually causes them.
pub fn explain_pivot_root_error(errno: Errno) -> anyhow::Error {
    let hint = match errno {
        Errno::EINVAL => {
            "the new root must be a mount point (did you bind-mount the rootfs onto itself?), \
             and neither it nor its parent may be a shared mount (did you make \"/\" private, MS_REC | MS_PRIVATE?)"
        }
        Errno::EBUSY => {
            "the new root is on the same mount as the current root: it must be a mount point of its own \
             (did you bind-mount the rootfs onto itself?), or it already is the root (pivot_root twice?)"
        }
        Errno::ENOTDIR => "the new root or put_old is not a directory",
        Errno::EPERM => "pivot_root needs CAP_SYS_ADMIN in the mount namespace's user namespace (run as root)",
        _ => "see pivot_root(2), ERRORS",
    };
    anyhow::anyhow!("pivot_root failed: {errno}: {hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ebusy_names_the_missing_bind_mount() {
        let message = explain_pivot_root_error(Errno::EBUSY).to_string();
        assert!(message.contains("bind-mount the rootfs onto itself"), "{message}");
    }

    #[test]
    fn einval_names_both_usual_causes() {
        let message = explain_pivot_root_error(Errno::EINVAL).to_string();
        assert!(message.contains("bind-mount the rootfs onto itself"), "{message}");
        assert!(message.contains("private"), "{message}");
    }
}
