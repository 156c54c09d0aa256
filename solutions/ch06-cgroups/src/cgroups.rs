//! The cgroups mechanism: the container's cgroups are made and limited before it
//! starts, it joins them before it runs its command, it sees its own cgroup as the
//! root of a cgroup namespace, and they are removed when it ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ch01::{verbose, Container, Mechanism};
use ch03::mount_namespace::mount_narrated;
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::cgroup::{join_cgroup, processes, remove_cgroup, write_file, Cgroup, Usage};
use crate::cgroup_v1::CgroupV1;
use crate::cgroup_v2::CgroupV2;
use crate::layout::Layout;
use crate::limits::{check_against_machine, limit_files, LimitArgs, Version};
use crate::running::is_running;

/// The workshop's own cgroup, under which every container's goes:
/// /sys/fs/cgroup/workshop/ID (v2), /sys/fs/cgroup/CONTROLLER/workshop/ID (v1).
pub const GROUP: &str = "workshop";

/// The cgroups mechanism.
pub struct Cgroups {
    limits: LimitArgs,
    layout: Layout,
    cgroups: Vec<Box<dyn Cgroup>>,
}

impl Cgroups {
    pub fn new(limits: LimitArgs) -> Cgroups {
        Cgroups {
            limits,
            layout: Layout::default(),
            cgroups: Vec::new(),
        }
    }
}

impl Mechanism for Cgroups {
    fn name(&self) -> &'static str {
        "cgroups"
    }

    fn prepare(&mut self, container: &Container) -> Result<()> {
        check_against_machine(&self.limits)?;
        self.layout = Layout::detect()?;
        reclaim_stale_cgroups(&self.layout);
        self.cgroups = plan(&self.layout, &self.limits, &container.id)?;
        for cgroup in &self.cgroups {
            verbose::say(format_args!(
                "cgroup {} (v{}, {} layout) for {}",
                cgroup.dir().display(),
                if cgroup.version() == Version::V2 { 2 } else { 1 },
                self.layout.kind(),
                if cgroup.controllers().is_empty() {
                    "tracking".to_string()
                } else {
                    cgroup.controllers().join(", ")
                }
            ));
            cgroup.create()?;
            apply_limits(cgroup.as_ref(), &self.limits)?;
        }
        Ok(())
    }

    fn parent_after_spawn(&mut self, _container: &Container, child: Pid) -> Result<()> {
        for cgroup in &self.cgroups {
            join_cgroup(cgroup.dir(), child)?;
        }
        Ok(())
    }

    fn child_before_exec(&mut self, _container: &Container) -> Result<()> {
        // Now that the parent has put us in our cgroups, a new cgroup namespace
        // makes them the root of what we see (/proc/self/cgroup says "/").
        verbose::say(format_args!("unshare(CLONE_NEWCGROUP)"));
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).context("unshare(CLONE_NEWCGROUP) failed")?;
        let joined: Vec<&Path> = self.cgroups.iter().filter_map(|c| c.dir().parent()?.parent()).collect();
        mount_cgroupfs(&self.layout, &joined)
    }

    fn cleanup(&mut self, _container: &Container) -> Result<()> {
        let mut usage = Usage::default();
        for cgroup in &self.cgroups {
            cgroup.read_usage(&mut usage);
        }
        let mut failure = None;
        for cgroup in self.cgroups.drain(..).rev() {
            if let Err(error) = remove_cgroup(cgroup.as_ref()) {
                failure.get_or_insert(error);
            }
        }
        remove_empty_groups(&self.layout);
        // Printed once the cgroups are gone: a print that fails (stderr's reader
        // gone) cannot leave them behind.
        report(&usage, &self.limits);
        failure.map_or(Ok(()), Err)
    }
}

/// The controllers the container joins (for its limits and for accounting), and
/// the hierarchy each is in: one cgroup per hierarchy.
fn plan(layout: &Layout, limits: &LimitArgs, id: &str) -> Result<Vec<Box<dyn Cgroup>>> {
    let wanted = [
        ("memory", limits.memory.is_some(), "--memory"),
        (
            "cpu",
            limits.cpus.is_some() || limits.cpu_shares.is_some(),
            "--cpus and --cpu-shares",
        ),
        ("cpuacct", false, ""),
        ("pids", limits.pids_limit.is_some(), "--pids-limit"),
        ("cpuset", limits.cpuset_cpus.is_some(), "--cpuset-cpus"),
    ];
    let mut hierarchies: BTreeMap<PathBuf, (Version, Vec<String>)> = BTreeMap::new();
    for (controller, needed_for_a_limit, flag) in wanted {
        // cpuset is joined only when asked for; the others always, for accounting.
        if controller == "cpuset" && !needed_for_a_limit {
            continue;
        }
        match layout.hierarchy_for(controller) {
            Some((version, root)) => {
                hierarchies
                    .entry(root.to_path_buf())
                    .or_insert((version, Vec::new()))
                    .1
                    .push(controller.into());
            }
            None if needed_for_a_limit => bail!(
                "{flag} needs the {controller} controller, {}",
                missing_controller(layout, controller)
            ),
            None => {}
        }
    }
    // With a v2 hierarchy, the container always has a v2 cgroup, even with no
    // controller in it: it tracks every process, and cgroup.kill ends them all.
    if let Some(v2) = &layout.v2 {
        hierarchies.entry(v2.clone()).or_insert((Version::V2, Vec::new()));
    }
    Ok(hierarchies
        .into_iter()
        .map(|(root, (version, controllers))| -> Box<dyn Cgroup> {
            match version {
                Version::V2 => Box::new(CgroupV2::new(&root, GROUP, id, controllers)),
                Version::V1 => Box::new(CgroupV1::new(&root, GROUP, id, controllers)),
            }
        })
        .collect())
}

/// Why `controller` is not there, and what makes it so.
fn missing_controller(layout: &Layout, controller: &str) -> String {
    match &layout.v2 {
        Some(v2) if layout.kind() == "unified" => format!(
            "which the root cgroup does not hand down here ({}/cgroup.subtree_control: {}). On cgroup v2, \
             systemd hands down only the controllers its units ask for: `sudo scripts/provision.sh` (or \
             `sudo scripts/delegate-cgroups.sh` alone) asks it to delegate {controller} to login sessions; \
             `cargo workshop doctor` checks it",
            v2.display(),
            layout.v2_controllers.join(" ")
        ),
        _ => format!(
            "which this host's cgroups do not offer ({} layout: no cgroup hierarchy holds it; \
             `cargo workshop doctor` shows what there is)",
            layout.kind()
        ),
    }
}

/// Writes the limit files that belong to this cgroup's controllers.
fn apply_limits(cgroup: &dyn Cgroup, limits: &LimitArgs) -> Result<()> {
    let mine = |controller: &str| cgroup.controllers().iter().any(|c| c == controller);
    for limit in limit_files(limits, cgroup.version())
        .into_iter()
        .filter(|l| mine(l.controller))
    {
        // Swap accounting is optional in the kernel: no file, no swap to limit.
        if limit.file.contains("swap") && !cgroup.dir().join(limit.file).exists() {
            continue;
        }
        write_file(cgroup.dir(), limit.file, &limit.value)?;
    }
    // v1 counts swap apart: memory+swap gets the same limit, so that going over
    // the memory limit cannot just swap out (where the kernel has swap accounting).
    if let (Version::V1, Some(bytes)) = (cgroup.version(), limits.memory) {
        if mine("memory") && cgroup.dir().join("memory.memsw.limit_in_bytes").exists() {
            write_file(cgroup.dir(), "memory.memsw.limit_in_bytes", &bytes.to_string())?;
        }
    }
    Ok(())
}

/// Mounts read-only at /sys/fs/cgroup the hierarchies the container `joined` (their
/// mount points on the host), laid out as on the host. In the new cgroup namespace
/// they show the container's cgroups as their root.
fn mount_cgroupfs(layout: &Layout, joined: &[&Path]) -> Result<()> {
    let target = Path::new("/sys/fs/cgroup");
    let read_only = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let rw = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if layout.kind() == "unified" {
        let cgroup2 = || mount_narrated(Some(Path::new("cgroup2")), target, Some("cgroup2"), read_only, None);
        let Err(error) = cgroup2() else {
            return Ok(());
        };
        // Without a network namespace of its own the container could not mount a
        // new sysfs (chapter 03) and bound the host's /sys, with the host's cgroup2
        // mount at /sys/fs/cgroup in it. Mounting the same superblock again on the
        // root of its own mount is refused with EBUSY (mount(2)): cover it with an
        // empty tmpfs first, then mount ours on that.
        if error.downcast_ref::<Errno>() != Some(&Errno::EBUSY) {
            return Err(error);
        }
        verbose::say(format_args!(
            "  = EBUSY: /sys/fs/cgroup is the host's cgroup2 mount (bound with /sys): cover it with a tmpfs"
        ));
        mount_narrated(
            Some(Path::new("tmpfs")),
            target,
            Some("tmpfs"),
            read_only,
            Some("mode=755"),
        )?;
        return cgroup2();
    }
    mount_narrated(Some(Path::new("tmpfs")), target, Some("tmpfs"), rw, Some("mode=755"))?;
    let mut by_mount: BTreeMap<&PathBuf, Vec<&str>> = BTreeMap::new();
    for (controller, mount) in layout.v1.iter().filter(|(_, mount)| joined.contains(&mount.as_path())) {
        // All the controllers of a hierarchy, or the kernel refuses the mount.
        by_mount.entry(mount).or_default().push(controller);
    }
    for (mount, controllers) in by_mount {
        let dir = target.join(mount.file_name().context("a cgroup mount point has a name")?);
        std::fs::create_dir_all(&dir)?;
        let options = controllers.join(",");
        mount_narrated(
            Some(Path::new("cgroup")),
            &dir,
            Some("cgroup"),
            read_only,
            Some(&options),
        )?;
    }
    if let Some(v2) = &layout.v2 {
        let dir = target.join(v2.file_name().context("a cgroup mount point has a name")?);
        std::fs::create_dir_all(&dir)?;
        mount_narrated(Some(Path::new("cgroup2")), &dir, Some("cgroup2"), read_only, None)?;
    }
    mount_narrated(None, target, None, MsFlags::MS_REMOUNT | read_only, Some("mode=755"))
}

/// "peak memory 3.1 MiB, CPU time 0.012 s", and the OOM kill, if any.
fn report(usage: &Usage, limits: &LimitArgs) {
    if usage.oom_kills > 0 {
        let limit = limits
            .memory
            .map(|bytes| format!(" (--memory {})", mebibytes(bytes)))
            .unwrap_or_default();
        ch01::message::print(format_args!(
            "workshop: the container ran out of memory{limit}: the kernel's OOM killer killed {} of its processes",
            usage.oom_kills
        ));
    }
    if usage.pids_limit_hits > 0 {
        ch01::message::print(format_args!(
            "workshop: the container hit its --pids-limit {} times",
            usage.pids_limit_hits
        ));
    }
    if limits.stats || verbose::enabled() {
        let peak = usage.peak_memory.map(mebibytes).unwrap_or_else(|| "unknown".into());
        let cpu = usage
            .cpu_time_us
            .map(|us| format!("{:.3} s", us as f64 / 1e6))
            .unwrap_or_else(|| "unknown".into());
        ch01::message::print(format_args!("workshop: stats: peak memory {peak}, CPU time {cpu}"));
    }
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// Creates `dir`, also when another runtime removes its empty parent meanwhile.
pub fn create_dir_racing_removal(dir: &Path) -> Result<()> {
    for _ in 0..5 {
        match std::fs::create_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error).with_context(|| format!("creating {}", dir.display())),
        }
    }
    bail!("creating {} kept failing", dir.display())
}

/// Every hierarchy's mount point.
fn hierarchy_roots(layout: &Layout) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = layout.v1.values().cloned().collect();
    roots.extend(layout.v2.clone());
    roots.sort();
    roots.dedup();
    roots
}

/// Removes the empty cgroups of containers whose runtime is gone (crashed).
fn reclaim_stale_cgroups(layout: &Layout) {
    for root in hierarchy_roots(layout) {
        let Ok(entries) = std::fs::read_dir(root.join(GROUP)) else {
            continue;
        };
        for entry in entries.flatten().filter(|e| e.path().is_dir()) {
            let id = entry.file_name().to_string_lossy().into_owned();
            if !is_running(&id) && processes(&entry.path()).map(|p| p.is_empty()).unwrap_or(false) {
                ch01::message::print(format_args!(
                    "workshop: removing the cgroup {} left by an earlier run",
                    entry.path().display()
                ));
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
}

/// Removes ROOT/workshop where no container is left in it.
fn remove_empty_groups(layout: &Layout) {
    for root in hierarchy_roots(layout) {
        // Fails while another container's cgroup is in it: that is fine.
        let _ = std::fs::remove_dir(root.join(GROUP));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIFIED: &str = "25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";

    #[test]
    fn a_limit_whose_controller_v2_does_not_hand_down_is_refused_with_the_fix() {
        // Debian 12's systemd, before provisioning: no cpuset at the root.
        let mut layout = Layout::from_mountinfo(UNIFIED);
        layout.v2_controllers = vec!["cpu".into(), "memory".into(), "pids".into()];
        let limits = LimitArgs {
            cpuset_cpus: Some("0".into()),
            ..LimitArgs::default()
        };
        let error = plan(&layout, &limits, "0123456789ab")
            .err()
            .expect("--cpuset-cpus is refused");
        let message = format!("{error:#}");
        for wanted in [
            "--cpuset-cpus",
            "cpuset",
            "cpu memory pids",
            "scripts/provision.sh",
            "doctor",
        ] {
            assert!(message.contains(wanted), "{wanted:?} missing from: {message}");
        }
        // What it does hand down still plans: one v2 cgroup with those controllers.
        let limits = LimitArgs {
            memory: Some(64 << 20),
            pids_limit: Some(32),
            ..LimitArgs::default()
        };
        let cgroups = plan(&layout, &limits, "0123456789ab").expect("memory and pids are handed down");
        assert_eq!(cgroups.len(), 1);
        assert_eq!(cgroups[0].dir(), Path::new("/sys/fs/cgroup/workshop/0123456789ab"));
        assert_eq!(cgroups[0].controllers(), ["memory", "cpu", "pids"]);
    }
}
