//! `rmi` and garbage collection: an image goes; its layers and blobs go once no
//! other image uses them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use ch01::verbose;

use crate::store::{self, ImageRecord, STORE_DIR};

/// What a collection removed.
#[derive(Debug, Default)]
pub struct Collected {
    pub layers: usize,
    pub blobs: usize,
}

/// Removes the layers and blobs no image in the store refers to, except layers a
/// running container stacks (see [`LayersInUse`]).
pub fn collect_garbage() -> Result<Collected> {
    let images = store::list();
    let in_use = layers_in_use();
    let pulling = used_by_pulls();
    let keep = |path: &PathBuf| {
        in_use.contains(path)
            || path
                .file_name()
                .is_some_and(|n| pulling.contains(n.to_string_lossy().as_ref()))
    };
    let mut collected = Collected::default();
    let layers: Vec<PathBuf> = entries(&Path::new(STORE_DIR).join("layers"))
        .into_iter()
        .filter(|l| !keep(l))
        .collect();
    let blobs: Vec<PathBuf> = entries(&Path::new(STORE_DIR).join("blobs/sha256"))
        .into_iter()
        .filter(|b| !keep(b))
        .collect();
    for path in unreferenced(&images, &layers, &blobs) {
        verbose::say(format_args!("rm -r {path:?} (no image uses it)"));
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
            collected.layers += 1;
        } else {
            std::fs::remove_file(&path)?;
            collected.blobs += 1;
        }
    }
    Ok(collected)
}

// ANCHOR: unreferenced
/// The paths among `layers` (unpacked layer directories, named after their diff
/// ID's hex) and `blobs` (files named after their digest's hex) that no image of
/// `images` refers to.
pub fn unreferenced(images: &[ImageRecord], layers: &[PathBuf], blobs: &[PathBuf]) -> Vec<PathBuf> {
    // exercise(unreferenced): collect the hex of every diff ID in an image's
    // `layers`, and of every digest in its `blobs` and its `config_digest`
    // (strip the "sha256:" prefix). Return the paths of `layers` and `blobs`
    // whose file name is not among them. An image whose layers are shared with
    // another keeps them: they are still referenced.
    // hint: Two `HashSet<String>`s of hex digests: one of every image's `layers`, one of every
    //       image's `blobs` plus its `config_digest`; `trim_start_matches("sha256:")` gives the
    //       hex.
    // hint: A path is garbage when its `file_name()` is not in the right set: filter `layers` with
    //       the layer set and `blobs` with the blob set, and return both lists together.
    let hex = |digest: &String| digest.trim_start_matches("sha256:").to_string();
    let used_layers: HashSet<String> = images.iter().flat_map(|i| i.layers.iter().map(hex)).collect();
    let used_blobs: HashSet<String> = images
        .iter()
        .flat_map(|i| i.blobs.iter().chain([&i.config_digest]).map(hex))
        .collect();
    let unused = |paths: &[PathBuf], used: &HashSet<String>| -> Vec<PathBuf> {
        paths
            .iter()
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| used.contains(n.to_string_lossy().as_ref()))
            })
            .cloned()
            .collect()
    };
    let mut garbage = unused(layers, &used_layers);
    garbage.extend(unused(blobs, &used_blobs));
    garbage
    // end exercise
}
// ANCHOR_END: unreferenced

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|e| e.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// The digests (hex) the pulls in progress will refer to (their work dir's "uses").
fn used_by_pulls() -> HashSet<String> {
    entries(&Path::new(STORE_DIR).join("tmp"))
        .into_iter()
        .filter(|dir| {
            dir.file_name()
                .is_some_and(|name| ch09::store::pull_is_alive(&name.to_string_lossy()))
        })
        .filter_map(|dir| std::fs::read_to_string(dir.join("uses")).ok())
        .flat_map(|text| text.lines().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// Where running containers list the layers they stack: /run/workshop/layers/ID.
pub const IN_USE_DIR: &str = "/run/workshop/layers";

/// The layers the running containers stack.
fn layers_in_use() -> HashSet<PathBuf> {
    std::fs::read_dir(IN_USE_DIR)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| ch06::running::is_running(&e.file_name().to_string_lossy()))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .flat_map(|text| text.lines().map(PathBuf::from).collect::<Vec<_>>())
                .collect()
        })
        .unwrap_or_default()
}

/// Removes the lists of containers that are gone (a runtime killed with SIGKILL
/// never ran its cleanup). A container takes its running lock before it writes its
/// list, so a list without a live lock is stale.
fn remove_stale_lists() {
    for entry in std::fs::read_dir(IN_USE_DIR).into_iter().flatten().flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        if !ch06::running::is_running(&id) {
            verbose::say(format_args!("rm {:?} (its runtime is gone)", entry.path()));
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The mechanism that tells garbage collection which layers a container stacks:
/// it lists them in /run/workshop/layers/ID while the container exists.
pub struct LayersInUse {
    layers: Vec<PathBuf>,
    file: Option<PathBuf>,
}

impl LayersInUse {
    pub fn new(layers: Vec<PathBuf>) -> LayersInUse {
        LayersInUse { layers, file: None }
    }
}

impl ch01::Mechanism for LayersInUse {
    fn name(&self) -> &'static str {
        "layers in use"
    }

    fn prepare(&mut self, container: &ch01::Container) -> Result<()> {
        std::fs::create_dir_all(IN_USE_DIR)?;
        remove_stale_lists();
        let file = Path::new(IN_USE_DIR).join(&container.id);
        let list: String = self.layers.iter().map(|l| format!("{}\n", l.display())).collect();
        std::fs::write(&file, list)?;
        self.file = Some(file);
        Ok(())
    }

    fn cleanup(&mut self, _container: &ch01::Container) -> Result<()> {
        if let Some(file) = self.file.take() {
            let _ = std::fs::remove_file(file);
        }
        Ok(())
    }
}
