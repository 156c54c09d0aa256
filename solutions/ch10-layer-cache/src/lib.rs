//! Chapter 10: a layer cache. Pulled images go into a content-addressed store
//! (blobs by digest, unpacked layers by diff ID): a layer two images share is
//! fetched and unpacked once, and pulling an image again fetches no blob. `run`
//! stacks the image's layers as overlayfs lower directories, so no container
//! copies its image. `rmi` removes an image and the layers no image uses.

pub mod gc;
pub mod pull;
pub mod store;
pub mod whiteouts;

use anyhow::{Context, Result};
use ch01::{verbose, Container};

use ch09::reference::parse_reference;

/// `run`'s flags: those of chapter 09 (this chapter adds none).
pub type RunArgs = ch09::RunArgs;

/// Runs a container: on `--rootfs DIR` as before, or on IMAGE from the store,
/// pulled first if it is not there.
pub fn run(args: &RunArgs) -> i32 {
    let container_args = args.container();
    if container_args.rootfs.is_some() {
        return ch09::run(args); // no image: chapter 09's run, on --rootfs
    }
    if container_args.verbose {
        verbose::enable();
    }
    let started = container_from_store(&container_args.command, args.registry.insecure);
    match started {
        Ok((container, below)) => {
            let mut in_use = below.clone();
            in_use.push(container.rootfs.clone());
            let mut mechanisms = ch08::mechanisms_on_layers(&args.previous, below);
            // After the running lock (first), so that it is taken before the list is written.
            mechanisms.insert(1, Box::new(gc::LayersInUse::new(in_use)));
            ch01::lifecycle::run_prepared_container(&container, &mut mechanisms)
        }
        Err(error) => {
            ch01::message::print(format_args!("workshop: error: {error:#}"));
            ch01::exit_status::RUNTIME_ERROR
        }
    }
}

/// IMAGE [COMMAND...] as a container on the store's layers: the top layer is its
/// rootfs (the overlay is mounted on it), the others are stacked below it.
pub fn container_from_store(words: &[String], insecure: bool) -> Result<(Container, Vec<std::path::PathBuf>)> {
    let (image, command) = ch09::image_and_command(words)?;
    let reference = parse_reference(image)?;
    let record = match store::find(&reference)? {
        Some(record) => record,
        None => pull::pull(&reference, insecure).with_context(|| format!("pulling {reference}"))?,
    };
    let config: ch09::image::ImageConfig =
        serde_json::from_slice(&std::fs::read(store::blob_path(&record.config_digest))?)?;
    // Top first, as overlayfs wants them.
    let mut layers: Vec<std::path::PathBuf> = record.layers.iter().rev().map(|l| store::layer_path(l)).collect();
    let top = layers.remove(0);
    // The image's /etc/passwd may be in any layer: look in the top one that has it.
    let passwd_layer = std::iter::once(&top)
        .chain(&layers)
        .find(|l| l.join("etc/passwd").exists())
        .unwrap_or(&top)
        .clone();
    let container = ch09::container_with_config(&top, &config.config, command, &passwd_layer)?;
    Ok((container, layers))
}
