//! What a container of the workshop leaves on the host, and which of it belongs to
//! a runtime that is gone. A runtime holds a lock on /run/workshop/running/ID for
//! as long as its container exists (chapter 06); everything else it makes is named
//! after the container's id: cgroups ROOT/workshop/ID, the overlay directory
//! /var/lib/workshop/containers/ID, the lease /run/workshop/leases/ADDRESS (holding
//! the id), the veth pair vethID8/cethID8, the layers-in-use list
//! /run/workshop/layers/ID (chapter 10).

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

pub const RUNNING_DIR: &str = "/run/workshop/running";
pub const LEASES_DIR: &str = "/run/workshop/leases";
pub const IN_USE_DIR: &str = "/run/workshop/layers";
pub const CONTAINERS_DIR: &str = "/var/lib/workshop/containers";

/// The mount point of every cgroup hierarchy (v1 and v2), from the mount table.
fn cgroup_roots() -> Vec<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut roots: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let dash = fields.iter().position(|f| *f == "-")?;
            let fstype = fields.get(dash + 1)?;
            (*fstype == "cgroup" || *fstype == "cgroup2").then(|| PathBuf::from(fields[4]))
        })
        .collect();
    roots.sort();
    roots.dedup();
    roots
}

/// The names in `dir` (none if it does not exist).
fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The leases: (file, the id written in it).
fn leases() -> Vec<(PathBuf, String)> {
    names_in(Path::new(LEASES_DIR))
        .into_iter()
        .filter(|name| !name.starts_with('.'))
        .map(|name| {
            let file = Path::new(LEASES_DIR).join(name);
            let holder = std::fs::read_to_string(&file).unwrap_or_default().trim().to_string();
            (file, holder)
        })
        .collect()
}

/// Whether a runtime holds the running lock of container `id` (flock(2): a lock
/// we can take is nobody's). Unlike the runtime's own check, removes nothing.
pub fn is_running(id: &str) -> bool {
    let Ok(file) = OpenOptions::new().write(true).open(Path::new(RUNNING_DIR).join(id)) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err()
}

/// Everything on the host that names container `id`, one "kind path" a line:
/// empty once its runtime has cleaned up (or a later run reclaimed it).
pub fn of_container(id: &str) -> Vec<String> {
    assert!(id.len() == 12, "{id:?} is not a container id (-v prints it)");
    let mut left = Vec::new();
    for root in cgroup_roots() {
        let dir = root.join("workshop").join(id);
        if dir.exists() {
            left.push(format!("cgroup {}", dir.display()));
        }
    }
    for (kind, dir) in [
        ("running lock", RUNNING_DIR),
        ("overlay directory", CONTAINERS_DIR),
        ("layers-in-use list", IN_USE_DIR),
    ] {
        let path = Path::new(dir).join(id);
        if path.exists() {
            left.push(format!("{kind} {}", path.display()));
        }
    }
    for (file, holder) in leases() {
        if holder == id {
            left.push(format!("lease {}", file.display()));
        }
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for line in mountinfo.lines().filter(|l| l.contains(id)) {
        left.push(format!("mount {line}"));
    }
    left
}

/// What runtimes that are gone left on the host: cgroups, running locks, overlay
/// directories, layers-in-use lists and leases of containers nobody runs.
pub fn stale() -> BTreeSet<String> {
    let mut stale = BTreeSet::new();
    for root in cgroup_roots() {
        for id in names_in(&root.join("workshop")) {
            let dir = root.join("workshop").join(&id);
            if dir.is_dir() && !is_running(&id) {
                stale.insert(format!("cgroup {}", dir.display()));
            }
        }
    }
    for (kind, dir) in [
        ("running lock", RUNNING_DIR),
        ("overlay directory", CONTAINERS_DIR),
        ("layers-in-use list", IN_USE_DIR),
    ] {
        for id in names_in(Path::new(dir)) {
            // A directory kept with --keep is not stale: it says so in a file.
            let kept = Path::new(dir).join(&id).join("KEPT").exists();
            if !kept && !is_running(&id) {
                stale.insert(format!("{kind} {}", Path::new(dir).join(&id).display()));
            }
        }
    }
    for (file, holder) in leases() {
        if holder.is_empty() || !is_running(&holder) {
            stale.insert(format!("lease {} ({holder})", file.display()));
        }
    }
    stale
}

/// The kind of a `stale()` item: "cgroup", "lease", ...
pub fn kind(item: &str) -> &str {
    item.split(" /").next().unwrap_or(item)
}
