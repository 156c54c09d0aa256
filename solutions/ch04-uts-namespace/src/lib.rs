//! Chapter 04: the container gets a UTS namespace, so it has a hostname of its own
//! (`--hostname`, by default its id), and an IPC namespace, so the host's System V
//! shared memory, semaphores and message queues are out of its sight, and what it
//! makes there goes away with it.

pub mod ipc_namespace;
pub mod uts_namespace;

use ch01::Mechanism;
use clap::Args;

/// `run`'s flags: those of the chapters before, plus this chapter's.
#[derive(Args, Debug, Clone)]
#[group(skip)]
pub struct RunArgs {
    #[command(flatten)]
    pub previous: ch03::RunArgs,
    #[command(flatten)]
    pub uts: UtsArgs,
}

/// This chapter's flags.
#[derive(Args, Debug, Clone)]
pub struct UtsArgs {
    /// The container's hostname (default: the container's id).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
}

/// The mechanisms of this chapter, in the order their child hooks run: the
/// filesystem first (mount namespace, then /proc), then the hostname and the IPC
/// namespace's /dev/mqueue, and the init (which forks) always last.
pub fn mechanisms(args: &RunArgs) -> Vec<Box<dyn Mechanism>> {
    let mut mechanisms: Vec<Box<dyn Mechanism>> = vec![
        Box::new(ch03::mount_namespace::MountNamespace),
        Box::new(ch02::pid_namespace::PidNamespace::leaving_proc_to_the_mount_namespace()),
        Box::new(uts_namespace::UtsNamespace::new(args.uts.hostname.clone())),
        Box::new(ipc_namespace::IpcNamespace),
    ];
    if args.previous.previous.pid.init {
        mechanisms.push(Box::new(ch02::init::Init));
    }
    mechanisms
}

/// Runs one container with this chapter's mechanisms.
pub fn run(args: &RunArgs) -> i32 {
    ch01::run_container(&args.previous.previous.container, &mut mechanisms(args))
}
