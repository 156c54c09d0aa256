//! Volumes (`--volume HOST_DIR:CONTAINER_DIR[:ro]`): a directory of the host bind
//! mounted into the container. What the container writes there is written to the
//! host's directory and outlives the container; `:ro` makes it read-only.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result};
use ch01::{Container, Mechanism};
use ch03::mount_namespace::mount_narrated;
use nix::mount::MsFlags;
use nix::sys::statvfs::{statvfs, FsFlags};

/// One `--volume` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub host: PathBuf,
    pub container: PathBuf,
    pub read_only: bool,
}

impl FromStr for Volume {
    type Err = String;

    /// Parses `HOST_DIR:CONTAINER_DIR` or `HOST_DIR:CONTAINER_DIR:ro` (both absolute).
    fn from_str(text: &str) -> Result<Volume, String> {
        let usage = || format!("{text:?} is not HOST_DIR:CONTAINER_DIR[:ro] (absolute paths, e.g. /srv/data:/data:ro)");
        let parts: Vec<&str> = text.split(':').collect();
        let (host, container, read_only) = match parts.as_slice() {
            [host, container] => (host, container, false),
            [host, container, "ro"] => (host, container, true),
            [host, container, "rw"] => (host, container, false),
            _ => return Err(usage()),
        };
        let (host, container) = (PathBuf::from(host), PathBuf::from(container));
        if !host.is_absolute() || !container.is_absolute() || container == Path::new("/") {
            return Err(usage());
        }
        if container.components().any(|c| c == std::path::Component::ParentDir) {
            return Err(format!("{text:?}: the container path may not contain \"..\""));
        }
        Ok(Volume {
            host,
            container,
            read_only,
        })
    }
}

/// The volumes mechanism.
pub struct Volumes {
    volumes: Vec<Volume>,
}

impl Volumes {
    pub fn new(volumes: Vec<Volume>) -> Volumes {
        Volumes { volumes }
    }
}

impl Mechanism for Volumes {
    fn name(&self) -> &'static str {
        "volumes"
    }

    fn prepare(&mut self, _container: &Container) -> Result<()> {
        for volume in &mut self.volumes {
            volume.host = volume.host.canonicalize().with_context(|| {
                format!(
                    "the volume's host directory {} does not exist: create it first",
                    volume.host.display()
                )
            })?;
        }
        Ok(())
    }

    fn child_before_exec(&mut self, container: &Container) -> Result<()> {
        // Still before pivot_root: the host's directories are in reach, and the
        // rootfs (the overlay's merged view) is where they go. The mount namespace
        // then bind-mounts the rootfs with everything mounted in it (MS_REC).
        for volume in &self.volumes {
            let target = container.rootfs.join(volume.container.strip_prefix("/").unwrap());
            if volume.host.is_dir() {
                std::fs::create_dir_all(&target)
            } else {
                std::fs::create_dir_all(target.parent().unwrap()).and_then(|()| std::fs::write(&target, ""))
            }
            .with_context(|| format!("creating the volume's mount point {}", volume.container.display()))?;
            bind_volume(&volume.host, &target, volume.read_only)?;
        }
        Ok(())
    }
}

// ANCHOR: bind_volume
/// Bind-mounts the host's `source` on `target`, read-only if `read_only`.
pub fn bind_volume(source: &Path, target: &Path, read_only: bool) -> Result<()> {
    // exercise(bind_volume): bind-mount `source` on `target` (MS_BIND, and
    // MS_REC so that mounts below the source come along). A bind mount takes
    // the flags of its source: to make it read-only, remount it
    // (MS_BIND | MS_REMOUNT | MS_RDONLY, no source), keeping the flags the
    // source's mount has (`locked_flags(source)`): in a user namespace the
    // kernel refuses (EPERM) a remount that would drop nosuid, nodev or noexec.
    // Use `mount_narrated`.
    // hint: First the bind mount: `mount_narrated(Some(source), target, None, MsFlags::MS_BIND |
    //       MsFlags::MS_REC, None)?`.
    // hint: `--volume a:b:ro` needs a second call: a bind mount ignores MS_RDONLY the first time.
    //       Remount: flags `MS_BIND | MS_REMOUNT | MS_RDONLY` with no source.
    // hint: Pitfall (EPERM in a user namespace): add `locked_flags(source)?` to the remount's
    //       flags, so it keeps nosuid/nodev/noexec the source's mount has.
    mount_narrated(Some(source), target, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
    if read_only {
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(source)?;
        mount_narrated(None, target, None, flags, None)?;
    }
    Ok(())
    // end exercise
}
// ANCHOR_END: bind_volume

/// The nosuid, nodev and noexec flags of the mount `path` is on (statvfs(3)).
pub fn locked_flags(path: &Path) -> Result<MsFlags> {
    let flags = statvfs(path)
        .with_context(|| format!("statvfs({})", path.display()))?
        .flags();
    let mut locked = MsFlags::empty();
    for (statvfs_flag, mount_flag) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if flags.contains(statvfs_flag) {
            locked |= mount_flag;
        }
    }
    Ok(locked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_parse_like_docker() {
        let volume: Volume = "/srv/data:/data:ro".parse().unwrap();
        assert_eq!(
            volume,
            Volume {
                host: "/srv/data".into(),
                container: "/data".into(),
                read_only: true
            }
        );
        assert!(!"/a:/b".parse::<Volume>().unwrap().read_only);
        for bad in [
            "",
            "/a",
            "a:/b",
            "/a:b",
            "/a:/b:xx",
            "/a:/",
            "/a:/b/../../etc",
            "/a:/b:ro:x",
        ] {
            assert!(bad.parse::<Volume>().is_err(), "{bad}");
        }
    }
}
