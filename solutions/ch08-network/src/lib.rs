//! Chapter 08: the container gets a network namespace of its own. `--net bridge`
//! (the default) connects it to the workshop's bridge through a veth pair, with an
//! address of its own on 10.88.0.0/24; `--net none` leaves it only `lo`; `--net
//! host` shares the host's network.

pub mod ipam;
pub mod netlink;
pub mod network;

use ch01::Mechanism;
use clap::Args;

use crate::network::NetMode;

/// `run`'s flags: those of the chapters before, plus this chapter's.
#[derive(Args, Debug, Clone)]
#[group(skip)]
pub struct RunArgs {
    #[command(flatten)]
    pub previous: ch07::RunArgs,
    #[command(flatten)]
    pub net: NetArgs,
}

/// This chapter's flags.
#[derive(Args, Debug, Clone)]
pub struct NetArgs {
    /// How the container is connected: bridge (own namespace, on workshop0), none
    /// (own namespace, only lo) or host (the host's network).
    #[arg(long, value_enum, default_value = "bridge")]
    pub net: NetMode,
}

/// The mechanisms of this chapter, in the order their hooks run: as in chapter 07,
/// plus the network (its child hook configures eth0 once the parent has moved it in).
pub fn mechanisms(args: &RunArgs) -> Vec<Box<dyn Mechanism>> {
    mechanisms_on_layers(args, Vec::new())
}

/// The same, with the container's rootfs stacked on read-only `below` layers (top
/// first): an image's layers, from chapter 10 on.
pub fn mechanisms_on_layers(args: &RunArgs, below: Vec<std::path::PathBuf>) -> Vec<Box<dyn Mechanism>> {
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
        Box::new(network::Network::new(args.net.net)),
    ];
    if ch04.previous.previous.pid.init {
        mechanisms.push(Box::new(ch02::init::Init));
    }
    mechanisms
}

/// Runs one container with this chapter's mechanisms.
pub fn run(args: &RunArgs) -> i32 {
    let container = &args.previous.previous.previous.previous.previous.previous.container;
    ch01::run_container(container, &mut mechanisms(args))
}
