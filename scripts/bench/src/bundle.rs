//! OCI runtime bundles for crun and runc: `runc spec`'s default config.json,
//! changed to do what the workshop's runtime does on `run --net none`:
//!
//! - the same namespaces: user (container root is host uid/gid 100000, 65536 ids,
//!   as `--userns-map`'s default), pid, mount, uts, ipc, network and cgroup;
//! - a writable root (chapter 10 puts a writable overlay layer on the image), not a
//!   terminal, `/bin/true` as the command;
//! - the mounts runc's default already has (/proc, /dev tmpfs, /dev/pts, /dev/shm,
//!   /dev/mqueue, /sys read-only, /sys/fs/cgroup read-only), plus a /tmp tmpfs as
//!   the workshop mounts; crun and runc make the /dev nodes themselves;
//! - cgroups under /workshop-bench/NAME in each hierarchy (a name of ours, removed at the end).
//!
//! With `limits`, the bundle also has a memory limit and a CPU quota, the same as
//! the workshop runtime's `--memory 64m --cpus 0.5`; with [`Net::VethHooks`], hooks
//! connect the container to a bridge as the workshop's `--net bridge` does.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// The host ids the container's root gets (chapter 05's default map).
pub const MAPPED_ROOT: u32 = 100000;
pub const MAPPED_COUNT: u32 = 65536;
/// The limits of case (b), as the workshop's flags and as numbers for config.json.
pub const MEMORY_FLAG: &str = "64m";
pub const MEMORY_BYTES: u64 = 64 << 20;
pub const CPUS_FLAG: &str = "0.5";
pub const CPU_PERIOD_US: u64 = 100_000;
pub const CPU_QUOTA_US: u64 = 50_000;
/// The cgroup directory (in each hierarchy) that the bundles' cgroups go under.
pub const CGROUP_PARENT: &str = "workshop-bench";

/// The bridge the veth hook connects crun's and runc's containers to, and its
/// subnet (not the workshop's 10.88.0.0/24, so the two never meet).
pub const HOOK_BRIDGE: &str = "wsbench0";
pub const HOOK_GATEWAY: &str = "10.89.0.1/24";

/// OCI hooks (runtime-spec config.md#posix-platform-hooks) doing what the
/// workshop's `--net bridge` does, with ip(8): `up` runs as a createRuntime hook
/// (the container's namespaces exist, its command has not started; the state
/// JSON with its pid comes on stdin): a veth pair, one end on the bridge, the
/// other moved into the container as eth0 with an address, lo and eth0 up, a
/// default route. `down` runs as a poststop hook: the host end is deleted (the
/// kernel may have done it already, with the container's network namespace).
/// The host end is named after the container id: bench-crun-v-12 gives wsbcrunv12.
const VETH_HOOK: &str = r#"set -e
state=$(tr -d ' \n')
id=$(printf '%s' "$state" | sed 's/.*"id":"\([^"]*\)".*/\1/')
veth="wsb$(printf '%s' "${id#bench-}" | tr -d -)"
case "$1" in
up)
  pid=$(printf '%s' "$state" | sed 's/.*"pid":\([0-9]*\).*/\1/')
  ip link add "$veth" type veth peer name eth0 netns "$pid"
  ip link set "$veth" master wsbench0 up
  nsenter -t "$pid" -n sh -c 'ip addr add 10.89.0.2/24 dev eth0 && ip link set lo up &&
    ip link set eth0 up && ip route add default via 10.89.0.1'
  ;;
down)
  ip link delete "$veth" 2>/dev/null || true
  ;;
esac
"#;

/// How a bundle's container is connected.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// A network namespace with only lo (as `--net none`).
    LoopbackOnly,
    /// The same, plus a veth pair to a bridge made by the hooks above (as `--net bridge`).
    VethHooks,
}

/// Writes `dir/config.json` for a container on `rootfs` (absolute) whose cgroups
/// are /workshop-bench/`name`.
pub fn write_bundle(dir: &Path, rootfs: &Path, name: &str, limits: bool, net: Net) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let output = Command::new("runc")
        .arg("spec")
        .arg("--bundle")
        .arg(dir)
        .output()
        .context("could not run `runc spec` (sudo scripts/provision.sh installs runc)")?;
    if !output.status.success() {
        bail!("runc spec failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(["/bin/true"]);
    config["root"] = json!({ "path": rootfs, "readonly": false });
    config["hostname"] = json!("bench");
    config["mounts"]
        .as_array_mut()
        .context("runc spec wrote no mounts")?
        .push(json!({
            "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777"],
        }));
    let linux = &mut config["linux"];
    linux["namespaces"] = json!(["pid", "network", "ipc", "uts", "mount", "user", "cgroup"]
        .iter()
        .map(|kind| json!({ "type": kind }))
        .collect::<Vec<_>>());
    let map = json!([{ "containerID": 0, "hostID": MAPPED_ROOT, "size": MAPPED_COUNT }]);
    linux["uidMappings"] = map.clone();
    linux["gidMappings"] = map;
    linux["cgroupsPath"] = json!(format!("/{CGROUP_PARENT}/{name}"));
    if limits {
        linux["resources"]["memory"] = json!({ "limit": MEMORY_BYTES });
        linux["resources"]["cpu"] = json!({ "quota": CPU_QUOTA_US, "period": CPU_PERIOD_US });
    }
    if net == Net::VethHooks {
        let hook = dir.join("veth-hook.sh");
        std::fs::write(&hook, VETH_HOOK)?;
        let run = |step: &str| json!([{ "path": "/bin/sh", "args": ["sh", hook, step] }]);
        config["hooks"] = json!({ "createRuntime": run("up"), "poststop": run("down") });
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
    Ok(())
}
