//! `pull`: from a reference to a complete image in the store. Every byte is
//! verified: the manifest against its digest, each blob as it streams, each
//! layer's uncompressed content against the config's diff ID.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ch01::verbose;
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use crate::image::{is_index, select_platform, this_platform, ImageConfig, Index, Manifest};
use crate::progress::Progress;
use crate::reference::Reference;
use crate::registry::{check_digest, Registry};
use crate::store::{self, StoredImage, WorkDir};

/// Pulls `reference` into the store (or finds it there already) and returns it.
pub fn pull(reference: &Reference, insecure: bool) -> Result<StoredImage> {
    let progress = Progress::new();
    progress.line(&pulling_from(reference));
    let registry = Registry::connect(reference, insecure)?;
    let (bytes, digest) = manifest_for_this_platform(&registry, reference)?;
    let manifest: Manifest = serde_json::from_slice(&bytes).context("the image manifest is not valid")?;
    let size: u64 = manifest.layers.iter().map(|l| l.size).sum();
    let dir = store::image_dir(&digest);
    if dir.join("rootfs").is_dir() {
        progress.line(&format!("Digest: {digest}"));
        progress.line(&format!("Status: Image is up to date for {reference}"));
        store::record(reference, &digest, size)?;
        return Ok(StoredImage {
            dir,
            record: store::RefRecord {
                reference: reference.to_string(),
                manifest_digest: digest,
                size,
            },
        });
    }

    let work = WorkDir::new(&digest.trim_start_matches("sha256:")[..12])?;
    let config_file = work.0.join("config.json");
    registry.download_blob(&manifest.config.digest, &config_file, |_| {})?;
    let config: ImageConfig =
        serde_json::from_slice(&std::fs::read(&config_file)?).context("the image config is not valid")?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        bail!(
            "the manifest has {} layers but the config {} diff IDs: refused",
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        );
    }
    let rootfs = work.0.join("rootfs");
    std::fs::create_dir(&rootfs)?;
    for (layer, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        let blob = work.0.join("layer");
        registry.download_blob(&layer.digest, &blob, |done| {
            progress.downloading(&layer.digest, done, layer.size)
        })?;
        unpack_verified(&blob, &layer.media_type, diff_id, &rootfs)
            .with_context(|| format!("layer {}", layer.digest))?;
        std::fs::remove_file(&blob)?;
        progress.layer(&layer.digest, "Pull complete");
    }
    crate::ownership::shift_to_mapped_root(&rootfs)?;
    std::fs::write(work.0.join("manifest.json"), &bytes)?;
    std::fs::create_dir_all(store::IMAGES_DIR)?;
    match std::fs::rename(&work.0, &dir) {
        Ok(()) => {}
        // Another pull of the same image finished first: theirs is as good.
        Err(_) if dir.join("rootfs").is_dir() => {}
        Err(error) => return Err(error).context("moving the pulled image into the store"),
    }
    store::record(reference, &digest, size)?;
    progress.line(&format!("Digest: {digest}"));
    progress.line(&format!("Status: Downloaded newer image for {reference}"));
    Ok(StoredImage {
        dir,
        record: store::RefRecord {
            reference: reference.to_string(),
            manifest_digest: digest,
            size,
        },
    })
}

/// The manifest `reference` names, for this machine: through the image index when
/// the reference names one. Returns its bytes (verified) and digest.
pub fn manifest_for_this_platform(registry: &Registry, reference: &Reference) -> Result<(Vec<u8>, String)> {
    let (bytes, media_type, digest) = registry.manifest(reference.manifest_reference(), reference.digest.as_deref())?;
    if !is_index(&media_type, &bytes) {
        return Ok((bytes, digest));
    }
    let index: Index = serde_json::from_slice(&bytes).context("the image index is not valid")?;
    let entry = select_platform(&index, &this_platform())?;
    verbose::say(format_args!(
        "index: {} is the manifest for this platform",
        entry.digest
    ));
    let (bytes, _, digest) = registry.manifest(&entry.digest, Some(&entry.digest))?;
    Ok((bytes, digest))
}

/// Unpacks the layer file `blob` onto `rootfs`, checking that its uncompressed
/// content has the digest `diff_id`.
pub fn unpack_verified(blob: &Path, media_type: &str, diff_id: &str, rootfs: &Path) -> Result<()> {
    let uncompressed = open_layer(blob, media_type)?;
    let mut hashing = HashingReader {
        inner: uncompressed,
        hasher: Sha256::new(),
    };
    crate::unpack::unpack_layer(&mut hashing, rootfs)?;
    std::io::copy(&mut hashing, &mut std::io::sink())?; // the tar's end padding counts too
    check_digest(diff_id, &format!("sha256:{:x}", hashing.hasher.finalize())).context("the layer's diff ID")
}

/// The layer file `blob` as an uncompressed tar stream, by its media type.
pub fn open_layer(blob: &Path, media_type: &str) -> Result<Box<dyn Read>> {
    let file = std::fs::File::open(blob)?;
    if media_type.ends_with("gzip") || media_type.is_empty() {
        Ok(Box::new(GzDecoder::new(file)))
    } else if media_type.ends_with(".tar") {
        Ok(Box::new(file))
    } else {
        bail!("layers of type {media_type} are not supported (gzip-compressed or plain tar only)");
    }
}

/// A reader that hashes what goes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..n]);
        Ok(n)
    }
}

/// Docker's first line: "latest: Pulling from library/alpine".
pub fn pulling_from(reference: &Reference) -> String {
    let what = reference
        .digest
        .as_deref()
        .or(reference.tag.as_deref())
        .unwrap_or("latest");
    format!("{what}: Pulling from {}", reference.repository)
}
