//! Where the cgroup hierarchies are on this host. There are three layouts:
//!
//! - unified: one cgroup v2 hierarchy at /sys/fs/cgroup holds every controller
//!   (current distributions, the class VM);
//! - legacy: one cgroup v1 hierarchy per controller, /sys/fs/cgroup/memory, ...;
//! - hybrid: the v1 hierarchies, plus a v2 one at /sys/fs/cgroup/unified that holds
//!   the controllers no v1 hierarchy took (often none or one or two).
//!
//! The runtime reads the mount table to find them, and for each controller uses
//! the hierarchy that holds it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::limits::Version;

/// The cgroup hierarchies mounted on this host.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The cgroup v2 mount point, if there is one.
    pub v2: Option<PathBuf>,
    /// The controllers the v2 hierarchy's root hands down to its children (its
    /// cgroup.subtree_control): those the workshop's cgroups can use.
    pub v2_controllers: Vec<String>,
    /// Each v1 controller and the mount point of its hierarchy.
    pub v1: BTreeMap<String, PathBuf>,
}

/// The v1 controllers the runtime knows (mount options that are not controllers,
/// like `rw` or `name=systemd`, are left out).
const V1_CONTROLLERS: [&str; 12] = [
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
];

impl Layout {
    /// Reads this process's mount table.
    pub fn detect() -> Result<Layout> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
        let mut layout = Layout::from_mountinfo(&mountinfo);
        if let Some(v2) = &layout.v2 {
            let controllers = std::fs::read_to_string(v2.join("cgroup.subtree_control")).unwrap_or_default();
            layout.v2_controllers = controllers.split_whitespace().map(str::to_string).collect();
        }
        Ok(layout)
    }

    /// The hierarchies listed in a /proc/PID/mountinfo text.
    pub fn from_mountinfo(mountinfo: &str) -> Layout {
        let mut layout = Layout::default();
        for line in mountinfo.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(dash) = fields.iter().position(|f| *f == "-") else {
                continue;
            };
            let (Some(point), Some(fstype)) = (fields.get(4), fields.get(dash + 1)) else {
                continue;
            };
            let options = fields.get(dash + 3).copied().unwrap_or("");
            match *fstype {
                // Prefer /sys/fs/cgroup itself when cgroup2 is mounted twice.
                "cgroup2" if layout.v2.is_none() || *point == "/sys/fs/cgroup" => {
                    layout.v2 = Some(PathBuf::from(point));
                }
                "cgroup" => {
                    for option in options.split(',').filter(|o| V1_CONTROLLERS.contains(o)) {
                        layout
                            .v1
                            .entry(option.to_string())
                            .or_insert_with(|| PathBuf::from(point));
                    }
                }
                _ => {}
            }
        }
        layout
    }

    /// "unified", "hybrid" or "legacy".
    pub fn kind(&self) -> &'static str {
        match (&self.v2, self.v1.is_empty()) {
            (Some(_), true) => "unified",
            (Some(_), false) => "hybrid",
            (None, _) => "legacy",
        }
    }

    /// The hierarchy that holds `controller`: v2 if it offers it, else its v1 one.
    pub fn hierarchy_for(&self, controller: &str) -> Option<(Version, &Path)> {
        if self.v2_controllers.iter().any(|c| c == controller) {
            return self.v2.as_deref().map(|p| (Version::V2, p));
        }
        self.v1.get(controller).map(|p| (Version::V1, p.as_path()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn a_hybrid_host_is_read_from_its_mount_table() {
        let mut layout = Layout::from_mountinfo(HYBRID);
        layout.v2_controllers = vec!["hugetlb".into()];
        assert_eq!(layout.kind(), "hybrid");
        assert_eq!(layout.v2.as_deref(), Some(Path::new("/sys/fs/cgroup/unified")));
        assert_eq!(
            layout.hierarchy_for("memory"),
            Some((Version::V1, Path::new("/sys/fs/cgroup/memory")))
        );
        assert_eq!(
            layout.hierarchy_for("cpu"),
            Some((Version::V1, Path::new("/sys/fs/cgroup/cpu")))
        );
        assert_eq!(
            layout.hierarchy_for("cpuacct"),
            Some((Version::V1, Path::new("/sys/fs/cgroup/cpu,cpuacct")))
        );
        assert_eq!(
            layout.hierarchy_for("hugetlb"),
            Some((Version::V2, Path::new("/sys/fs/cgroup/unified")))
        );
        assert!(!layout.v1.contains_key("name=systemd") && !layout.v1.contains_key("rw"));
    }

    #[test]
    fn a_unified_host_has_everything_in_v2() {
        let mut layout = Layout::from_mountinfo("25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        layout.v2_controllers = vec!["cpu".into(), "memory".into(), "pids".into()];
        assert_eq!(layout.kind(), "unified");
        assert_eq!(
            layout.hierarchy_for("memory"),
            Some((Version::V2, Path::new("/sys/fs/cgroup")))
        );
        assert_eq!(layout.hierarchy_for("cpuset"), None);
    }
}
