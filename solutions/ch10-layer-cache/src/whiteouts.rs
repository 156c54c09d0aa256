//! Layers as overlayfs lower directories. Unpacked one by one into directories of
//! their own, a layer's deletions have nothing to delete: they must stay in the
//! layer, in the form overlayfs understands, to hide what lower layers have.
//! A whiteout `DIR/.wh.NAME` becomes a character device 0:0 at DIR/NAME; an opaque
//! marker `DIR/.wh..wh..opq` becomes the extended attribute user.overlay.opaque=y
//! on DIR (the user.* form, for overlays mounted with userxattr, chapter 07).

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use ch01::verbose;
use nix::sys::stat::{mknod, Mode, SFlag};

/// The prefix of a whiteout entry's name, and the name of an opaque marker.
const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Reads the layer's tar stream again and marks its whiteouts in `layer_dir`
/// (already unpacked). Returns how many markers it made.
pub fn mark_whiteouts(tar: impl Read, layer_dir: &Path) -> Result<usize> {
    let mut archive = tar::Archive::new(tar);
    let mut marked = 0;
    for entry in archive.entries()? {
        let entry = entry?;
        let path = entry.path()?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.starts_with(WHITEOUT) {
            continue;
        }
        let target = ch09::unpack::safe_target(layer_dir, &path)?;
        mark_one(&target, name == OPAQUE)?;
        marked += 1;
    }
    Ok(marked)
}

// ANCHOR: mark_one
/// Marks one whiteout: `marker` is where the `.wh.` entry would be, inside the
/// layer's directory.
pub fn mark_one(marker: &Path, opaque: bool) -> Result<()> {
    // exercise(mark_one): for an opaque marker, set the extended attribute
    // "user.overlay.opaque" to "y" on the marker's directory (its parent):
    // `xattr_set(dir, "user.overlay.opaque", b"y")`. For `.wh.NAME`, make a
    // character device with device number 0 (mknod(2), SFlag::S_IFCHR, mode
    // 0, dev 0) named NAME in the same directory: overlayfs reads it as "NAME
    // is deleted". Create the directory first if the layer has none there.
    // hint: `let dir = marker.parent()`, then `std::fs::create_dir_all(dir)?`; an opaque marker is
    //       one call: `xattr_set(dir, "user.overlay.opaque", b"y")` (see overlayfs's "userxattr"
    //       docs).
    // hint: For `.wh.NAME`: NAME is the file name with WHITEOUT trimmed off; make the whiteout with
    //       `mknod(&dir.join(name), SFlag::S_IFCHR, Mode::empty(), 0)` (`man 2 mknod`: a 0/0
    //       character device).
    let dir = marker.parent().context("a whiteout entry with no directory")?;
    std::fs::create_dir_all(dir)?;
    if opaque {
        verbose::say(format_args!("setxattr({dir:?}, \"user.overlay.opaque\", \"y\")"));
        return xattr_set(dir, "user.overlay.opaque", b"y");
    }
    let name = marker
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .trim_start_matches(WHITEOUT);
    let whiteout = dir.join(name);
    verbose::say(format_args!("mknod({whiteout:?}, S_IFCHR, 0:0) (a whiteout)"));
    mknod(&whiteout, SFlag::S_IFCHR, Mode::empty(), 0)
        .with_context(|| format!("making the whiteout {}", whiteout.display()))?;
    Ok(())
    // end exercise
}
// ANCHOR_END: mark_one

/// setxattr(2) on `path` itself.
pub fn xattr_set(path: &Path, name: &str, value: &[u8]) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let c_name = std::ffi::CString::new(name)?;
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let result =
        unsafe { nix::libc::lsetxattr(c_path.as_ptr(), c_name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    if result != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("setxattr {name} on {}", path.display()));
    }
    Ok(())
}
