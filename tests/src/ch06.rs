//! Chapter 06: cgroups (v2 and v1), the limits, the cgroup namespace, usage, cleanup.
//!
//! Each check runs the binary as a user would and looks from both sides: the
//! probe reads the limits inside, the grader reads the host's cgroup files.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use crate::ch01::expect;
use crate::{Output, Running, Sandbox};

/// All the limits at once, in Docker's spelling.
const LIMITS: [&str; 10] = [
    "--memory",
    "64m",
    "--cpus",
    "0.5",
    "--cpu-shares",
    "512",
    "--pids-limit",
    "32",
    "--cpuset-cpus",
    "0",
];

/// A sandbox whose rootfs the mapped root (chapter 05) owns.
fn sandbox(binary: &str) -> Sandbox {
    let sandbox = Sandbox::new(binary);
    sandbox.chown_rootfs(crate::ch05::MAPPED_ROOT, crate::ch05::MAPPED_ROOT);
    sandbox
}

/// The mount point of this host's cgroup v2 hierarchy: /sys/fs/cgroup on a unified
/// host, /sys/fs/cgroup/unified on a hybrid one.
fn v2_root() -> &'static str {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .find(|root| Path::new(root).join("cgroup.controllers").exists())
        .unwrap_or("/sys/fs/cgroup")
}

/// "v1" or "v2": the version of the hierarchy that holds the memory controller here
/// (on v2, the controllers the root hands down to its children).
pub fn memory_cgroup_version() -> &'static str {
    let handed_down = std::fs::read_to_string(Path::new(v2_root()).join("cgroup.subtree_control")).unwrap_or_default();
    if handed_down.split_whitespace().any(|c| c == "memory") {
        "v2"
    } else {
        "v1"
    }
}

/// The snapshot of `what` for this host's cgroup version: the v1 snapshots were
/// recorded on a hybrid host, the v2 ones in the cgroup v2 guest
/// (`sudo scripts/vm/grade.sh --record`).
fn snapshot_for_this_version(name: &str, what: &str) {
    insta::assert_snapshot!(format!("{name}_{}", memory_cgroup_version()), what);
}

/// Every cgroup directory named `id` under any hierarchy's workshop/ on the host.
fn host_cgroups_of(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let roots = ["/sys/fs/cgroup"].into_iter().map(PathBuf::from).chain(
        std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir()),
    );
    for root in roots {
        let dir = root.join("workshop").join(id);
        if dir.is_dir() {
            found.push(dir);
        }
    }
    found
}

/// The host's /proc/PID/cgroup of the container's first process.
fn host_view_of_cgroups(running: &Running) -> String {
    running
        .children()
        .iter()
        .map(|pid| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default())
        .collect()
}

/// The limits, as the probe reads them inside the container.
pub fn limits_are_seen_inside(binary: &str) {
    let sandbox = sandbox(binary);
    let output = sandbox.run(&LIMITS, &["/bin/probe", "cgroup"]);
    let has = |line: &str| output.stdout.lines().any(|l| l.ends_with(line));
    let ok = match memory_cgroup_version() {
        "v2" => {
            has("memory.max: 67108864")
                && has("cpu.max: 50000 100000")
                && has("cpu.weight: 20")
                && has("pids.max: 32")
                && has("cpuset.cpus: 0")
        }
        _ => {
            has("memory.limit_in_bytes: 67108864")
                && has("cpu.cfs_quota_us: 50000")
                && has("cpu.cfs_period_us: 100000")
                && has("cpu.shares: 512")
                && has("pids.max: 32")
                && has("cpuset.cpus: 0")
        }
    };
    expect(
        ok && output
            .stdout
            .lines()
            .filter(|l| !l.starts_with("/sys/"))
            .all(|l| l.ends_with(":/")),
        "inside, /sys/fs/cgroup should show the container's limits, and /proc/self/cgroup its own cgroup as \"/\"",
        "`limit_files` in src/limits.rs; the cgroup namespace in src/cgroups.rs",
        &output,
    );
    // /proc/self/cgroup lists every hierarchy of the host, numbered as on the host:
    // checked above (all "/"), left out of the snapshot.
    let limit_lines: String = output
        .stdout
        .lines()
        .filter(|l| l.starts_with("/sys/"))
        .map(|l| format!("{l}\n"))
        .collect();
    snapshot_for_this_version("ch06_limits_inside", &limit_lines);
}

/// The limits, as the host's cgroup files hold them while the container runs.
pub fn limits_are_set_on_the_host(binary: &str) {
    let sandbox = sandbox(binary);
    let mut flags = LIMITS.to_vec();
    flags.push("-v");
    let mut running = sandbox.spawn(&flags, &["/bin/probe", "signals"]);
    running.wait_for_line("ready");
    let in_cgroups = host_view_of_cgroups(&running);
    let files = host_limit_files(&in_cgroups);
    running.signal(Signal::SIGTERM);
    let output = running.wait();
    let id = output.container_id();
    let shown = files.replace(&id, "[ID]");
    expect(
        !id.is_empty() && shown.contains("67108864") && shown.contains("50000") && shown.contains("32"),
        "the host's cgroup files of the container should hold its limits (memory 64m, quota 50000/100000, pids 32)",
        "`limit_files` in src/limits.rs, `join_cgroup` in src/cgroup.rs",
        &output,
    );
    snapshot_for_this_version("ch06_limits_on_the_host", &shown);
}

/// The limit files of the cgroups listed in a /proc/PID/cgroup text, read on the host.
fn host_limit_files(proc_cgroup: &str) -> String {
    let files = [
        "memory.max",
        "memory.swap.max",
        "memory.limit_in_bytes",
        "memory.memsw.limit_in_bytes",
        "cpu.max",
        "cpu.weight",
        "cpu.cfs_period_us",
        "cpu.cfs_quota_us",
        "cpu.shares",
        "pids.max",
        "cpuset.cpus",
    ];
    let mut out = String::new();
    let mut lines: Vec<&str> = proc_cgroup.lines().filter(|l| l.contains("/workshop/")).collect();
    lines.sort();
    for line in lines {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let root = if controllers.is_empty() {
            v2_root().to_string()
        } else {
            format!("/sys/fs/cgroup/{controllers}")
        };
        let dir = format!("{root}{path}");
        for file in files {
            if let Ok(value) = std::fs::read_to_string(format!("{dir}/{file}")) {
                out.push_str(&format!("{dir}/{file}: {}\n", value.trim()));
            }
        }
    }
    out
}

/// The container's processes are in its cgroups (host view), which are the root
/// of its cgroup namespace (inside view).
pub fn the_container_joins_its_cgroups(binary: &str) {
    let sandbox = sandbox(binary);
    let mut running = sandbox.spawn(&["-v"], &["/bin/sh", "-c", "cat /proc/self/cgroup; /bin/probe signals"]);
    running.wait_for_line("ready");
    let host_view = host_view_of_cgroups(&running);
    running.signal(Signal::SIGTERM);
    let output = running.wait();
    let id = output.container_id();
    // v2: the one line of the unified hierarchy ("0::/workshop/ID"); v1: the
    // memory, cpu and pids hierarchies' lines, and the v2 tree's on a hybrid host.
    let wanted = if memory_cgroup_version() == "v2" { 1 } else { 2 };
    let joined = host_view
        .lines()
        .filter(|l| l.ends_with(&format!("/workshop/{id}")))
        .count();
    let inside_is_root = output
        .stdout
        .lines()
        .filter(|l| l.contains(':') && !l.contains("ready"))
        .all(|l| l.ends_with(":/"));
    expect(
        !id.is_empty() && joined >= wanted && inside_is_root,
        &format!("on the host the container should be in .../workshop/{id} cgroups (seen:\n{host_view}), and inside see \"/\""),
        "`join_cgroup` in src/cgroup.rs: write the child's PID to cgroup.procs",
        &output,
    );
}

/// Over the memory limit, the kernel's OOM killer ends the container: 137, and the
/// runtime says it was out of memory.
pub fn over_the_memory_limit_is_oom_killed(binary: &str) {
    let sandbox = sandbox(binary);
    let output = sandbox.run(&["--memory", "32m"], &["/bin/probe", "alloc", "256"]);
    expect(
        output.code == Some(137) && output.stderr.contains("ran out of memory") && !output.stdout.contains("allocated"),
        "allocating 256 MiB under --memory 32m should be killed (exit status 137) and reported as out of memory",
        "`limit_files` in src/limits.rs (--memory)",
        &output,
    );
}

/// A fork bomb stops at the pids limit; the host is untouched.
pub fn a_fork_bomb_stops_at_the_pids_limit(binary: &str) {
    let sandbox = sandbox(binary);
    let output = sandbox.run(&["--pids-limit", "16"], &["/bin/probe", "forkbomb", "1000"]);
    let forked: Option<usize> = output.stdout.split_whitespace().nth(1).and_then(|n| n.parse().ok());
    expect(
        output.code == Some(0) && forked.is_some_and(|n| n < 16) && output.stdout.contains("EAGAIN"),
        "with --pids-limit 16, fork should fail with EAGAIN before 16 processes",
        "`limit_files` in src/limits.rs (--pids-limit)",
        &output,
    );
}

/// Under --cpus 0.5, two busy threads get at most about half a CPU: the kernel
/// throttles them (cpu.stat counts it) and the CPU time stays under the quota.
pub fn the_cpu_quota_holds(binary: &str) {
    let sandbox = sandbox(binary);
    let mut running = sandbox.spawn(
        &["--cpus", "0.5"],
        &["/bin/sh", "-c", "/bin/probe burn 1 2; /bin/probe signals"],
    );
    let burned = running.wait_for_line("wall:");
    running.wait_for_line("ready");
    let throttled: u64 = host_view_of_cgroups(&running)
        .lines()
        .filter(|l| l.contains("/workshop/"))
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next(), parts.next()?, parts.next()?);
            let root = if controllers.is_empty() {
                v2_root().to_string()
            } else {
                format!("/sys/fs/cgroup/{controllers}")
            };
            let stat = std::fs::read_to_string(format!("{root}{path}/cpu.stat")).ok()?;
            stat.lines().find_map(|l| l.strip_prefix("nr_throttled ")?.parse().ok())
        })
        .max()
        .unwrap_or(0);
    running.signal(Signal::SIGTERM);
    let output = running.wait();
    let numbers: Vec<f64> = burned
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .filter_map(|n| n.parse().ok())
        .collect();
    let ratio = match numbers.as_slice() {
        [wall, cpu, ..] if *wall > 0.0 => cpu / wall,
        _ => f64::MAX,
    };
    // The quota is a ceiling: a busy machine can only give less, never more.
    expect(
        ratio <= 0.75 && throttled > 0,
        &format!("two busy threads under --cpus 0.5 should use at most ~0.5 CPU ({burned}: {ratio:.2} CPUs) and be throttled (nr_throttled {throttled})"),
        "`limit_files` in src/limits.rs (--cpus: cpu.max, or cpu.cfs_quota_us and cpu.cfs_period_us)",
        &output,
    );
}

/// `--stats` prints the peak memory and the CPU time at exit.
pub fn stats_are_printed(binary: &str) {
    let sandbox = sandbox(binary);
    let output = sandbox.run(&["--stats"], &["/bin/probe", "burn", "0.2", "1"]);
    let stats = output
        .stderr
        .lines()
        .find(|l| l.starts_with("workshop: stats:"))
        .unwrap_or("");
    let numbers: Vec<f64> = stats
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .filter_map(|n| n.parse().ok())
        .collect();
    expect(
        numbers.len() == 2 && numbers[0] > 0.0 && numbers[1] >= 0.1,
        "--stats should print \"workshop: stats: peak memory N MiB, CPU time S s\", with the CPU time burned (0.2 s)",
        "`read_usage` in src/cgroup_v1.rs and src/cgroup_v2.rs; `remove_cgroup` must come after it",
        &output,
    );
}

/// No cgroup is left behind: after a normal exit, an OOM kill, a failed start and Ctrl-C.
pub fn no_cgroup_is_left_behind(binary: &str) {
    let sandbox = sandbox(binary);
    let mut outputs: Vec<Output> = vec![
        sandbox.run(&["-v"], &["/bin/true"]),
        sandbox.run(&["-v", "--memory", "16m"], &["/bin/probe", "alloc", "128"]),
        sandbox.run(&["-v"], &["/no/such/command"]),
    ];
    let mut running = sandbox.spawn(&["-v"], &["/bin/probe", "signals"]);
    running.wait_for_line("ready");
    running.signal(Signal::SIGINT);
    outputs.push(running.wait());
    for output in outputs {
        let id = output.container_id();
        let left = host_cgroups_of(&id);
        expect(
            !id.is_empty() && left.is_empty(),
            &format!("the container's cgroups should be removed when it ends, whatever the end (left: {left:?})"),
            "`remove_cgroup` in src/cgroup.rs, called from the cleanup hook",
            &output,
        );
    }
}

/// A cgroup left by a crashed run (empty, no runtime holding its lock) is removed
/// by the next run.
pub fn a_stale_cgroup_is_reclaimed(binary: &str) {
    let sandbox = sandbox(binary);
    let stale =
        PathBuf::from("/sys/fs/cgroup/pids/workshop").join(format!("0000dead{:04x}", std::process::id() & 0xffff));
    let stale = if Path::new("/sys/fs/cgroup/pids").is_dir() {
        stale
    } else {
        PathBuf::from("/sys/fs/cgroup/workshop").join(stale.file_name().unwrap())
    };
    std::fs::create_dir_all(&stale).unwrap();
    let output = sandbox.run(&[], &["/bin/true"]);
    let left = stale.exists();
    if left {
        let _ = std::fs::remove_dir(&stale);
    }
    expect(
        // (Another check's run, in parallel, may be the one that removes it.)
        output.code == Some(0) && !left,
        &format!(
            "the empty cgroup {} of a crashed run should be removed by the next run",
            stale.display()
        ),
        "`reclaim_stale_cgroups` in src/cgroups.rs",
        &output,
    );
}

/// Impossible limits are refused before anything is created.
pub fn bad_limits_are_refused(binary: &str) {
    let sandbox = sandbox(binary);
    for bad in [
        ["--memory", "1m"],
        ["--memory", "lots"],
        ["--cpus", "0"],
        ["--cpus", "4096"],
        ["--pids-limit", "0"],
        ["--cpu-shares", "1"],
        ["--cpuset-cpus", "one"],
    ] {
        let output = sandbox.run(&bad, &["/bin/true"]);
        expect(
            output.code == Some(125) && output.stderr.contains(bad[0]),
            &format!(
                "{} {} should be refused with exit status 125 and a message naming the flag",
                bad[0], bad[1]
            ),
            "src/limits.rs",
            &output,
        );
    }
}

/// Chapter 05's behaviour still holds.
pub fn chapter_05_still_holds(binary: &str) {
    crate::ch05::root_inside_with_the_mapping(binary);
    crate::ch05::files_made_inside_belong_to_the_mapped_ids(binary);
    crate::ch04::the_container_has_its_own_hostname(binary);
    crate::ch03::the_chroot_escape_fails(binary);
    crate::ch02::init_reaps_orphans(binary);
}
