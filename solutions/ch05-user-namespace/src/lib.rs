//! Chapter 05: the container gets a user namespace. Its root (uid and gid 0) is
//! mapped to an unprivileged range of the host's ids (`--userns-map`), so a
//! process that is root inside has no privilege over anything the host owns.

pub mod id_map;
pub mod user_namespace;

use ch01::Mechanism;
use clap::Args;

use crate::id_map::IdMap;

/// `run`'s flags: those of the chapters before, plus this chapter's.
#[derive(Args, Debug, Clone)]
#[group(skip)]
pub struct RunArgs {
    #[command(flatten)]
    pub previous: ch04::RunArgs,
    #[command(flatten)]
    pub user: UserArgs,
}

/// This chapter's flags.
#[derive(Args, Debug, Clone)]
pub struct UserArgs {
    /// Map the container's ids 0..COUNT to the host's HOSTID..HOSTID+COUNT (for both
    /// users and groups). The default is the range /etc/subuid conventionally gives
    /// the first user.
    #[arg(long, value_name = "HOSTID:COUNT", default_value = "100000:65536")]
    pub userns_map: IdMap,
}

/// The mechanisms of this chapter, in the order their child hooks run. The user
/// namespace comes first: the child must become root of its namespace before it
/// creates anything (a file made before that would belong to no mapped user).
/// clone(2) creates the user namespace before the others, so that they belong to
/// it: that is what lets root inside mount, set the hostname, and so on.
pub fn mechanisms(args: &RunArgs) -> Vec<Box<dyn Mechanism>> {
    let mut mechanisms: Vec<Box<dyn Mechanism>> = vec![
        Box::new(user_namespace::UserNamespace::new(args.user.userns_map)),
        Box::new(ch03::mount_namespace::MountNamespace),
        Box::new(ch02::pid_namespace::PidNamespace::leaving_proc_to_the_mount_namespace()),
        Box::new(ch04::uts_namespace::UtsNamespace::new(
            args.previous.uts.hostname.clone(),
        )),
        Box::new(ch04::ipc_namespace::IpcNamespace),
    ];
    if args.previous.previous.previous.pid.init {
        mechanisms.push(Box::new(ch02::init::Init));
    }
    mechanisms
}

/// Runs one container with this chapter's mechanisms.
pub fn run(args: &RunArgs) -> i32 {
    ch01::run_container(&args.previous.previous.previous.container, &mut mechanisms(args))
}
