//! The cgroup v1 backend: one hierarchy per controller (or per group of
//! controllers mounted together, like cpu,cpuacct), each with its own tree.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cgroup::{kill_listed, read_keyed, read_number, write_file, Cgroup, Usage};
use crate::limits::Version;

/// The container's cgroup in one v1 hierarchy.
pub struct CgroupV1 {
    /// The mount point of the hierarchy, e.g. /sys/fs/cgroup/memory.
    pub root: PathBuf,
    /// ROOT/workshop/ID.
    pub dir: PathBuf,
    pub controllers: Vec<String>,
}

impl CgroupV1 {
    pub fn new(root: &Path, group: &str, id: &str, controllers: Vec<String>) -> CgroupV1 {
        CgroupV1 {
            root: root.to_path_buf(),
            dir: root.join(group).join(id),
            controllers,
        }
    }

    fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

impl Cgroup for CgroupV1 {
    fn version(&self) -> Version {
        Version::V1
    }

    fn dir(&self) -> &Path {
        &self.dir
    }

    fn controllers(&self) -> &[String] {
        &self.controllers
    }

    fn create(&self) -> Result<()> {
        let group = self.dir.parent().expect("ROOT/workshop/ID has a parent");
        for dir in [group, self.dir.as_path()] {
            crate::cgroups::create_dir_racing_removal(dir)?;
            // A new v1 cpuset starts with no CPU and no memory node, and a process
            // cannot join it until both are set: copy them from the parent.
            if self.has("cpuset") {
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    let current = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
                    if current.trim().is_empty() {
                        let parent = std::fs::read_to_string(dir.parent().unwrap().join(file))?;
                        write_file(dir, file, parent.trim())?;
                    }
                }
            }
        }
        Ok(())
    }

    fn read_usage(&self, usage: &mut Usage) {
        if let Some(peak) = read_number(&self.dir, "memory.max_usage_in_bytes") {
            usage.peak_memory = Some(peak);
        }
        if let Some(nanoseconds) = read_number(&self.dir, "cpuacct.usage") {
            usage.cpu_time_us = Some(nanoseconds / 1000);
        }
        usage.oom_kills += read_keyed(&self.dir, "memory.oom_control", "oom_kill").unwrap_or(0);
        usage.pids_limit_hits += read_keyed(&self.dir, "pids.events", "max").unwrap_or(0);
    }

    fn kill_all(&self) -> Result<()> {
        kill_listed(&self.dir)
    }
}
