//! Chapter 03: the mount namespace, pivot_root, and the container's own mounts.

use nix::sys::signal::Signal;

use crate::ch01::expect;
use crate::Sandbox;

/// The host's mount table, as this (host) process sees it.
fn host_mount_table() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// The host's mount table is the same before, during and after a run: every mount
/// the container makes stays in its own namespace.
pub fn the_host_mount_table_is_unchanged(binary: &str) {
    let mut sandbox = Sandbox::new(binary);
    // As on a systemd host, where every mount is shared: the container must make
    // its mounts private, or they show up here.
    sandbox.make_shared();
    let before = host_mount_table();
    let mut running = sandbox.spawn(&[], &["/bin/probe", "signals"]);
    running.wait_for_line("ready");
    let during = host_mount_table();
    running.signal(Signal::SIGTERM);
    let output = running.wait();
    let after = host_mount_table();
    expect(
        during == before,
        &format!(
            "while the container runs, the host's mount table should not change; new on the host:\n{}",
            new_lines(&before, &during)
        ),
        "`prepare_new_root` in src/mount_namespace.rs: make \"/\" private (MS_REC | MS_PRIVATE) before mounting",
        &output,
    );
    expect(
        output.code == Some(0) && after == before,
        &format!(
            "after the run, the host's mount table should be as before; new:\n{}",
            new_lines(&before, &after)
        ),
        "`prepare_new_root` in src/mount_namespace.rs",
        &output,
    );
}

fn new_lines(before: &str, after: &str) -> String {
    after
        .lines()
        .filter(|line| !before.lines().any(|b| b == *line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Inside, the mount table lists only the container's own mounts.
pub fn the_container_sees_only_its_own_mounts(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&[], &["/bin/probe", "mounts"]);
    expect(
        output.stdout.starts_with("/ ")
            && output.stdout.contains("\n/proc proc\n")
            && !output.stdout.contains("/.old-root"),
        "the container's mount table should start with its root, hold its /proc, and nothing of the host",
        "`pivot_into` in src/pivot_root.rs: pivot_root, then unmount the old root",
        &output,
    );
    // The root's filesystem type is the host's (where the rootfs lives): it varies.
    let normalized: String = output
        .stdout
        .lines()
        .map(|line| {
            if line.starts_with("/ ") {
                "/ [HOST FILESYSTEM]".to_string()
            } else {
                line.to_string()
            }
        })
        .map(|line| line + "\n")
        .collect();
    insta::assert_snapshot!("ch03_mounts", normalized);
}

/// The chroot escape of chapter 01 now fails.
pub fn the_chroot_escape_fails(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let host_file = sandbox.host_only_file.display().to_string();
    let output = sandbox.run(&[], &["/bin/probe", "escape", &host_file]);
    expect(
        output.stdout.starts_with("escape: stayed inside"),
        "after pivot_root and unmounting the old root, the chroot escape should find nothing of the host",
        "`pivot_into` in src/pivot_root.rs",
        &output,
    );
}

/// Nothing of the host's filesystem is reachable: not the old root, not the host's paths.
pub fn host_files_are_out_of_reach(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let dir = sandbox.dir.display().to_string();
    let output = sandbox.run(
        &[],
        &[
            "/bin/sh",
            "-c",
            &format!("/bin/probe ls /.old-root; /bin/probe ls {dir}; /bin/probe cat /proc/1/root{dir}/host-only-file"),
        ],
    );
    expect(
        output.stdout.lines().count() == 3
            && output
                .stdout
                .lines()
                .all(|line| line.starts_with("error:") || line.contains("ENOENT")),
        "the old root and the host's files should be out of reach from the container",
        "`pivot_into` in src/pivot_root.rs: umount2 the old root (MNT_DETACH) and remove its directory",
        &output,
    );
}

/// /dev holds the minimal set of devices, and they work.
pub fn dev_is_minimal(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(
        &[],
        &[
            "/bin/sh",
            "-c",
            "ls /dev; echo gone > /dev/null && head -c 5 /dev/zero | wc -c",
        ],
    );
    expect(
        output.stdout.contains("null\n") && output.stdout.ends_with("5\n") && !output.stdout.contains("sda"),
        "/dev should hold null, zero, full, random, urandom, tty (working), pts, shm and the usual links, nothing more",
        "`mount_dev` in src/dev.rs",
        &output,
    );
    insta::assert_snapshot!("ch03_dev", output.stdout);
}

/// /sys is read-only, /tmp is the container's own.
pub fn sys_is_read_only_and_tmp_is_private(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(
        &[],
        &[
            "/bin/sh",
            "-c",
            "/bin/probe write /sys/kernel/workshop; /bin/probe write /tmp/file",
        ],
    );
    expect(
        output.stdout == "write /sys/kernel/workshop: EROFS\nwrite /tmp/file: ok\n"
            && !sandbox.rootfs.join("tmp/file").exists(),
        "/sys should be read-only (EROFS) and /tmp a tmpfs of the container's own (nothing written to the rootfs)",
        "`mount_sys_and_tmp` in src/mount_namespace.rs",
        &output,
    );
}

/// Two containers on the same rootfs at once: each has its own /proc now.
pub fn two_containers_can_share_a_rootfs(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let mut first = sandbox.spawn(&[], &["/bin/probe", "signals"]);
    first.wait_for_line("ready");
    let second = sandbox.run(&[], &["/bin/probe", "pids"]);
    first.signal(Signal::SIGTERM);
    let first = first.wait();
    expect(
        second.code == Some(0) && second.stdout == "pids: 1\n" && first.code == Some(0),
        "with a mount namespace, a second container on the same rootfs should get its own /proc (chapter 02 refused it)",
        "`prepare_new_root` in src/mount_namespace.rs",
        &second,
    );
}

/// Chapter 02's behaviour still holds.
pub fn chapter_02_still_holds(binary: &str) {
    crate::ch02::the_command_is_pid_1(binary);
    crate::ch02::init_reaps_orphans(binary);
    crate::ch01::the_exit_code_is_the_commands(binary);
    crate::ch01::a_missing_command_is_127(binary);
}
