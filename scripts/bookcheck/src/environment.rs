//! What some pages set up before their commands, made by the checker itself and
//! removed when dropped: at the end, on an error, or after Ctrl-C.
//!
//! - Chapter 08's network namespace `wk-demo`, where its runs play the host
//!   (ip-netns(8)): deleting it takes the bridge `workshop0` and every veth in it.
//!   The machine's own network is never touched.
//! - The class registry on 127.0.0.1:5000 (Debian's docker-registry, as the class
//!   VM runs it), with its storage in a temp dir of the checker's and the three
//!   class images pushed by `scripts/preload-images.sh`. At the end, the images the
//!   pages' commands pulled into chapter 10's store are removed (`rmi`), the
//!   registry is stopped by its PID, and its storage is deleted.
//!
//! And what the checker only looks at: the machine's cgroup layout (host_cgroups),
//! which decides which of chapter 06's blocks can match here.

use crate::select::{HostCgroups, DEMO_NETNS};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cgroup layout of this machine, as `stat -fc %T` tells them apart: a cgroup2
/// filesystem at /sys/fs/cgroup is unified; otherwise hybrid if there is one at
/// /sys/fs/cgroup/unified, and legacy if not.
pub fn host_cgroups() -> Result<HostCgroups> {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    let is_cgroup2 = |path: &str| statfs(path).is_ok_and(|fs| fs.filesystem_type() == CGROUP2_SUPER_MAGIC);
    if !Path::new("/sys/fs/cgroup").is_dir() {
        bail!("/sys/fs/cgroup does not exist: the checker cannot tell this machine's cgroup layout");
    }
    Ok(if is_cgroup2("/sys/fs/cgroup") {
        HostCgroups::Unified
    } else if is_cgroup2("/sys/fs/cgroup/unified") {
        HostCgroups::Hybrid
    } else {
        HostCgroups::Legacy
    })
}

/// Where `ip netns` keeps its named namespaces.
const NETNS_DIR: &str = "/run/netns";

/// The network namespace `wk-demo`, with its `lo` up, as the page makes it.
pub struct DemoNetns {
    /// Whether /run/netns existed, and was a mount point, before: the first
    /// `ip netns add` on a machine creates it and bind-mounts it on itself (shared),
    /// and `ip netns delete` leaves that mount. What the checker made, it removes.
    dir_existed: bool,
    dir_was_mounted: bool,
}

impl DemoNetns {
    pub fn make() -> Result<DemoNetns> {
        if Path::new(NETNS_DIR).join(DEMO_NETNS).exists() {
            bail!("the network namespace {DEMO_NETNS} exists already: remove it (ip netns delete {DEMO_NETNS})");
        }
        let netns = DemoNetns {
            dir_existed: Path::new(NETNS_DIR).exists(),
            dir_was_mounted: is_mount_point(NETNS_DIR),
        };
        run("ip", &["netns", "add", DEMO_NETNS])?;
        run("ip", &["-n", DEMO_NETNS, "link", "set", "lo", "up"])?;
        Ok(netns)
    }
}

impl Drop for DemoNetns {
    fn drop(&mut self) {
        if let Err(error) = run("ip", &["netns", "delete", DEMO_NETNS]) {
            eprintln!("bookcheck: could not delete the network namespace {DEMO_NETNS}: {error}");
            return;
        }
        let empty = std::fs::read_dir(NETNS_DIR).is_ok_and(|mut entries| entries.next().is_none());
        if !self.dir_was_mounted && empty && is_mount_point(NETNS_DIR) {
            if let Err(error) = run("umount", &[NETNS_DIR]) {
                eprintln!("bookcheck: could not unmount {NETNS_DIR}, which `ip netns add` mounted: {error}");
                return;
            }
        }
        if !self.dir_existed && empty {
            let _ = std::fs::remove_dir(NETNS_DIR);
        }
    }
}

/// Whether `path` is a mount point (a line of /proc/self/mountinfo names it).
fn is_mount_point(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|line| line.split(' ').nth(4) == Some(path))
}

/// Where the registry listens: loopback only, as the class VM's.
const REGISTRY_ADDRESS: &str = "127.0.0.1:5000";
/// Chapter 10's store: its records name the images pulled into it.
const STORE_IMAGES: &str = "/var/lib/workshop/store/images";
/// The chapter 10 binary that removes what the pages pulled.
const CH10: &str = "target/debug/ch10-layer-cache-solution";

pub struct ClassRegistry {
    registry: Child,
    storage: PathBuf,
    root: PathBuf,
    /// The images in chapter 10's store before the pages' commands ran: kept.
    images_before: BTreeSet<String>,
}

impl ClassRegistry {
    /// Starts the registry and pushes the class images, or says why it cannot
    /// (`Ok(Err(reason))`): port 5000 is taken, by the class VM's own registry or
    /// anything else, and the checker does not use what it did not start.
    pub fn start(root: &Path) -> Result<std::result::Result<ClassRegistry, String>> {
        if TcpListener::bind(REGISTRY_ADDRESS).is_err() {
            return Ok(Err(
                "port 5000 is taken on this machine: the checker starts a registry of its own there".to_string(),
            ));
        }
        let storage = std::env::temp_dir().join(format!("workshop-bookcheck-registry-{}", std::process::id()));
        std::fs::create_dir(&storage).with_context(|| format!("creating {}", storage.display()))?;
        let config = storage.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {REGISTRY_ADDRESS}\n  secret: bookcheck\n",
                storage.join("data").display()
            ),
        )?;
        let log = std::fs::File::create(storage.join("log"))?;
        let spawned = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn();
        let registry = match spawned {
            Ok(child) => child,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&storage);
                bail!("could not start docker-registry (apt-get install docker-registry): {error}");
            }
        };
        let class_registry = ClassRegistry {
            registry,
            storage,
            root: root.to_path_buf(),
            images_before: images_in_store(),
        };
        class_registry.wait_until_it_answers()?;
        let preload = Command::new(root.join("scripts/preload-images.sh"))
            .env_remove("WORKSHOP_REGISTRY")
            .output()
            .context("running scripts/preload-images.sh")?;
        if !preload.status.success() {
            bail!(
                "scripts/preload-images.sh failed:\n{}{}",
                String::from_utf8_lossy(&preload.stdout),
                String::from_utf8_lossy(&preload.stderr)
            );
        }
        Ok(Ok(class_registry))
    }

    /// How many images chapter 10's store held before the pages' commands ran.
    pub fn images_before(&self) -> usize {
        self.images_before.len()
    }

    fn wait_until_it_answers(&self) -> Result<()> {
        let start = Instant::now();
        while TcpStream::connect(REGISTRY_ADDRESS).is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                bail!(
                    "docker-registry does not answer on {REGISTRY_ADDRESS} (see {})",
                    self.storage.join("log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

impl Drop for ClassRegistry {
    fn drop(&mut self) {
        for image in images_in_store().difference(&self.images_before) {
            let removed = Command::new(self.root.join(CH10))
                .args(["rmi", image])
                .stdout(Stdio::null())
                .status();
            if !removed.is_ok_and(|status| status.success()) {
                eprintln!("bookcheck: could not remove the image {image} (`{CH10} rmi {image}`)");
            }
        }
        // SIGTERM, to the one process the checker started.
        let pid = nix::unistd::Pid::from_raw(self.registry.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.registry.wait();
        if let Err(error) = std::fs::remove_dir_all(&self.storage) {
            eprintln!("bookcheck: could not remove {}: {error}", self.storage.display());
        }
    }
}

/// The references of the images in chapter 10's store (each record's "reference").
fn images_in_store() -> BTreeSet<String> {
    let reference = regex::Regex::new(r#""reference":\s*"([^"]+)""#).unwrap();
    let Ok(entries) = std::fs::read_dir(STORE_IMAGES) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .filter_map(|record| reference.captures(&record).map(|c| c[1].to_string()))
        .collect()
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    let status = Command::new(program).args(args).status()?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
