//! overlayfs: the container's root is the rootfs (read-only, the "lower" layer)
//! with a writable "upper" layer of its own on top. Reads fall through to the
//! lower layer; the first write to a file copies it up; a deleted lower file is
//! hidden by a "whiteout" in the upper layer. Nothing ever changes in the lower
//! layer, so many containers can share it. See the kernel's
//! Documentation/filesystems/overlayfs.rst.

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ch01::{verbose, Container, Mechanism};
use ch03::mount_namespace::mount_narrated;
use ch05::id_map::IdMap;
use ch06::running::is_running;
use nix::mount::MsFlags;

/// Where each container's layers live: CONTAINERS_DIR/ID/{upper,work}.
pub const CONTAINERS_DIR: &str = "/var/lib/workshop/containers";

/// A file in a container's directory that says `--keep` kept it.
const KEPT_MARKER: &str = "KEPT";

/// The overlay mechanism.
pub struct Overlay {
    keep: bool,
    map: IdMap,
    dir: Option<PathBuf>,
    /// Read-only layers under the rootfs, top first (an image's, chapter 10).
    below: Vec<PathBuf>,
}

impl Overlay {
    /// `keep`: leave the upper layer on disk at the end (`--keep`). `map`: the user
    /// namespace's map, whose root must own the upper layer.
    pub fn new(keep: bool, map: IdMap) -> Overlay {
        Overlay {
            keep,
            map,
            dir: None,
            below: Vec::new(),
        }
    }

    /// Stacks the rootfs on these read-only layers (top first): an image's layers
    /// as overlayfs lower directories, shared by every container of the image.
    pub fn stacked_on(mut self, below: Vec<PathBuf>) -> Overlay {
        self.below = below;
        self
    }
}

impl Mechanism for Overlay {
    fn name(&self) -> &'static str {
        "overlay"
    }

    fn prepare(&mut self, container: &Container) -> Result<()> {
        reclaim_stale_layers();
        let dir = Path::new(CONTAINERS_DIR).join(&container.id);
        for layer in ["upper", "work"] {
            let path = dir.join(layer);
            std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
            // The container's root (a mapped id on the host) writes here.
            chown(&path, Some(self.map.host_id), Some(self.map.host_id))?;
        }
        self.dir = Some(dir);
        Ok(())
    }

    fn child_before_exec(&mut self, container: &Container) -> Result<()> {
        let dir = self.dir.as_ref().expect("prepared");
        // Our mount must stay in our mount namespace: nothing shared from here on.
        mount_narrated(None, Path::new("/"), None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None)?;
        // The overlay goes on the rootfs's own path: in this mount namespace the
        // rootfs *is* the merged view from now on, and the mount namespace's
        // pivot_root (chapter 03) makes it "/".
        let rootfs = &container.rootfs;
        // Several lower layers are written "TOP:...:BOTTOM" (overlayfs's own syntax).
        let mut lower = rootfs.as_os_str().to_owned();
        for layer in &self.below {
            lower.push(":");
            lower.push(layer);
        }
        mount_overlay(Path::new(&lower), &dir.join("upper"), &dir.join("work"), rootfs)
    }

    fn cleanup(&mut self, _container: &Container) -> Result<()> {
        let Some(dir) = self.dir.take() else { return Ok(()) };
        if self.keep {
            std::fs::write(dir.join(KEPT_MARKER), "kept with --keep\n")?;
            ch01::message::print(format_args!(
                "workshop: kept the container's changes (its upper layer) in {}",
                dir.join("upper").display()
            ));
            return Ok(());
        }
        verbose::say(format_args!("rm -r {dir:?} (the container's writable layer)"));
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))
    }
}

// ANCHOR: mount_overlay
/// Mounts an overlay on `target`: `lower` read-only below, `upper` (writable) on
/// top, `work` as overlayfs's scratch directory (on the same filesystem as upper).
pub fn mount_overlay(lower: &Path, upper: &Path, work: &Path, target: &Path) -> Result<()> {
    // exercise(mount_overlay): mount(2) a filesystem of type "overlay" (source
    // "overlay") on `target`, with no flags and the data
    // "lowerdir=LOWER,upperdir=UPPER,workdir=WORK,userxattr". In a user
    // namespace overlayfs may not use its usual trusted.* extended attributes
    // (they need the host's root), and without userxattr removing a lower
    // directory fails with EIO. Use `mount_narrated`.
    todo!("exercise `mount_overlay` in src/overlay.rs")
}
// ANCHOR_END: mount_overlay

/// Removes the layers of containers whose runtime is gone (and not `--keep`).
fn reclaim_stale_layers() {
    let Ok(entries) = std::fs::read_dir(CONTAINERS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().join(KEPT_MARKER).exists() && !is_running(&id) {
            ch01::message::print(format_args!(
                "workshop: removing {} left by an earlier run",
                entry.path().display()
            ));
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
