//! Checks of chapter 10's content-addressed store (/var/lib/workshop/store): what
//! it trusts must be whole. Every blob's content has its name's sha256, and every
//! image record names a config blob and layer directories that are there.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub const STORE_DIR: &str = "/var/lib/workshop/store";

/// What a look at a store found.
#[derive(Debug, Default)]
pub struct Verified {
    pub blobs: usize,
    pub bytes: u64,
    pub images: usize,
    /// What is wrong, one line each: empty for a sound store.
    pub problems: Vec<String>,
}

/// The sha256 of a file's content, as "HEX"; None if it went away meanwhile.
fn sha256_of_file(path: &Path) -> Option<(String, u64)> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        let n = file.read(&mut buffer).ok()?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buffer[..n]);
    }
    let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Some((hex, total))
}

/// Verifies the store at `root` (the real one, or one seen through another mount
/// namespace): every blob, every image record.
pub fn verify(root: &Path) -> Verified {
    let mut verified = Verified::default();
    let blobs = root.join("blobs/sha256");
    for entry in std::fs::read_dir(&blobs).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Removed by a garbage collection meanwhile: nothing to verify.
        let Some((hex, size)) = sha256_of_file(&entry.path()) else {
            continue;
        };
        verified.blobs += 1;
        verified.bytes += size;
        if hex != name {
            verified.problems.push(format!(
                "the blob {} has the content of sha256:{hex} ({size} bytes): a half-written blob is trusted",
                entry.path().display()
            ));
        }
    }
    for entry in std::fs::read_dir(root.join("images")).into_iter().flatten().flatten() {
        let path = entry.path();
        // Only records: a pull writes NAME.PID.new first, then renames it.
        if path.extension().map_or(true, |x| x != "json") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // removed by an rmi meanwhile
        };
        verified.images += 1;
        let record: serde_json::Value = match serde_json::from_str(&text) {
            Ok(record) => record,
            Err(error) => {
                verified
                    .problems
                    .push(format!("the image record {} is not JSON: {error}", path.display()));
                continue;
            }
        };
        let reference = record["reference"].as_str().unwrap_or("?");
        let config = record["config_digest"].as_str().unwrap_or("");
        if !blob_path(root, config).is_file() {
            verified
                .problems
                .push(format!("{reference}: its config blob {config} is missing"));
        }
        for diff_id in record["layers"].as_array().into_iter().flatten() {
            let diff_id = diff_id.as_str().unwrap_or("");
            if !layer_path(root, diff_id).is_dir() {
                verified
                    .problems
                    .push(format!("{reference}: its layer {diff_id} is missing"));
            }
        }
    }
    verified
}

pub fn blob_path(root: &Path, digest: &str) -> PathBuf {
    root.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
}

pub fn layer_path(root: &Path, diff_id: &str) -> PathBuf {
    root.join("layers").join(diff_id.trim_start_matches("sha256:"))
}

/// The record of `reference` in the store at `root`, if there is one.
pub fn record_path(root: &Path, reference: &str) -> PathBuf {
    let key = workshop_grader::oci::sha256_digest(reference.as_bytes());
    root.join("images")
        .join(format!("{}.json", key.trim_start_matches("sha256:")))
}

/// The work directories of pull `pid` under ROOT/tmp (named pull-PID-TIME).
pub fn work_dirs_of(root: &Path, pid: u32) -> Vec<PathBuf> {
    std::fs::read_dir(root.join("tmp"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("pull-{pid}-")))
        .map(|e| e.path())
        .collect()
}
