//! The network namespace (network_namespaces(7)), a veth pair and a bridge: the
//! container gets interfaces, addresses and routes of its own. With `--net bridge`
//! (the default) it is wired like Docker's docker0: a virtual cable (veth pair)
//! runs from the host's bridge `workshop0` into the container, where its end is
//! called eth0.
//!
//! ```text
//!  host network namespace                       container network namespace
//!  +----------------------------+               +---------------------------+
//!  | workshop0 (bridge)         |               |  lo        127.0.0.1      |
//!  |   10.88.0.1/24 = gateway   |               |  eth0      10.88.0.N/24   |
//!  |     |                      |  veth pair    |  default via 10.88.0.1    |
//!  |   vethXXXXXXXX  <==========|===============|==> eth0                   |
//!  +----------------------------+               +---------------------------+
//! ```

use std::net::Ipv4Addr;

use anyhow::{Context, Result};
use ch01::{verbose, Container, Mechanism};
use clap::ValueEnum;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::ipam::{lease_address, Lease, GATEWAY, PREFIX_LEN};
use crate::netlink::Netlink;

/// The workshop's bridge, like Docker's docker0.
pub const BRIDGE: &str = "workshop0";

/// `--net`: how the container is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetMode {
    /// Its own network namespace, on the workshop0 bridge (the default).
    Bridge,
    /// Its own network namespace with only `lo`: no way out.
    None,
    /// The host's network namespace: no isolation at all.
    Host,
}

/// The network mechanism.
pub struct Network {
    mode: NetMode,
    lease: Option<Lease>,
    /// The veth pair: the host's end, and the container's end before it is eth0.
    host_end: String,
    container_end: String,
}

impl Network {
    pub fn new(mode: NetMode) -> Network {
        Network {
            mode,
            lease: None,
            host_end: String::new(),
            container_end: String::new(),
        }
    }
}

impl Mechanism for Network {
    fn name(&self) -> &'static str {
        "network"
    }

    fn clone_flags(&self) -> CloneFlags {
        match self.mode {
            NetMode::Host => CloneFlags::empty(),
            NetMode::Bridge | NetMode::None => CloneFlags::CLONE_NEWNET,
        }
    }

    fn prepare(&mut self, container: &Container) -> Result<()> {
        if self.mode != NetMode::Bridge {
            return Ok(());
        }
        let mut netlink = Netlink::open()?;
        ensure_bridge(&mut netlink)?;
        reclaim_stale_veths(&mut netlink)?;
        let lease = lease_address(&container.id)?;
        verbose::say(format_args!(
            "container {} gets the address {}",
            container.id, lease.address
        ));
        self.lease = Some(lease);
        // Interface names have at most 15 bytes: "veth" and 8 digits of the id.
        self.host_end = format!("veth{}", &container.id[..8]);
        self.container_end = format!("ceth{}", &container.id[..8]);
        create_veth_pair(&mut netlink, &self.host_end, &self.container_end)
    }

    fn parent_after_spawn(&mut self, _container: &Container, child: Pid) -> Result<()> {
        if self.mode == NetMode::Bridge {
            // The child waits at sync point 1 until its end of the cable is in.
            Netlink::open()?.move_to_netns_of(&self.container_end, child.as_raw())?;
        }
        Ok(())
    }

    fn child_before_exec(&mut self, _container: &Container) -> Result<()> {
        match (self.mode, &self.lease) {
            (NetMode::Host, _) => Ok(()),
            (NetMode::None, _) => Netlink::open()?.set_up("lo"),
            (NetMode::Bridge, Some(lease)) => {
                configure_container_interface(&mut Netlink::open()?, &self.container_end, lease.address)
            }
            (NetMode::Bridge, None) => unreachable!("prepare leases an address"),
        }
    }

    fn cleanup(&mut self, _container: &Container) -> Result<()> {
        let mut result = Ok(());
        if !self.host_end.is_empty() {
            // Deleting one end deletes the pair (the container's end is gone with
            // its namespace already, if the container has ended).
            result = Netlink::open().and_then(|mut netlink| netlink.delete_link(&self.host_end));
        }
        if let Some(lease) = self.lease.take() {
            lease.release();
        }
        result
    }
}

/// Deletes the veth pairs of containers whose runtime is gone. Once one end is in
/// a container, the kernel deletes the pair with the container's namespace; but a
/// runtime killed between creating the pair and moving its end leaves both ends
/// here: vethXXXXXXXX and cethXXXXXXXX (the first 8 digits of the container's id).
/// Only such complete pairs of a container that is not running are removed.
fn reclaim_stale_veths(netlink: &mut Netlink) -> Result<()> {
    let running: Vec<String> = std::fs::read_dir(ch06::running::RUNNING_DIR)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let names = netlink.link_names()?;
    for name in &names {
        let Some(prefix) = name.strip_prefix("veth").filter(|p| p.len() == 8) else {
            continue;
        };
        let is_ours = names.contains(&format!("ceth{prefix}"));
        let alive = running
            .iter()
            .any(|id| id.starts_with(prefix) && ch06::running::is_running(id));
        if is_ours && !alive {
            ch01::message::print(format_args!(
                "workshop: removing the veth pair {name} left by an earlier run"
            ));
            netlink.delete_link(name)?;
        }
    }
    Ok(())
}

/// Creates the bridge with the gateway address, unless it is there already.
fn ensure_bridge(netlink: &mut Netlink) -> Result<()> {
    if netlink.link_index(BRIDGE)?.is_none() {
        // Another runtime may create it at the same moment: that is fine.
        if let Err(error) = netlink.create_bridge(BRIDGE) {
            if netlink.link_index(BRIDGE)?.is_none() {
                return Err(error);
            }
        }
    }
    netlink.add_address(BRIDGE, GATEWAY, PREFIX_LEN)?;
    netlink.set_up(BRIDGE)
}

// ANCHOR: create_veth_pair
/// Creates the veth pair `host_end` <-> `container_end`, plugs the host's end into
/// the bridge and sets it up. (The parent moves the other end into the container.)
pub fn create_veth_pair(netlink: &mut Netlink, host_end: &str, container_end: &str) -> Result<()> {
    // exercise(create_veth_pair): with `netlink`: create_veth(host_end,
    // container_end), then set_master(host_end, BRIDGE) (the bridge is like a
    // switch: its ports are the host ends of the veth pairs), then
    // set_up(host_end). Each is one `ip link` command.
    // hint: Three calls on `netlink`, like `ip link add HOST type veth peer name CTR`, `ip link set
    //       HOST master workshop0`, `ip link set HOST up`.
    // hint: `netlink.create_veth(host_end, container_end)?; netlink.set_master(host_end, BRIDGE)?;
    //       netlink.set_up(host_end)`
    netlink.create_veth(host_end, container_end)?;
    netlink.set_master(host_end, BRIDGE)?;
    netlink.set_up(host_end)
    // end exercise
}
// ANCHOR_END: create_veth_pair

// ANCHOR: configure_container_interface
/// In the container's network namespace: its end of the veth pair becomes eth0
/// with `address`, lo and eth0 come up, and the default route goes to the gateway.
pub fn configure_container_interface(netlink: &mut Netlink, container_end: &str, address: Ipv4Addr) -> Result<()> {
    // exercise(configure_container_interface): rename(container_end, "eth0"),
    // add_address("eth0", address, PREFIX_LEN), set_up("lo"), set_up("eth0"),
    // and add_default_route(GATEWAY). The order matters: an interface can only
    // be renamed while down, and a route needs its interface up.
    // hint: This runs with a netlink socket opened in the container's network namespace, so the
    //       names are the container's: the veth end is still called `container_end` there.
    // hint: Rename first (an interface can only be renamed while down):
    //       `netlink.rename(container_end, "eth0")?`, then `add_address("eth0", address,
    //       PREFIX_LEN)?`.
    // hint: Then `set_up("lo")?`, `set_up("eth0")?`, and last `add_default_route(GATEWAY)`: the
    //       kernel refuses a route through an interface that is down.
    netlink.rename(container_end, "eth0")?;
    netlink.add_address("eth0", address, PREFIX_LEN)?;
    netlink.set_up("lo")?;
    netlink.set_up("eth0")?;
    netlink.add_default_route(GATEWAY).context("adding the default route")
    // end exercise
}
// ANCHOR_END: configure_container_interface
