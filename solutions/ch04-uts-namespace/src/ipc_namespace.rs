//! The IPC namespace (ipc_namespaces(7)): System V shared memory segments,
//! semaphore sets and message queues, and POSIX message queues, are per
//! namespace. The container sees none of the host's, and the ones it makes are
//! destroyed with its namespace when its last process ends.

use std::path::Path;

use anyhow::{Context, Result};
use ch01::{Container, Mechanism};
use ch03::mount_namespace::mount_narrated;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;

/// The IPC namespace mechanism.
pub struct IpcNamespace;

impl Mechanism for IpcNamespace {
    fn name(&self) -> &'static str {
        "ipc namespace"
    }

    fn clone_flags(&self) -> CloneFlags {
        ipc_namespace_flags()
    }

    fn child_before_exec(&mut self, _container: &Container) -> Result<()> {
        // POSIX message queues live in an mqueue filesystem, which shows the
        // queues of the IPC namespace of whoever mounts it: mount the container's.
        let mqueue = Path::new("/dev/mqueue");
        std::fs::create_dir_all(mqueue).context("creating /dev/mqueue")?;
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount_narrated(Some(Path::new("mqueue")), mqueue, Some("mqueue"), flags, None)
    }
}

// ANCHOR: ipc_namespace_flags
/// The clone(2) flags that give the child an IPC namespace of its own.
pub fn ipc_namespace_flags() -> CloneFlags {
    // exercise(ipc_namespace_flags): return the clone flag for a new IPC
    // namespace (see clone(2) and ipc_namespaces(7)).
    // hint: `man 7 ipc_namespaces`: System V IPC objects and POSIX message queues get their own
    //       namespace; which `CloneFlags` asks for one?
    // hint: It is `CloneFlags::CLONE_NEWIPC`.
    CloneFlags::CLONE_NEWIPC
    // end exercise
}
// ANCHOR_END: ipc_namespace_flags
