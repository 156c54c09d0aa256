//! The programs the benchmark compares, and the round-robin that measures them.
//!
//! Every iteration runs each contender of a group once, in an order that rotates
//! from one iteration to the next, so that whatever drifts during a run (other
//! work on the machine, the page cache, CPU frequency) hits all of them alike.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::measure::{self, Sample};

/// The pause before each run. Moving a process into a cgroup (writing its PID to
/// cgroup.procs) takes a kernel lock whose first taker waits for an RCU grace
/// period (5-15 ms here), but a taker within about 10-20 ms of the previous one
/// does not wait. Without a pause, a runtime started right after another one
/// would get that wait for free, depending on who ran before it; with 50 ms,
/// every run pays its own, as a container started on a machine at rest does.
pub const DEFAULT_GAP_MS: u64 = 50;

/// One contender: its label, an untimed step before each run (e.g. removing the
/// image so that the next pull is cold), and the programs a run times, one after
/// the other (their costs add up).
pub struct Contender {
    pub label: String,
    before: Box<dyn Fn() -> Result<()>>,
    commands: Box<dyn Fn(usize) -> Vec<Command>>,
    pub samples: Vec<Sample>,
}

impl Contender {
    pub fn new(label: &str, commands: impl Fn(usize) -> Vec<Command> + 'static) -> Contender {
        Contender {
            label: label.to_string(),
            before: Box::new(|| Ok(())),
            commands: Box::new(commands),
            samples: Vec::new(),
        }
    }

    /// Runs `before` (untimed) before each timed run.
    pub fn before_each(mut self, before: impl Fn() -> Result<()> + 'static) -> Contender {
        self.before = Box::new(before);
        self
    }

    /// One run: the untimed step, then the timed programs. `n` numbers the run
    /// (container names must differ from run to run).
    pub fn run_once(&self, n: usize, stderr_file: &Path) -> Result<Sample> {
        (self.before)().with_context(|| format!("{}: preparing run {n}", self.label))?;
        let mut total = Sample::default();
        for mut command in (self.commands)(n) {
            total = total.then(measure::measure(&mut command, stderr_file).with_context(|| self.label.clone())?);
        }
        Ok(total)
    }
}

/// Measures every contender `runs` times, round-robin, after `warmup` untimed
/// rounds (which also show that each of them works before any figure counts).
/// Each run starts `gap` after the one before ended: see [`DEFAULT_GAP_MS`].
pub fn round_robin(
    contenders: &mut [Contender],
    warmup: usize,
    runs: usize,
    gap: Duration,
    stderr_file: &Path,
) -> Result<()> {
    let count = contenders.len();
    for round in 0..warmup + runs {
        measure::check_interrupted()?;
        for k in 0..count {
            std::thread::sleep(gap);
            let contender = &mut contenders[(round + k) % count];
            let sample = contender.run_once(round, stderr_file)?;
            if round >= warmup {
                contender.samples.push(sample);
            }
        }
        if round >= warmup && (round - warmup + 1) % 25 == 0 {
            eprint!("  {}/{runs}\r", round - warmup + 1);
        }
    }
    eprintln!();
    Ok(())
}

/// `crun run` or `runc run` of `bundle` as container `id`, with its state under
/// `state_root`. For crun on a hybrid cgroup host, see [`in_private_mount_namespace`].
pub fn oci_runtime(program: &str, state_root: &Path, bundle: &Path, id: &str) -> Command {
    let mut command = Command::new(program);
    command
        .arg("--root")
        .arg(state_root)
        .arg("run")
        .arg("--bundle")
        .arg(bundle)
        .arg(id);
    command
}

/// Makes `command` start in a mount namespace of its own, with private
/// propagation (so nothing it mounts or unmounts reaches the host), where the
/// cgroup2 tree /sys/fs/cgroup/unified is unmounted: crun 1.8 refuses a cgroup
/// v1 "hybrid" host, and sees a plain v1 one there. Costs the child an
/// unshare(2), a mount(2) and a umount2(2) before its exec.
pub fn in_private_mount_namespace(command: &mut Command) {
    // SAFETY: only raw system calls between fork and exec (async-signal-safe), on
    // string literals: no allocation.
    unsafe {
        command.pre_exec(|| {
            let check = |result: libc::c_int| {
                if result == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            check(libc::unshare(libc::CLONE_NEWNS))?;
            // mount(2): MS_REC | MS_PRIVATE on / stops propagation both ways.
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            check(libc::umount2(c"/sys/fs/cgroup/unified".as_ptr(), libc::MNT_DETACH))
        });
    }
}

/// Is there a cgroup2 tree at /sys/fs/cgroup/unified (the hybrid layout)?
pub fn hybrid_cgroups() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let fstype = line.split(" - ").nth(1).and_then(|rest| rest.split(' ').next());
            fields.get(4) == Some(&"/sys/fs/cgroup/unified") && fstype == Some("cgroup2")
        })
}

/// The floor: the kernel's share of the same isolation without a runtime.
/// util-linux `unshare` makes the same seven namespaces (mapping only root, as
/// `--map-root-user` does: a wider map needs newuidmap), forks the new PID 1,
/// which execs `chroot ROOTFS /bin/true`. No mounts, no cgroups, no network setup.
pub fn floor(rootfs: &Path) -> Command {
    let mut command = Command::new("unshare");
    command
        .args([
            "--user",
            "--map-root-user",
            "--pid",
            "--fork",
            "--mount",
            "--uts",
            "--ipc",
            "--net",
            "--cgroup",
            "chroot",
        ])
        .arg(rootfs)
        .arg("/bin/true");
    command
}

/// The chapter 10 runtime: `run FLAGS -- IMAGE /bin/true`.
pub fn workshop_run(runtime: &Path, flags: &[&str], image: &str) -> Command {
    let mut command = Command::new(runtime);
    command.arg("run").args(flags).args(["--", image, "/bin/true"]);
    command
}

/// The chapter 10 runtime: `pull IMAGE` (or `rmi IMAGE`).
pub fn workshop(runtime: &Path, subcommand: &str, image: &str) -> Command {
    let mut command = Command::new(runtime);
    command.args([subcommand, image]);
    command
}

/// `skopeo copy` of `image` (HOST/REPO:TAG) into the OCI layout `layout`, then
/// `umoci unpack` of it into `bundle` with the ids shifted as the workshop's pull
/// shifts them (container root is host uid 100000).
pub fn skopeo_and_umoci(image: &str, layout: &Path, bundle: &Path) -> Vec<Command> {
    let mut copy = Command::new("skopeo");
    copy.args(["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false"])
        .arg(format!("docker://{image}"))
        .arg(format!("oci:{}:latest", layout.display()));
    let mut unpack = Command::new("umoci");
    let map = format!("0:{}:{}", crate::bundle::MAPPED_ROOT, crate::bundle::MAPPED_COUNT);
    unpack
        .args(["unpack", "--uid-map", &map, "--gid-map", &map, "--image"])
        .arg(format!("{}:latest", layout.display()))
        .arg(bundle);
    vec![copy, unpack]
}

/// `skopeo inspect --raw`: fetches the manifest only.
pub fn skopeo_inspect_raw(image: &str) -> Command {
    let mut command = Command::new("skopeo");
    command
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{image}"));
    command
}

/// Removes `paths` (untimed, before a run that must start from nothing).
pub fn remove_all(paths: Vec<PathBuf>) -> impl Fn() -> Result<()> {
    move || {
        for path in &paths {
            if path.exists() {
                std::fs::remove_dir_all(path).with_context(|| format!("rm -r {}", path.display()))?;
            }
        }
        Ok(())
    }
}
