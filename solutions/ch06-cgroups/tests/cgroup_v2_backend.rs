//! The cgroup v2 backend, tested for real on this host's v2 hierarchy: on a hybrid
//! host (v1 controllers, an empty v2 tree at /sys/fs/cgroup/unified) the limits are
//! enforced through v1, but the v2 tree's core files work, and the backend must
//! drive them: create, cgroup.procs, cgroup.events, cgroup.freeze, cgroup.kill,
//! and the controllers the parent hands down.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ch06_cgroups_solution::cgroup::{join_cgroup, processes, read_keyed, remove_cgroup, write_file, Cgroup};
use ch06_cgroups_solution::cgroup_v2::CgroupV2;
use ch06_cgroups_solution::layout::Layout;
use nix::unistd::Pid;

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What the test made, removed even when it fails half-way.
struct Leftovers {
    sleeper: std::process::Child,
    dir: std::path::PathBuf,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let _ = self.sleeper.kill();
        let _ = self.sleeper.wait();
        let _ = std::fs::remove_dir(&self.dir);
        if let Some(group) = self.dir.parent() {
            let _ = std::fs::remove_dir(group);
        }
    }
}

#[test]
fn the_v2_backend_drives_this_hosts_v2_tree() {
    let layout = Layout::detect().unwrap();
    let root = layout.v2.clone().expect("this host has no cgroup v2 hierarchy mounted");
    // Controllers the root already hands down: enabling them below needs no write
    // to any cgroup but the workshop's own.
    let handed_down = std::fs::read_to_string(root.join("cgroup.subtree_control")).unwrap();
    let controllers: Vec<String> = handed_down.split_whitespace().map(str::to_string).collect();
    let cgroup = CgroupV2::new(
        &root,
        "workshop",
        &format!("v2-backend-test-{}", std::process::id()),
        controllers.clone(),
    );
    cgroup.create().unwrap();
    let dir = cgroup.dir().to_path_buf();
    let events = |key: &str| read_keyed(&dir, "cgroup.events", key);
    assert_eq!(events("populated"), Some(0));
    let offered = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap();
    for controller in &controllers {
        assert!(
            offered.split_whitespace().any(|c| c == controller),
            "{controller} not handed down: {offered}"
        );
    }

    let sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = Pid::from_raw(sleeper.id() as i32);
    let mut leftovers = Leftovers {
        sleeper,
        dir: dir.clone(),
    };
    join_cgroup(&dir, pid).unwrap();
    assert_eq!(processes(&dir).unwrap(), [pid]);
    assert_eq!(events("populated"), Some(1));
    let proc_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let relative = dir.strip_prefix(&root).unwrap();
    assert!(
        proc_cgroup.contains(&format!("0::/{}", relative.display())),
        "{proc_cgroup}"
    );

    write_file(&dir, "cgroup.freeze", "1").unwrap();
    wait_until("frozen 1", || events("frozen") == Some(1));
    write_file(&dir, "cgroup.freeze", "0").unwrap();
    wait_until("frozen 0", || events("frozen") == Some(0));

    // remove_cgroup ends the sleeper through cgroup.kill, waits, and removes the cgroup.
    remove_cgroup(&cgroup).unwrap();
    let status = leftovers.sleeper.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
    assert!(!dir.exists());
    let _ = std::fs::remove_dir(root.join("workshop"));
    assert!(!Path::new(&dir).exists());
}
