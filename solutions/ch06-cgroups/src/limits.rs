//! The limits, in Docker's spelling (`docker run --memory 64m --cpus 0.5 ...`), and
//! the cgroup files they become in each cgroup version.

use anyhow::{bail, Result};
use clap::Args;

/// This chapter's flags.
#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Memory limit, in bytes or with a unit: 64m, 1g, 512k. Over it, the kernel's
    /// OOM killer ends the container (exit status 137).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,

    /// How many CPUs' worth of time the container may use, e.g. 0.5 or 1.5.
    #[arg(long, value_name = "CPUS", value_parser = parse_cpus)]
    pub cpus: Option<f64>,

    /// Relative CPU weight against other containers when the CPUs are busy
    /// (2 to 262144; the default everyone has is 1024).
    #[arg(long, value_name = "SHARES", value_parser = clap::value_parser!(u64).range(2..=262144))]
    pub cpu_shares: Option<u64>,

    /// Most processes (and threads) the container may have at once: a fork bomb stops there.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pids_limit: Option<u64>,

    /// The CPUs the container may run on, e.g. 0 or 0-1 or 0,2.
    #[arg(long, value_name = "CPUS", value_parser = parse_cpuset)]
    pub cpuset_cpus: Option<String>,

    /// Print the container's peak memory and CPU time when it ends.
    #[arg(long)]
    pub stats: bool,
}

/// The cgroup version whose file names to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// One limit as a cgroup file: the controller it belongs to, the file, the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitFile {
    pub controller: &'static str,
    pub file: &'static str,
    pub value: String,
}

/// The scheduler's period for --cpus: quota is measured per 100 ms, as Docker does.
pub const CPU_PERIOD_US: u64 = 100_000;

// ANCHOR: limit_files
/// The files to write for `limits`, in cgroup `version`.
pub fn limit_files(limits: &LimitArgs, version: Version) -> Vec<LimitFile> {
    // exercise(limit_files): for each limit that is set, add the file(s) and
    // value(s) of that cgroup version (see cgroups(7) and the kernel's
    // Documentation/admin-guide/cgroup-v2.rst):
    //   --memory N        v2: memory.max = N and memory.swap.max = 0
    //                     v1: memory.limit_in_bytes = N
    //   --cpus C          v2: cpu.max = "QUOTA PERIOD"
    //                     v1: cpu.cfs_period_us = PERIOD, cpu.cfs_quota_us = QUOTA
    //                     with PERIOD = CPU_PERIOD_US and QUOTA = C * PERIOD
    //   --cpu-shares S    v2: cpu.weight = shares_to_weight(S)   v1: cpu.shares = S
    //   --pids-limit N    pids.max = N (both)
    //   --cpuset-cpus L   cpuset.cpus = L (both)
    // hint: Push one `LimitFile { controller, file, value }` per file; a small closure
    //       `add(controller, file, value)` keeps it short. Look at each `Option` of `limits` with
    //       `if let Some(...)`.
    // hint: `match version` only where the files differ: memory (memory.max + memory.swap.max = "0"
    //       vs memory.limit_in_bytes), cpu (cpu.max vs cfs_period_us + cfs_quota_us), shares
    //       (cpu.weight vs cpu.shares).
    // hint: For --cpus: `let quota = (cpus * CPU_PERIOD_US as f64).round() as u64;` and on v2 the
    //       value is `format!("{quota} {CPU_PERIOD_US}")`; on v1 write the period before the quota.
    let mut files = Vec::new();
    let mut add = |controller, file, value: String| {
        files.push(LimitFile {
            controller,
            file,
            value,
        })
    };
    if let Some(bytes) = limits.memory {
        match version {
            Version::V2 => {
                add("memory", "memory.max", bytes.to_string());
                add("memory", "memory.swap.max", "0".to_string());
            }
            Version::V1 => add("memory", "memory.limit_in_bytes", bytes.to_string()),
        }
    }
    if let Some(cpus) = limits.cpus {
        let quota = (cpus * CPU_PERIOD_US as f64).round() as u64;
        match version {
            Version::V2 => add("cpu", "cpu.max", format!("{quota} {CPU_PERIOD_US}")),
            Version::V1 => {
                add("cpu", "cpu.cfs_period_us", CPU_PERIOD_US.to_string());
                add("cpu", "cpu.cfs_quota_us", quota.to_string());
            }
        }
    }
    if let Some(shares) = limits.cpu_shares {
        match version {
            Version::V2 => add("cpu", "cpu.weight", shares_to_weight(shares).to_string()),
            Version::V1 => add("cpu", "cpu.shares", shares.to_string()),
        }
    }
    if let Some(pids) = limits.pids_limit {
        add("pids", "pids.max", pids.to_string());
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        add("cpuset", "cpuset.cpus", cpus.clone());
    }
    files
    // end exercise
}
// ANCHOR_END: limit_files

/// v1's cpu.shares (2..262144, default 1024) as v2's cpu.weight (1..10000, default
/// 100), with the linear mapping runc long used. (It sends 1024 to 39, not 100;
/// systemd maps shares * 100 / 1024, and recent runc and crun use a curve that
/// sends 1024 to about 100.)
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + (shares.clamp(2, 262144) - 2) * 9999 / 262142
}

/// "64m" -> 67108864. Units are powers of 1024, as Docker reads them.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (number, unit) = match lower.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let multiplier: u64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(format!("{text:?}: use a number of bytes with k, m or g, like 64m")),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: use a number of bytes with k, m or g, like 64m"))?;
    let bytes = value
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if bytes < 6 << 20 {
        return Err(format!(
            "{text:?} is below 6m: too little for any program to start (Docker's minimum too)"
        ));
    }
    Ok(bytes)
}

fn parse_cpus(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(cpus) if (0.01..=1024.0).contains(&cpus) => Ok(cpus),
        _ => Err(format!("{text:?}: give a number of CPUs like 0.5 or 2")),
    }
}

fn parse_cpuset(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.split(',').all(|part| {
            let mut bounds = part.splitn(2, '-');
            let first = bounds.next().map(|n| n.parse::<u32>().is_ok()).unwrap_or(false);
            let second = bounds.next().map(|n| n.parse::<u32>().is_ok()).unwrap_or(true);
            first && second
        });
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?}: give CPU numbers like 0, 0-1 or 0,2"))
    }
}

/// Checks a limit set against this machine before anything is created.
pub fn check_against_machine(limits: &LimitArgs) -> Result<()> {
    if let Some(cpus) = limits.cpus {
        let available = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
        if cpus > available {
            bail!("--cpus {cpus}: this machine has only {available} CPUs");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("8388608"), Ok(8 << 20));
        assert!(parse_size("1m").is_err());
        assert!(parse_size("12x").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn shares_become_weights() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
    }

    #[test]
    fn cpusets_are_checked() {
        for good in ["0", "0-1", "0,2", "1-3,5"] {
            assert!(parse_cpuset(good).is_ok(), "{good}");
        }
        for bad in ["", "a", "0-", "-1", "0,,1"] {
            assert!(parse_cpuset(bad).is_err(), "{bad}");
        }
    }
}
