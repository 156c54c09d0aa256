//! The content-addressed store: everything under /var/lib/workshop/store is named
//! after the digest of its content, so the same content is kept once, whichever
//! images share it, and a name can be trusted: it is only given to content that
//! was verified.
//!
//! ```text
//! store/
//!   blobs/sha256/HEX     compressed layers and configs, as the registry served them
//!   layers/HEX/          each layer unpacked, named after its diff ID
//!   images/HEX.json      what a reference points at (HEX: the reference's sha256)
//!   tmp/                 work in progress: never trusted, removed when its pull is gone
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use ch09::reference::Reference;

/// The store's root.
pub const STORE_DIR: &str = "/var/lib/workshop/store";

/// What an image is, for the store: its manifest and its layers' diff IDs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    pub reference: String,
    pub manifest_digest: String,
    pub config_digest: String,
    /// Compressed layer digests, bottom first.
    pub blobs: Vec<String>,
    /// Diff IDs (the unpacked layers), bottom first.
    pub layers: Vec<String>,
    pub size: u64,
}

fn hex(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

pub fn blob_path(digest: &str) -> PathBuf {
    Path::new(STORE_DIR).join("blobs/sha256").join(hex(digest))
}

pub fn layer_path(diff_id: &str) -> PathBuf {
    Path::new(STORE_DIR).join("layers").join(hex(diff_id))
}

fn image_path(reference: &str) -> PathBuf {
    let key = ch09::registry::sha256_digest(reference.as_bytes());
    Path::new(STORE_DIR).join("images").join(format!("{}.json", hex(&key)))
}

/// The image `reference` points at, if the store has it whole.
pub fn find(reference: &Reference) -> Result<Option<ImageRecord>> {
    let Ok(text) = std::fs::read_to_string(image_path(&reference.to_string())) else {
        return Ok(None);
    };
    let record: ImageRecord = serde_json::from_str(&text).context("a damaged image record")?;
    let whole = blob_path(&record.config_digest).is_file() && record.layers.iter().all(|l| layer_path(l).is_dir());
    Ok(whole.then_some(record))
}

/// Records an image (atomically: write a new file, rename it over the old one).
pub fn record(record: &ImageRecord) -> Result<()> {
    let path = image_path(&record.reference);
    std::fs::create_dir_all(path.parent().unwrap())?;
    let temporary = path.with_extension(format!("{}.new", std::process::id()));
    std::fs::write(&temporary, serde_json::to_string_pretty(record)?)?;
    std::fs::rename(&temporary, &path)?;
    Ok(())
}

/// Forgets the image `reference` (its layers stay until garbage collection).
pub fn forget(reference: &str) -> Result<bool> {
    match std::fs::remove_file(image_path(reference)) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Every image in the store, sorted by reference.
pub fn list() -> Vec<ImageRecord> {
    let mut records: Vec<ImageRecord> = std::fs::read_dir(Path::new(STORE_DIR).join("images"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .filter_map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok())
                .collect()
        })
        .unwrap_or_default();
    records.sort_by(|a, b| a.reference.cmp(&b.reference));
    records
}

/// A work directory for one pull under store/tmp, named after the pull's PID
/// (pull-PID-TIME) and removed when dropped; work directories of pulls that are gone are removed by
/// the next pull. Nothing in tmp/ is ever trusted.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new() -> Result<WorkDir> {
        let tmp = Path::new(STORE_DIR).join("tmp");
        std::fs::create_dir_all(&tmp)?;
        for entry in std::fs::read_dir(&tmp)?.flatten() {
            let alive = ch09::store::pull_is_alive(&entry.file_name().to_string_lossy());
            if !alive {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = tmp.join(format!("pull-{}-{}", std::process::id(), nanos()));
        std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(WorkDir(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

// ANCHOR: commit
/// Moves `made` (a verified blob or unpacked layer in the work directory) to its
/// content-addressed place `into`. If another pull put the same content there
/// first, keeps theirs and drops ours: both are the same bytes.
pub fn commit(made: &Path, into: &Path) -> Result<()> {
    // exercise(commit): create `into`'s parent directory, then rename(2) `made`
    // to `into` (std::fs::rename). A rename within one filesystem is atomic:
    // other processes see either nothing at `into` or the whole thing, never a
    // half-written one. If `into` exists already (the rename fails with
    // AlreadyExists or DirectoryNotEmpty, or `into` is there when you look),
    // remove `made` (remove_dir_all for a directory) and succeed.
    // hint: `std::fs::create_dir_all(into.parent().unwrap())?`, then `std::fs::rename(made, into)`
    //       (`man 2 rename`: atomic within one filesystem).
    // hint: Another pull may have committed the same layer first: if `into.exists()` (before the
    //       rename, or after it failed), remove `made` (`remove_dir_all` for a directory, else
    //       `remove_file`) and return Ok.
    std::fs::create_dir_all(into.parent().unwrap())?;
    if into.exists() {
        return remove(made);
    }
    match std::fs::rename(made, into) {
        Ok(()) => Ok(()),
        Err(_) if into.exists() => remove(made),
        Err(error) => Err(error).with_context(|| format!("moving {} to {}", made.display(), into.display())),
    }
    // end exercise
}
// ANCHOR_END: commit

fn remove(path: &Path) -> Result<()> {
    if path.is_dir() {
        std::fs::remove_dir_all(path)?;
    } else {
        std::fs::remove_file(path)?;
    }
    Ok(())
}
