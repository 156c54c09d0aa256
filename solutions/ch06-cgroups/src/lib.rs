//! Chapter 06: the container gets cgroups: limits on memory, CPU time and share,
//! CPUs and number of processes (`--memory`, `--cpus`, `--cpu-shares`,
//! `--cpuset-cpus`, `--pids-limit`), its usage reported at exit (`--stats`), and a
//! cgroup namespace in which its own cgroup is the root. It works on cgroup v2
//! (the class VM) and v1 hosts alike.

pub mod cgroup;
pub mod cgroup_v1;
pub mod cgroup_v2;
pub mod cgroups;
pub mod layout;
pub mod limits;
pub mod running;

use ch01::Mechanism;
use clap::Args;

use crate::limits::LimitArgs;

/// `run`'s flags: those of the chapters before, plus this chapter's.
#[derive(Args, Debug, Clone)]
#[group(skip)]
pub struct RunArgs {
    #[command(flatten)]
    pub previous: ch05::RunArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The mechanisms of this chapter, in the order their hooks run. The running
/// lock comes first, so that no other runtime takes our cgroups for a crashed
/// run's while we create them. The cgroups' child hook (the cgroup namespace, and /sys/fs/cgroup inside) comes
/// after the mount namespace's, so that it mounts in the container's new root.
pub fn mechanisms(args: &RunArgs) -> Vec<Box<dyn Mechanism>> {
    let ch05 = &args.previous;
    let ch04 = &ch05.previous;
    let mut mechanisms: Vec<Box<dyn Mechanism>> = vec![
        Box::new(running::Running::default()),
        Box::new(ch05::user_namespace::UserNamespace::new(ch05.user.userns_map)),
        Box::new(ch03::mount_namespace::MountNamespace),
        Box::new(ch02::pid_namespace::PidNamespace::leaving_proc_to_the_mount_namespace()),
        Box::new(ch04::uts_namespace::UtsNamespace::new(ch04.uts.hostname.clone())),
        Box::new(ch04::ipc_namespace::IpcNamespace),
        Box::new(cgroups::Cgroups::new(args.limits.clone())),
    ];
    if ch04.previous.previous.pid.init {
        mechanisms.push(Box::new(ch02::init::Init));
    }
    mechanisms
}

/// Runs one container with this chapter's mechanisms.
pub fn run(args: &RunArgs) -> i32 {
    ch01::run_container(
        &args.previous.previous.previous.previous.container,
        &mut mechanisms(args),
    )
}
