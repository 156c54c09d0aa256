//! uid and gid maps (user_namespaces(7)): which of the host's ids a user namespace's
//! ids stand for. The parent writes them into /proc/PID/uid_map and gid_map, once,
//! while the child waits at sync point 1.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, Result};
use ch01::verbose;
use nix::unistd::Pid;

/// One range: the container's ids 0..count are the host's host_id..host_id+count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub host_id: u32,
    pub count: u32,
}

impl FromStr for IdMap {
    type Err = String;

    /// Parses `HOSTID:COUNT`, e.g. `100000:65536`.
    fn from_str(text: &str) -> Result<IdMap, String> {
        let usage = || format!("{text:?} is not HOSTID:COUNT (for example 100000:65536)");
        let (host, count) = text.split_once(':').ok_or_else(usage)?;
        let host_id: u32 = host.parse().map_err(|_| usage())?;
        let count: u32 = count.parse().map_err(|_| usage())?;
        if host_id == 0 {
            return Err(
                "HOSTID 0 would make the container's root the host's root: pick an unused range \
                        such as 100000:65536"
                    .into(),
            );
        }
        if count == 0 || host_id.checked_add(count).is_none() {
            return Err(format!(
                "COUNT must be at least 1, and HOSTID+COUNT fit in 32 bits (got {text})"
            ));
        }
        Ok(IdMap { host_id, count })
    }
}

impl fmt::Display for IdMap {
    /// The line the kernel expects in uid_map and gid_map: "ID-INSIDE ID-OUTSIDE COUNT".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "0 {} {}", self.host_id, self.count)
    }
}

impl IdMap {
    /// Whether the host id `id` is inside the range.
    pub fn contains_host_id(&self, id: u32) -> bool {
        id >= self.host_id && id - self.host_id < self.count
    }
}

// ANCHOR: write_id_maps
/// Writes `map` as the uid map and the gid map of the process `child`.
pub fn write_id_maps(child: Pid, map: IdMap) -> Result<()> {
    // exercise(write_id_maps): write `map.to_string()` (one line, "0 HOSTID COUNT")
    // to /proc/CHILD/uid_map, then to /proc/CHILD/gid_map. A process without
    // CAP_SETGID must first write "deny" to /proc/CHILD/setgroups (see
    // `setgroups_must_be_denied`). Each file can be written only once. Narrate
    // each write with `verbose::say`.
    // hint: `man 7 user_namespaces`, "User and group ID mappings": the files are
    //       /proc/CHILD/uid_map and /proc/CHILD/gid_map; `write_proc_file` writes one of them in a
    //       single write(2).
    // hint: Order: uid_map, then (if `setgroups_must_be_denied()?`) "deny" to
    //       /proc/CHILD/setgroups, then gid_map: an unprivileged writer may not write gid_map while
    //       setgroups is allowed.
    // hint: Pitfall: each map file can be written once, in one write: write the whole
    //       `map.to_string()` line, and never retry.
    let proc_dir = format!("/proc/{child}");
    write_proc_file(&format!("{proc_dir}/uid_map"), &map.to_string())?;
    if setgroups_must_be_denied()? {
        write_proc_file(&format!("{proc_dir}/setgroups"), "deny")?;
    }
    write_proc_file(&format!("{proc_dir}/gid_map"), &map.to_string())?;
    Ok(())
    // end exercise
}
// ANCHOR_END: write_id_maps

/// Writes one /proc file, narrated, with an error that says what usually went wrong.
pub fn write_proc_file(path: &str, content: &str) -> Result<()> {
    verbose::say(format_args!("write({path:?}, {:?})", content.trim_end()));
    std::fs::write(path, content).with_context(|| {
        format!(
            "writing {:?} to {path} failed (a map can be written only once, its ranges must not overlap, \
             and the writer needs CAP_SETUID/CAP_SETGID over the host ids it maps)",
            content.trim_end()
        )
    })
}

/// Since Linux 3.19, a writer without CAP_SETGID in its own user namespace may write
/// a gid map only after denying setgroups(2) to the child (user_namespaces(7)):
/// otherwise the child could drop a group the host uses to keep it out of files.
/// The runtime runs as root, which has CAP_SETGID; a rootless runtime would not.
pub fn setgroups_must_be_denied() -> Result<bool> {
    const CAP_SETGID: u32 = 6;
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .context("no CapEff line in /proc/self/status")?;
    Ok(effective & (1 << CAP_SETGID) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_parse_and_print_as_the_kernel_wants() {
        let map: IdMap = "100000:65536".parse().unwrap();
        assert_eq!(
            map,
            IdMap {
                host_id: 100000,
                count: 65536
            }
        );
        assert_eq!(map.to_string(), "0 100000 65536\n");
        assert!(map.contains_host_id(100000) && map.contains_host_id(165535) && !map.contains_host_id(165536));
    }

    #[test]
    fn bad_maps_are_refused() {
        for bad in ["", "100000", "x:1", "1:x", "0:65536", "100000:0", "4294967295:2"] {
            assert!(bad.parse::<IdMap>().is_err(), "{bad}");
        }
    }
}
