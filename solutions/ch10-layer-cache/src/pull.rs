//! `pull`, with the cache: a blob or a layer the store has already is never
//! fetched or unpacked again, whichever image it came with.

use anyhow::{bail, Context, Result};
use ch01::verbose;

use std::path::PathBuf;

use ch09::image::{Descriptor, ImageConfig, Manifest};
use ch09::progress::Progress;
use ch09::reference::Reference;
use ch09::registry::Registry;

use crate::store::{self, ImageRecord, WorkDir};

/// Pulls `reference` into the store, fetching only what it does not have.
pub fn pull(reference: &Reference, insecure: bool) -> Result<ImageRecord> {
    let progress = Progress::new();
    progress.line(&ch09::pull::pulling_from(reference));
    let registry = Registry::connect(reference, insecure)?;
    let (bytes, digest) = ch09::pull::manifest_for_this_platform(&registry, reference)?;
    let manifest: Manifest = serde_json::from_slice(&bytes).context("the image manifest is not valid")?;
    let work = WorkDir::new()?;
    // What this pull will refer to, for a garbage collection running meanwhile.
    let uses: String = std::iter::once(&manifest.config.digest)
        .chain(manifest.layers.iter().map(|l| &l.digest))
        .map(|d| format!("{}\n", d.trim_start_matches("sha256:")))
        .collect();
    std::fs::write(work.0.join("uses"), uses)?;
    let config_blob = fetch_blob(&registry, &manifest.config, &work, &Progress::silent())?;
    let config: ImageConfig =
        serde_json::from_slice(&std::fs::read(config_blob)?).context("the image config is not valid")?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        bail!(
            "the manifest has {} layers but the config {} diff IDs: refused",
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        );
    }
    let mut fetched_a_layer = false;
    for (layer, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        let short = &layer.digest.trim_start_matches("sha256:")[..12];
        // Listed before the check, so that a garbage collection cannot take a layer
        // this pull is about to record.
        let mut uses = std::fs::OpenOptions::new().append(true).open(work.0.join("uses"))?;
        std::io::Write::write_all(
            &mut uses,
            format!("{}\n", diff_id.trim_start_matches("sha256:")).as_bytes(),
        )?;
        if store::layer_path(diff_id).is_dir() {
            progress.layer(&layer.digest, "Already exists");
            continue;
        }
        fetched_a_layer = true;
        let blob = fetch_blob(&registry, layer, &work, &progress)?;
        let unpacked = work.0.join(diff_id.trim_start_matches("sha256:"));
        std::fs::create_dir(&unpacked)?;
        ch09::pull::unpack_verified(&blob, &layer.media_type, diff_id, &unpacked)
            .with_context(|| format!("layer {}", layer.digest))?;
        let marked = crate::whiteouts::mark_whiteouts(ch09::pull::open_layer(&blob, &layer.media_type)?, &unpacked)?;
        verbose::say(format_args!(
            "layer {short}: unpacked, {marked} whiteout(s) marked for overlayfs"
        ));
        ch09::ownership::shift_to_mapped_root(&unpacked)?;
        store::commit(&unpacked, &store::layer_path(diff_id))?;
        progress.layer(&layer.digest, "Pull complete");
    }
    let record = ImageRecord {
        reference: reference.to_string(),
        manifest_digest: digest.clone(),
        config_digest: manifest.config.digest.clone(),
        blobs: manifest.layers.iter().map(|l| l.digest.clone()).collect(),
        layers: config.rootfs.diff_ids.clone(),
        size: manifest.layers.iter().map(|l| l.size).sum(),
    };
    store::record(&record)?;
    progress.line(&format!("Digest: {digest}"));
    progress.line(&if fetched_a_layer {
        format!("Status: Downloaded newer image for {reference}")
    } else {
        format!("Status: Image is up to date for {reference}")
    });
    Ok(record)
}

/// The blob from the store, or fetched, verified and committed to it.
fn fetch_blob(registry: &Registry, blob: &Descriptor, work: &WorkDir, progress: &Progress) -> Result<PathBuf> {
    let digest = &blob.digest;
    let path = store::blob_path(digest);
    if path.is_file() {
        return Ok(path);
    }
    let download = work.0.join(digest.trim_start_matches("sha256:"));
    registry.download_blob(digest, &download, |done| progress.downloading(digest, done, blob.size))?;
    store::commit(&download, &path)?;
    Ok(path)
}
