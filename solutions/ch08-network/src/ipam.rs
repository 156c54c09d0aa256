//! IP address management: each container on the bridge gets an address of the
//! workshop's subnet no other running container has. A lease is a file named after
//! the address, holding the container's id, made with O_CREAT | O_EXCL: the kernel
//! lets exactly one of two runtimes starting at the same moment create it.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ch01::verbose;
use ch06::running::is_running;
use nix::fcntl::{Flock, FlockArg};

/// Where the leases are: one file per address in use.
pub const LEASES_DIR: &str = "/run/workshop/leases";

/// The workshop's subnet, 10.88.0.0/24: the bridge (the gateway) is .1, containers
/// get .2 to .254.
pub const SUBNET: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 0);
pub const PREFIX_LEN: u8 = 24;
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);

/// An address leased to a container; the lease file goes when it is released.
#[derive(Debug)]
pub struct Lease {
    pub address: Ipv4Addr,
    file: PathBuf,
}

impl Lease {
    /// Gives the address back.
    pub fn release(self) {
        verbose::say(format_args!("release the lease {}", self.file.display()));
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Leases a free address of the subnet to container `id`.
pub fn lease_address(id: &str) -> Result<Lease> {
    let dir = Path::new(LEASES_DIR);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {LEASES_DIR}"))?;
    // One runtime at a time looks at the leases: O_EXCL alone makes creating a
    // lease safe, but not taking over a stale one (two runtimes could both see it
    // stale, and the second would remove the first's new lease).
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| errno)
        .context("locking the leases")?;
    reclaim_stale_leases(dir);
    for host in 2..=254u8 {
        let address = Ipv4Addr::new(SUBNET.octets()[0], SUBNET.octets()[1], SUBNET.octets()[2], host);
        if let Some(file) = try_lease(dir, address, id)? {
            return Ok(Lease { address, file });
        }
    }
    bail!(
        "no free address left in {SUBNET}/{PREFIX_LEN}: {} containers are running",
        253
    )
}

/// Removes the leases of containers that are no longer running: a runtime killed
/// outright cannot release its own, and the next run reclaims them all, not only
/// the address it takes. Called under the lock (so an empty lease is a crash's).
fn reclaim_stale_leases(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue; // the lock
        }
        let holder = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if holder.trim().is_empty() || !is_running(holder.trim()) {
            ch01::message::print(format_args!(
                "workshop: removing the lease {} left by an earlier run",
                entry.path().display()
            ));
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

// ANCHOR: try_lease
/// Tries to lease `address` to container `id`: returns the lease file, or None if
/// another running container holds it. A lease whose container is no longer
/// running (its runtime crashed) is taken over.
pub fn try_lease(dir: &Path, address: Ipv4Addr, id: &str) -> Result<Option<PathBuf>> {
    // exercise(try_lease): create dir/ADDRESS with OpenOptions::new().write(true)
    // .create_new(true) (that is O_CREAT | O_EXCL: it fails with AlreadyExists if
    // the file exists, atomically) and write `id` into it. If it already exists,
    // read the id in it: if `is_running(that id)`, the address is taken (None);
    // else (a crashed run's lease, or an empty one) remove the stale file and try
    // once more. Narrate with `verbose::say`.
    // hint: `OpenOptions::new().write(true).create_new(true).open(&file)` is O_CREAT | O_EXCL (`man
    //       2 open`): exactly one of two racing containers creates the file.
    // hint: On `Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists`: read the holder's id
    //       (`std::fs::read_to_string`); if it is non-empty and `is_running(id.trim())`, return
    //       `Ok(None)`.
    // hint: Otherwise the lease is stale: `std::fs::remove_file(&file)` and go round once more (a
    //       `for _ in 0..2` loop), so a second failure returns `Ok(None)` rather than looping
    //       forever.
    let file = dir.join(address.to_string());
    for _ in 0..2 {
        match OpenOptions::new().write(true).create_new(true).open(&file) {
            Ok(mut lease) => {
                lease.write_all(id.as_bytes())?;
                verbose::say(format_args!(
                    "lease {address} for {id} (created {} with O_EXCL)",
                    file.display()
                ));
                return Ok(Some(file));
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&file).unwrap_or_default();
                // Leases are made under the lock, so an empty one is a crash's.
                if !holder.trim().is_empty() && is_running(holder.trim()) {
                    return Ok(None);
                }
                verbose::say(format_args!(
                    "{address} was leased to {holder}, which is gone: taking it over"
                ));
                let _ = std::fs::remove_file(&file);
            }
            Err(error) => return Err(error).with_context(|| format!("creating {}", file.display())),
        }
    }
    Ok(None)
    // end exercise
}
// ANCHOR_END: try_lease

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_taken_once_and_a_dead_holder_loses_it() {
        let dir = std::env::temp_dir().join(format!("workshop-ipam-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let address = Ipv4Addr::new(10, 88, 0, 7);
        // "ffffffffffff" is not running: its lease is stale and taken over.
        std::fs::write(dir.join(address.to_string()), "ffffffffffff").unwrap();
        let first = try_lease(&dir, address, "aaaaaaaaaaaa").unwrap();
        assert_eq!(first, Some(dir.join("10.88.0.7")));
        assert_eq!(std::fs::read_to_string(dir.join("10.88.0.7")).unwrap(), "aaaaaaaaaaaa");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
