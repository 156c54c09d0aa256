//! The workshop's benchmark: `cargo bench-workshop` (see the book's appendix
//! "Benchmarks"). Builds the chapter 10 runtime in release mode, starts a local
//! registry, and measures, interleaved in one run:
//!
//! 1. container start-to-exit of /bin/true: the chapter 10 runtime on a cached
//!    image against `crun run` and `runc run` on a bundle of the same root
//!    filesystem with the same namespaces, and the floor (`unshare` + `chroot`);
//!    (a) with no network, (b) with a network namespace and cgroup limits;
//! 2. a cold pull and unpack of a three-layer 21 MB image against `skopeo copy` +
//!    `umoci unpack`, and a pull of a cached image against `skopeo inspect --raw`.
//!
//! It prints medians and the ratios pair by pair. Everything it makes (registry,
//! images in the workshop's store, bundles, cgroups, temporary directories) is
//! removed at the end, also on an error or Ctrl-C.

mod bundle;
mod cleanup;
mod contenders;
mod images;
mod measure;
mod report;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Parser;

use crate::cleanup::Workspace;
use crate::contenders::Contender;

/// Benchmarks the chapter 10 runtime against crun, runc, skopeo and umoci.
#[derive(Parser)]
struct Cli {
    /// Runs of each container-start contender (medians are taken over them).
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Runs of each cold-pull contender (a cold pull moves 21 MB and unpacks it).
    #[arg(long, default_value_t = 15)]
    pull_runs: usize,
    /// Runs of each cached-pull contender.
    #[arg(long, default_value_t = 100)]
    cached_runs: usize,
    /// Untimed rounds before the timed ones, per group.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Milliseconds of rest before each run (see contenders::DEFAULT_GAP_MS).
    #[arg(long, default_value_t = contenders::DEFAULT_GAP_MS)]
    gap_ms: u64,
    /// The root filesystem the images are made of.
    #[arg(long, default_value = "/var/lib/workshop/busybox")]
    rootfs: PathBuf,
    /// Measure this chapter 10 runtime binary (e.g. a variant built elsewhere)
    /// instead of building the workspace's in release mode.
    #[arg(long)]
    runtime: Option<PathBuf>,
}

fn main() {
    let cli = Cli::parse();
    if let Err(error) = measure::catch_interrupts() {
        eprintln!("bench: {error:#}");
        std::process::exit(1);
    }
    let preflight = preflight(&cli);
    if let (Ok(runtime), false) = (&preflight, nix::unistd::geteuid().is_root()) {
        become_root(&cli, runtime);
    }
    let code = match preflight {
        Err(error) => {
            eprintln!("bench: {error:#}");
            1
        }
        Ok(runtime) => {
            let mut workspace = Workspace::new();
            let result = benchmark(&cli, &runtime, &mut workspace);
            let cleaned = workspace.clean_up();
            match (result, cleaned) {
                (Ok(()), Ok(())) => 0,
                (result, cleaned) => {
                    if let Err(error) = result {
                        eprintln!("bench: {error:#}");
                    }
                    if let Err(error) = cleaned {
                        eprintln!("bench: cleaning up: {error:#}");
                    }
                    if measure::interrupted() {
                        130
                    } else {
                        1
                    }
                }
            }
        }
    };
    std::process::exit(code);
}

/// The runtimes need root. Run as a user (the workshop's cargo runner keeps the
/// benchmark's user, so that the build above writes target/ as that user), the
/// benchmark re-executes itself with sudo, on the runtime it has just built.
fn become_root(cli: &Cli, runtime: &Path) -> ! {
    let program = std::env::current_exe().unwrap_or_else(|_| "bench".into());
    let mut sudo = Command::new("sudo");
    sudo.arg("--").arg(program).args(std::env::args_os().skip(1));
    if cli.runtime.is_none() {
        sudo.arg("--runtime").arg(runtime);
    }
    let error = std::os::unix::process::CommandExt::exec(&mut sudo);
    eprintln!("bench: could not run sudo ({error}): run as root");
    std::process::exit(1);
}

/// Checks the tools are there and builds the runtime; returns its path.
fn preflight(cli: &Cli) -> Result<PathBuf> {
    for tool in [
        "crun",
        "runc",
        "skopeo",
        "umoci",
        "docker-registry",
        "unshare",
        "chroot",
        "nsenter",
        "ip",
    ] {
        if !on_path(tool) {
            bail!("{tool} is not installed (sudo scripts/provision.sh installs it)");
        }
    }
    if !cli.rootfs.join("bin/true").exists() {
        bail!(
            "{} has no bin/true (sudo scripts/provision.sh makes the busybox rootfs)",
            cli.rootfs.display()
        );
    }
    if let Some(runtime) = &cli.runtime {
        return runtime
            .canonicalize()
            .with_context(|| format!("no runtime at {}", runtime.display()));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("bench: cargo build --release -p ch10-layer-cache-solution");
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "ch10-layer-cache-solution"])
        .current_dir(&root)
        .status()
        .context("could not run cargo")?;
    if !status.success() {
        bail!("building the chapter 10 runtime failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let runtime = target.join("release/ch10-layer-cache-solution");
    runtime
        .canonicalize()
        .with_context(|| format!("no runtime at {}", runtime.display()))
}

fn on_path(program: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .any(|dir| Path::new(dir).join(program).is_file())
}

fn benchmark(cli: &Cli, runtime: &Path, workspace: &mut Workspace) -> Result<()> {
    cleanup::reclaim_stale(runtime);
    report::machine(runtime);
    let stderr_file = workspace.dir.join("last-stderr");
    let gap = std::time::Duration::from_millis(cli.gap_ms);

    eprintln!("bench: starting the registry and pushing the images");
    let registry = workshop_grader::registry::Registry::start(); // stopped and removed when dropped
    let pushed = images::build_and_push(&cli.rootfs, &workspace.dir.join("layout"), &registry);
    // Give the heap the images were built in back to the system: a forked child
    // starts with a copy of our resident set, which counts in its max RSS.
    // SAFETY: malloc_trim(3) only releases free memory.
    unsafe { libc::malloc_trim(0) };
    let host = registry.host();
    let busybox = format!("{host}/{}", images::BUSYBOX);
    let big = format!("{host}/{}", images::BIG);
    workspace.remember_image(runtime, &busybox);
    workspace.remember_image(runtime, &big);
    measure::check_interrupted()?;

    // The bundles: the same image, unpacked by umoci with the ids shifted as the
    // workshop's pull shifts them; configs from `runc spec`, see bundle.rs.
    eprintln!("bench: pulling {busybox} (the workshop's store) and making the OCI bundles");
    measure::measure(&mut contenders::workshop(runtime, "pull", &busybox), &stderr_file)?;
    let image_layout = workspace.dir.join("busybox-layout");
    let shared = workspace.dir.join("busybox-bundle");
    for mut command in contenders::skopeo_and_umoci(&busybox, &image_layout, &shared) {
        measure::measure(&mut command, &stderr_file)?;
    }
    // umoci makes the bundle directory 0700: the container's root (host uid
    // 100000) must be able to reach the rootfs inside it.
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let rootfs = shared.join("rootfs");
    let bundles = workspace.dir.join("bundles");
    let crun_root = workspace.dir.join("crun-state");
    let runc_root = workspace.dir.join("runc-state");
    use bundle::Net::{LoopbackOnly, VethHooks};
    for (name, limits, net) in [
        ("crun-a", false, LoopbackOnly),
        ("runc-a", false, LoopbackOnly),
        ("crun-b", true, LoopbackOnly),
        ("runc-b", true, LoopbackOnly),
        ("crun-v", true, VethHooks),
        ("runc-v", true, VethHooks),
    ] {
        bundle::write_bundle(&bundles.join(name), &rootfs, name, limits, net)?;
    }
    workspace.make_hook_bridge()?;
    let hybrid = contenders::hybrid_cgroups();

    // 1. Container start-to-exit.
    let crun = |name: &'static str| {
        let (root, bundle) = (crun_root.clone(), bundles.join(name));
        move |n: usize| {
            let mut command = contenders::oci_runtime("crun", &root, &bundle, &format!("bench-{name}-{n}"));
            if hybrid {
                contenders::in_private_mount_namespace(&mut command);
            }
            vec![command]
        }
    };
    let runc = |name: &'static str| {
        let (root, bundle) = (runc_root.clone(), bundles.join(name));
        move |n: usize| {
            vec![contenders::oci_runtime(
                "runc",
                &root,
                &bundle,
                &format!("bench-{name}-{n}"),
            )]
        }
    };
    let (rt, image) = (runtime.to_path_buf(), busybox.clone());
    let limits = [
        "--net",
        "bridge",
        "--memory",
        bundle::MEMORY_FLAG,
        "--cpus",
        bundle::CPUS_FLAG,
    ];
    let (rt2, image2) = (rt.clone(), image.clone());
    let floor_rootfs = rootfs.clone();
    let mut starts = vec![
        Contender::new("(a) ch10 run --net none", move |_| {
            vec![contenders::workshop_run(&rt, &["--net", "none"], &image)]
        }),
        Contender::new("(a) crun run", crun("crun-a")),
        Contender::new("(a) runc run", runc("runc-a")),
        Contender::new("(a) floor: unshare + chroot", move |_| {
            vec![contenders::floor(&floor_rootfs)]
        }),
        Contender::new("(b) ch10 run --net bridge + limits", move |_| {
            vec![contenders::workshop_run(&rt2, &limits, &image2)]
        }),
        Contender::new("(b) crun run + limits", crun("crun-b")),
        Contender::new("(b) runc run + limits", runc("runc-b")),
        Contender::new("(b) crun run + limits + veth hooks", crun("crun-v")),
        Contender::new("(b) runc run + limits + veth hooks", runc("runc-v")),
    ];
    eprintln!(
        "bench: container start-to-exit, {} contenders x {} runs, round-robin",
        starts.len(),
        cli.runs
    );
    contenders::round_robin(&mut starts, cli.warmup, cli.runs, gap, &stderr_file)?;

    // 2. Pulls.
    let (rt, image) = (runtime.to_path_buf(), big.clone());
    let (rt_rmi, image_rmi) = (rt.clone(), image.clone());
    let (layout, unpacked) = (workspace.dir.join("pull-layout"), workspace.dir.join("pull-bundle"));
    let skopeo_image = big.clone();
    let mut cold = vec![
        Contender::new("ch10 pull (cold)", move |_| {
            vec![contenders::workshop(&rt, "pull", &image)]
        })
        .before_each(move || {
            // Not in the store: `rmi` says so and fails, which is fine here.
            let mut rmi = contenders::workshop(&rt_rmi, "rmi", &image_rmi);
            rmi.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            rmi.status()?;
            Ok(())
        }),
        Contender::new("skopeo copy + umoci unpack", {
            let (layout, unpacked) = (layout.clone(), unpacked.clone());
            move |_| contenders::skopeo_and_umoci(&skopeo_image, &layout, &unpacked)
        })
        .before_each(contenders::remove_all(vec![layout.clone(), unpacked.clone()])),
    ];
    eprintln!(
        "bench: cold pull + unpack of {big} ({:.1} MB in 3 layers), {} runs each",
        pushed.big_layer_sizes.iter().sum::<u64>() as f64 / 1e6,
        cli.pull_runs
    );
    contenders::round_robin(&mut cold, 1, cli.pull_runs, gap, &stderr_file)?;

    // The image is in the store now (the last cold pull): what does a pull fetch?
    let requests = |command: &mut Command| -> Result<Vec<String>> {
        let before = registry.accesses().len();
        measure::measure(command, &stderr_file)?;
        Ok(registry.accesses()[before..]
            .iter()
            .map(|a| format!("{} {} {}", a.method, a.path, a.status))
            .collect())
    };
    let workshop_requests = requests(&mut contenders::workshop(runtime, "pull", &big))?;
    let skopeo_requests = requests(&mut contenders::skopeo_inspect_raw(&big))?;
    let (rt, image, skopeo_image) = (runtime.to_path_buf(), big.clone(), big.clone());
    let mut cached = vec![
        Contender::new("ch10 pull (cached)", move |_| {
            vec![contenders::workshop(&rt, "pull", &image)]
        }),
        Contender::new("skopeo inspect --raw", move |_| {
            vec![contenders::skopeo_inspect_raw(&skopeo_image)]
        }),
    ];
    eprintln!("bench: pull of a cached image, {} runs each", cli.cached_runs);
    contenders::round_robin(&mut cached, cli.warmup, cli.cached_runs, gap, &stderr_file)?;

    report::starts(&starts, cli.runs, cli.gap_ms);
    report::pulls(&cold, &cached, &pushed, &workshop_requests, &skopeo_requests, cli);
    report::load();
    Ok(())
}
