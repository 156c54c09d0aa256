//! Chapter 09: images. `pull IMAGE` fetches an image from a registry with the OCI
//! distribution API (authentication, image indexes and the platform choice,
//! every byte verified against its digest) and unpacks its layers safely, applying
//! whiteouts; `images` lists what is stored; `run IMAGE` runs it with its config's
//! defaults (entrypoint and cmd, env, working dir, user). `--rootfs DIR` still works.

pub mod image;
pub mod ownership;
pub mod progress;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod store;
pub mod unpack;

use anyhow::{Context, Result};
use ch01::{verbose, Container};
use clap::Args;

use crate::image::{command_for, resolve_user};
use crate::reference::parse_reference;

/// `run`'s flags: those of the chapters before, plus this chapter's.
#[derive(Args, Debug, Clone)]
#[group(skip)]
pub struct RunArgs {
    #[command(flatten)]
    pub previous: ch08::RunArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl RunArgs {
    /// Chapter 01's flags (--rootfs, -v, the command), under the chapters' layers.
    pub fn container(&self) -> &ch01::ContainerArgs {
        &self
            .previous
            .previous
            .previous
            .previous
            .previous
            .previous
            .previous
            .container
    }
}

/// How to reach the registry.
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// Use plain HTTP (loopback registries always do, as Docker does for localhost).
    #[arg(long)]
    pub insecure: bool,
}

/// `pull`'s arguments (chapter 10's `pull` takes the same).
#[derive(Args, Debug, Clone)]
pub struct PullArgs {
    /// The image, e.g. alpine:3.20 or localhost:5000/team/app:tag.
    pub image: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Narrate each request.
    #[arg(short, long)]
    pub verbose: bool,
}

/// The help of `run`'s words from this chapter on, where an image can come first.
pub const RUN_WORDS_HELP: &str = "The image to run, then the command and its arguments (default: the image's \
     entrypoint and cmd); with --rootfs, only the command. Put `--` before a command that has flags of its own";

/// Runs a container: on `--rootfs DIR` as before, or on IMAGE (the first word
/// after the options), pulled first if it is not in the store yet.
pub fn run(args: &RunArgs) -> i32 {
    let container_args = args.container();
    let mut mechanisms = ch08::mechanisms(&args.previous);
    if container_args.rootfs.is_some() {
        return ch01::run_container(container_args, &mut mechanisms);
    }
    if container_args.verbose {
        verbose::enable();
    }
    match container_from_image(&container_args.command, args.registry.insecure) {
        Ok(container) => ch01::lifecycle::run_prepared_container(&container, &mut mechanisms),
        Err(error) => {
            ch01::message::print(format_args!("workshop: error: {error:#}"));
            ch01::exit_status::RUNTIME_ERROR
        }
    }
}

/// IMAGE [COMMAND...] as a container: the image's root filesystem, and its config's
/// command, environment, working directory and user. The image is pulled only if
/// the store does not have it: a container start pays nothing for pulling.
pub fn container_from_image(words: &[String], insecure: bool) -> Result<Container> {
    let (image, command) = image_and_command(words)?;
    let reference = parse_reference(image)?;
    let stored = match store::find(&reference)? {
        Some(stored) => stored,
        None => pull::pull(&reference, insecure).with_context(|| format!("pulling {reference}"))?,
    };
    let rootfs = stored.rootfs();
    container_with_config(&rootfs, &stored.config()?.config, command, &rootfs)
}

/// Splits `run`'s words into IMAGE and COMMAND. In `run IMAGE -- ls -l`, the `--`
/// comes after a word already read, so clap keeps it among the words: it is only
/// the separator here, not the command.
pub fn image_and_command(words: &[String]) -> Result<(&String, &[String])> {
    let (image, mut command) = words.split_first().context("give --rootfs DIR or an IMAGE to run")?;
    if command.first().is_some_and(|word| word == "--") {
        command = &command[1..];
    }
    Ok((image, command))
}

/// A container on `rootfs` as the image's config says: its command (entrypoint,
/// then `command` or its Cmd), environment, working directory and user (looked up
/// in `etc/passwd` under `passwd_root`).
pub fn container_with_config(
    rootfs: &std::path::Path,
    config: &image::RunConfig,
    command: &[String],
    passwd_root: &std::path::Path,
) -> Result<Container> {
    let mut container = Container::new(rootfs, command_for(config, command)?)?;
    container.env = config.env.clone().unwrap_or_default();
    container.workdir = config.working_dir.clone().filter(|dir| !dir.is_empty()).map(Into::into);
    container.user = resolve_user(config.user.as_deref().unwrap_or(""), passwd_root)?;
    Ok(container)
}
