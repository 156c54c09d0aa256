//! The doctor's trials: instead of guessing from kernel config files, try what the
//! runtimes do, where it cannot touch the host. Each trial runs in a forked child
//! that first unshares what it is about to change, so its mounts and network links
//! vanish with it (mount_namespaces(7), network_namespaces(7)); the only thing made
//! outside a child is a temporary directory (removed) and a cgroup named
//! `workshop-doctor-PID` (removed). They need root.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ch06::layout::Layout;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe, ForkResult};

use crate::doctor::Row;

/// The namespaces the chapters create, with the chapter that needs each.
pub const NAMESPACES: [(&str, CloneFlags, &str, &str); 7] = [
    ("pid", CloneFlags::CLONE_NEWPID, "CLONE_NEWPID", "02"),
    ("mount", CloneFlags::CLONE_NEWNS, "CLONE_NEWNS", "03"),
    ("uts", CloneFlags::CLONE_NEWUTS, "CLONE_NEWUTS", "04"),
    ("ipc", CloneFlags::CLONE_NEWIPC, "CLONE_NEWIPC", "04"),
    ("user", CloneFlags::CLONE_NEWUSER, "CLONE_NEWUSER", "05"),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP, "CLONE_NEWCGROUP", "06"),
    ("net", CloneFlags::CLONE_NEWNET, "CLONE_NEWNET", "08"),
];

/// The cgroup controllers chapter 06's limits use.
pub const CONTROLLERS: [&str; 4] = ["memory", "cpu", "pids", "cpuset"];

pub fn all() -> Vec<Row> {
    let mut rows: Vec<Row> = NAMESPACES
        .iter()
        .map(|(name, flag, flag_name, chapter)| namespace(name, *flag, flag_name, chapter))
        .collect();
    rows.push(cgroup_create());
    rows.push(overlayfs());
    rows.push(veth_and_bridge());
    rows
}

/// Runs `trial` in a forked child and returns what it reported. The doctor is
/// single-threaded, so the child can safely do anything the parent could.
fn in_child(trial: impl FnOnce() -> Result<String>) -> Result<String> {
    let (read_end, write_end) = pipe().context("pipe(2)")?;
    // SAFETY: the doctor runs no other threads.
    match unsafe { fork() }.context("fork(2)")? {
        ForkResult::Child => {
            drop(read_end);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(trial));
            let message = match outcome {
                Ok(Ok(detail)) => format!("ok {detail}"),
                Ok(Err(error)) => format!("error {error:#}"),
                Err(_) => "error the trial panicked".to_string(),
            };
            let _ = nix::unistd::write(&write_end, message.as_bytes());
            // SAFETY: _exit(2) ends the child without running the parent's exit handlers.
            unsafe { nix::libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut message = String::new();
            let _ = std::fs::File::from(read_end).read_to_string(&mut message);
            waitpid(child, None).context("waitpid(2)")?;
            match message.split_once(' ') {
                Some(("ok", detail)) => Ok(detail.to_string()),
                Some(("error", error)) => bail!("{error}"),
                _ => bail!("the trial's child ended without a word"),
            }
        }
    }
}

fn namespace(name: &str, flag: CloneFlags, flag_name: &str, chapter: &str) -> Row {
    let check = format!("{name} namespace");
    match in_child(|| {
        unshare(flag).with_context(|| format!("unshare({flag_name})"))?;
        Ok(format!("unshare({flag_name}) works in a child"))
    }) {
        Ok(detail) => Row::ok(&check, &detail),
        Err(error) => {
            let text = format!("{error:#}");
            let fix = if name == "user" && text.contains("ENOSPC") {
                "user namespaces are switched off: `sudo sysctl -w user.max_user_namespaces=15000`".to_string()
            } else if text.contains("EPERM") {
                "not allowed here: are you inside a container (Docker, LXC, a CI runner) without privileges? \
                 Use the class VM (`vagrant up`) or a full Linux machine"
                    .to_string()
            } else {
                format!(
                    "this kernel lacks {name} namespaces (CONFIG_{}_NS): use the class VM",
                    name.to_uppercase()
                )
            };
            Row::fail(&check, &format!("{text} (chapter {chapter} needs it)"), &fix)
        }
    }
}

/// Makes and removes a cgroup named `workshop-doctor-PID` in each hierarchy the
/// runtime would use: proves the cgroup filesystems are writable.
fn cgroup_create() -> Row {
    let check = "cgroup create/remove";
    let layout = match Layout::detect() {
        Ok(layout) => layout,
        Err(error) => return Row::fail(check, &format!("{error:#}"), "mount the cgroup filesystem"),
    };
    let mut roots: Vec<&Path> = CONTROLLERS
        .iter()
        .filter_map(|c| layout.hierarchy_for(c))
        .map(|(_, p)| p)
        .collect();
    roots.extend(layout.v2.as_deref());
    roots.sort();
    roots.dedup();
    if roots.is_empty() {
        return Row::fail(check, "no cgroup hierarchy to try", "see the cgroup rows above");
    }
    let name = format!("workshop-doctor-{}", std::process::id());
    for root in &roots {
        let dir = root.join(&name);
        if let Err(error) = std::fs::create_dir(&dir) {
            return Row::fail(
                check,
                &format!("mkdir {}: {error}", dir.display()),
                "the cgroup filesystem is read-only here (inside a container?): use the class VM",
            );
        }
        if let Err(error) = std::fs::remove_dir(&dir) {
            return Row::fail(
                check,
                &format!(
                    "rmdir {}: {error} (remove it by hand: sudo rmdir {})",
                    dir.display(),
                    dir.display()
                ),
                "a cgroup directory could not be removed: report this",
            );
        }
    }
    let shown: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    Row::ok(check, &format!("made and removed {name} in {}", shown.join(", ")))
}

/// Mounts an overlay in a private mount namespace of a child, on a tmpfs there.
fn overlayfs() -> Row {
    let check = "overlayfs";
    let dir = std::env::temp_dir().join(format!("workshop-doctor-{}", std::process::id()));
    let result = std::fs::create_dir(&dir)
        .with_context(|| format!("mkdir {}", dir.display()))
        .and_then(|_| in_child(|| overlay_in_private_namespace(&dir)));
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(detail) => Row::ok(check, &detail),
        Err(error) => Row::fail(
            check,
            &format!("{error:#} (chapters 07-10 need it)"),
            "load the module: `sudo modprobe overlay` (and add `overlay` to /etc/modules); \
             on a kernel without it, use the class VM",
        ),
    }
}

fn overlay_in_private_namespace(dir: &Path) -> Result<String> {
    unshare(CloneFlags::CLONE_NEWNS).context("unshare(CLONE_NEWNS)")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making / private")?;
    mount(Some("tmpfs"), dir, Some("tmpfs"), MsFlags::empty(), None::<&str>).context("mounting a tmpfs")?;
    for sub in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir(dir.join(sub))?;
    }
    std::fs::write(dir.join("lower/from-lower"), "lower\n")?;
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        dir.join("lower").display(),
        dir.join("upper").display(),
        dir.join("work").display()
    );
    mount(
        Some("overlay"),
        &dir.join("merged"),
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .context("mount(\"overlay\")")?;
    let seen = std::fs::read_to_string(dir.join("merged/from-lower")).context("reading through the overlay")?;
    std::fs::write(dir.join("merged/written"), "upper\n").context("writing through the overlay")?;
    if seen != "lower\n" || !dir.join("upper/written").exists() {
        bail!("the overlay mounted, but does not show its layers as it should");
    }
    Ok("mounted an overlay (lower, upper, work) in a private mount namespace".to_string())
}

/// Makes a bridge and a veth pair in a throwaway network namespace, with the
/// runtime's own netlink client (chapter 08).
fn veth_and_bridge() -> Row {
    let check = "veth and bridge";
    let result = in_child(|| {
        unshare(CloneFlags::CLONE_NEWNET).context("unshare(CLONE_NEWNET)")?;
        let mut netlink = ch08::netlink::Netlink::open()?;
        netlink.create_bridge("wsdoc-br0").context("creating a bridge")?;
        netlink
            .create_veth("wsdoc-host", "wsdoc-ctr")
            .context("creating a veth pair")?;
        netlink
            .set_master("wsdoc-host", "wsdoc-br0")
            .context("attaching the veth to the bridge")?;
        for link in ["wsdoc-br0", "wsdoc-host", "wsdoc-ctr"] {
            netlink.set_up(link)?;
        }
        Ok("made a bridge and a veth pair in a throwaway network namespace".to_string())
    });
    match result {
        Ok(detail) => Row::ok(check, &detail),
        Err(error) => Row::fail(
            check,
            &format!("{error:#} (chapter 08 needs it)"),
            "load the modules: `sudo modprobe veth bridge`; on a kernel without them, use the class VM",
        ),
    }
}
