//! The soak and fault suite: the chapter 10 reference runtime (every mechanism of
//! the workshop) run many times, killed at random points, on a state directory
//! that fills up, and given bad input. Afterwards nothing of the workshop's may
//! remain: no mount, cgroup, veth, lease, overlay or state directory.
//!
//! `cargo test` runs it in a reduced size. The full size, by hand:
//!
//! ```sh
//! cargo build -p ch10-layer-cache-solution
//! WORKSHOP_SOAK=full cargo test -p workshop-grader --test soak -- --nocapture
//! ```
//!
//! It runs the runtime binary next to this test's own (target/debug/), which a
//! plain `cargo test` builds; WORKSHOP_SOAK_BINARY names another. The figures
//! (counts, durations) go to stderr: `--nocapture` shows them.

mod bad_input;
mod containers;
mod fake_registry;
mod full_disk;
mod leftovers;
mod private_mounts;
mod pull_kills;
mod random;
mod run_kills;
mod store;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use workshop_grader::ch05::MAPPED_ROOT;
use workshop_grader::oci::{self, Entry, ImageSpec};
use workshop_grader::registry::Registry;
use workshop_grader::{NetNs, Output, Sandbox};

use fake_registry::{FakeRegistry, Served};
use private_mounts::PrivateMounts;
use random::Random;

/// How much of everything: reduced for CI, full with WORKSHOP_SOAK=full.
struct Size {
    in_a_row: usize,
    at_once: usize,
    run_kills: usize,
    pull_kills: usize,
}

impl Size {
    fn from_env() -> Size {
        if std::env::var("WORKSHOP_SOAK").as_deref() == Ok("full") {
            Size {
                in_a_row: 500,
                at_once: 50,
                run_kills: 200,
                pull_kills: 50,
            }
        } else {
            Size {
                in_a_row: 40,
                at_once: 10,
                run_kills: 20,
                pull_kills: 8,
            }
        }
    }
}

/// The chapter 10 reference runtime: next to this test's binary (target/debug/deps/soak-HASH).
fn runtime() -> String {
    if let Some(path) = std::env::var_os("WORKSHOP_SOAK_BINARY") {
        return path.to_string_lossy().into_owned();
    }
    let test = std::env::current_exe().unwrap();
    let path = test
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("ch10-layer-cache-solution");
    assert!(
        path.exists(),
        "{} is not built: run `cargo build -p ch10-layer-cache-solution` first (a plain `cargo test` builds it)",
        path.display()
    );
    path.display().to_string()
}

/// A sandbox whose rootfs the container's root owns, run in `netns`.
fn sandbox_in(netns: &NetNs) -> Sandbox {
    let mut sandbox = Sandbox::new(&runtime());
    sandbox.chown_rootfs(MAPPED_ROOT, MAPPED_ROOT);
    sandbox.in_netns(netns);
    sandbox
}

/// The busybox + probe root filesystem of a sandbox (owned by root), as a layer.
fn busybox_layer() -> oci::Layer {
    let plain = Sandbox::new(&runtime());
    oci::layer(&oci::entries_from_dir(&plain.rootfs))
}

/// A directory SANDBOX/name for a volume, which the container's root may write.
fn volume_dir(sandbox: &Sandbox, name: &str) -> PathBuf {
    let dir = sandbox.dir.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(MAPPED_ROOT), Some(MAPPED_ROOT)).unwrap();
    dir
}

/// Every mechanism on: the namespaces (always on), cgroup limits, the overlay
/// (always on), a volume, the bridge network (the default); -v for the id.
fn every_mechanism(volume: &Path, hostname: &str) -> Vec<String> {
    [
        "-v",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "64",
        "--hostname",
        hostname,
        "--volume",
        &format!("{}:/data", volume.display()),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn strs(strings: &[String]) -> Vec<&str> {
    strings.iter().map(String::as_str).collect()
}

/// "eth0 up 10.88.0.N/24" (the probe's `net`) -> the address.
fn eth0_address(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("eth0 up ")?.split('/').next().map(str::to_string))
}

/// Panics with the run's output when `ok` is false.
fn check(ok: bool, what: &str, output: &Output) {
    assert!(ok, "{what}\n{output}");
}

/// Nothing of container `id` is left, and the namespace has only lo and the bridge.
fn check_nothing_left(id: &str, netns: &NetNs, output: &Output) {
    let left = leftovers::of_container(id);
    check(
        left.is_empty(),
        &format!("container {id} left this behind:\n{}", left.join("\n")),
        output,
    );
    let links = netns.links();
    check(
        links == ["lo", "workshop0"],
        &format!("the host's links should be only lo and the bridge, not {links:?} (a veth left)"),
        output,
    );
}

fn per_run(total: Duration, runs: usize) -> String {
    format!("{:.1} ms", total.as_secs_f64() * 1000.0 / runs.max(1) as f64)
}

/// An image of the test's own in a registry of its own: `layers` layers of
/// `layer_size` bytes that no compressor shrinks, and a marker unique to this run.
struct PushedImage {
    registry: Registry,
    _layout: tempfile::TempDir,
    reference: String,
    layers: Vec<oci::Layer>,
    config: String,
}

impl PushedImage {
    fn new(name: &str, layers: usize, layer_size: usize, random: &mut Random) -> PushedImage {
        let image_layers: Vec<oci::Layer> = (0..layers)
            .map(|n| {
                oci::layer(&[
                    Entry::dir("data", 0o755),
                    Entry::file(&format!("data/{name}-{n}"), 0o644, random.bytes(layer_size)),
                ])
            })
            .collect();
        PushedImage::with_layers(name, image_layers, random)
    }

    /// An image of `layers`, and a marker layer on top.
    fn with_layers(name: &str, mut image_layers: Vec<oci::Layer>, random: &mut Random) -> PushedImage {
        let registry = Registry::start();
        let layout = tempfile::Builder::new().prefix("workshop-oci-").tempdir().unwrap();
        image_layers.push(oci::layer(&[
            Entry::dir("etc", 0o755),
            Entry::file(
                "etc/made-for",
                0o644,
                format!("{name} {} {}\n", std::process::id(), random.next()),
            ),
        ]));
        let written = oci::write_layout(layout.path(), "v1", &[ImageSpec::new(image_layers.clone())], false);
        oci::push(layout.path(), "v1", &registry, &format!("workshop/{name}:v1"));
        PushedImage {
            reference: format!("{}/workshop/{name}:v1", registry.host()),
            registry,
            _layout: layout,
            layers: image_layers,
            config: written.configs[0].clone(),
        }
    }

    /// Whether the store at `root` holds this image whole: its record, config and layers.
    fn is_whole_in(&self, root: &Path) -> bool {
        store::record_path(root, &self.reference).is_file()
            && store::blob_path(root, &self.config).is_file()
            && self.layers.iter().all(|l| store::layer_path(root, &l.diff_id).is_dir())
    }

    /// Whether anything of this image is in the store at `root`.
    fn anything_in(&self, root: &Path) -> Vec<PathBuf> {
        let mut paths = vec![
            store::record_path(root, &self.reference),
            store::blob_path(root, &self.config),
        ];
        for layer in &self.layers {
            paths.push(store::layer_path(root, &layer.diff_id));
            paths.push(store::blob_path(root, &layer.digest));
        }
        paths.into_iter().filter(|p| p.exists()).collect()
    }
}

impl Drop for PushedImage {
    /// Takes the image out of the real store, also when a check failed half-way:
    /// every layer and blob of it is this run's own.
    fn drop(&mut self) {
        let root = Path::new(store::STORE_DIR);
        for path in self.anything_in(root) {
            if path.is_dir() {
                let _ = std::fs::remove_dir_all(&path);
            } else {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// `RUNTIME ARGS...` on the host (pulls reach the registry on the host's loopback).
fn runtime_command(args: &[&str]) -> Command {
    let mut command = Command::new(runtime());
    command.args(args).stdin(Stdio::null());
    command
}

/// Runs `command` to its end and collects what it printed.
fn output_of(mut command: Command) -> Output {
    let command_line = format!("{command:?}");
    let output = command.output().unwrap();
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        command_line,
    }
}

fn check_store(root: &Path, after: &str) -> store::Verified {
    let verified = store::verify(root);
    assert!(
        verified.problems.is_empty(),
        "after {after}, the store at {} has what it should not trust:\n{}",
        root.display(),
        verified.problems.join("\n")
    );
    verified
}

/// Starts the runtime with `args` in `netns`, without waiting.
fn spawn_in(netns: &NetNs, args: &[String]) -> std::process::Child {
    spawn_in_with_stderr(netns, args, Stdio::piped())
}

/// [`spawn_in`], with the runtime's stderr going to `stderr`.
fn spawn_in_with_stderr(netns: &NetNs, args: &[String], stderr: Stdio) -> std::process::Child {
    Command::new("nsenter")
        .arg(format!("--net={}", netns.path()))
        .arg("--")
        .arg(runtime())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Waits for a run to end (a -v run prints less than a pipe holds) and collects its output.
fn output_of_child(child: std::process::Child, args: &[String]) -> Output {
    let output = child.wait_with_output().unwrap();
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        command_line: args.join(" "),
    }
}

/// The arguments of `run FLAGS IMAGE COMMAND...`.
fn image_run_args(flags: Vec<String>, image: &str, command: &[&str]) -> Vec<String> {
    let mut args = vec!["run".to_string()];
    args.extend(flags);
    args.push(image.to_string());
    args.extend(command.iter().map(|s| s.to_string()));
    args
}

/// Runs that wait for the file `go` in a gate directory (a volume of theirs)
/// before they end. Dropped at the end of a check, or when one of its assertions
/// fails, it opens the gate, gives them time to end, and kills any still running:
/// no container outlives its check.
struct GatedRuns {
    gate: PathBuf,
    runs: Vec<(Vec<String>, std::process::Child)>,
}

impl GatedRuns {
    /// Runs gated by GATE/go (closed now).
    fn new(gate: &Path) -> GatedRuns {
        let _ = std::fs::remove_file(gate.join("go"));
        GatedRuns {
            gate: gate.to_path_buf(),
            runs: Vec::new(),
        }
    }

    /// Starts the runtime with `args` in `netns`.
    fn start(&mut self, netns: &NetNs, args: Vec<String>) {
        let child = spawn_in(netns, &args);
        self.runs.push((args, child));
    }

    /// Whether one of the runs has ended already.
    fn one_ended(&mut self) -> bool {
        self.runs
            .iter_mut()
            .any(|(_, child)| child.try_wait().unwrap().is_some())
    }

    /// Opens the gate and collects what each run printed, in the order started.
    fn finish(&mut self) -> Vec<Output> {
        std::fs::write(self.gate.join("go"), "").unwrap();
        std::mem::take(&mut self.runs)
            .into_iter()
            .map(|(args, child)| output_of_child(child, &args))
            .collect()
    }
}

impl Drop for GatedRuns {
    fn drop(&mut self) {
        let _ = std::fs::write(self.gate.join("go"), "");
        let deadline = Instant::now() + Duration::from_secs(10);
        for (_, child) in &mut self.runs {
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            // Last resort: the container dies with its runtime (its parent-death
            // signal), and the next run reclaims what it left.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
