//! Chapter 03: the container gets a mount namespace of its own. Its mounts are
//! private, its root is the rootfs through pivot_root(2) (the host's root is
//! unmounted, not just out of sight as with chroot), and it gets a fresh /proc, a
//! minimal /dev, a read-only /sys and a private /tmp. Nothing it mounts reaches the
//! host's mount table.

pub mod dev;
pub mod mount_namespace;
pub mod pivot_root;

use ch01::Mechanism;
use clap::Args;

/// `run`'s flags: those of the chapters before (this chapter adds none).
#[derive(Args, Debug, Clone)]
#[group(skip)] // each chapter's RunArgs wraps the one before: no clap group named "RunArgs" twice
pub struct RunArgs {
    #[command(flatten)]
    pub previous: ch02::RunArgs,
}

/// The mechanisms of this chapter, in the order their child hooks run. The mount
/// namespace replaces chapter 01's chroot: it mounts the container's filesystems,
/// /proc included, then switches the root with pivot_root.
pub fn mechanisms(args: &RunArgs) -> Vec<Box<dyn Mechanism>> {
    let mut mechanisms: Vec<Box<dyn Mechanism>> = vec![
        Box::new(mount_namespace::MountNamespace),
        Box::new(ch02::pid_namespace::PidNamespace::leaving_proc_to_the_mount_namespace()),
    ];
    if args.previous.pid.init {
        mechanisms.push(Box::new(ch02::init::Init));
    }
    mechanisms
}

/// Runs one container with this chapter's mechanisms.
pub fn run(args: &RunArgs) -> i32 {
    ch01::run_container(&args.previous.container, &mut mechanisms(args))
}
