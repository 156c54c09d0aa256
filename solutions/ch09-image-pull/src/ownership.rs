//! The rootfs ownership problem of chapter 05, solved for images: the files of an
//! image belong to its own users (mostly root, uid 0). The container's root is the
//! host's uid 100000 (`--userns-map`'s default), so a pull gives every file to the
//! mapped ids (uid N becomes 100000 + N), as Docker's userns-remap does.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, Result};

/// The default map of chapter 05: the container's ids start at this host id.
pub const MAPPED_ROOT: u32 = 100000;
const MAPPED_COUNT: u32 = 65536;

/// Gives every file under `root` to the mapped ids (symlinks themselves included).
pub fn shift_to_mapped_root(root: &Path) -> Result<()> {
    let metadata = std::fs::symlink_metadata(root)?;
    let shift = |id: u32| if id < MAPPED_COUNT { MAPPED_ROOT + id } else { id };
    std::os::unix::fs::lchown(root, Some(shift(metadata.uid())), Some(shift(metadata.gid())))
        .with_context(|| format!("chown {}", root.display()))?;
    // chown(2) clears the setuid and setgid bits of a file: put them back.
    if metadata.is_file() && metadata.mode() & 0o6000 != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(metadata.mode() & 0o7777))?;
    }
    if metadata.is_dir() {
        for entry in std::fs::read_dir(root)? {
            shift_to_mapped_root(&entry?.path())?;
        }
    }
    Ok(())
}
