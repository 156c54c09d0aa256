//! The cgroup v2 backend: one tree for every controller. A controller can be used
//! in a cgroup only once its parent lists it in `cgroup.subtree_control`, and a
//! cgroup that hands controllers down must hold no process itself.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cgroup::{kill_listed, read_keyed, read_number, write_file, Cgroup, Usage};
use crate::limits::Version;

/// The container's cgroup in the v2 hierarchy.
pub struct CgroupV2 {
    /// The mount point of the hierarchy, e.g. /sys/fs/cgroup.
    pub root: PathBuf,
    /// ROOT/workshop/ID.
    pub dir: PathBuf,
    pub controllers: Vec<String>,
}

impl CgroupV2 {
    pub fn new(root: &Path, group: &str, id: &str, controllers: Vec<String>) -> CgroupV2 {
        CgroupV2 {
            root: root.to_path_buf(),
            dir: root.join(group).join(id),
            controllers,
        }
    }
}

impl Cgroup for CgroupV2 {
    fn version(&self) -> Version {
        Version::V2
    }

    fn dir(&self) -> &Path {
        &self.dir
    }

    fn controllers(&self) -> &[String] {
        &self.controllers
    }

    fn create(&self) -> Result<()> {
        let group = self.dir.parent().expect("ROOT/workshop/ID has a parent");
        crate::cgroups::create_dir_racing_removal(group)?;
        // Hand our controllers down from workshop to ID. (The root hands them to
        // workshop already: the layout offers only those, and the runtime never
        // changes a cgroup that is not the workshop's own.)
        let enabled = std::fs::read_to_string(group.join("cgroup.subtree_control")).unwrap_or_default();
        for controller in &self.controllers {
            if !enabled.split_whitespace().any(|c| c == controller) {
                write_file(group, "cgroup.subtree_control", &format!("+{controller}"))?;
            }
        }
        crate::cgroups::create_dir_racing_removal(&self.dir)
    }

    fn read_usage(&self, usage: &mut Usage) {
        if let Some(peak) = read_number(&self.dir, "memory.peak") {
            usage.peak_memory = Some(peak);
        }
        if let Some(cpu) = read_keyed(&self.dir, "cpu.stat", "usage_usec") {
            usage.cpu_time_us = Some(cpu);
        }
        usage.oom_kills += read_keyed(&self.dir, "memory.events", "oom_kill").unwrap_or(0);
        usage.pids_limit_hits += read_keyed(&self.dir, "pids.events", "max").unwrap_or(0);
    }

    fn kill_all(&self) -> Result<()> {
        // cgroup.kill (Linux 5.14) kills every process in the cgroup at once, even
        // one that is forking right now.
        if self.dir.join("cgroup.kill").exists() {
            write_file(&self.dir, "cgroup.kill", "1")
        } else {
            kill_listed(&self.dir)
        }
    }
}
