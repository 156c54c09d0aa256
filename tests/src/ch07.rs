//! Chapter 07: the overlay (a throwaway writable layer on a read-only rootfs) and volumes.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use crate::ch01::expect;
use crate::ch05::MAPPED_ROOT;
use crate::Sandbox;

/// Where the runtime keeps each container's layers.
const CONTAINERS_DIR: &str = "/var/lib/workshop/containers";

/// A sandbox whose rootfs the mapped root (chapter 05) owns.
fn sandbox(binary: &str) -> Sandbox {
    let sandbox = Sandbox::new(binary);
    sandbox.chown_rootfs(MAPPED_ROOT, MAPPED_ROOT);
    sandbox
}

/// A fingerprint of a whole tree: every entry's path, type, mode, owner, size,
/// link target and content.
pub fn tree_hash(root: &Path) -> u64 {
    fn walk(root: &Path, path: &Path, hasher: &mut DefaultHasher) {
        let metadata = std::fs::symlink_metadata(path).unwrap();
        path.strip_prefix(root).unwrap().hash(hasher);
        (
            metadata.mode(),
            metadata.uid(),
            metadata.gid(),
            metadata.len(),
            metadata.rdev(),
        )
            .hash(hasher);
        if metadata.is_symlink() {
            std::fs::read_link(path).unwrap().hash(hasher);
        } else if metadata.is_file() {
            std::fs::read(path).unwrap().hash(hasher);
        } else if metadata.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
            entries.sort();
            for entry in entries {
                walk(root, &entry, hasher);
            }
        }
    }
    let mut hasher = DefaultHasher::new();
    walk(root, root, &mut hasher);
    hasher.finish()
}

/// Writing, appending to and deleting files inside changes nothing in the rootfs.
pub fn the_rootfs_is_never_changed(binary: &str) {
    let sandbox = sandbox(binary);
    let before = tree_hash(&sandbox.rootfs);
    let script = "echo new > /new-file; echo more >> /etc/passwd; rm /workshop-rootfs; \
                  rm -r /usr && mkdir /usr && echo directory replaced; ls /";
    let output = sandbox.run(&[], &["/bin/sh", "-c", script]);
    let after = tree_hash(&sandbox.rootfs);
    expect(
        output.code == Some(0)
            && output.stdout.contains("new-file")
            && output.stdout.contains("directory replaced")
            && !output.stdout.contains("workshop-rootfs")
            && before == after,
        "inside, the writes and deletions (a file, a whole directory, made anew) should work; \
         on the host, the rootfs should not change at all",
        "`mount_overlay` in src/overlay.rs: lowerdir=ROOTFS, upperdir and workdir of the container's own",
        &output,
    );
}

/// A lower file deleted inside is a whiteout (a 0:0 character device) in the upper
/// layer, which `--keep` keeps and names.
pub fn a_deleted_file_is_a_whiteout(binary: &str) {
    let sandbox = sandbox(binary);
    let output = sandbox.run(&["--keep"], &["/bin/rm", "/workshop-rootfs"]);
    let upper = output
        .stderr
        .lines()
        .find_map(|l| l.split("upper layer) in ").nth(1))
        .map(PathBuf::from)
        .unwrap_or_default();
    let whiteout = std::fs::symlink_metadata(upper.join("workshop-rootfs")).ok();
    let is_whiteout = whiteout
        .as_ref()
        .is_some_and(|m| m.file_type().is_char_device() && m.rdev() == 0);
    if upper.starts_with(CONTAINERS_DIR) {
        let _ = std::fs::remove_dir_all(upper.parent().unwrap());
    }
    expect(
        output.code == Some(0) && is_whiteout && sandbox.rootfs.join("workshop-rootfs").exists(),
        "with --keep, the runtime should say where the upper layer is, and the deleted file be a whiteout there (char device 0:0)",
        "`mount_overlay` in src/overlay.rs; --keep in `Overlay::cleanup`",
        &output,
    );
}

/// Two containers on the same rootfs do not see each other's writes.
pub fn containers_do_not_see_each_others_writes(binary: &str) {
    let sandbox = sandbox(binary);
    let mut first = sandbox.spawn(
        &[],
        &["/bin/sh", "-c", "echo mine > /only-in-the-first; /bin/probe signals"],
    );
    first.wait_for_line("ready");
    let second = sandbox.run(&[], &["/bin/probe", "ls", "/"]);
    first.signal(Signal::SIGTERM);
    let first = first.wait();
    expect(
        second.code == Some(0)
            && second.stdout.contains("workshop-rootfs")
            && !second.stdout.contains("only-in-the-first"),
        "a second container on the same rootfs should not see the first one's files",
        "`mount_overlay` in src/overlay.rs: each container has its own upper layer",
        &second,
    );
    expect(
        first.code == Some(0),
        "the first container should end normally",
        "src/overlay.rs",
        &first,
    );
}

/// Nothing of the overlay remains when the container ends: no layer, no mount.
pub fn nothing_of_the_overlay_remains(binary: &str) {
    let sandbox = sandbox(binary);
    let output = sandbox.run(&["-v"], &["/bin/sh", "-c", "echo data > /file"]);
    let id = output.container_id();
    let left = Path::new(CONTAINERS_DIR).join(&id);
    expect(
        !id.is_empty() && output.stderr.contains("\"overlay\"") && !left.exists(),
        &format!(
            "the container's layers ({}) should be removed when it ends",
            left.display()
        ),
        "`Overlay::cleanup` in src/overlay.rs",
        &output,
    );
}

/// A directory of the sandbox for a volume, owned by the mapped root (who writes in it).
fn volume_dir(sandbox: &Sandbox) -> PathBuf {
    let volume = sandbox.dir.join("volume");
    std::fs::create_dir(&volume).unwrap();
    std::os::unix::fs::chown(&volume, Some(MAPPED_ROOT), Some(MAPPED_ROOT)).unwrap();
    volume
}

/// A volume's data outlives the container, and belongs to the mapped root.
pub fn volume_data_persists(binary: &str) {
    let sandbox = sandbox(binary);
    let volume = volume_dir(&sandbox);
    let flag = format!("{}:/data", volume.display());
    let first = sandbox.run(&["--volume", &flag], &["/bin/sh", "-c", "echo kept > /data/note"]);
    let second = sandbox.run(&["--volume", &flag], &["/bin/cat", "/data/note"]);
    let owner = std::fs::metadata(volume.join("note")).map(|m| m.uid()).ok();
    expect(
        first.code == Some(0) && second.stdout == "kept\n" && owner == Some(MAPPED_ROOT),
        "a file written to a volume should be on the host (owned by the mapped root) and in the next container",
        "`bind_volume` in src/volumes.rs",
        &second,
    );
}

/// A read-only volume refuses writes.
pub fn a_read_only_volume_refuses_writes(binary: &str) {
    let sandbox = sandbox(binary);
    let volume = volume_dir(&sandbox);
    std::fs::write(volume.join("readme"), "read me\n").unwrap();
    let flag = format!("{}:/data:ro", volume.display());
    let output = sandbox.run(
        &["--volume", &flag],
        &["/bin/sh", "-c", "cat /data/readme; /bin/probe write /data/x"],
    );
    expect(
        output.stdout == "read me\nwrite /data/x: EROFS\n" && !volume.join("x").exists(),
        "a :ro volume should be readable and refuse writes (EROFS)",
        "`bind_volume` in src/volumes.rs: remount the bind mount read-only",
        &output,
    );
}

/// A read-only volume works also from a nosuid, nodev, noexec mount (like a USB
/// stick or a tmpfs): the remount keeps those flags, which a user namespace may not drop.
pub fn a_read_only_volume_from_a_locked_mount(binary: &str) {
    use nix::mount::MsFlags;
    let mut sandbox = sandbox(binary);
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let volume = sandbox.mount_tmpfs_fixture("tmpfs-volume", flags, "mode=755,uid=100000,gid=100000");
    std::fs::write(volume.join("readme"), "read me\n").unwrap();
    let flag = format!("{}:/data:ro", volume.display());
    let output = sandbox.run(
        &["--volume", &flag],
        &["/bin/sh", "-c", "cat /data/readme; /bin/probe write /data/x"],
    );
    expect(
        output.stdout == "read me\nwrite /data/x: EROFS\n",
        "a :ro volume from a nosuid,nodev,noexec mount should work and refuse writes",
        "`bind_volume` in src/volumes.rs: keep the source mount's flags when remounting read-only",
        &output,
    );
}

/// Bad volumes are refused before anything is created.
pub fn bad_volumes_are_refused(binary: &str) {
    let sandbox = sandbox(binary);
    let missing = format!("{}:/data", sandbox.dir.join("no-such-dir").display());
    for bad in ["relative:/data", "/tmp:relative", "/tmp:/data:rx", missing.as_str()] {
        let output = sandbox.run(&["--volume", bad], &["/bin/true"]);
        expect(
            output.code == Some(125) && output.stderr.contains("volume"),
            &format!("--volume {bad} should be refused with exit status 125 and a message"),
            "src/volumes.rs",
            &output,
        );
    }
}

/// Chapter 06's behaviour still holds.
pub fn chapter_06_still_holds(binary: &str) {
    crate::ch06::limits_are_seen_inside(binary);
    crate::ch06::over_the_memory_limit_is_oom_killed(binary);
    crate::ch06::no_cgroup_is_left_behind(binary);
    crate::ch05::root_inside_with_the_mapping(binary);
    crate::ch03::the_chroot_escape_fails(binary);
}
