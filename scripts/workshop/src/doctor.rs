//! `cargo workshop doctor`: can this machine run the workshop? One row per check,
//! as a table to paste into a help request, then exactly what to fix. Exits 1 when
//! a check fails (a warning alone does not).
//!
//! The kernel trials (namespaces, cgroups, overlayfs, veth; src/trials.rs) need
//! root: run as another user, the doctor runs them through `sudo -n` (the class VM
//! allows that without a password), as `workshop doctor --trials`, and reads their
//! rows back. Everything is offline: the only connection it makes is to the local
//! registry, on this machine.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use ch06::layout::Layout;

use crate::trials::{self, CONTROLLERS};
use crate::workspace::Workspace;

const DEFAULT_ROOTFS: &str = "/var/lib/workshop/busybox";
const DEFAULT_REGISTRY: &str = "localhost:5000";
/// The tools the book's commands and the chapters' demos use inside the rootfs.
const ROOTFS_TOOLS: [&str; 10] = [
    "sh", "ls", "ps", "cat", "echo", "hostname", "id", "mount", "sleep", "ip",
];
const REGISTRY_TOOLS: [(&str, &str); 3] = [
    ("docker-registry", "docker-registry"),
    ("skopeo", "skopeo"),
    ("umoci", "umoci"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One row of the doctor's table.
#[derive(Debug, Clone)]
pub struct Row {
    pub check: String,
    pub status: Status,
    pub detail: String,
    /// What to do about it (for warnings and failures).
    pub fix: String,
}

impl Row {
    pub fn ok(check: &str, detail: &str) -> Row {
        Row::new(check, Status::Ok, detail, "")
    }
    pub fn warn(check: &str, detail: &str, fix: &str) -> Row {
        Row::new(check, Status::Warn, detail, fix)
    }
    pub fn fail(check: &str, detail: &str, fix: &str) -> Row {
        Row::new(check, Status::Fail, detail, fix)
    }
    fn new(check: &str, status: Status, detail: &str, fix: &str) -> Row {
        Row {
            check: check.to_string(),
            status,
            detail: detail.replace(['\t', '\n'], " "),
            fix: fix.replace(['\t', '\n'], " "),
        }
    }

    /// One line, tab-separated: how `doctor --trials` hands rows to a doctor that
    /// is not root.
    fn to_line(&self) -> String {
        let status = match self.status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        format!("{}\t{status}\t{}\t{}", self.check, self.detail, self.fix)
    }

    fn from_line(line: &str) -> Option<Row> {
        let mut fields = line.split('\t');
        let (check, status, detail, fix) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
        let status = match status {
            "ok" => Status::Ok,
            "warn" => Status::Warn,
            _ => Status::Fail,
        };
        Some(Row::new(check, status, detail, fix))
    }
}

/// `doctor --trials`: the kernel trials only, one tab-separated row a line.
pub fn print_trials() -> bool {
    let rows = trials::all();
    for row in &rows {
        println!("{}", row.to_line());
    }
    rows.iter().all(|r| r.status != Status::Fail)
}

/// Runs every check and prints the table. Returns false when a check failed.
pub fn doctor(workspace: &Workspace) -> Result<bool> {
    let mut rows = vec![kernel()];
    let (privileges, root) = privileges();
    rows.push(privileges);
    rows.extend(cgroups());
    rows.extend(kernel_trials(root));
    rows.extend(rootfs());
    rows.extend(grader_needs());
    rows.extend(registry_tools());
    rows.push(local_registry());
    rows.extend(disk_space(workspace));
    rows.push(rust());
    print!("{}", table(&rows));
    Ok(rows.iter().all(|r| r.status != Status::Fail))
}

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let width = rows.iter().map(|r| r.check.len()).max().unwrap_or(5).max(5);
    let _ = writeln!(out, "workshop doctor: can this machine run the workshop?\n");
    let _ = writeln!(out, "{:<width$}  {:<6}  DETAIL", "CHECK", "STATUS");
    for row in rows {
        let status = match row.status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        let _ = writeln!(out, "{:<width$}  {status:<6}  {}", row.check, row.detail);
    }
    let to_fix: Vec<&Row> = rows.iter().filter(|r| r.status != Status::Ok).collect();
    let failed = rows.iter().filter(|r| r.status == Status::Fail).count();
    let warned = to_fix.len() - failed;
    let _ = writeln!(out);
    if to_fix.is_empty() {
        let _ = writeln!(out, "Everything the workshop needs is here.");
    } else {
        let _ = writeln!(out, "To fix ({failed} failed, {warned} warning(s)):");
        for row in to_fix {
            let label = if row.status == Status::Fail { "FAIL" } else { "warn" };
            let _ = writeln!(out, "  [{label}] {}: {}", row.check, row.fix);
        }
        let _ = writeln!(
            out,
            "\n`sudo scripts/provision.sh` installs and prepares everything the workshop uses; \
             the book's Troubleshooting page has more."
        );
    }
    out
}

fn kernel() -> Row {
    let uname = nix::sys::utsname::uname();
    let (release, machine) = match &uname {
        Ok(u) => (
            u.release().to_string_lossy().into_owned(),
            u.machine().to_string_lossy().into_owned(),
        ),
        Err(_) => (String::new(), String::new()),
    };
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u32>().ok());
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    let detail = format!("Linux {release} ({machine})");
    if version >= (5, 10) {
        Row::ok("kernel", &detail)
    } else {
        Row::warn(
            "kernel",
            &format!("{detail}: older than 5.10"),
            "the workshop is made for Linux 5.10 or newer (Debian 12 has 6.1, Ubuntu 24.04 has 6.8): \
             expect surprises, or use the class VM",
        )
    }
}

/// Root, or sudo: the runtimes need root, and `cargo run`/`cargo test` use sudo
/// when you are not (scripts/sudo-runner). Also says whether the trials can run.
fn privileges() -> (Row, bool) {
    let check = "root or sudo";
    if nix::unistd::geteuid().is_root() {
        return (Row::ok(check, "running as root"), true);
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "you".to_string());
    let sudo_works = Command::new("sudo")
        .args(["-n", "true"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if sudo_works {
        (
            Row::ok(check, &format!("{user}, with sudo (no password needed)")),
            false,
        )
    } else if Command::new("sudo").arg("--version").output().is_ok() {
        (
            Row::warn(
                check,
                &format!("{user}: sudo asks for a password"),
                "cargo run/test will ask for your password (fine); for the doctor's kernel trials run \
                 `sudo -v` first, then the doctor again",
            ),
            false,
        )
    } else {
        (
            Row::fail(
                check,
                &format!("{user} is not root and sudo is not installed"),
                "install sudo and allow your user to use it, or work as root",
            ),
            false,
        )
    }
}

/// The trials, here (as root) or through `sudo -n`.
fn kernel_trials(root: bool) -> Vec<Row> {
    if root {
        return trials::all();
    }
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("workshop"));
    let output = Command::new("sudo")
        .arg("-n")
        .arg("--preserve-env=WORKSHOP_ROOT,CARGO_TARGET_DIR")
        .arg(me)
        .args(["doctor", "--trials"])
        .output();
    let rows: Vec<Row> = match &output {
        Ok(output) => String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(Row::from_line)
            .collect(),
        Err(_) => Vec::new(),
    };
    if rows.is_empty() {
        return vec![Row::fail(
            "kernel trials",
            "not run: they need root, and `sudo -n` did not work",
            "run `sudo -v` (it asks for your password once), then the doctor again; or run it as root",
        )];
    }
    rows
}

fn cgroups() -> Vec<Row> {
    let layout = match Layout::detect() {
        Ok(layout) => layout,
        Err(error) => return vec![Row::fail("cgroup mode", &format!("{error:#}"), "is /proc mounted?")],
    };
    let mode = match layout.kind() {
        "unified" => format!("v2 (unified, at {})", shown_opt(&layout.v2)),
        "hybrid" => format!(
            "hybrid (v1 controllers, and v2 at {} with {})",
            shown_opt(&layout.v2),
            if layout.v2_controllers.is_empty() {
                "no controller".to_string()
            } else {
                layout.v2_controllers.join(", ")
            }
        ),
        _ => "v1 (legacy)".to_string(),
    };
    let mode_row = if layout.v2.is_none() && layout.v1.is_empty() {
        Row::fail(
            "cgroup mode",
            "no cgroup filesystem is mounted",
            "mount cgroup2 on /sys/fs/cgroup (systemd does at boot)",
        )
    } else {
        Row::ok("cgroup mode", &mode)
    };
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for controller in CONTROLLERS {
        match layout.hierarchy_for(controller) {
            Some((version, _)) => found.push(format!("{controller} ({version:?})").to_lowercase()),
            None => missing.push(controller),
        }
    }
    let controllers_row = if missing.is_empty() {
        Row::ok("cgroup controllers", &found.join(", "))
    } else {
        let fix = if layout.kind() == "unified" {
            // systemd decides what the root hands down; ask it (a drop-in), do not
            // write cgroup.subtree_control behind its back.
            "`sudo scripts/delegate-cgroups.sh` (provisioning runs it) asks systemd to hand them down to \
             login sessions (chapter 06's limits need them)"
                .to_string()
        } else if layout.v2.is_some() {
            missing
                .iter()
                .map(|c| {
                    format!(
                        "`echo +{c} | sudo tee {}/cgroup.subtree_control`",
                        shown_opt(&layout.v2)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
                + " (chapter 06's limits need them)"
        } else {
            "enable them on the kernel command line (e.g. cgroup_enable=memory), or use the class VM".to_string()
        };
        Row::fail(
            "cgroup controllers",
            &format!("missing: {}; found: {}", missing.join(", "), found.join(", ")),
            &fix,
        )
    };
    vec![mode_row, controllers_row]
}

fn shown_opt(path: &Option<PathBuf>) -> String {
    path.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
}

/// The rootfs the book's commands use (WORKSHOP_ROOTFS overrides its place).
fn rootfs() -> Vec<Row> {
    let rootfs = std::env::var_os("WORKSHOP_ROOTFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOTFS));
    let fix = format!(
        "`sudo scripts/make-rootfs.sh {}` builds it (`sudo scripts/provision.sh` does too)",
        rootfs.display()
    );
    let busybox = rootfs.join("bin/busybox");
    if !busybox.is_file() {
        return vec![Row::fail(
            "test rootfs",
            &format!("{} is missing", busybox.display()),
            &fix,
        )];
    }
    let mut rows = vec![Row::ok(
        "test rootfs",
        &format!(
            "{} (busybox{})",
            rootfs.display(),
            if is_static(&busybox) { ", static" } else { "" }
        ),
    )];
    let missing: Vec<&str> = ROOTFS_TOOLS
        .iter()
        .copied()
        .filter(|tool| {
            !["bin", "sbin", "usr/bin", "usr/sbin"]
                .iter()
                .any(|d| rootfs.join(d).join(tool).exists())
        })
        .collect();
    rows.push(if missing.is_empty() {
        Row::ok("rootfs tools", &ROOTFS_TOOLS.join(" "))
    } else {
        Row::fail(
            "rootfs tools",
            &format!("missing in {}: {}", rootfs.display(), missing.join(" ")),
            &fix,
        )
    });
    rows
}

/// What the grader needs to build its own rootfs and its static probe.
fn grader_needs() -> Vec<Row> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists());
    let busybox_row = match busybox {
        Some(path) if is_static(path) => Row::ok("host busybox", &format!("{} (static)", path.display())),
        Some(path) => Row::fail(
            "host busybox",
            &format!(
                "{} is not static: it cannot run in a rootfs without a C library",
                path.display()
            ),
            "`sudo apt install busybox-static` (the grader copies it into its test rootfs)",
        ),
        None => Row::fail(
            "host busybox",
            "not installed",
            "`sudo apt install busybox-static` (the grader copies it into its test rootfs)",
        ),
    };
    let libc = Command::new("cc").arg("-print-file-name=libc.a").output();
    let libc_row = match libc {
        Ok(output) => {
            let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
            if let Some(path) = path.canonicalize().ok().filter(|_| path.is_absolute()) {
                Row::ok("static C library", &path.display().to_string())
            } else {
                Row::fail(
                    "static C library",
                    "libc.a not found",
                    "`sudo apt install libc6-dev` (the grader's probe is linked statically)",
                )
            }
        }
        Err(_) => Row::fail(
            "static C library",
            "no C compiler (cc) on PATH",
            "`sudo apt install build-essential libc6-dev`",
        ),
    };
    vec![busybox_row, libc_row]
}

fn registry_tools() -> Vec<Row> {
    REGISTRY_TOOLS
        .iter()
        .map(|(tool, package)| match find_on_path(tool) {
            Some(path) => Row::ok(tool, &path.display().to_string()),
            None => Row::fail(
                tool,
                "not found on PATH (chapters 09-10 and their grader need it)",
                &format!("`sudo apt install {package}`"),
            ),
        })
        .collect()
}

/// The registry the book's image commands pull from, on this machine. The grader
/// starts registries of its own, so this is only a warning.
fn local_registry() -> Row {
    let check = "local registry";
    let registry = std::env::var("WORKSHOP_REGISTRY").unwrap_or_else(|_| DEFAULT_REGISTRY.to_string());
    let fix = format!(
        "`sudo scripts/class-registry.sh` starts it (without a service manager: `sudo docker-registry serve \
         /etc/workshop/registry.yml &`), then `sudo scripts/preload-images.sh` pushes the class images \
         to {registry}"
    );
    let addresses: Vec<_> = registry
        .to_socket_addrs()
        .map(|all| all.filter(|a| a.ip().is_loopback()).collect())
        .unwrap_or_default();
    if addresses.is_empty() {
        return Row::warn(check, &format!("{registry} is not an address on this machine"), &fix);
    }
    let answer = (|| -> std::io::Result<String> {
        // Each of the name's addresses in turn, as a client does: "localhost" is
        // often ::1 first, and the class registry listens on 127.0.0.1 only.
        let mut refused = None;
        let mut stream = None;
        for address in &addresses {
            match TcpStream::connect_timeout(address, Duration::from_secs(2)) {
                Ok(connected) => {
                    stream = Some(connected);
                    break;
                }
                Err(error) => refused = Some(error),
            }
        }
        let Some(mut stream) = stream else {
            return Err(refused.expect("at least one address was tried"));
        };
        stream.set_read_timeout(Some(Duration::from_secs(3)))?;
        write!(
            stream,
            "GET /v2/workshop/busybox/tags/list HTTP/1.0\r\nHost: {registry}\r\n\r\n"
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    })();
    match answer {
        Err(error) => Row::warn(
            check,
            &format!("nothing answers on {registry} ({error}); the book's image commands pull from it"),
            &fix,
        ),
        Ok(answer) if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") => {
            Row::ok(check, &format!("{registry} serves workshop/busybox"))
        }
        Ok(answer) if answer.lines().next().is_some_and(|status| status.contains(" 401 ")) => Row::warn(
            check,
            &format!("{registry} asks for a password (401): Debian's docker-registry package configures htpasswd auth"),
            &fix,
        ),
        Ok(answer) => Row::warn(
            check,
            &format!(
                "{registry} answers ({}) but has no workshop/busybox",
                answer.lines().next().unwrap_or("").trim()
            ),
            &format!("`sudo scripts/preload-images.sh` pushes the class images to {registry}"),
        ),
    }
}

/// Free space where builds go (target/), where images and containers go
/// (/var/lib/workshop) and where the grader's sandboxes go (/tmp).
fn disk_space(workspace: &Workspace) -> Vec<Row> {
    let target = workspace.state_dir.parent().unwrap_or(&workspace.root).to_path_buf();
    let places = [
        ("disk: target/", target, 2048),
        ("disk: /var/lib/workshop", PathBuf::from("/var/lib/workshop"), 512),
        ("disk: temp dir", std::env::temp_dir(), 512),
    ];
    places
        .into_iter()
        .map(|(check, path, needed_mib)| {
            // The nearest existing directory holds the filesystem it will be on.
            let existing = path.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/"));
            match nix::sys::statvfs::statvfs(existing) {
                Ok(stats) => {
                    let free_mib = stats.blocks_available() * stats.fragment_size() / (1024 * 1024);
                    let detail = format!("{} MiB free on {}", free_mib, existing.display());
                    if free_mib >= needed_mib {
                        Row::ok(check, &detail)
                    } else {
                        Row::fail(
                            check,
                            &format!("{detail}, {needed_mib} MiB needed"),
                            &format!("free some space on the filesystem of {}", existing.display()),
                        )
                    }
                }
                Err(error) => Row::warn(check, &format!("statvfs {}: {error}", existing.display()), ""),
            }
        })
        .collect()
}

fn rust() -> Row {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    match Command::new(&cargo).arg("--version").output() {
        Ok(output) if output.status.success() => Row::ok("rust", String::from_utf8_lossy(&output.stdout).trim()),
        _ => Row::fail(
            "rust",
            "cargo not found",
            "install Rust with rustup (`sudo scripts/provision.sh` does)",
        ),
    }
}

fn find_on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Whether an ELF executable is static: it has no PT_INTERP program header (no
/// dynamic loader to ask for), see elf(5).
fn is_static(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 {
        return false; // not a 64-bit ELF file
    }
    let little = bytes[5] == 1;
    let read = |at: usize, size: usize| -> u64 {
        let mut value = 0u64;
        for i in 0..size {
            let byte = u64::from(bytes.get(at + i).copied().unwrap_or(0));
            value |= if little {
                byte << (8 * i)
            } else {
                byte << (8 * (size - 1 - i))
            };
        }
        value
    };
    let (phoff, phentsize, phnum) = (read(0x20, 8) as usize, read(0x36, 2) as usize, read(0x38, 2) as usize);
    const PT_INTERP: u64 = 3;
    !(0..phnum).any(|i| read(phoff + i * phentsize, 4) == PT_INTERP)
}
