//! Chapter 02: the PID namespace, /proc, PID 1's duties and `--init`.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::ch01::{expect, redact_pids};
use crate::Sandbox;

/// The command is PID 1 of its own PID namespace (its parent is outside it: 0).
pub fn the_command_is_pid_1(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&[], &["/bin/probe", "pid"]);
    expect(
        output.stdout.starts_with("pid: 1\n"),
        "the container's command should be PID 1 in its own PID namespace",
        "`pid_namespace_flags` in src/pid_namespace.rs: clone(2) with CLONE_NEWPID",
        &output,
    );
    insta::assert_snapshot!("ch02_pid", output.stdout);
}

/// `ps` in the container lists the container's processes only.
pub fn ps_lists_only_the_container(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&[], &["/bin/sh", "-c", "/bin/probe pids; ps -o pid,comm; true"]);
    expect(
        output.stdout.starts_with("pids: 1 2\n"),
        "the container's /proc should show only its own processes (sh as 1, the probe as 2)",
        "`mount_proc` in src/pid_namespace.rs: mount a proc filesystem on /proc from inside",
        &output,
    );
    insta::assert_snapshot!("ch02_ps", output.stdout);
}

/// The /proc mount is on the host's mount table while the container runs (there is
/// no mount namespace yet) and gone when it ends.
pub fn the_proc_mount_is_removed_at_exit(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let proc_on_host = sandbox.rootfs.join("proc").display().to_string();
    let mut running = sandbox.spawn(&[], &["/bin/probe", "signals"]);
    running.wait_for_line("ready");
    let during = sandbox.mounts_inside();
    running.signal(Signal::SIGTERM);
    let output = running.wait();
    expect(
        during == [proc_on_host.clone()],
        &format!("while the container runs, its /proc should be mounted at {proc_on_host} (seen: {during:?})"),
        "`mount_proc` in src/pid_namespace.rs",
        &output,
    );
    sandbox.assert_no_mount_left(&output);
}

/// `-v` prints the container's PID as the host sees it; the host confirms it.
pub fn verbose_prints_the_host_pid(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let mut running = sandbox.spawn(&["-v"], &["/bin/probe", "signals"]);
    running.wait_for_line("ready");
    let status = running_container_status(&running);
    running.signal(Signal::SIGTERM);
    let output = running.wait();
    sandbox.assert_no_mount_left(&output);
    let host_pid = output.stderr.lines().find_map(|line| {
        line.split("PID 1 is PID ")
            .nth(1)?
            .split(' ')
            .next()?
            .parse::<i32>()
            .ok()
    });
    expect(
        host_pid.is_some(),
        "`-v` should print \"PID 1 is PID <n> on the host\"",
        "src/pid_namespace.rs",
        &output,
    );
    let host_pid = host_pid.unwrap();
    expect(
        status
            .iter()
            .any(|(pid, nspid)| *pid == host_pid && nspid.ends_with("\t1")),
        &format!("PID {host_pid} on the host should be PID 1 in the container (NSpid in /proc/PID/status): {status:?}"),
        "`pid_namespace_flags` in src/pid_namespace.rs",
        &output,
    );
    insta::assert_snapshot!("ch02_verbose", redact_pids(&sandbox.redact(&output.stderr)));
}

/// For each child process of `runtime`: its PID and the NSpid line of its status.
fn running_container_status(running: &crate::Running) -> Vec<(i32, String)> {
    running
        .children()
        .into_iter()
        .map(|pid| pid.as_raw())
        .map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let nspid = status
                .lines()
                .find(|l| l.starts_with("NSpid:"))
                .unwrap_or("")
                .to_string();
            (pid, nspid)
        })
        .collect()
}

/// SIGINT, SIGTERM and SIGHUP reach a PID 1 that handles them.
pub fn signals_reach_pid_1(binary: &str) {
    crate::ch01::signals_reach_the_container(binary);
}

/// Without a handler, PID 1 ignores SIGTERM: the kernel's rule for a namespace's init.
pub fn pid_1_ignores_sigterm_without_a_handler(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let mut running = sandbox.spawn(&[], &["/bin/sh", "-c", "echo started; exec sleep 60"]);
    running.wait_for_line("started");
    // Give `exec sleep` a moment, then ask it to stop: it is PID 1 and has no handler.
    std::thread::sleep(Duration::from_millis(300));
    running.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(700));
    let still_running = running.is_running();
    running.kill_container();
    let output = running.wait();
    sandbox.assert_no_mount_left(&output);
    expect(
        still_running,
        "`sleep` as PID 1 has no SIGTERM handler, so the kernel should drop the SIGTERM (the lesson behind --init)",
        "`pid_namespace_flags` in src/pid_namespace.rs",
        &output,
    );
}

/// Without an init, an orphan reparented to the command stays a zombie.
pub fn without_init_an_orphan_stays_a_zombie(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&[], &["/bin/probe", "orphan"]);
    expect(
        output.stdout == "orphan: zombie\n",
        "the probe as PID 1 never reaps the orphan it inherits, so it should stay a zombie",
        "`pid_namespace_flags` and `mount_proc` in src/pid_namespace.rs",
        &output,
    );
}

/// With `--init`, PID 1 reaps the orphans.
pub fn init_reaps_orphans(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&["--init"], &["/bin/probe", "orphan"]);
    expect(
        output.stdout == "orphan: reaped\n" && output.code == Some(0),
        "with --init, PID 1 (the init) should reap the orphan",
        "`reap_children` in src/init.rs: waitpid(-1, WNOHANG) until nothing is left",
        &output,
    );
}

/// With `--init`, the command runs as PID 2, signals reach it and its status is the runtime's.
pub fn init_forwards_signals_and_the_exit_status(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&["--init"], &["/bin/sh", "-c", "/bin/probe pid; exit 7"]);
    expect(
        output.code == Some(7) && output.stdout.starts_with("pid: 3\nppid: 2\n"),
        "with --init, PID 1 is the init, the command is PID 2 (its child the probe, 3), and its exit status is the runtime's",
        "`reap_children` in src/init.rs: return the command's status",
        &output,
    );
    let mut running = sandbox.spawn(&["--init"], &["/bin/sh", "-c", "echo started; exec sleep 60"]);
    running.wait_for_line("started");
    std::thread::sleep(Duration::from_millis(300));
    running.signal(Signal::SIGTERM);
    let output = running.wait();
    sandbox.assert_no_mount_left(&output);
    expect(
        output.code == Some(143),
        "with --init, SIGTERM should reach `sleep` (no longer PID 1) and end it: exit status 143",
        "`reap_children` in src/init.rs",
        &output,
    );
}

/// A /proc mount left by a runtime killed with SIGKILL is reclaimed by the next run.
pub fn a_stale_proc_mount_is_reclaimed(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let mut running = sandbox.spawn(&[], &["/bin/probe", "signals"]);
    running.wait_for_line("ready");
    running.signal(Signal::SIGKILL);
    let killed = running.wait();
    let left = sandbox.mounts_inside();
    // The kernel tears the namespace down (PR_SET_PDEATHSIG kills PID 1): wait until
    // the stale /proc lists no live process (a zombie the host has not reaped yet
    // may remain: that is what a crashed run looks like).
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !live_pids(&sandbox.rootfs.join("proc")).is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    expect(
        left.len() == 1,
        &format!("a runtime killed with SIGKILL cannot clean up: its /proc mount should remain ({left:?})"),
        "`mount_proc` in src/pid_namespace.rs",
        &killed,
    );
    let output = sandbox.run(&[], &["/bin/probe", "pids"]);
    expect(
        output.code == Some(0) && output.stdout == "pids: 1\n" && output.stderr.contains("earlier run"),
        "the next run should unmount the stale /proc (its PID namespace is empty) and start normally",
        "`PidNamespace::prepare` in src/pid_namespace.rs",
        &output,
    );
}

/// Chapter 01's behaviour still holds: exit codes, 127, the rootfs as root.
pub fn chapter_01_still_holds(binary: &str) {
    crate::ch01::the_exit_code_is_the_commands(binary);
    crate::ch01::a_missing_command_is_127(binary);
    crate::ch01::the_chroot_escape_works(binary);
}

/// The PIDs listed in a proc filesystem whose process is not a zombie.
fn live_pids(proc_dir: &Path) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir(proc_dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.retain(|pid| {
        let stat = std::fs::read_to_string(proc_dir.join(pid.to_string()).join("stat")).unwrap_or_default();
        !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z')
    });
    pids
}
