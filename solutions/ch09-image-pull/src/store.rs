//! Where pulled images live: /var/lib/workshop/images. Each image is a directory
//! named after its manifest digest, holding its unpacked root filesystem and its
//! config; a reference (alpine:3.20) points at one. An image directory appears
//! only when complete: a pull works in a temporary directory and renames it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::image::ImageConfig;
use crate::reference::Reference;

/// The store's directory.
pub const IMAGES_DIR: &str = "/var/lib/workshop/images";

/// What `refs/` records for a reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefRecord {
    pub reference: String,
    pub manifest_digest: String,
    /// The compressed size of its layers, as the registry served them.
    pub size: u64,
}

/// A complete image in the store.
pub struct StoredImage {
    pub dir: PathBuf,
    pub record: RefRecord,
}

impl StoredImage {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn config(&self) -> Result<ImageConfig> {
        let text = std::fs::read(self.dir.join("config.json")).context("reading the image's config")?;
        serde_json::from_slice(&text).context("the image's config is not valid")
    }
}

/// The directory of the image whose manifest has `digest`.
pub fn image_dir(digest: &str) -> PathBuf {
    Path::new(IMAGES_DIR).join(digest.trim_start_matches("sha256:"))
}

fn ref_file(reference: &Reference) -> PathBuf {
    let key = crate::registry::sha256_digest(reference.to_string().as_bytes());
    Path::new(IMAGES_DIR)
        .join("refs")
        .join(key.trim_start_matches("sha256:"))
}

/// The stored image `reference` points at, if it is complete. (No network.)
pub fn find(reference: &Reference) -> Result<Option<StoredImage>> {
    let Ok(text) = std::fs::read_to_string(ref_file(reference)) else {
        return Ok(None);
    };
    let record: RefRecord = serde_json::from_str(&text).context("a damaged reference record")?;
    let dir = image_dir(&record.manifest_digest);
    Ok(dir.join("rootfs").is_dir().then_some(StoredImage { dir, record }))
}

/// Points `reference` at the stored image with manifest `digest` (atomically).
pub fn record(reference: &Reference, digest: &str, size: u64) -> Result<()> {
    let file = ref_file(reference);
    std::fs::create_dir_all(file.parent().unwrap())?;
    let record = RefRecord {
        reference: reference.to_string(),
        manifest_digest: digest.to_string(),
        size,
    };
    let temporary = file.with_extension(format!("{}.new", std::process::id()));
    std::fs::write(&temporary, serde_json::to_string(&record)?)?;
    std::fs::rename(&temporary, &file)?;
    Ok(())
}

/// Every reference in the store, sorted.
pub fn list() -> Result<Vec<RefRecord>> {
    let mut records: Vec<RefRecord> = match std::fs::read_dir(Path::new(IMAGES_DIR).join("refs")) {
        Ok(entries) => entries
            .flatten()
            .filter(|e| e.path().extension().is_none())
            .filter_map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    records.sort_by(|a, b| a.reference.cmp(&b.reference));
    Ok(records)
}

/// A temporary directory for a pull in progress, removed when dropped (a pull
/// that fails, or is killed and reclaimed, leaves nothing a later pull trusts).
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new(id: &str) -> Result<WorkDir> {
        reclaim_stale_work_dirs();
        // The pull's PID is part of the name: there is no moment at which another
        // pull could see the directory without knowing whose it is.
        let dir = Path::new(IMAGES_DIR).join(format!(".pull-{}-{id}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(WorkDir(dir))
    }
}

/// Whether the pull that named a work directory "[.]pull-PID-..." still runs.
pub fn pull_is_alive(name: &str) -> bool {
    let pid = name
        .trim_start_matches('.')
        .strip_prefix("pull-")
        .and_then(|rest| rest.split('-').next());
    pid.and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the work directories of pulls whose process is gone.
fn reclaim_stale_work_dirs() {
    let Ok(entries) = std::fs::read_dir(IMAGES_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(".pull-") {
            continue;
        }
        let alive = pull_is_alive(&entry.file_name().to_string_lossy());
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
