//! Chapter 07: the container's root becomes an overlay: the rootfs, read-only,
//! under a writable layer of the container's own that is thrown away when it ends
//! (`--keep` keeps it). Volumes (`--volume HOST:CONTAINER[:ro]`) bring host
//! directories in, for data that must outlive the container.

pub mod overlay;
pub mod volumes;

use ch01::Mechanism;
use clap::Args;

use crate::volumes::Volume;

/// `run`'s flags: those of the chapters before, plus this chapter's.
#[derive(Args, Debug, Clone)]
#[group(skip)]
pub struct RunArgs {
    #[command(flatten)]
    pub previous: ch06::RunArgs,
    #[command(flatten)]
    pub layers: LayerArgs,
}

/// This chapter's flags.
#[derive(Args, Debug, Clone)]
pub struct LayerArgs {
    /// Bind-mount a host directory into the container: HOST_DIR:CONTAINER_DIR[:ro]
    /// (Docker's `-v`; here `-v` is --verbose). May be given more than once.
    #[arg(long = "volume", value_name = "HOST:CONTAINER[:ro]")]
    pub volumes: Vec<Volume>,

    /// Keep the container's writable layer when it ends, and print where it is.
    #[arg(long)]
    pub keep: bool,
}

/// The mechanisms of this chapter, in the order their hooks run: the running lock
/// (chapter 06) and the user namespace (chapter 05) first, then the overlay and the volumes, mounted on the
/// rootfs's path before the mount namespace turns it into "/".
pub fn mechanisms(args: &RunArgs) -> Vec<Box<dyn Mechanism>> {
    let ch06 = &args.previous;
    let ch05 = &ch06.previous;
    let ch04 = &ch05.previous;
    let mut mechanisms: Vec<Box<dyn Mechanism>> = vec![
        Box::new(ch06::running::Running::default()),
        Box::new(ch05::user_namespace::UserNamespace::new(ch05.user.userns_map)),
        Box::new(overlay::Overlay::new(args.layers.keep, ch05.user.userns_map)),
        Box::new(volumes::Volumes::new(args.layers.volumes.clone())),
        Box::new(ch03::mount_namespace::MountNamespace),
        Box::new(ch02::pid_namespace::PidNamespace::leaving_proc_to_the_mount_namespace()),
        Box::new(ch04::uts_namespace::UtsNamespace::new(ch04.uts.hostname.clone())),
        Box::new(ch04::ipc_namespace::IpcNamespace),
        Box::new(ch06::cgroups::Cgroups::new(ch06.limits.clone())),
    ];
    if ch04.previous.previous.pid.init {
        mechanisms.push(Box::new(ch02::init::Init));
    }
    mechanisms
}

/// Runs one container with this chapter's mechanisms.
pub fn run(args: &RunArgs) -> i32 {
    ch01::run_container(
        &args.previous.previous.previous.previous.previous.container,
        &mut mechanisms(args),
    )
}
