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
use ch01::{verbose, Container, Mechanism};

use ch09::reference::parse_reference;

/// `run`'s flags: those of chapter 09 (this chapter adds none).
pub type RunArgs = ch09::RunArgs;

/// Runs a container: on `--rootfs DIR` as before, or on IMAGE from the store,
/// pulled first if it is not there.
pub fn run(args: &RunArgs) -> i32 {
    let container_args = &args
        .previous
        .previous
        .previous
        .previous
        .previous
        .previous
        .previous
        .container;
    if container_args.rootfs.is_some() {
        return ch01::run_container(container_args, &mut ch08::mechanisms(&args.previous));
    }
    if container_args.verbose {
        verbose::enable();
    }
    let started = container_from_store(&container_args.command, args.registry.insecure);
    match started {
        Ok((container, below)) => {
            let mut in_use = below.clone();
            in_use.push(container.rootfs.clone());
            let mut mechanisms = mechanisms(&args.previous, below);
            // After the running lock (first), so that it is taken before the list is written.
            mechanisms.insert(1, Box::new(gc::LayersInUse::new(in_use)));
            ch01::lifecycle::run_prepared_container(&container, &mut mechanisms)
        }
        Err(error) => {
            eprintln!("workshop: error: {error:#}");
            ch01::exit_status::RUNTIME_ERROR
        }
    }
}

/// IMAGE [COMMAND...] as a container on the store's layers: the top layer is its
/// rootfs (the overlay is mounted on it), the others are stacked below it.
pub fn container_from_store(words: &[String], insecure: bool) -> Result<(Container, Vec<std::path::PathBuf>)> {
    let (image, command) = words.split_first().context("give --rootfs DIR or an IMAGE to run")?;
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

/// Chapter 08's mechanisms, with the overlay stacked on the image's lower layers.
pub fn mechanisms(args: &ch08::RunArgs, below: Vec<std::path::PathBuf>) -> Vec<Box<dyn Mechanism>> {
    let ch07 = &args.previous;
    let ch06 = &ch07.previous;
    let ch05 = &ch06.previous;
    let ch04 = &ch05.previous;
    let mut mechanisms: Vec<Box<dyn Mechanism>> = vec![
        Box::new(ch06::running::Running::default()),
        Box::new(ch05::user_namespace::UserNamespace::new(ch05.user.userns_map)),
        Box::new(ch07::overlay::Overlay::new(ch07.layers.keep, ch05.user.userns_map).stacked_on(below)),
        Box::new(ch07::volumes::Volumes::new(ch07.layers.volumes.clone())),
        Box::new(ch03::mount_namespace::MountNamespace),
        Box::new(ch02::pid_namespace::PidNamespace::leaving_proc_to_the_mount_namespace()),
        Box::new(ch04::uts_namespace::UtsNamespace::new(ch04.uts.hostname.clone())),
        Box::new(ch04::ipc_namespace::IpcNamespace),
        Box::new(ch06::cgroups::Cgroups::new(ch06.limits.clone())),
        Box::new(ch08::network::Network::new(args.net.net)),
    ];
    if ch04.previous.previous.pid.init {
        mechanisms.push(Box::new(ch02::init::Init));
    }
    mechanisms
}
