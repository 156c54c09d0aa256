//! Chapter 02: the container gets a PID namespace of its own, in which its command
//! is PID 1, and a /proc that shows only its processes. `--init` puts a tiny init of
//! the runtime's own at PID 1, as `docker run --init` does.

pub mod init;
pub mod pid_namespace;

use ch01::{ContainerArgs, Mechanism};
use clap::Args;

/// `run`'s flags: chapter 01's, plus this chapter's.
#[derive(Args, Debug, Clone)]
#[group(skip)] // each chapter's RunArgs wraps the one before: no clap group named "RunArgs" twice
pub struct RunArgs {
    #[command(flatten)]
    pub container: ContainerArgs,
    #[command(flatten)]
    pub pid: PidArgs,
}

/// This chapter's flags.
#[derive(Args, Debug, Clone)]
pub struct PidArgs {
    /// Run a tiny init as PID 1 that forwards signals to the command and reaps
    /// orphaned processes (like `docker run --init`).
    #[arg(long)]
    pub init: bool,
}

/// The mechanisms of this chapter, in the order their child hooks run: enter the
/// rootfs, mount its /proc, then (with --init) split off the command from PID 1.
pub fn mechanisms(args: &RunArgs) -> Vec<Box<dyn Mechanism>> {
    let mut mechanisms: Vec<Box<dyn Mechanism>> = vec![
        Box::new(ch01::chroot::Chroot),
        Box::new(pid_namespace::PidNamespace::mounting_proc()),
    ];
    if args.pid.init {
        mechanisms.push(Box::new(init::Init));
    }
    mechanisms
}

/// Runs one container with this chapter's mechanisms.
pub fn run(args: &RunArgs) -> i32 {
    ch01::run_container(&args.container, &mut mechanisms(args))
}
