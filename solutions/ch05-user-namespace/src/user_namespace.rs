//! The user namespace (user_namespaces(7)): the child gets its own set of user and
//! group ids and its own capabilities. Root inside is an ordinary user outside:
//! its capabilities count only for what its namespace owns (its mounts, its
//! hostname, ...), never for what the host owns.

use std::os::unix::fs::MetadataExt;

use anyhow::{Context, Result};
use ch01::{verbose, Container, Mechanism};
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Pid, Uid};

use crate::id_map::{write_id_maps, IdMap};

/// The user namespace mechanism.
pub struct UserNamespace {
    map: IdMap,
}

impl UserNamespace {
    pub fn new(map: IdMap) -> UserNamespace {
        UserNamespace { map }
    }
}

impl Mechanism for UserNamespace {
    fn name(&self) -> &'static str {
        "user namespace"
    }

    fn clone_flags(&self) -> CloneFlags {
        CloneFlags::CLONE_NEWUSER
    }

    fn prepare(&mut self, container: &Container) -> Result<()> {
        let owner = std::fs::metadata(&container.rootfs)
            .with_context(|| format!("reading {}", container.rootfs.display()))?
            .uid();
        if !self.map.contains_host_id(owner) {
            ch01::message::print(format_args!(
                "workshop: note: the rootfs {} belongs to host uid {owner}, which is not mapped into the container \
                 (--userns-map {}:{}): inside, its files belong to nobody and root cannot change them. \
                 For a rootfs the container's root owns: `sudo cp -a ROOTFS COPY && sudo chown -R {}:{} COPY`",
                container.rootfs.display(),
                self.map.host_id,
                self.map.count,
                self.map.host_id,
                self.map.host_id,
            ));
        }
        Ok(())
    }

    fn parent_after_spawn(&mut self, _container: &Container, child: Pid) -> Result<()> {
        // The child is waiting at sync point 1 ("wait for the mappings").
        write_id_maps(child, self.map)
    }

    fn child_before_exec(&mut self, _container: &Container) -> Result<()> {
        become_root()
    }
}

// ANCHOR: become_root
/// Makes the calling process root of its user namespace: its uid and gid become 0
/// (which the maps turn into the mapped host ids), with no supplementary groups.
pub fn become_root() -> Result<()> {
    // exercise(become_root): the child was cloned with the host's ids, which the
    // maps do not cover: until it changes them it is "nobody" inside. Drop the
    // supplementary groups (nix::unistd::setgroups(&[])), then set the gids
    // (setresgid(0, 0, 0)) and last the uids (setresuid(0, 0, 0)). The child
    // holds every capability in its new namespace, so this is allowed once the
    // parent has written the maps. Narrate each call with `verbose::say`.
    // hint: Three calls, in this order: `nix::unistd::setgroups(&[])`, `setresgid(gid0, gid0,
    //       gid0)`, `setresuid(uid0, uid0, uid0)` with `Gid::from_raw(0)` and `Uid::from_raw(0)`.
    // hint: Why this order: once the uid is changed you may lose the capability to change groups;
    //       groups first, uid last (as every daemon that drops privileges does).
    // hint: If setresuid fails with EINVAL, uid 0 is not mapped: the parent must have written the
    //       maps before sync point 1 (`write_id_maps`).
    verbose::say(format_args!("setgroups([])"));
    nix::unistd::setgroups(&[]).context("setgroups(2) failed")?;
    let root_gid = Gid::from_raw(0);
    verbose::say(format_args!("setresgid(0, 0, 0)"));
    nix::unistd::setresgid(root_gid, root_gid, root_gid).context("setresgid(2) failed: is gid 0 mapped?")?;
    let root_uid = Uid::from_raw(0);
    verbose::say(format_args!("setresuid(0, 0, 0)"));
    nix::unistd::setresuid(root_uid, root_uid, root_uid).context("setresuid(2) failed: is uid 0 mapped?")?;
    Ok(())
    // end exercise
}
// ANCHOR_END: become_root
