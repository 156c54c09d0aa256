//! Unpacking an image's layers. Each layer is a tar archive of the files it adds
//! or changes, plus "whiteouts" for the files it deletes from the layers below
//! (OCI image spec, layer.md). Unpacked in order onto one directory, the layers
//! make the image's root filesystem.
//!
//! A layer comes from the network, so it is hostile until proven otherwise: no
//! entry may write outside the root filesystem, whatever its path, its hard link
//! or the symlinks of earlier entries say (the "zip slip" class of bugs). The
//! first entry that would is refused and the unpack stops there.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use ch01::verbose;
use nix::fcntl::AtFlags;
use nix::sys::stat::{makedev, mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, geteuid, linkat, Gid, Uid};
use tar::{Entry, EntryType, Header};

/// A whiteout entry is named `.wh.NAME`: NAME is deleted.
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// The entry `DIR/.wh..wh..opq` makes DIR opaque: the layers below it are hidden.
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// What an unpack did, for messages and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UnpackStats {
    /// Entries written: files, directories, links, device nodes and FIFOs.
    pub entries: usize,
    /// Whiteouts and opaque markers applied.
    pub whiteouts: usize,
}

/// Applies one layer, the *uncompressed* tar stream `tar`, onto `root`: its
/// whiteouts delete from what the layers below left there, its other entries are
/// written with their owners, modes and mtimes. Reads `tar` to its very end (the
/// padding after the archive too), so a caller hashing the stream sees every byte.
pub fn unpack_layer(tar: impl Read, root: &Path) -> Result<UnpackStats> {
    let mut archive = tar::Archive::new(tar);
    let mut layer = Layer::new(root);
    let mut stats = UnpackStats::default();
    for entry in archive.entries().context("reading the layer as a tar archive")? {
        let mut entry = entry.context("reading the layer's next entry (is the layer truncated or not a tar?)")?;
        let path = entry.path().context("reading a layer entry's path")?.into_owned();
        if apply_whiteout(root, &path, &layer.written)? {
            stats.whiteouts += 1;
        } else if layer.unpack(&mut entry, &path)? {
            stats.entries += 1;
        }
    }
    layer.finish()?;
    io::copy(&mut archive.into_inner(), &mut io::sink()).context("reading the end of the layer")?;
    Ok(stats)
}

// ANCHOR: safe_target
/// Where the layer entry `entry_path` lands under `root`, or an error naming the
/// entry when it would land outside: an absolute path, a `..` anywhere, or an
/// existing parent directory that is a symbolic link. The target itself may be a
/// symlink: the unpack replaces it, never writes through it.
pub fn safe_target(root: &Path, entry_path: &Path) -> Result<PathBuf> {
    // exercise(safe_target): the path comes from the network. A naive unpacker
    // that joins it onto `root` writes "../../etc/cron.d/job" or "/etc/passwd"
    // on the host: the "zip slip" class of bugs. Walk its components: skip `.`
    // (CurDir), refuse an absolute path (RootDir, Prefix) and any `..`
    // (ParentDir) with `refuse(entry_path, why)`, push the others onto `root`.
    // Then refuse writing *through* a symlink: an earlier entry "evil -> /etc"
    // followed by "evil/passwd" writes the host's /etc/passwd. Look at each parent
    // of the target from `root` down with fs::symlink_metadata (lstat(2), which
    // does not follow) and refuse the first that is a symbolic link; stop at the
    // first one that does not exist yet (nothing below it exists either).
    // hint: `entry_path.components()` and a `match`: `Component::CurDir` skip, `Normal(name)` push
    //       onto the target, `ParentDir` and `RootDir | Prefix(_)` return `Err(refuse(entry_path,
    //       "why"))`.
    // hint: The symlink check: for each parent directory between `root` and the target,
    //       `std::fs::symlink_metadata` (lstat(2): it does not follow) and refuse when
    //       `file_type().is_symlink()`.
    // hint: Stop looking at the first parent that does not exist (`missing(&error)`): nothing below
    //       it can be a symlink yet. Any other error is a real one: return it with context.
    let mut target = root.to_path_buf();
    for component in entry_path.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(name) => target.push(name),
            Component::ParentDir => return Err(refuse(entry_path, "it climbs with ..")),
            Component::RootDir | Component::Prefix(_) => return Err(refuse(entry_path, "it is an absolute path")),
        }
    }
    let mut parent = root.to_path_buf();
    let relative = target.strip_prefix(root).expect("built on root");
    for name in relative.parent().into_iter().flat_map(Path::components) {
        parent.push(name);
        match fs::symlink_metadata(&parent) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let shown = parent.strip_prefix(root).expect("built on root");
                return Err(refuse(entry_path, &format!("its parent {shown:?} is a symbolic link")));
            }
            Ok(_) => {}
            Err(error) if missing(&error) => break,
            Err(error) => return Err(error).with_context(|| format!("checking {}", parent.display())),
        }
    }
    Ok(target)
    // end exercise
}
// ANCHOR_END: safe_target

/// The error for an entry that would write outside the root filesystem, narrated.
fn refuse(entry_path: &Path, why: &str) -> anyhow::Error {
    verbose::say(format_args!("unpack: refusing {entry_path:?}: {why}"));
    anyhow::anyhow!("layer entry {entry_path:?} would write outside the root filesystem ({why})")
}

// ANCHOR: apply_whiteout
/// Applies the entry `entry_path` if it is a whiteout (`DIR/.wh.NAME`: NAME goes)
/// or an opaque marker (`DIR/.wh..wh..opq`: all of DIR's content goes); returns
/// whether it was one. `this_layer` holds the paths under `root` this layer has
/// written so far, with their parents.
///
/// Whiteouts only delete what the layers *below* put there (layer.md: "files that
/// are present in the same layer as a whiteout file can only be hidden by whiteout
/// files in subsequent layers"), and an opaque marker may come before or after
/// the other entries of its directory in the tar. So the unpack makes one pass and
/// a whiteout spares whatever is in `this_layer` (see `remove_lower`): this layer's
/// entries already written stay, and those still to come are written afterwards.
pub fn apply_whiteout(root: &Path, entry_path: &Path, this_layer: &HashSet<PathBuf>) -> Result<bool> {
    // exercise(apply_whiteout): a whiteout is an entry named `.wh.NAME`
    // (OCI image spec, layer.md): it creates nothing and deletes DIR/NAME (a file,
    // a symlink or a whole tree) left by the layers below. `.wh..wh..opq` makes
    // its directory "opaque": everything the layers below put in it goes. Return
    // Ok(false) for any other entry. Find where each lands with `safe_target` (a
    // deletion is a write too), refuse `.wh.` followed by nothing or by `.` (it
    // would delete DIR itself), delete with `remove_lower`, which spares what
    // this layer wrote, and narrate each with `verbose::say`.
    // hint: Take the entry's file name as bytes (`OsStrExt::as_bytes`). If it equals OPAQUE_MARKER,
    //       empty the directory: each child of `safe_target(root, entry_path)?.parent()` goes
    //       through `remove_lower`.
    // hint: Else `name.strip_prefix(WHITEOUT_PREFIX)`: `None` means a normal entry (`Ok(false)`);
    //       an empty rest or "." is a hostile layer: `bail!`.
    // hint: The hidden file is `entry_path.with_file_name(rest)`; find where it lands with
    //       `safe_target` (never join by hand) and delete it with `remove_lower(&target,
    //       this_layer)`.
    let Some(name) = entry_path.file_name().map(OsStrExt::as_bytes) else {
        return Ok(false);
    };
    if name == OPAQUE_MARKER {
        let marker = safe_target(root, entry_path)?;
        let dir = marker.parent().expect("under root");
        verbose::say(format_args!(
            "unpack: {entry_path:?}: hiding what the layers below put in {dir:?}"
        ));
        let children = match fs::read_dir(dir) {
            Ok(children) => children,
            Err(error) if missing(&error) => return Ok(true),
            Err(error) => return Err(error).with_context(|| format!("listing {}", dir.display())),
        };
        for child in children {
            let child = child.with_context(|| format!("listing {}", dir.display()))?;
            remove_lower(&child.path(), this_layer)?;
        }
        return Ok(true);
    }
    let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) else {
        return Ok(false);
    };
    if hidden.is_empty() || hidden == b"." {
        bail!("layer entry {entry_path:?} is a whiteout that names no file (a broken or hostile layer)");
    }
    let hidden = entry_path.with_file_name(std::ffi::OsStr::from_bytes(hidden));
    let target = safe_target(root, &hidden)?;
    verbose::say(format_args!(
        "unpack: {entry_path:?}: deleting {target:?} of the layers below"
    ));
    remove_lower(&target, this_layer)?;
    Ok(true)
    // end exercise
}
// ANCHOR_END: apply_whiteout

/// Deletes `path` (a file, a symlink, a whole tree) as far as the layers below
/// made it: what `this_layer` wrote stays. A directory this layer wrote into keeps
/// its new entries and loses the others.
pub fn remove_lower(path: &Path, this_layer: &HashSet<PathBuf>) -> Result<()> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error).with_context(|| format!("looking at {}", path.display())),
    };
    if !this_layer.contains(path) {
        return remove_any(path, &metadata).with_context(|| format!("deleting {}", path.display()));
    }
    if metadata.is_dir() {
        for child in fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
            let child = child.with_context(|| format!("listing {}", path.display()))?;
            remove_lower(&child.path(), this_layer)?;
        }
    }
    Ok(())
}

/// Deletes a file, a symlink (not what it points to) or a directory tree.
fn remove_any(path: &Path, metadata: &fs::Metadata) -> io::Result<()> {
    if metadata.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

/// One layer's unpack in progress.
struct Layer {
    root: PathBuf,
    /// What this layer wrote, with its parents: whiteouts spare these.
    written: HashSet<PathBuf>,
    /// Directories' modes and mtimes, set at the end: writing their entries would
    /// change the mtimes, and a read-only mode would stop those writes.
    directories: Vec<(PathBuf, u32, u64)>,
    /// chown(2) to the owners the tar names needs root.
    may_chown: bool,
    /// Device nodes need root in the host's user namespace.
    may_mknod: bool,
    /// Device nodes not created, for one warning at the end.
    skipped_nodes: Vec<PathBuf>,
}

impl Layer {
    fn new(root: &Path) -> Layer {
        Layer {
            root: root.to_path_buf(),
            written: HashSet::new(),
            directories: Vec::new(),
            may_chown: geteuid().is_root(),
            may_mknod: geteuid().is_root() && in_initial_user_namespace(),
            skipped_nodes: Vec::new(),
        }
    }

    /// Writes one (non-whiteout) entry; returns whether it wrote anything.
    fn unpack<R: Read>(&mut self, entry: &mut Entry<R>, path: &Path) -> Result<bool> {
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            return Ok(false); // pax metadata for the archive, not a file
        }
        let target = safe_target(&self.root, path)?;
        if target == self.root && kind != EntryType::Directory {
            return Err(refuse(path, "it would replace the root directory itself"));
        }
        let link_source = match kind {
            EntryType::Link => Some(self.hard_link_source(entry, path)?),
            _ => None,
        };
        if link_source.as_ref() == Some(&target) {
            return Ok(false); // a hard link to itself: nothing to do
        }
        let failed = || format!("unpacking layer entry {path:?} to {}", target.display());
        create_parents(&self.root, &target).with_context(failed)?;
        if kind != EntryType::Directory {
            remove_existing(&target).with_context(failed)?;
        }
        let header = entry.header().clone();
        match kind {
            EntryType::Directory => make_directory(&target).with_context(failed)?,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                write_file(entry, &target).with_context(failed)?
            }
            EntryType::Symlink => {
                let value = entry
                    .link_name()?
                    .with_context(|| format!("symlink {path:?} has no target"))?;
                std::os::unix::fs::symlink(value, &target).with_context(failed)?
            }
            EntryType::Link => {
                let source = link_source.expect("checked above");
                linkat(None, &source, None, &target, AtFlags::empty()).with_context(failed)?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                if !self.make_node(&header, &target).with_context(failed)? {
                    self.skipped_nodes.push(path.to_path_buf());
                    return Ok(false);
                }
            }
            other => bail!("layer entry {path:?} is of tar type {other:?}, which an image layer does not use"),
        }
        self.record(&target);
        if kind != EntryType::Link {
            self.set_metadata(&header, path, &target, kind).with_context(failed)?;
        }
        Ok(true)
    }

    /// Where a hard link entry's target is, refusing one outside the root
    /// filesystem or one that is a symlink pointing out of it.
    fn hard_link_source<R: Read>(&self, entry: &Entry<R>, path: &Path) -> Result<PathBuf> {
        let link = entry
            .link_name()?
            .with_context(|| format!("hard link {path:?} has no target"))?;
        let source = safe_target(&self.root, &link)
            .with_context(|| format!("layer entry {path:?} is a hard link to {link:?}"))?;
        let metadata = fs::symlink_metadata(&source).with_context(|| {
            format!("layer entry {path:?} is a hard link to {link:?}, which no entry before it created")
        })?;
        // link(2) without AT_SYMLINK_FOLLOW links the symlink itself, but POSIX
        // lets link(2) follow it: never offer a host file to link to.
        if metadata.file_type().is_symlink() && symlink_leaves(&self.root, &source)? {
            let why = format!("it is a hard link to {link:?}, a symbolic link out of the root filesystem");
            return Err(refuse(path, &why));
        }
        Ok(source)
    }

    /// A device node or FIFO, with mknod(2). Returns false when skipped: device
    /// nodes need root in the host's user namespace (CAP_MKNOD); FIFOs do not.
    fn make_node(&self, header: &Header, target: &Path) -> Result<bool> {
        let (kind, device) = match header.entry_type() {
            EntryType::Fifo => (SFlag::S_IFIFO, 0),
            EntryType::Char if self.may_mknod => (SFlag::S_IFCHR, device_number(header)?),
            EntryType::Block if self.may_mknod => (SFlag::S_IFBLK, device_number(header)?),
            _ => return Ok(false),
        };
        match mknod(target, kind, Mode::from_bits_truncate(0o600), device) {
            Ok(()) => Ok(true),
            // Root without CAP_MKNOD (in a container, say): skip as for non-root.
            Err(nix::errno::Errno::EPERM) if kind != SFlag::S_IFIFO => Ok(false),
            Err(error) => Err(error).context("mknod"),
        }
    }

    /// Owner, then mode (chown(2) clears setuid bits), then mtime, never through a
    /// symlink. Directories get their mode and mtime at the end (see `directories`).
    fn set_metadata(&mut self, header: &Header, path: &Path, target: &Path, kind: EntryType) -> Result<()> {
        if self.may_chown {
            let (uid, gid) = (header.uid()?, header.gid()?);
            let (Ok(uid), Ok(gid)) = (u32::try_from(uid), u32::try_from(gid)) else {
                bail!("owner {uid}:{gid} is out of range");
            };
            fchownat(
                None,
                target,
                Some(Uid::from_raw(uid)),
                Some(Gid::from_raw(gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .with_context(|| format!("lchown to {uid}:{gid}"))?;
        }
        let (mode, mtime) = (header.mode()? & 0o7777, header.mtime()?);
        match kind {
            EntryType::Directory => self.directories.push((path.to_path_buf(), mode, mtime)),
            EntryType::Symlink => set_mtime(target, mtime)?, // a symlink has no mode of its own
            _ => {
                fs::set_permissions(target, fs::Permissions::from_mode(mode)).context("chmod")?;
                set_mtime(target, mtime)?;
            }
        }
        Ok(())
    }

    /// Remembers that this layer wrote `target`, and so its parents.
    fn record(&mut self, target: &Path) {
        let mut path = target;
        while path != self.root && self.written.insert(path.to_path_buf()) {
            path = path.parent().expect("under root");
        }
    }

    /// Sets the directories' modes and mtimes, deepest first, and warns about
    /// skipped device nodes.
    fn finish(self) -> Result<()> {
        for (path, mode, mtime) in self.directories.iter().rev() {
            // A later entry may have replaced the directory, or a parent of it by a
            // symlink: check again rather than follow anything.
            let Ok(target) = safe_target(&self.root, path) else {
                continue;
            };
            if !fs::symlink_metadata(&target).is_ok_and(|metadata| metadata.is_dir()) {
                continue;
            }
            let failed = || format!("setting the mode and mtime of layer entry {path:?}");
            fs::set_permissions(&target, fs::Permissions::from_mode(*mode)).with_context(failed)?;
            set_mtime(&target, *mtime).with_context(failed)?;
        }
        if let Some(first) = self.skipped_nodes.first() {
            ch01::message::print(format_args!(
                "workshop: warning: skipped {} device node(s) of the layer ({first:?}...): only root in the \
                 host's user namespace may create them (run the pull as root)",
                self.skipped_nodes.len()
            ));
        }
        if !self.may_chown {
            ch01::message::print(format_args!(
                "workshop: warning: not root, so the layer's files belong to you, not to their image owners"
            ));
        }
        Ok(())
    }
}

/// Creates the missing parents of `target` below `root`, 0755 and owned by us
/// (root:root when the pull runs as root), as mkdir -p would.
fn create_parents(root: &Path, target: &Path) -> io::Result<()> {
    let Some(missing) = target.parent().and_then(|parent| parent.strip_prefix(root).ok()) else {
        return Ok(());
    };
    let mut dir = root.to_path_buf();
    for name in missing.components() {
        dir.push(name);
        match fs::DirBuilder::new().mode(0o755).create(&dir) {
            // Set again: mkdir(2)'s mode passes through the umask.
            Ok(()) => fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Clears the way for a new entry: a layer may replace a file, a symlink or a
/// directory of the layers below by something else. A symlink goes, not what it
/// points to.
fn remove_existing(target: &Path) -> io::Result<()> {
    match fs::symlink_metadata(target) {
        Ok(metadata) => remove_any(target, &metadata),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// A directory entry: an existing directory stays (with its content), anything
/// else in the way goes. The final mode comes at the end of the layer.
fn make_directory(target: &Path) -> io::Result<()> {
    match fs::symlink_metadata(target) {
        Ok(metadata) if metadata.is_dir() => return Ok(()),
        Ok(metadata) => remove_any(target, &metadata)?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    fs::DirBuilder::new().mode(0o700).create(target)
}

/// A regular file's content. O_EXCL: never open what is already there (a symlink
/// put back in the meantime would be followed).
fn write_file(content: &mut impl Read, target: &Path) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(target)?;
    io::copy(content, &mut file)?;
    Ok(())
}

/// utimensat(2) with AT_SYMLINK_NOFOLLOW: access and modification times.
fn set_mtime(target: &Path, mtime: u64) -> Result<()> {
    let time = TimeSpec::new(mtime.try_into().unwrap_or(i64::MAX), 0);
    utimensat(None, target, &time, &time, UtimensatFlags::NoFollowSymlink).context("utimensat")
}

/// The device number of a char or block device entry.
fn device_number(header: &Header) -> Result<u64> {
    let major = header
        .device_major()?
        .context("a device entry without a major number")?;
    let minor = header
        .device_minor()?
        .context("a device entry without a minor number")?;
    Ok(makedev(major.into(), minor.into()))
}

/// Whether the symlink at `link` (under `root`) points out of `root` as the host
/// sees it: an absolute target, or one that climbs above `root` with `..`.
fn symlink_leaves(root: &Path, link: &Path) -> Result<bool> {
    let value = fs::read_link(link).with_context(|| format!("reading the symlink {}", link.display()))?;
    let mut depth = link
        .parent()
        .and_then(|dir| dir.strip_prefix(root).ok())
        .map_or(0, |dir| dir.components().count());
    for component in value.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => return Ok(true),
            Component::ParentDir if depth == 0 => return Ok(true),
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
        }
    }
    Ok(false)
}

/// Whether an error says that `path` is not there (ENOENT), or that a parent is
/// not a directory (ENOTDIR): either way nothing exists at or below it.
fn missing(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::NotFound || error.raw_os_error() == Some(nix::errno::Errno::ENOTDIR as i32)
}

/// Whether this process is in the host's user namespace, whose uid_map is the
/// identity over all ids (user_namespaces(7)).
fn in_initial_user_namespace() -> bool {
    let map = fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    use super::*;

    /// A scratch directory under /tmp, removed when dropped: the root filesystem
    /// goes in `root`, and `outside` is a directory next to it that an escape
    /// would write into.
    struct Scratch {
        dir: PathBuf,
        root: PathBuf,
        outside: PathBuf,
    }

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = PathBuf::from(format!("/tmp/unpack-test-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            let (root, outside) = (dir.join("root"), dir.join("OUTSIDE"));
            fs::create_dir_all(&root).unwrap();
            fs::create_dir_all(&outside).unwrap();
            Scratch { dir, root, outside }
        }

        fn unpack(&self, layer: Vec<u8>) -> Result<UnpackStats> {
            unpack_layer(layer.as_slice(), &self.root)
        }

        fn at(&self, path: &str) -> PathBuf {
            self.root.join(path)
        }

        fn exists(&self, path: &str) -> bool {
            fs::symlink_metadata(self.at(path)).is_ok()
        }

        fn read(&self, path: &str) -> String {
            fs::read_to_string(self.at(path)).unwrap()
        }

        /// Nothing was written next to the root filesystem, nor in `outside`.
        fn assert_nothing_outside(&self) {
            let mut names: Vec<_> = fs::read_dir(&self.dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            assert_eq!(names, ["OUTSIDE", "root"]);
            assert_eq!(
                fs::read_dir(&self.outside).unwrap().count(),
                0,
                "something was written outside"
            );
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    /// A layer built in memory.
    struct LayerTar(tar::Builder<Vec<u8>>);

    impl LayerTar {
        fn new() -> LayerTar {
            LayerTar(tar::Builder::new(Vec::new()))
        }

        fn header(kind: EntryType, mode: u32, owner: (u64, u64)) -> Header {
            let mut header = Header::new_gnu();
            header.set_entry_type(kind);
            header.set_mode(mode);
            header.set_uid(owner.0);
            header.set_gid(owner.1);
            header.set_mtime(1_000_000_000);
            header.set_size(0);
            header
        }

        fn dir(self, path: &str, mode: u32) -> LayerTar {
            self.dir_owned(path, mode, (0, 0))
        }

        fn dir_owned(mut self, path: &str, mode: u32, owner: (u64, u64)) -> LayerTar {
            let mut header = Self::header(EntryType::Directory, mode, owner);
            self.0.append_data(&mut header, path, io::empty()).unwrap();
            self
        }

        fn file(self, path: &str, content: &str) -> LayerTar {
            self.file_owned(path, content, 0o644, (0, 0))
        }

        fn file_owned(mut self, path: &str, content: &str, mode: u32, owner: (u64, u64)) -> LayerTar {
            let mut header = Self::header(EntryType::Regular, mode, owner);
            header.set_size(content.len() as u64);
            self.0.append_data(&mut header, path, content.as_bytes()).unwrap();
            self
        }

        fn symlink(self, path: &str, target: &str) -> LayerTar {
            self.symlink_owned(path, target, (0, 0))
        }

        fn symlink_owned(mut self, path: &str, target: &str, owner: (u64, u64)) -> LayerTar {
            let mut header = Self::header(EntryType::Symlink, 0o777, owner);
            self.0.append_link(&mut header, path, target).unwrap();
            self
        }

        fn hardlink(mut self, path: &str, target: &str) -> LayerTar {
            let mut header = Self::header(EntryType::Link, 0o644, (0, 0));
            self.0.append_link(&mut header, path, target).unwrap();
            self
        }

        fn node(mut self, path: &str, kind: EntryType, device: (u32, u32)) -> LayerTar {
            let mut header = Self::header(kind, 0o666, (0, 0));
            header.set_device_major(device.0).unwrap();
            header.set_device_minor(device.1).unwrap();
            self.0.append_data(&mut header, path, io::empty()).unwrap();
            self
        }

        /// An entry whose name (and link name) bytes are written as they are:
        /// tar::Builder refuses to write `..` or absolute paths, a hostile layer
        /// does not.
        fn raw(mut self, kind: EntryType, name: &str, link: &str, content: &str) -> LayerTar {
            let mut header = Self::header(kind, 0o644, (0, 0));
            let gnu = header.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
            header.set_size(content.len() as u64);
            header.set_cksum();
            self.0.append(&header, content.as_bytes()).unwrap();
            self
        }

        fn bytes(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    fn error_of(result: Result<UnpackStats>) -> String {
        format!("{:#}", result.expect_err("the layer should be refused"))
    }

    #[test]
    fn safe_target_keeps_paths_inside_root() {
        let scratch = Scratch::new("safe-target");
        let root = &scratch.root;
        assert_eq!(
            safe_target(root, Path::new("etc/passwd")).unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(safe_target(root, Path::new("./etc/")).unwrap(), root.join("etc"));
        assert_eq!(safe_target(root, Path::new("./")).unwrap(), *root);
        for bad in ["../x", "a/../../x", "a/../b", "/etc/passwd", "./.."] {
            let error = safe_target(root, Path::new(bad)).unwrap_err().to_string();
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
        std::os::unix::fs::symlink("/", root.join("link")).unwrap();
        assert!(
            safe_target(root, Path::new("link")).is_ok(),
            "the target itself may be a symlink"
        );
        let error = safe_target(root, Path::new("link/etc/passwd")).unwrap_err().to_string();
        assert!(error.contains("\"link\" is a symbolic link"), "{error}");
    }

    #[test]
    fn files_directories_and_symlinks_keep_modes_owners_and_mtimes() {
        let scratch = Scratch::new("basic");
        let layer = LayerTar::new()
            .dir("./", 0o755)
            .dir_owned("./home/user/", 0o750, (1000, 1001))
            .file_owned("./home/user/notes", "hello\n", 0o640, (1000, 1001))
            .file_owned("usr/bin/su", "#!/bin/true\n", 0o4755, (0, 0))
            .symlink_owned("bin", "usr/bin", (1000, 1001))
            .dir("ro/", 0o555)
            .file("ro/inside", "x");
        let stats = scratch.unpack(layer.bytes()).unwrap();
        assert_eq!(
            stats,
            UnpackStats {
                entries: 7,
                whiteouts: 0
            }
        );

        let home = fs::metadata(scratch.at("home/user")).unwrap();
        assert!(home.is_dir());
        assert_eq!((home.mode() & 0o7777, home.uid(), home.gid()), (0o750, 1000, 1001));
        assert_eq!(
            home.mtime(),
            1_000_000_000,
            "a directory's mtime survives the entries written into it"
        );
        let notes = fs::metadata(scratch.at("home/user/notes")).unwrap();
        assert_eq!((notes.mode() & 0o7777, notes.uid(), notes.gid()), (0o640, 1000, 1001));
        assert_eq!(notes.mtime(), 1_000_000_000);
        assert_eq!(scratch.read("home/user/notes"), "hello\n");
        assert_eq!(
            fs::metadata(scratch.at("usr/bin/su")).unwrap().mode() & 0o7777,
            0o4755,
            "setuid kept"
        );
        let usr = fs::metadata(scratch.at("usr")).unwrap();
        assert_eq!(
            (usr.mode() & 0o7777, usr.uid(), usr.gid()),
            (0o755, 0, 0),
            "missing parent"
        );
        let bin = fs::symlink_metadata(scratch.at("bin")).unwrap();
        assert!(bin.file_type().is_symlink());
        assert_eq!((bin.uid(), bin.gid()), (1000, 1001), "lchown, not chown");
        assert_eq!(fs::read_link(scratch.at("bin")).unwrap(), Path::new("usr/bin"));
        assert_eq!(fs::metadata(scratch.at("ro")).unwrap().mode() & 0o7777, 0o555);
        assert_eq!(scratch.read("ro/inside"), "x");
        scratch.assert_nothing_outside();
    }

    #[test]
    fn paths_that_climb_or_are_absolute_are_refused() {
        let scratch = Scratch::new("climb");
        for bad in ["../x", "a/../../x", "./../root/../x"] {
            let layer = LayerTar::new().raw(EntryType::Regular, bad, "", "pwned");
            let error = error_of(scratch.unpack(layer.bytes()));
            assert!(error.contains(&format!("layer entry {bad:?}")), "{error}");
            assert!(
                error.contains("outside the root filesystem (it climbs with ..)"),
                "{error}"
            );
        }
        let absolute = format!("{}/x", scratch.outside.display());
        let layer = LayerTar::new().raw(EntryType::Regular, &absolute, "", "pwned");
        let error = error_of(scratch.unpack(layer.bytes()));
        assert!(error.contains("(it is an absolute path)"), "{error}");
        assert!(!scratch.dir.join("x").exists() && !scratch.exists("x"));
        scratch.assert_nothing_outside();
    }

    #[test]
    fn writing_through_a_symlink_is_refused_and_stops_the_unpack() {
        let scratch = Scratch::new("through-symlink");
        let layer = LayerTar::new()
            .symlink("evil", scratch.outside.to_str().unwrap())
            .file("evil/file", "pwned")
            .file("after", "never reached");
        let error = error_of(scratch.unpack(layer.bytes()));
        assert!(error.contains("layer entry \"evil/file\""), "{error}");
        assert!(error.contains("its parent \"evil\" is a symbolic link"), "{error}");
        assert!(!scratch.outside.join("file").exists());
        assert!(!scratch.exists("after"), "the unpack stops at the first bad entry");
        scratch.assert_nothing_outside();

        // Same with the symlink in a lower layer, and deeper.
        let lower = LayerTar::new().dir("a/", 0o755).symlink("a/b", "../../OUTSIDE");
        scratch.unpack(lower.bytes()).unwrap();
        let error = error_of(scratch.unpack(LayerTar::new().file("a/b/c/d", "pwned").bytes()));
        assert!(error.contains("its parent \"a/b\" is a symbolic link"), "{error}");
        scratch.assert_nothing_outside();
    }

    #[test]
    fn hard_links_out_of_the_root_are_refused() {
        let scratch = Scratch::new("hardlink-out");
        let layer = LayerTar::new().raw(EntryType::Link, "passwd", "../../etc/passwd", "");
        let error = error_of(scratch.unpack(layer.bytes()));
        assert!(
            error.contains("layer entry \"passwd\" is a hard link to \"../../etc/passwd\""),
            "{error}"
        );
        assert!(error.contains("climbs with .."), "{error}");
        let layer = LayerTar::new().raw(EntryType::Link, "shadow", "/etc/shadow", "");
        assert!(error_of(scratch.unpack(layer.bytes())).contains("absolute path"));
        assert!(!scratch.exists("passwd") && !scratch.exists("shadow"));

        fs::write(scratch.outside.join("secret"), "host").unwrap();
        let secret = scratch.outside.join("secret");
        for (name, value) in [("abs", secret.to_str().unwrap()), ("rel", "../OUTSIDE/secret")] {
            let layer = LayerTar::new()
                .symlink(name, value)
                .hardlink(&format!("{name}-link"), name);
            let error = error_of(scratch.unpack(layer.bytes()));
            assert!(error.contains("a symbolic link out of the root filesystem"), "{error}");
            assert!(!scratch.exists(&format!("{name}-link")));
        }
        assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1);
    }

    #[test]
    fn hard_links_inside_the_root_share_the_inode() {
        let scratch = Scratch::new("hardlink-in");
        let layer = LayerTar::new()
            .file_owned("bin/busybox", "bb", 0o755, (0, 0))
            .hardlink("bin/ls", "bin/busybox")
            .symlink("bin/sh", "busybox")
            .hardlink("bin/sh2", "bin/sh")
            .hardlink("./bin/busybox", "bin/busybox")
            .hardlink("missing-link", "nothing");
        let error = error_of(scratch.unpack(layer.bytes()));
        assert!(error.contains("which no entry before it created"), "{error}");
        let inode = |path: &str| fs::symlink_metadata(scratch.at(path)).unwrap().ino();
        assert_eq!(inode("bin/ls"), inode("bin/busybox"));
        assert_eq!(
            scratch.read("bin/busybox"),
            "bb",
            "a hard link to itself changes nothing"
        );
        assert_eq!(
            inode("bin/sh2"),
            inode("bin/sh"),
            "a link to a symlink inside stays a symlink"
        );
    }

    #[test]
    fn whiteouts_delete_files_and_trees_of_lower_layers() {
        let scratch = Scratch::new("whiteout");
        let lower = LayerTar::new()
            .file("etc/motd", "hi")
            .file("etc/keep", "kept")
            .file("var/cache/a/b", "deep")
            .symlink("link", scratch.outside.to_str().unwrap());
        scratch.unpack(lower.bytes()).unwrap();
        fs::write(scratch.outside.join("target"), "host").unwrap();
        let upper = LayerTar::new()
            .file("etc/.wh.motd", "")
            .file("var/.wh.cache", "")
            .file(".wh.link", "");
        let stats = scratch.unpack(upper.bytes()).unwrap();
        assert_eq!(
            stats,
            UnpackStats {
                entries: 0,
                whiteouts: 3
            }
        );
        assert!(!scratch.exists("etc/motd") && !scratch.exists("var/cache") && !scratch.exists("link"));
        assert!(
            !scratch.exists("etc/.wh.motd") && !scratch.exists("var/.wh.cache"),
            "a whiteout creates nothing"
        );
        assert_eq!(scratch.read("etc/keep"), "kept");
        assert!(
            scratch.outside.join("target").exists(),
            "the symlink went, not what it points to"
        );

        for bad in ["etc/.wh.", "etc/.wh.."] {
            let layer = LayerTar::new().raw(EntryType::Regular, bad, "", "");
            assert!(scratch.unpack(layer.bytes()).is_err(), "{bad}");
        }
        assert_eq!(scratch.read("etc/keep"), "kept");
        let layer = LayerTar::new().raw(EntryType::Regular, "../.wh.OUTSIDE", "", "");
        assert!(error_of(scratch.unpack(layer.bytes())).contains("climbs"));
        assert!(scratch.outside.join("target").exists());
    }

    #[test]
    fn an_opaque_directory_keeps_this_layers_entries_before_and_after_the_marker() {
        let scratch = Scratch::new("opaque");
        let lower = LayerTar::new()
            .file("d/old", "lower")
            .file("d/olddir/z", "lower")
            .file("d/shared/lower", "lower")
            .file("other/stays", "lower");
        scratch.unpack(lower.bytes()).unwrap();
        let upper = LayerTar::new()
            .dir("d/", 0o755)
            .file("d/early", "upper")
            .file("d/shared/new", "upper")
            .file("d/.wh..wh..opq", "")
            .file("d/late", "upper");
        let stats = scratch.unpack(upper.bytes()).unwrap();
        assert_eq!(
            stats,
            UnpackStats {
                entries: 4,
                whiteouts: 1
            }
        );
        let mut names: Vec<_> = fs::read_dir(scratch.at("d"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["early", "late", "shared"]);
        let shared: Vec<_> = fs::read_dir(scratch.at("d/shared"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            shared,
            ["new"],
            "a directory both layers wrote keeps only this layer's entries"
        );
        assert_eq!(scratch.read("other/stays"), "lower");
    }

    #[test]
    fn a_file_replaces_a_lower_symlink_without_writing_through_it() {
        let scratch = Scratch::new("replace");
        let secret = scratch.outside.join("secret");
        fs::write(&secret, "host").unwrap();
        let lower = LayerTar::new()
            .symlink("etc/conf", secret.to_str().unwrap())
            .symlink("lib", scratch.outside.to_str().unwrap())
            .dir("was-dir/", 0o755)
            .file("was-dir/x", "x");
        scratch.unpack(lower.bytes()).unwrap();
        let upper = LayerTar::new()
            .file("etc/conf", "container")
            .dir("lib/", 0o755)
            .file("lib/libc.so", "elf")
            .symlink("was-dir", "elsewhere");
        scratch.unpack(upper.bytes()).unwrap();
        assert!(fs::symlink_metadata(scratch.at("etc/conf")).unwrap().is_file());
        assert_eq!(scratch.read("etc/conf"), "container");
        assert!(fs::symlink_metadata(scratch.at("lib")).unwrap().is_dir());
        assert_eq!(scratch.read("lib/libc.so"), "elf");
        assert!(fs::symlink_metadata(scratch.at("was-dir"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&secret).unwrap(), "host");
        assert_eq!(fs::read_dir(&scratch.outside).unwrap().count(), 1);
    }

    #[test]
    fn device_nodes_need_root_fifos_do_not() {
        let scratch = Scratch::new("nodes");
        let layer = LayerTar::new()
            .node("dev/null", EntryType::Char, (1, 3))
            .node("dev/loop0", EntryType::Block, (7, 0))
            .node("run/pipe", EntryType::Fifo, (0, 0));
        let stats = scratch.unpack(layer.bytes()).unwrap();
        let pipe = fs::symlink_metadata(scratch.at("run/pipe")).unwrap();
        assert!(pipe.file_type().is_fifo());
        assert_eq!(pipe.mode() & 0o7777, 0o666);
        if let Ok(null) = fs::symlink_metadata(scratch.at("dev/null")) {
            assert!(null.file_type().is_char_device());
            assert_eq!(null.rdev(), makedev(1, 3));
            assert!(fs::symlink_metadata(scratch.at("dev/loop0"))
                .unwrap()
                .file_type()
                .is_block_device());
            assert_eq!(stats.entries, 3);
        } else {
            assert_eq!(stats.entries, 1, "skipped device nodes are not counted");
        }
    }

    #[test]
    fn an_entry_may_not_replace_the_root_itself() {
        let scratch = Scratch::new("root-entry");
        fs::write(scratch.at("kept"), "").unwrap();
        let layer = LayerTar::new().raw(EntryType::Symlink, "./", "/", "");
        assert!(error_of(scratch.unpack(layer.bytes())).contains("replace the root directory itself"));
        assert!(scratch.exists("kept"));
    }

    #[test]
    fn gzip_layers_unpack_through_a_decoder_and_are_read_to_the_end() {
        use flate2::{read::GzDecoder, write::GzEncoder, Compression};
        use io::Write;
        let scratch = Scratch::new("gzip");
        let mut tar = LayerTar::new().file("hello", "world").bytes();
        tar.extend_from_slice(&[0; 4096]); // padding after the end-of-archive blocks
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&tar).unwrap();
        let gzip = encoder.finish().unwrap();
        let mut decoder = GzDecoder::new(gzip.as_slice());
        let stats = unpack_layer(&mut decoder, &scratch.root).unwrap();
        assert_eq!(stats.entries, 1);
        assert_eq!(scratch.read("hello"), "world");
        assert_eq!(decoder.read(&mut [0; 16]).unwrap(), 0, "the stream is read to its end");
    }
}
