//! Which of the book's commands the checker runs, and why it leaves the others.
//!
//! It runs what can run unattended on this machine and gives the same output every
//! time: the chapter runtimes of chapters 01-08 on the provisioned busybox rootfs,
//! `echo $?` after them, and read-only host commands shown next to them. It skips,
//! with a reason, everything else: interactive shells, containers that run until
//! they are killed from a second terminal, and commands that change the host.
//!
//! Two pages need an environment, which the checker makes itself and removes at
//! the end (environment.rs): chapter 08's runs go into the network namespace
//! `wk-demo` the page makes, and chapter 10's class section pulls from the
//! registry on `localhost:5000`. The registries and images that chapters 09 and
//! 10 build step by step with their own commands (on 127.0.0.1:5005, `$PORT`)
//! are not made by the checker: those commands are skipped.
//!
//! Chapter 06's outputs depend on the machine's cgroup layout (which files
//! `/sys/fs/cgroup` has, and where). Its page shows such a command once per
//! layout, each block marked with the version it was recorded on, by a comment on
//! the line above it (book.rs reads it):
//!
//! ```text
//! <!-- bookcheck: cgroup v2 -->      recorded where /sys/fs/cgroup is a cgroup2
//!                                    mount (`stat -fc %T` says cgroup2fs): unified
//! <!-- bookcheck: cgroup v1 -->      recorded where it is not: hybrid or legacy
//! ```
//!
//! A marked block runs only on a host of its version, and is skipped elsewhere
//! with the reason "recorded on cgroup v2, this host is hybrid" (listed with -v).
//! A block with no mark runs on every host: its output must be the same on all.
//! A `skip` comment above a marked block still skips it everywhere.
//!
//! `--page NAME` (chosen_pages) limits a run to some pages, e.g. chapter 06's in
//! a cgroup v2 guest: `scripts/check-book-commands.sh --page ch06-cgroups.md`.

use crate::book::{CgroupVersion, ShownCommand};
use regex::Regex;

/// The rootfs that provisioning makes; the commands the checker runs use it.
pub const ROOTFS: &str = "/var/lib/workshop/busybox";

/// Copies of it that pages make for a container whose root is host uid 100000
/// (`sudo cp -a ROOTFS COPY && sudo chown -R 100000:100000 COPY`). The checker
/// makes them the same way before it runs the commands, and removes them after.
pub const ROOTFS_COPIES: [&str; 3] = ["/tmp/busybox-100000", "/tmp/rootfs-100000", "/tmp/ch07-rootfs"];

/// The network namespace chapter 08 plays the host in (`ip netns add wk-demo`).
pub const DEMO_NETNS: &str = "wk-demo";

/// The class registry, with the images `scripts/preload-images.sh` pushes.
pub const CLASS_REGISTRY: &str = "localhost:5000";

/// What a command needs besides the rootfs: the checker makes it (environment.rs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Environment {
    /// The network namespace DEMO_NETNS, with its `lo` up.
    DemoNetns,
    /// A registry on CLASS_REGISTRY holding the class images.
    ClassRegistry,
}

/// This machine's cgroup layout, from what `/sys/fs/cgroup` is (environment.rs looks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HostCgroups {
    /// `/sys/fs/cgroup` is the cgroup v2 tree, with every controller.
    Unified,
    /// v1 hierarchies under `/sys/fs/cgroup`, and a v2 tree at `/sys/fs/cgroup/unified`.
    Hybrid,
    /// v1 hierarchies only.
    Legacy,
}

impl HostCgroups {
    pub fn version(self) -> CgroupVersion {
        match self {
            HostCgroups::Unified => CgroupVersion::V2,
            HostCgroups::Hybrid | HostCgroups::Legacy => CgroupVersion::V1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            HostCgroups::Unified => "unified",
            HostCgroups::Hybrid => "hybrid",
            HostCgroups::Legacy => "legacy",
        }
    }

    /// Why a block recorded on `version` cannot match here, if it cannot.
    fn cannot_show(self, recorded_on: CgroupVersion) -> Option<String> {
        (recorded_on != self.version()).then(|| format!("recorded on {recorded_on}, this host is {}", self.name()))
    }
}

/// The pages a run checks: every page of `available`, or those `asked` names
/// (`ch06-cgroups.md`, `ch06-cgroups` or `book/src/ch06-cgroups.md`), in the
/// order of `available`. A name that is no page is an error.
pub fn chosen_pages(available: &[String], asked: &[String]) -> Result<Vec<String>, String> {
    let mut wanted = Vec::new();
    for name in asked {
        let file = name.strip_prefix("book/src/").unwrap_or(name);
        let file = if file.ends_with(".md") {
            file.to_string()
        } else {
            format!("{file}.md")
        };
        if !available.contains(&file) {
            return Err(format!("--page {name}: there is no page book/src/{file}"));
        }
        wanted.push(file);
    }
    Ok(available
        .iter()
        .filter(|page| wanted.is_empty() || wanted.contains(page))
        .cloned()
        .collect())
}

/// What to do with one command of the book.
#[derive(Debug, Clone)]
pub enum Plan {
    Run(Run),
    Skip(String),
}

#[derive(Debug, Clone)]
pub struct Run {
    /// The command line bash runs, from the workspace's root directory.
    pub script: String,
    /// The chapter binary it needs built (`cargo build -p` of this package).
    pub package: Option<String>,
    /// The copy of the rootfs it runs on, if not the provisioned one.
    pub rootfs_copy: Option<&'static str>,
    /// The network namespace or registry it needs.
    pub environment: Option<Environment>,
    /// What the exit status must be.
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// The command is `echo $?`: its output is the exit status of the command before.
    EchoOfPrevious,
    /// The page prints the status itself (`...; echo $?`), or a later `$ echo $?` does.
    ShownInOutput,
    /// The page shows no status: a run that shows no error must succeed, one that
    /// shows the runtime's error must fail, and one that shows a command's error
    /// (the last command of a `sh -c` may still succeed) is not checked.
    Success,
    Failure,
    NotShown,
}

/// The plan for every command of one page, in order, on a host with these cgroups.
pub fn plan_page(commands: &[ShownCommand], host: HostCgroups) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let same_block = |other: &&ShownCommand| other.block == command.block;
        let block: Vec<&ShownCommand> = commands.iter().filter(same_block).collect();
        // The plans made so far for the commands before this one in its block.
        let earlier: Vec<(&ShownCommand, &Plan)> = commands[..i]
            .iter()
            .zip(&plans)
            .filter(|(other, _)| same_block(other))
            .collect();
        let next_is_echo_status = commands
            .get(i + 1)
            .is_some_and(|next| same_block(&next) && next.text.trim() == "echo $?");

        let plan = if let Some(reason) = &command.skip_reason {
            // The page says why, in a `<!-- bookcheck: skip ... -->` comment above the block.
            Plan::Skip(reason.clone())
        } else if let Some(reason) = command.recorded_on.and_then(|version| host.cannot_show(version)) {
            // `<!-- bookcheck: cgroup v1 -->` or `v2` above the block, and this host is the other.
            Plan::Skip(reason)
        } else if block.len() == 1 && command.output.is_empty() {
            skip("the page shows the command, not its output")
        } else if let Some((other, _)) = earlier
            .iter()
            .find(|(_, plan)| matches!(plan, Plan::Skip(r) if taints(r)))
        {
            Plan::Skip(format!(
                "follows `{}`, which was skipped and may set up what this shows",
                short(&other.text)
            ))
        } else if let Some((path, other)) = uses_what_a_skipped_command_changed(command, &commands[..i], &plans) {
            Plan::Skip(format!("uses {path}, which `{}` (skipped) changed", short(&other.text)))
        } else {
            let previous_ran = earlier.last().is_some_and(|(_, plan)| matches!(plan, Plan::Run(_)));
            let runtime_ran_before = earlier
                .iter()
                .any(|(other, plan)| is_runtime(&other.text) && matches!(plan, Plan::Run(_)));
            let anything_skipped_before = earlier.iter().any(|(_, plan)| matches!(plan, Plan::Skip(_)));
            plan_command(
                command,
                next_is_echo_status,
                previous_ran,
                runtime_ran_before && !anything_skipped_before,
            )
        };
        plans.push(plan);
    }
    plans
}

/// A skipped command that changed the host may have made or changed files that a
/// later command of the page (in any block) uses: the paths they both name, one
/// inside the other. The checker's own rootfs copies and /proc, /sys, /dev do not count.
fn uses_what_a_skipped_command_changed<'a>(
    command: &ShownCommand,
    earlier: &'a [ShownCommand],
    plans: &[Plan],
) -> Option<(String, &'a ShownCommand)> {
    let paths = |text: &str| -> Vec<String> {
        Regex::new(r"/[A-Za-z0-9._/-]+")
            .unwrap()
            .find_iter(text)
            .map(|m| m.as_str().trim_end_matches('/').to_string())
            .filter(|path| {
                let managed = [
                    ROOTFS,
                    "/proc",
                    "/sys",
                    "/dev",
                    "/tmp",
                    "/bin",
                    "/etc",
                    "/root",
                    "/var/lib/workshop",
                ]
                .iter()
                .chain(ROOTFS_COPIES.iter())
                .any(|dir| path == dir || path.starts_with(&format!("{ROOTFS}/")) || path.starts_with("/proc/"));
                // The checker's own network namespace (environment.rs) is not the host's.
                let checkers_netns = *path == format!("/run/netns/{DEMO_NETNS}");
                // Paths of one component (/srv, /home) are the container's own.
                !managed && !checkers_netns && path.matches('/').count() >= 2
            })
            .collect()
    };
    // A runtime's command line names host paths before its second `--`; after it, the
    // container's own.
    let host_side = match command.text.match_indices(" -- ").nth(1) {
        Some((at, _)) if is_runtime(&command.text) => &command.text[..at],
        _ => &command.text,
    };
    let used = paths(host_side);
    for (other, plan) in earlier.iter().zip(plans) {
        let Plan::Skip(reason) = plan else { continue };
        if !(reason.starts_with("may change the host") || reason.starts_with("--keep")) {
            continue;
        }
        let changed = paths(&format!("{}\n{}", other.text, other.output.join("\n")));
        for path in &used {
            let related = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}/"));
            if changed.iter().any(|c| related(path, c) || related(c, path)) {
                return Some((path.clone(), other));
            }
        }
    }
    None
}

fn plan_command(command: &ShownCommand, next_is_echo_status: bool, previous_ran: bool, after_a_runtime: bool) -> Plan {
    let text = command.text.trim();
    if Regex::new(r"127\.0\.0\.1:(5005|5007)|\$PORT|/tmp/ch(09|10)-")
        .unwrap()
        .is_match(text)
    {
        // Not "needs ...": the commands after it that do not use that registry still run.
        return skip(&format!(
            "uses the registry or images that {} builds with its own commands (the checker does not build them)",
            command.page
        ));
    }
    if let Some(plan) = plan_demo_netns_command(text) {
        return plan;
    }
    if text.contains("vagrant") {
        return skip("needs Vagrant");
    }
    if text.contains("docker") {
        return skip("needs Docker");
    }
    if text.contains("chNN") || text.contains('<') {
        return skip("a template, not a command");
    }
    if text == "echo $?" {
        return if previous_ran {
            Plan::Run(Run {
                script: String::new(),
                package: None,
                rootfs_copy: None,
                environment: None,
                status: Status::EchoOfPrevious,
            })
        } else {
            skip("the exit status of a command that was skipped")
        };
    }
    if text.starts_with("cargo test") {
        return skip("runs a grader (CI runs the tests itself)");
    }
    if makes_or_removes_a_rootfs_copy(text) {
        return skip("makes or removes a copy of the rootfs: the checker does it the same way");
    }
    if text.starts_with("cargo build") {
        return skip("a build (the checker builds what it runs)");
    }
    if is_runtime(text) {
        return plan_runtime(command, next_is_echo_status);
    }
    if text.starts_with("cargo") || text.starts_with("scripts/") {
        return skip("a workshop tool, not a container (it has its own tests)");
    }
    plan_host_command(text, after_a_runtime)
}

/// Does the command start a chapter runtime (`cargo run -p chNN-...`, or the built binary)?
fn is_runtime(text: &str) -> bool {
    Regex::new(r"^(sudo )?(cargo run .*-p ch\d\d-|.*target/debug/ch\d\d-)")
        .unwrap()
        .is_match(text.trim())
}

fn plan_runtime(command: &ShownCommand, next_is_echo_status: bool) -> Plan {
    let text = command.text.trim();
    // The forms the pages use: `cargo run`; the built binary with sudo, also in
    // chapter 08's namespace (nsenter) or in a network namespace of its own with
    // only `lo` (unshare, chapters 09-10: the image is pulled, the run is offline).
    let cargo_run = Regex::new(r"^cargo run (?:-q )?-p (ch\d\d-[a-z0-9-]+) -- (.*)$").unwrap();
    let in_demo_netns = Regex::new(&format!(
        r"^sudo nsenter --net=/run/netns/{DEMO_NETNS} target/debug/(ch\d\d-[a-z0-9-]+) (.*)$"
    ))
    .unwrap();
    let built = Regex::new(r"^sudo target/debug/(ch\d\d-[a-z0-9-]+) (.*)$").unwrap();
    let offline =
        Regex::new(r#"^sudo unshare --net sh -c "ip link set lo up; target/debug/(ch\d\d-[a-z0-9-]+) (.*)"( .*)?$"#)
            .unwrap();
    let (package, args, mut environment) = if let Some(parts) = cargo_run.captures(text) {
        (parts[1].to_string(), parts[2].to_string(), None)
    } else if let Some(parts) = in_demo_netns.captures(text) {
        (parts[1].to_string(), parts[2].to_string(), Some(Environment::DemoNetns))
    } else if let Some(parts) = built.captures(text).or_else(|| offline.captures(text)) {
        (parts[1].to_string(), parts[2].to_string(), None)
    } else if text.contains("nsenter") || text.contains("unshare") {
        return skip("not in a form the checker knows (nsenter into wk-demo, or unshare --net sh -c \"...\")");
    } else {
        return skip("not in the form `cargo run [-q] -p PACKAGE -- ARGS`");
    };
    let chapter: u32 = package[2..4].parse().unwrap();
    let args = args.as_str();
    // The student crates are unsolved: the page's outputs come from the reference
    // solution, except where the page shows what the unsolved crate does.
    let unsolved_shown = command.output.iter().any(|line| line.contains("not yet implemented"));
    let binary = if package.ends_with("-solution") || unsolved_shown {
        package.clone()
    } else {
        format!("{package}-solution")
    };
    let script = if offline.is_match(text) {
        text.strip_prefix("sudo ").unwrap().replace(&package, &binary)
    } else if environment == Some(Environment::DemoNetns) {
        format!("nsenter --net=/run/netns/{DEMO_NETNS} target/debug/{binary} {args}")
    } else {
        format!("target/debug/{binary} {args}")
    };
    if chapter >= 9 {
        // `images` of chapter 10's store, where the page shows only the class images.
        let class_images = chapter == 10
            && args == "images"
            && command
                .output
                .iter()
                .skip(1)
                .all(|line| line.starts_with(CLASS_REGISTRY));
        // A run with no image: help, or a reference refused before any request.
        let no_image = args.contains("--help")
            || command
                .output
                .iter()
                .any(|line| line.contains("is not an image reference"));
        if args.contains(CLASS_REGISTRY) || class_images {
            environment = Some(Environment::ClassRegistry);
        } else if !no_image {
            return skip("needs an image from a registry the checker does not start");
        }
        return Plan::Run(Run {
            script,
            package: Some(binary),
            rootfs_copy: None,
            environment,
            status: status_of(command, next_is_echo_status),
        });
    }
    let rootfs = Regex::new(r"--rootfs (\S+)").unwrap();
    let rootfs_copy = match rootfs.captures(args).map(|c| c[1].to_string()) {
        // The page's example of a missing rootfs runs too: it shows the error.
        Some(dir) if dir == ROOTFS || dir == "/nonexistent" => None,
        Some(dir) => match ROOTFS_COPIES.iter().find(|copy| **copy == dir) {
            Some(copy) => Some(*copy),
            None => {
                return skip(&format!(
                    "needs {dir}, a rootfs the page prepares with a change to the host"
                ))
            }
        },
        None => return skip("has no --rootfs"),
    };
    if args.contains("--keep") {
        return skip("--keep leaves the container's directory behind, for the page's next commands");
    }
    // The container's command: what follows the second `--`.
    let container_command = args.split_once(" -- ").map(|(_, c)| c.trim()).unwrap_or("");
    if Regex::new(r"^(/bin/)?(sh|bash)$").unwrap().is_match(container_command) {
        return skip("interactive: a shell with no -c");
    }
    let sleep = Regex::new(r"\bsleep (\d+)").unwrap();
    if let Some(seconds) = sleep.captures(container_command) {
        if seconds[1].parse::<u32>().unwrap() > 5 {
            return skip("runs until it is stopped from a second terminal");
        }
    }
    Plan::Run(Run {
        script,
        package: Some(binary),
        rootfs_copy,
        environment,
        status: status_of(command, next_is_echo_status),
    })
}

/// The exit status the page shows for a runtime's command.
fn status_of(command: &ShownCommand, next_is_echo_status: bool) -> Status {
    if command.text.trim().ends_with("echo $?") || next_is_echo_status {
        Status::ShownInOutput
    } else if command.output.iter().any(|line| shows_a_runtime_error(line)) {
        Status::Failure
    } else if command.output.iter().any(|line| shows_an_error(line)) {
        Status::NotShown
    } else {
        Status::Success
    }
}

/// Chapter 08's commands about its namespace: making and deleting it is the
/// checker's job; looking at it (`ip -n wk-demo ... addr`, `bridge -n wk-demo
/// link`) runs in the checker's own wk-demo.
fn plan_demo_netns_command(text: &str) -> Option<Plan> {
    let without_sudo = text.strip_prefix("sudo ").unwrap_or(text);
    if without_sudo.starts_with(&format!("ip netns add {DEMO_NETNS}")) {
        return Some(skip(
            "makes the network namespace wk-demo: the checker makes it itself, the same way",
        ));
    }
    if without_sudo == format!("ip netns delete {DEMO_NETNS}") {
        return Some(skip("removes wk-demo: the checker removes it itself, at the end"));
    }
    if without_sudo == "ip netns list" {
        return Some(skip(
            "lists this machine's network namespaces (wk-demo stays until the checker ends)",
        ));
    }
    let looks = Regex::new(&format!(
        r"^(ip -n {DEMO_NETNS} (-br )?(addr|link|route)|bridge -n {DEMO_NETNS} link)$"
    ))
    .unwrap();
    looks.is_match(without_sudo).then(|| {
        Plan::Run(Run {
            script: without_sudo.to_string(),
            package: None,
            rootfs_copy: None,
            environment: Some(Environment::DemoNetns),
            status: Status::Success,
        })
    })
}

/// Host commands: only those that read, after a runtime the checker ran in the same block.
fn plan_host_command(text: &str, after_a_runtime: bool) -> Plan {
    let without_sudo = text.strip_prefix("sudo ").unwrap_or(text);
    // `sudo sh -c '...'` lets root expand a glob in a directory only root reads.
    let in_a_shell = Regex::new(r"^sh -c '([^']*)'$").unwrap();
    let command_line = in_a_shell
        .captures(without_sudo)
        .map_or(without_sudo, |c| c.get(1).unwrap().as_str());
    let program = command_line.split_whitespace().next().unwrap_or("");
    if ["hostname", "uname", "id"].contains(&program) {
        return skip("prints this machine's own name or user");
    }
    let reads_only = ["cat", "ls", "grep", "findmnt", "readlink", "stat", "jq", "readelf"];
    let changes_nothing = reads_only.contains(&program)
        && !Regex::new(r"(^|[^2])>|\btee\b|\|\s*(sudo|sh)\b")
            .unwrap()
            .is_match(without_sudo);
    if changes_only_a_rootfs_copy(without_sudo) {
        return Plan::Run(Run {
            script: without_sudo.to_string(),
            package: None,
            rootfs_copy: None,
            environment: None,
            status: Status::Success,
        });
    }
    if !changes_nothing {
        return skip(
            "may change the host (the checker runs only cat, ls, grep, findmnt, readlink, stat, jq and readelf)",
        );
    }
    if Regex::new(r"/proc/\d+/|\$!|\$pid").unwrap().is_match(without_sudo) {
        return skip("needs a process started in a second terminal");
    }
    if !after_a_runtime {
        return skip("shows this machine's own state, not what a container did");
    }
    Plan::Run(Run {
        script: without_sudo.to_string(),
        package: None,
        rootfs_copy: None,
        environment: None,
        status: Status::Success,
    })
}

/// Skipping these may leave the next commands of the block without what they look at.
fn taints(reason: &str) -> bool {
    ["may change the host", "runs until", "needs ", "--keep"]
        .iter()
        .any(|start| reason.starts_with(start))
}

/// Is the command one of `sudo cp -a ROOTFS COPY`, `sudo chown -R 100000:100000 COPY`
/// and `sudo rm -rf COPY` (alone or joined with `&&`) for one of the copies above?
fn makes_or_removes_a_rootfs_copy(text: &str) -> bool {
    let step = Regex::new(r"^(sudo )?(cp -a /var/lib/workshop/busybox|chown -R 100000:100000|rm -rf) (\S+)$").unwrap();
    text.split("&&").all(|part| {
        step.captures(part.trim())
            .is_some_and(|c| ROOTFS_COPIES.contains(&&c[3]))
    })
}

/// A command such as `sh -c 'echo original > /tmp/busybox-100000/etc/host-owned'`:
/// every path it names is in one of the checker's own copies of the rootfs.
fn changes_only_a_rootfs_copy(text: &str) -> bool {
    let paths: Vec<&str> = Regex::new(r"/[^\s']*")
        .unwrap()
        .find_iter(text)
        .map(|m| m.as_str())
        .collect();
    text.starts_with("sh -c ")
        && !paths.is_empty()
        && paths
            .iter()
            .all(|path| ROOTFS_COPIES.iter().any(|copy| path.starts_with(&format!("{copy}/"))))
}

/// Does the line say that the runtime itself failed (its own error, or clap's, or a panic)?
fn shows_a_runtime_error(line: &str) -> bool {
    line.starts_with("workshop: error") || line.starts_with("error:") || line.contains("panicked")
}

/// Does a line of output say that something failed? (A runtime's note does not.)
fn shows_an_error(line: &str) -> bool {
    if line.starts_with("workshop: note:") {
        return false;
    }
    let line = line.to_lowercase();
    [
        "error",
        "panicked",
        "denied",
        "cannot",
        "can't",
        "read-only file system",
        "no such file",
        "not found",
        "killed",
    ]
    .iter()
    .any(|words| line.contains(words))
}

fn skip(reason: &str) -> Plan {
    Plan::Skip(reason.to_string())
}

/// The first line of a command, cut to a readable length.
pub fn short(text: &str) -> String {
    let first = text.lines().next().unwrap_or("");
    if first.chars().count() > 60 {
        format!("{}...", first.chars().take(57).collect::<String>())
    } else {
        first.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::commands_of_page;

    fn plans(page: &str, markdown: &str) -> Vec<Plan> {
        plans_on(page, markdown, HostCgroups::Hybrid)
    }

    fn plans_on(page: &str, markdown: &str, host: HostCgroups) -> Vec<Plan> {
        plan_page(&commands_of_page(page, markdown).unwrap(), host)
    }

    fn skipped_because(plan: &Plan) -> &str {
        match plan {
            Plan::Run(run) => panic!("runs: {}", run.script),
            Plan::Skip(reason) => reason,
        }
    }

    fn run(plan: &Plan) -> &Run {
        match plan {
            Plan::Run(run) => run,
            Plan::Skip(reason) => panic!("skipped: {reason}"),
        }
    }

    #[test]
    fn chapter_08_runs_in_the_checkers_namespace_which_the_page_makes_and_deletes() {
        let page = "```console\n$ sudo ip netns add wk-demo && sudo ip -n wk-demo link set lo up\n\
            $ sudo nsenter --net=/run/netns/wk-demo target/debug/ch08-network-solution run --rootfs /tmp/rootfs-100000 -- ls\n\
            bin\n$ sudo ip -n wk-demo -br addr\nlo UNKNOWN 127.0.0.1/8\n$ sudo ip -n wk-demo link set lo down\n\
            $ sudo ip netns delete wk-demo\n```\n";
        let plans = plans("ch08-network.md", page);
        assert!(matches!(&plans[0], Plan::Skip(reason) if reason.contains("the checker makes it itself")));
        let runtime = run(&plans[1]);
        assert_eq!(
            runtime.script,
            "nsenter --net=/run/netns/wk-demo target/debug/ch08-network-solution run --rootfs /tmp/rootfs-100000 -- ls"
        );
        assert_eq!(runtime.environment, Some(Environment::DemoNetns));
        assert_eq!(run(&plans[2]).script, "ip -n wk-demo -br addr");
        // Only looking runs: a change to the namespace does not.
        assert!(matches!(&plans[3], Plan::Skip(reason) if reason.starts_with("may change the host")));
        assert!(matches!(&plans[4], Plan::Skip(_)));
    }

    #[test]
    fn the_class_registry_is_the_only_one_the_checker_pulls_from() {
        let page = "```console\n$ sudo target/debug/ch10-layer-cache-solution pull localhost:5000/workshop/busybox\n\
            latest: Pulling from workshop/busybox\n$ sudo target/debug/ch10-layer-cache-solution images\n\
            REFERENCE  DIGEST\nlocalhost:5000/workshop/busybox:latest  5c6c6b6f444b\n```\n\n\
            ```console\n$ sudo target/debug/ch10-layer-cache-solution pull 127.0.0.1:$PORT/workshop/app:1\nout\n\
            $ sudo target/debug/ch10-layer-cache-solution images\nREFERENCE  DIGEST\n127.0.0.1:40723/workshop/app:1  4c42fce1827d\n```\n";
        let plans = plans("ch10-layer-cache.md", page);
        let pull = run(&plans[0]);
        assert_eq!(pull.environment, Some(Environment::ClassRegistry));
        assert_eq!(
            pull.script,
            "target/debug/ch10-layer-cache-solution pull localhost:5000/workshop/busybox"
        );
        assert_eq!(run(&plans[1]).script, "target/debug/ch10-layer-cache-solution images");
        assert!(matches!(&plans[2], Plan::Skip(reason) if reason.contains("builds with its own commands")));
        assert!(matches!(&plans[3], Plan::Skip(reason) if reason.starts_with("needs an image")));
    }

    #[test]
    fn an_offline_run_keeps_the_pages_command_line() {
        let page =
            "```console\n$ sudo unshare --net sh -c \"ip link set lo up; target/debug/ch10-layer-cache-solution \
            run localhost:5000/workshop/alpine-like -- hello-musl\" 2>&1 | grep hello\nhello from a program\n```\n";
        let plans = plans("ch10-layer-cache.md", page);
        assert_eq!(
            run(&plans[0]).script,
            "unshare --net sh -c \"ip link set lo up; target/debug/ch10-layer-cache-solution \
            run localhost:5000/workshop/alpine-like -- hello-musl\" 2>&1 | grep hello"
        );
    }

    /// Chapter 06's shape: the same run once per cgroup version, then one whose
    /// output is the same on both, then a v2 block the page skips anyway.
    const CH06: &str = "<!-- bookcheck: cgroup v2 -->\n```console\n\
        $ cargo run -q -p ch06-cgroups-solution -- run --rootfs /tmp/rootfs-100000 -- cat /sys/fs/cgroup/pids.max\n32\n\
        $ echo $?\n0\n```\n\nOn a v1 or hybrid host:\n\n<!-- bookcheck: cgroup v1 -->\n```console\n\
        $ cargo run -q -p ch06-cgroups-solution -- run --rootfs /tmp/rootfs-100000 -- cat /sys/fs/cgroup/pids/pids.max\n32\n```\n\n\
        ```console\n$ cargo run -q -p ch06-cgroups-solution -- run --rootfs /tmp/rootfs-100000 -- true; echo $?\n0\n```\n\n\
        <!-- bookcheck: cgroup v2 -->\n<!-- bookcheck: skip shows this machine's memory -->\n```console\n\
        $ cargo run -q -p ch06-cgroups-solution -- run --rootfs /tmp/rootfs-100000 -- free -m\nMem: 5940\n```\n";

    #[test]
    fn a_block_recorded_on_cgroup_v2_runs_only_where_the_host_is_unified() {
        let plans = plans_on("ch06-cgroups.md", CH06, HostCgroups::Unified);
        assert_eq!(
            run(&plans[0]).script,
            "target/debug/ch06-cgroups-solution run --rootfs /tmp/rootfs-100000 -- cat /sys/fs/cgroup/pids.max"
        );
        assert_eq!(run(&plans[1]).status, Status::EchoOfPrevious);
        assert_eq!(
            skipped_because(&plans[2]),
            "recorded on cgroup v1, this host is unified"
        );
        assert_eq!(run(&plans[3]).status, Status::ShownInOutput);
        assert_eq!(skipped_because(&plans[4]), "shows this machine's memory");
    }

    #[test]
    fn a_block_recorded_on_cgroup_v1_runs_on_hybrid_and_legacy_hosts() {
        for host in [HostCgroups::Hybrid, HostCgroups::Legacy] {
            let plans = plans_on("ch06-cgroups.md", CH06, host);
            let v2 = format!("recorded on cgroup v2, this host is {}", host.name());
            assert_eq!(skipped_because(&plans[0]), v2);
            // The whole block, its `echo $?` too.
            assert_eq!(skipped_because(&plans[1]), v2);
            assert_eq!(run(&plans[2]).rootfs_copy, Some("/tmp/rootfs-100000"));
            assert_eq!(run(&plans[3]).package.as_deref(), Some("ch06-cgroups-solution"));
            // The page's own reason comes first: it holds on every host.
            assert_eq!(skipped_because(&plans[4]), "shows this machine's memory");
        }
    }

    #[test]
    fn page_names_choose_pages_and_a_name_that_is_no_page_is_an_error() {
        let available: Vec<String> = ["ch05-user-namespace.md", "ch06-cgroups.md", "ch07-overlayfs.md"]
            .map(String::from)
            .to_vec();
        let asked = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            chosen_pages(&available, &names)
        };
        assert_eq!(asked(&[]).unwrap(), available);
        assert_eq!(asked(&["ch06-cgroups.md"]).unwrap(), ["ch06-cgroups.md"]);
        assert_eq!(
            asked(&["book/src/ch07-overlayfs.md", "ch05-user-namespace"]).unwrap(),
            ["ch05-user-namespace.md", "ch07-overlayfs.md"]
        );
        assert_eq!(
            asked(&["ch6-cgroups.md"]).unwrap_err(),
            "--page ch6-cgroups.md: there is no page book/src/ch6-cgroups.md"
        );
    }
}
