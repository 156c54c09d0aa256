//! Chapter 01: a container runtime that runs a command inside a root filesystem.
//!
//! The runtime is a fixed lifecycle ([`lifecycle`]) into which each kernel mechanism
//! plugs through the [`Mechanism`](mechanism::Mechanism) trait. This chapter adds the
//! first mechanism, [`chroot`](chroot::Chroot), and everything every later chapter
//! needs: the command line, the parent/child sync channel, running the command, exit
//! codes, signal forwarding and `--verbose` narration.

pub mod chroot;
pub mod cli;
pub mod command;
pub mod exit_status;
pub mod lifecycle;
pub mod mechanism;
pub mod message;
pub mod signals;
pub mod sync;
pub mod verbose;

pub use cli::ContainerArgs;
pub use lifecycle::{run_container, Container};
pub use mechanism::Mechanism;

/// What this chapter runs: the command, chrooted into the rootfs.
pub fn run(args: &ContainerArgs) -> i32 {
    let mut mechanisms: Vec<Box<dyn Mechanism>> = vec![Box::new(chroot::Chroot)];
    run_container(args, &mut mechanisms)
}
