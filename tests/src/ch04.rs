//! Chapter 04: the UTS namespace (hostname) and the IPC namespace.

use nix::libc;
use nix::sys::signal::Signal;

use crate::ch01::expect;
use crate::Sandbox;

fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap()
}

/// `--hostname` sets the container's hostname; the host's stays as it was.
pub fn the_container_has_its_own_hostname(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let before = host_hostname();
    let mut running = sandbox.spawn(
        &["--hostname", "box-under-test"],
        &["/bin/sh", "-c", "/bin/probe hostname; /bin/probe signals"],
    );
    let inside = running.wait_for_line("hostname:");
    running.wait_for_line("ready");
    let during = host_hostname();
    running.signal(Signal::SIGTERM);
    let output = running.wait();
    expect(
        inside == "hostname: box-under-test",
        "with --hostname box-under-test, the container's hostname should be box-under-test",
        "`set_hostname` in src/uts_namespace.rs: sethostname(2) in the child",
        &output,
    );
    expect(
        during == before && host_hostname() == before,
        &format!("the host's hostname should stay {before:?} during and after the run (was {during:?} during)"),
        "`set_hostname` in src/uts_namespace.rs: the clone flags must include CLONE_NEWUTS",
        &output,
    );
}

/// Without `--hostname`, the hostname is the container's id, which `-v` prints.
pub fn the_default_hostname_is_the_container_id(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&["-v"], &["/bin/probe", "hostname"]);
    let announced = output
        .stderr
        .lines()
        .find_map(|line| {
            line.split("gets the hostname \"")
                .nth(1)?
                .strip_suffix('"')
                .map(str::to_string)
        })
        .unwrap_or_default();
    let is_id = announced.len() == 12 && announced.chars().all(|c| c.is_ascii_hexdigit());
    expect(
        is_id && output.stdout == format!("hostname: {announced}\n"),
        "without --hostname, the hostname should be the 12-digit container id that -v announces",
        "`set_hostname` in src/uts_namespace.rs",
        &output,
    );
}

/// A bad `--hostname` is refused before anything starts.
pub fn a_bad_hostname_is_refused(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&["--hostname", "not a hostname!"], &["/bin/true"]);
    expect(
        output.code == Some(125) && output.stderr.contains("not a valid hostname"),
        "an invalid --hostname should be refused with exit status 125 and a message",
        "`check_hostname` in src/uts_namespace.rs",
        &output,
    );
}

/// A System V shared memory segment and message queue made on the host for a test,
/// removed when dropped.
struct HostIpc {
    key: i32,
    shm: i32,
    msg: i32,
}

impl HostIpc {
    fn new() -> HostIpc {
        let key = 0x5700_0000 | (std::process::id() as i32 & 0xffff);
        // SAFETY: plain system calls on integers.
        let (shm, msg) = unsafe {
            (
                libc::shmget(key, 4096, libc::IPC_CREAT | 0o600),
                libc::msgget(key, libc::IPC_CREAT | 0o600),
            )
        };
        assert!(
            shm >= 0 && msg >= 0,
            "could not make host IPC objects: {}",
            std::io::Error::last_os_error()
        );
        HostIpc { key, shm, msg }
    }
}

impl Drop for HostIpc {
    fn drop(&mut self) {
        // SAFETY: removing the objects this test made.
        unsafe {
            libc::shmctl(self.shm, libc::IPC_RMID, std::ptr::null_mut());
            libc::msgctl(self.msg, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

fn host_ipc_keys(table: &str) -> Vec<String> {
    std::fs::read_to_string(table)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The host's System V IPC objects are invisible inside; the container's own are not.
pub fn host_ipc_objects_are_invisible(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let host = HostIpc::new();
    let own = 4242;
    let output = sandbox.run(
        &[],
        &["/bin/sh", "-c", &format!("/bin/probe ipc-make {own}; /bin/probe ipc")],
    );
    expect(
        output.stdout == format!("ipc-make {own}: ok\nshm keys: {own}\nmsg keys: {own}\n"),
        &format!(
            "inside, only the container's own IPC objects ({own}) should be listed, not the host's ({})",
            host.key
        ),
        "`ipc_namespace_flags` in src/ipc_namespace.rs: CLONE_NEWIPC",
        &output,
    );
}

/// IPC objects made in a container go away with it: the host never sees them and
/// the next container starts with none.
pub fn ipc_objects_go_with_the_container(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let key = 0x5800_0000 | (std::process::id() as i32 & 0xffff);
    let made = sandbox.run(&[], &["/bin/probe", "ipc-make", &key.to_string()]);
    let host_keys = [host_ipc_keys("/proc/sysvipc/shm"), host_ipc_keys("/proc/sysvipc/msg")].concat();
    let next = sandbox.run(&[], &["/bin/probe", "ipc"]);
    expect(
        made.stdout == format!("ipc-make {key}: ok\n") && !host_keys.contains(&key.to_string()),
        "IPC objects made in the container should never appear on the host",
        "`ipc_namespace_flags` in src/ipc_namespace.rs",
        &made,
    );
    expect(
        next.stdout == "shm keys: \nmsg keys: \n",
        "the next container should start with no IPC objects: the first one's went away with it",
        "`ipc_namespace_flags` in src/ipc_namespace.rs",
        &next,
    );
}

/// The container's mount table now has its POSIX message queue filesystem.
pub fn the_mount_table_has_mqueue(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&[], &["/bin/probe", "mounts"]);
    expect(
        output.stdout.ends_with("/tmp tmpfs\n/dev/mqueue mqueue\n"),
        "the container should have its own mqueue filesystem at /dev/mqueue",
        "`IpcNamespace::child_before_exec` in src/ipc_namespace.rs",
        &output,
    );
}

/// Chapter 03's behaviour still holds.
pub fn chapter_03_still_holds(binary: &str) {
    crate::ch03::the_host_mount_table_is_unchanged(binary);
    crate::ch03::the_chroot_escape_fails(binary);
    crate::ch02::the_command_is_pid_1(binary);
    crate::ch01::a_missing_command_is_127(binary);
}
