//! What the benchmark makes, and its removal at the end (also after an error or
//! Ctrl-C): the temporary directory (layouts, bundles, crun's and runc's state),
//! containers crun or runc may have left there, the images pulled into the
//! workshop's store (`rmi`), the cgroups of the bundles (/workshop-bench in each
//! hierarchy), the veth hooks' bridge and veths, and the workshop0 bridge if the
//! benchmark's runs created it.
//! The registry removes itself when dropped (workshop_grader::registry).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Result};

use crate::bundle::{CGROUP_PARENT, HOOK_BRIDGE, HOOK_GATEWAY};
use crate::contenders;

const BRIDGE: &str = "/sys/class/net/workshop0";
const LEASES: &str = "/run/workshop/leases";

pub struct Workspace {
    /// /tmp/workshop-bench-PID.
    pub dir: PathBuf,
    /// (runtime, image) pairs to `rmi` at the end.
    images: Vec<(PathBuf, String)>,
    bridge_existed: bool,
    /// Did we make the bridge of the veth hooks?
    hook_bridge: bool,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = std::env::temp_dir().join(format!("workshop-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cannot create the benchmark's temporary directory");
        Workspace {
            dir,
            images: Vec::new(),
            bridge_existed: Path::new(BRIDGE).exists(),
            hook_bridge: false,
        }
    }

    /// `image` will be pulled into the workshop's store by `runtime`: `rmi` it at the end.
    pub fn remember_image(&mut self, runtime: &Path, image: &str) {
        self.images.push((runtime.to_path_buf(), image.to_string()));
    }

    /// The bridge of the veth hooks (bundle.rs), with the hooks' gateway address.
    pub fn make_hook_bridge(&mut self) -> Result<()> {
        self.hook_bridge = true;
        for args in [
            vec!["link", "add", HOOK_BRIDGE, "type", "bridge"],
            vec!["addr", "add", HOOK_GATEWAY, "dev", HOOK_BRIDGE],
            vec!["link", "set", HOOK_BRIDGE, "up"],
        ] {
            if !quietly(Command::new("ip").args(&args)) {
                bail!("ip {} failed", args.join(" "));
            }
        }
        Ok(())
    }

    /// Removes everything; says what could not be removed.
    pub fn clean_up(&mut self) -> Result<()> {
        let mut problems = Vec::new();
        delete_containers(&self.dir, &mut problems);
        for (runtime, image) in &self.images {
            // Fails when the image is not in the store (never pulled, or an
            // interrupted pull): nothing to remove then.
            quietly(Command::new(runtime).args(["rmi", image]));
        }
        remove_cgroups(&mut problems);
        if self.hook_bridge {
            remove_hook_links(&mut problems);
        }
        let leases_left = std::fs::read_dir(LEASES).map(|d| d.count()).unwrap_or(0);
        if !self.bridge_existed && Path::new(BRIDGE).exists() && leases_left == 0 {
            // Made by this benchmark's `--net bridge` runs, and no container uses it.
            if !quietly(Command::new("ip").args(["link", "delete", "workshop0"])) {
                problems.push("ip link delete workshop0 failed".into());
            }
        }
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            problems.push(format!("rm -r {}: {error}", self.dir.display()));
        }
        if !problems.is_empty() {
            bail!("{}", problems.join("; "));
        }
        Ok(())
    }
}

/// crun's and runc's containers left in `dir`'s state directories.
fn delete_containers(dir: &Path, problems: &mut Vec<String>) {
    for (program, state) in [("crun", "crun-state"), ("runc", "runc-state")] {
        let root = dir.join(state);
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        for entry in entries.flatten().filter(|e| e.path().is_dir()) {
            let mut delete = Command::new(program);
            delete
                .arg("--root")
                .arg(&root)
                .args(["delete", "--force"])
                .arg(entry.file_name());
            if program == "crun" && contenders::hybrid_cgroups() {
                contenders::in_private_mount_namespace(&mut delete);
            }
            if !quietly(&mut delete) {
                problems.push(format!("{program} delete {:?} failed", entry.file_name()));
            }
        }
    }
}

/// The bundles' cgroups: /workshop-bench in every hierarchy.
fn remove_cgroups(problems: &mut Vec<String>) {
    for hierarchy in cgroup_mount_points() {
        let ours = hierarchy.join(CGROUP_PARENT);
        if ours.exists() {
            if let Err(error) = remove_cgroup_tree(&ours) {
                problems.push(format!("rmdir {}: {error}", ours.display()));
            }
        }
    }
}

/// The veth hooks' host ends (wsbcrun..., wsbrunc...) that the kernel has not
/// removed yet, then their bridge.
fn remove_hook_links(problems: &mut Vec<String>) {
    for entry in std::fs::read_dir("/sys/class/net").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with("wsbcrun") || name.starts_with("wsbrunc");
        if ours || name == HOOK_BRIDGE {
            quietly(Command::new("ip").args(["link", "delete", &name]));
        }
    }
    if Path::new("/sys/class/net").join(HOOK_BRIDGE).exists() {
        problems.push(format!("ip link delete {HOOK_BRIDGE} failed"));
    }
}

/// Removes what a benchmark killed outright (SIGKILL: no cleanup) left behind:
/// its directory under /tmp, its crun and runc containers, and, when no other
/// benchmark is running, the images of a `workshop-bench/` repository in the
/// workshop's store, the bundles' cgroups and the hooks' bridge.
pub fn reclaim_stale(runtime: &Path) {
    let mut stale = Vec::new();
    let mut others_alive = false;
    for entry in std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("workshop-bench-").and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            others_alive = true;
        } else {
            stale.push(entry.path());
        }
    }
    if stale.is_empty() || others_alive {
        return;
    }
    eprintln!(
        "bench: removing what an earlier benchmark left ({})",
        stale[0].display()
    );
    let mut problems = Vec::new();
    for dir in &stale {
        delete_containers(dir, &mut problems);
        let _ = std::fs::remove_dir_all(dir);
    }
    let images = Command::new(runtime).arg("images").output();
    let listing = images
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for reference in listing.lines().filter_map(|l| l.split_whitespace().next()) {
        if reference.contains("/workshop-bench/") {
            quietly(Command::new(runtime).args(["rmi", reference]));
        }
    }
    remove_cgroups(&mut problems);
    remove_hook_links(&mut problems);
    for problem in problems {
        eprintln!("bench: {problem}");
    }
}

/// Runs `command` with no output; did it succeed?
fn quietly(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Where cgroup (v1) and cgroup2 hierarchies are mounted.
fn cgroup_mount_points() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|line| {
            let fstype = line.split(" - ").nth(1).and_then(|rest| rest.split(' ').next());
            matches!(fstype, Some("cgroup" | "cgroup2"))
        })
        .filter_map(|line| line.split(' ').nth(4).map(PathBuf::from))
        .collect()
}

/// rmdir(2) of a cgroup and the cgroups below it, deepest first (a cgroup's
/// files go with its directory; rmdir fails while a process is in it).
fn remove_cgroup_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_type()?.is_dir() {
            remove_cgroup_tree(&entry.path())?;
        }
    }
    std::fs::remove_dir(dir)
}
