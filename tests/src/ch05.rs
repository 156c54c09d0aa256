//! Chapter 05: the user namespace, its id maps, and root inside being nobody outside.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use nix::sys::signal::Signal;

use crate::ch01::expect;
use crate::Sandbox;

/// The default map: the container's 0..65536 are the host's 100000..165536.
pub const MAPPED_ROOT: u32 = 100000;

/// A sandbox whose rootfs belongs to the mapped root, plus one file the host's
/// root owns (mode 644), which root inside must not be able to change.
fn mapped_sandbox(binary: &str) -> Sandbox {
    let sandbox = Sandbox::new(binary);
    sandbox.chown_rootfs(MAPPED_ROOT, MAPPED_ROOT);
    let host_owned = sandbox.rootfs.join("etc/host-owned");
    std::fs::write(&host_owned, "owned by the host's root\n").unwrap();
    std::fs::set_permissions(&host_owned, std::fs::Permissions::from_mode(0o644)).unwrap();
    sandbox
}

/// Inside, the command is root, and /proc/self/uid_map and gid_map show the mapping.
pub fn root_inside_with_the_mapping(binary: &str) {
    let sandbox = mapped_sandbox(binary);
    let output = sandbox.run(
        &[],
        &[
            "/bin/sh",
            "-c",
            "/bin/probe ids; cat /proc/self/uid_map /proc/self/gid_map; id",
        ],
    );
    expect(
        output.stdout.starts_with("uid: 0\ngid: 0\n") && output.stdout.contains("100000"),
        "inside, the command should be uid 0 and gid 0, with 0 mapped to host 100000 (--userns-map's default)",
        "`write_id_maps` in src/id_map.rs and `become_root` in src/user_namespace.rs",
        &output,
    );
    insta::assert_snapshot!("ch05_ids_and_maps", output.stdout);
}

/// The host sees the container's process under the mapped ids, not as root.
pub fn the_host_sees_the_mapped_ids(binary: &str) {
    let sandbox = mapped_sandbox(binary);
    let mut running = sandbox.spawn(&[], &["/bin/probe", "signals"]);
    running.wait_for_line("ready");
    let statuses: Vec<String> = running
        .children()
        .iter()
        .map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default())
        .collect();
    running.signal(Signal::SIGTERM);
    let output = running.wait();
    let ids = |prefix: &str| -> Vec<String> {
        statuses
            .iter()
            .filter_map(|s| s.lines().find(|l| l.starts_with(prefix)).map(str::to_string))
            .collect()
    };
    expect(
        ids("Uid:") == ["Uid:\t100000\t100000\t100000\t100000"]
            && ids("Gid:") == ["Gid:\t100000\t100000\t100000\t100000"],
        &format!(
            "on the host, the container's process should run as uid and gid 100000 (seen: {:?} {:?})",
            ids("Uid:"),
            ids("Gid:")
        ),
        "`become_root` in src/user_namespace.rs: setresgid and setresuid to 0 inside",
        &output,
    );
}

/// A file created inside belongs, on the host, to the mapped ids.
pub fn files_made_inside_belong_to_the_mapped_ids(binary: &str) {
    let sandbox = mapped_sandbox(binary);
    let output = sandbox.run(&[], &["/bin/probe", "write", "/root/made-inside"]);
    let made = sandbox.rootfs.join("root/made-inside");
    let owner = std::fs::metadata(&made).map(|m| (m.uid(), m.gid())).ok();
    expect(
        output.stdout == "write /root/made-inside: ok\n" && owner == Some((MAPPED_ROOT, MAPPED_ROOT)),
        &format!("a file root makes inside should belong to 100000:100000 on the host (owner: {owner:?})"),
        "`become_root` in src/user_namespace.rs",
        &output,
    );
}

/// Root inside has no power over what the host owns: it cannot change a file of
/// the host's root, nor make device nodes.
pub fn root_inside_is_nobody_outside(binary: &str) {
    let sandbox = mapped_sandbox(binary);
    let output = sandbox.run(
        &[],
        &[
            "/bin/sh",
            "-c",
            "/bin/probe write /etc/host-owned; /bin/probe mknod /root/null",
        ],
    );
    expect(
        output.stdout == "write /etc/host-owned: EACCES\nmknod /root/null: EPERM\n",
        "root inside should be refused a file the host's root owns (EACCES) and mknod (EPERM)",
        "`write_id_maps` in src/id_map.rs (the clone flags must include CLONE_NEWUSER)",
        &output,
    );
    let content = std::fs::read_to_string(sandbox.rootfs.join("etc/host-owned")).unwrap();
    assert_eq!(content, "owned by the host's root\n", "the host-owned file changed");
}

/// `--userns-map` chooses another range.
pub fn another_range_can_be_chosen(binary: &str) {
    let sandbox = Sandbox::new(binary);
    sandbox.chown_rootfs(200000, 200000);
    let output = sandbox.run(
        &["--userns-map", "200000:1000"],
        &["/bin/sh", "-c", "cat /proc/self/uid_map; id -u"],
    );
    let map: Vec<&str> = output.stdout.split_whitespace().collect();
    expect(
        map == ["0", "200000", "1000", "0"],
        "with --userns-map 200000:1000, uid_map should read \"0 200000 1000\" and the command run as uid 0",
        "`write_id_maps` in src/id_map.rs",
        &output,
    );
}

/// On a rootfs the host's root owns, the container still runs, and the runtime
/// says why its files belong to nobody.
pub fn a_root_owned_rootfs_runs_with_a_note(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&[], &["/bin/sh", "-c", "/bin/probe ids; stat -c '%u' /"]);
    expect(
        output.code == Some(0)
            && output.stdout == "uid: 0\ngid: 0\n65534\n"
            && output.stderr.contains("not mapped into the container"),
        "on a rootfs owned by the host's root, the container should run (its files showing as nobody) and the runtime should print a note",
        "`become_root` in src/user_namespace.rs; the note comes from `UserNamespace::prepare`",
        &output,
    );
}

/// A container does not outlive its runtime, even one killed with SIGKILL: the
/// parent-death signal is asked for again after the child changes its ids
/// (setresuid clears it).
pub fn a_container_dies_with_its_runtime(binary: &str) {
    let sandbox = mapped_sandbox(binary);
    let mut running = sandbox.spawn(&[], &["/bin/probe", "signals"]);
    running.wait_for_line("ready");
    let container = running.children();
    running.signal(Signal::SIGKILL);
    let output = running.wait();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let alive = |pid: &nix::unistd::Pid| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
            .unwrap_or(false)
    };
    while container.iter().any(alive) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let survivors: Vec<_> = container.iter().filter(|pid| alive(pid)).collect();
    for pid in &survivors {
        let _ = nix::sys::signal::kill(**pid, Signal::SIGKILL);
    }
    expect(
        !container.is_empty() && survivors.is_empty(),
        &format!("the container (host PIDs {container:?}) should die with its runtime; still alive: {survivors:?}"),
        "the lifecycle asks for PR_SET_PDEATHSIG again after the child's hooks (src/lifecycle.rs in chapter 01)",
        &output,
    );
}

/// A bad `--userns-map` is refused before anything starts.
pub fn a_bad_map_is_refused(binary: &str) {
    let sandbox = Sandbox::new(binary);
    for bad in ["0:65536", "100000", "100000:0"] {
        let output = sandbox.run(&["--userns-map", bad], &["/bin/true"]);
        expect(
            output.code == Some(125) && output.stderr.contains("userns-map"),
            &format!("--userns-map {bad} should be refused with exit status 125"),
            "`IdMap::from_str` in src/id_map.rs",
            &output,
        );
    }
}

/// Chapter 04's behaviour still holds, now inside a user namespace.
pub fn chapter_04_still_holds(binary: &str) {
    crate::ch04::the_container_has_its_own_hostname(binary);
    crate::ch04::host_ipc_objects_are_invisible(binary);
    crate::ch03::the_host_mount_table_is_unchanged(binary);
    crate::ch03::the_chroot_escape_fails(binary);
    crate::ch03::sys_is_read_only_and_tmp_is_private(binary);
    crate::ch02::the_command_is_pid_1(binary);
    crate::ch02::init_reaps_orphans(binary);
}
