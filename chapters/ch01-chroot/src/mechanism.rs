//! The hooks through which a kernel mechanism plugs into the lifecycle.

use anyhow::Result;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::lifecycle::Container;

// ANCHOR: mechanism
/// One kernel mechanism (chroot, a namespace, a cgroup, ...) as a set of hooks.
///
/// The lifecycle calls the hooks in this order; every hook has a default that does
/// nothing, so a mechanism implements only the moments it cares about.
pub trait Mechanism {
    /// A short name for messages, e.g. "chroot".
    fn name(&self) -> &'static str;

    /// The namespaces this mechanism needs the child to be cloned into.
    fn clone_flags(&self) -> CloneFlags {
        CloneFlags::empty()
    }

    /// Parent, before the child exists: check input, create what the child will use.
    fn prepare(&mut self, _container: &Container) -> Result<()> {
        Ok(())
    }

    /// Parent, after clone(2), while the child waits on the sync channel.
    fn parent_after_spawn(&mut self, _container: &Container, _child: Pid) -> Result<()> {
        Ok(())
    }

    /// Child, after the parent said "continue", before the command is executed.
    fn child_before_exec(&mut self, _container: &Container) -> Result<()> {
        Ok(())
    }

    /// Parent, at the very end, also after errors and Ctrl-C: undo what `prepare`
    /// and the child left behind. Runs in the reverse order of `prepare`.
    fn cleanup(&mut self, _container: &Container) -> Result<()> {
        Ok(())
    }
}
// ANCHOR_END: mechanism
