//! A throwaway root filesystem per check, and running the chapter binary on it.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long any one run may take before the check gives up on it: a guard
/// against a run that hangs, not a measure of speed. On a machine known to be
/// slow (the emulated guests of scripts/vm/), WORKSHOP_TEST_TIMEOUT_SCALE=N
/// gives every run N times as long.
fn run_timeout() -> Duration {
    Duration::from_secs(30) * timeout_scale()
}

/// WORKSHOP_TEST_TIMEOUT_SCALE, 1 when unset.
pub fn timeout_scale() -> u32 {
    std::env::var("WORKSHOP_TEST_TIMEOUT_SCALE")
        .ok()
        .and_then(|scale| scale.parse().ok())
        .filter(|scale| *scale >= 1)
        .unwrap_or(1)
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A temporary directory holding a fresh rootfs: busybox (static), /bin/probe, a
/// marker file, and next to the rootfs a file only the host can see.
pub struct Sandbox {
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    /// A file outside the rootfs: visible from the container only after an escape.
    pub host_only_file: PathBuf,
    binary: String,
    /// Whether `make_shared` bind-mounted the sandbox onto itself.
    shared_mount: bool,
    /// Runs go through this command first (e.g. `nsenter --net=...`).
    wrapper: Vec<String>,
    /// Mounts the check itself made in the sandbox (not the runtime's to clean).
    fixture_mounts: Vec<String>,
}

/// What a finished run printed and how it ended.
#[derive(Debug)]
pub struct Output {
    /// The runtime's exit status (None if the runtime itself died of a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub command_line: String,
}

/// A run still going on: its stdout comes line by line.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout_seen: Vec<String>,
    stderr: mpsc::Receiver<String>,
    pub command_line: String,
}

impl Sandbox {
    /// A new sandbox for one check of `binary`.
    pub fn new(binary: &str) -> Sandbox {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "the grader must run as root: use `cargo test` (scripts/sudo-runner re-executes it with sudo)"
        );
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("workshop-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let rootfs = dir.join("rootfs");
        build_rootfs(&rootfs);
        let host_only_file = dir.join("host-only-file");
        std::fs::write(&host_only_file, "only the host can see this\n").unwrap();
        Sandbox {
            dir,
            rootfs,
            host_only_file,
            binary: binary.to_string(),
            shared_mount: false,
            wrapper: match crate::netns::current() {
                Some(name) => crate::netns::enter_command(&name),
                None => Vec::new(),
            },
            fixture_mounts: Vec::new(),
        }
    }

    /// Mounts a tmpfs with `flags` and `data` at SANDBOX/name, for the check's own
    /// use; it is unmounted when the sandbox goes.
    pub fn mount_tmpfs_fixture(&mut self, name: &str, flags: nix::mount::MsFlags, data: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::create_dir(&path).unwrap();
        nix::mount::mount(Some("tmpfs"), &path, Some("tmpfs"), flags, Some(data)).unwrap();
        self.fixture_mounts.push(path.display().to_string());
        path
    }

    /// From now on, runs start inside the network namespace `netns` (as the "host"
    /// of the containers), through nsenter(1).
    pub fn in_netns(&mut self, netns: &crate::NetNs) {
        self.wrapper = crate::netns::enter_command(&netns.path());
    }

    /// Makes the sandbox a *shared* mount point, as systemd makes every mount on a
    /// usual host. A container that does not make its mounts private then
    /// propagates them to the host's mount table (or fails to pivot_root).
    pub fn make_shared(&mut self) {
        use nix::mount::{mount, MsFlags};
        mount(Some(&self.dir), &self.dir, None::<&str>, MsFlags::MS_BIND, None::<&str>).unwrap();
        self.shared_mount = true;
        mount(None::<&str>, &self.dir, None::<&str>, MsFlags::MS_SHARED, None::<&str>).unwrap();
    }

    /// Gives the whole rootfs to host `uid`:`gid` (symlinks included), as a user
    /// namespace whose root is mapped there needs it to own its files.
    pub fn chown_rootfs(&self, uid: u32, gid: u32) {
        fn walk(path: &Path, uid: u32, gid: u32) {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
            if path.is_dir() && !path.is_symlink() {
                for entry in std::fs::read_dir(path).unwrap() {
                    walk(&entry.unwrap().path(), uid, gid);
                }
            }
        }
        walk(&self.rootfs, uid, gid);
    }

    /// The arguments of `run` with this sandbox's rootfs: `run FLAGS --rootfs R -- COMMAND`.
    pub fn run_args(&self, flags: &[&str], command: &[&str]) -> Vec<String> {
        let mut args = vec!["run".to_string()];
        args.extend(flags.iter().map(|s| s.to_string()));
        args.push("--rootfs".into());
        args.push(self.rootfs.display().to_string());
        args.push("--".into());
        args.extend(command.iter().map(|s| s.to_string()));
        args
    }

    /// Runs the binary with `run FLAGS --rootfs ROOTFS -- COMMAND` and waits for it.
    pub fn run(&self, flags: &[&str], command: &[&str]) -> Output {
        self.run_raw(&self.run_args(flags, command), None, &[])
    }

    /// Runs the binary with exactly `args`, feeding `stdin`, with extra `env`.
    pub fn run_raw(&self, args: &[String], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut running = self.spawn_with(args, stdin, env);
        let output = running.wait();
        self.assert_no_mount_left(&output);
        output
    }

    /// Starts `run FLAGS --rootfs ROOTFS -- COMMAND` without waiting.
    pub fn spawn(&self, flags: &[&str], command: &[&str]) -> Running {
        self.spawn_with(&self.run_args(flags, command), None, &[])
    }

    /// Starts the run as a shell starts a background job: with `ignored` signals
    /// ignored (SIG_IGN), which the runtime inherits.
    pub fn spawn_ignoring(&self, ignored: Signal, flags: &[&str], command: &[&str]) -> Running {
        let mut ignoring = Command::new(&self.binary);
        // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
        unsafe {
            ignoring.pre_exec(move || {
                nix::sys::signal::signal(ignored, nix::sys::signal::SigHandler::SigIgn)?;
                Ok(())
            });
        }
        self.start(ignoring, &self.run_args(flags, command), None, &[])
    }

    fn spawn_with(&self, args: &[String], stdin: Option<&str>, env: &[(&str, &str)]) -> Running {
        match self.wrapper.split_first() {
            None => self.start(Command::new(&self.binary), args, stdin, env),
            Some((program, wrapper_args)) => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg(&self.binary);
                self.start(command, args, stdin, env)
            }
        }
    }

    fn start(&self, mut command: Command, args: &[String], stdin: Option<&str>, env: &[(&str, &str)]) -> Running {
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.env("TERM", "xterm-grader");
        for (key, value) in env {
            command.env(key, value);
        }
        let name = Path::new(&self.binary)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let command_line = format!("{name} {}", args.join(" "));
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", self.binary));
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        let (sender, lines) = mpsc::channel();
        forward_lines(child.stdout.take().unwrap(), sender);
        let (sender, stderr) = mpsc::channel();
        forward_lines(child.stderr.take().unwrap(), sender);
        Running {
            child,
            lines,
            stdout_seen: Vec::new(),
            stderr,
            command_line,
        }
    }

    /// After a run has ended, nothing it mounted may stay in the host's mount table.
    pub fn assert_no_mount_left(&self, output: &Output) {
        let mut left = self.mounts_inside();
        left.retain(|mount| !self.fixture_mounts.contains(mount));
        assert!(
            left.is_empty(),
            "the run left these mounts on the host: {left:?}\n\
             Every mount a run makes must be gone when it ends (the runtime's cleanup).\n{output}"
        );
    }

    /// Mount points under this sandbox, as the host sees them.
    pub fn mounts_inside(&self) -> Vec<String> {
        let prefix = format!("{}/", self.dir.display());
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        mountinfo
            .lines()
            .filter_map(|line| line.split(' ').nth(4))
            .filter(|point| point.starts_with(&prefix))
            .map(str::to_string)
            .collect()
    }

    /// Replaces what varies between runs (the sandbox's path) with a fixed word.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.rootfs.display().to_string(), "[ROOTFS]")
            .replace(&self.dir.display().to_string(), "[SANDBOX]")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // A failed check may have left mounts: remove them before the files, so the
        // machine stays clean whatever happened.
        let mut mounts = self.mounts_inside();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in mounts {
            let _ = umount2(mount.as_str(), MntFlags::MNT_DETACH);
        }
        if self.shared_mount {
            let _ = umount2(&self.dir, MntFlags::MNT_DETACH);
        }
        if std::env::var_os("WORKSHOP_TEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Running {
    /// The runtime's PID on the host.
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Waits for a stdout line containing `text`; returns it.
    pub fn wait_for_line(&mut self, text: &str) -> String {
        let deadline = Instant::now() + run_timeout();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout_seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => {
                    let output = self.wait();
                    panic!("the container never printed {text:?}\n{output}");
                }
            }
        }
    }

    /// The runtime's child processes (the container's first process), host PIDs.
    pub fn children(&self) -> Vec<Pid> {
        let pid = self.pid();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .map(Pid::from_raw)
            .collect()
    }

    /// Sends `signal` to the runtime, as `kill` or Ctrl-C would.
    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).unwrap();
    }

    /// Waits up to `limit` for the runtime to end; whether it did.
    pub fn ends_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !self.is_running() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Kills the container's first process (the runtime's child) with SIGKILL,
    /// which even a PID 1 cannot ignore; the runtime then cleans up and exits.
    pub fn kill_container(&self) {
        for pid in self.children() {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }

    /// Whether the runtime is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the runtime to end (killing it after the timeout) and collects output.
    pub fn wait(&mut self) -> Output {
        let deadline = Instant::now() + run_timeout();
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                timed_out = true;
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // The pipes close when every process holding them is gone; a process that
        // outlives the runtime (a bug the checks look for) must not hang the grader.
        let mut stdout = std::mem::take(&mut self.stdout_seen);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            stdout.push(line);
        }
        let mut stderr = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            stderr.push(line);
        }
        let output = Output {
            code: status.code(),
            stdout: stdout.iter().map(|l| format!("{l}\n")).collect(),
            stderr: stderr.iter().map(|l| format!("{l}\n")).collect(),
            command_line: self.command_line.clone(),
        };
        assert!(
            !timed_out,
            "the run did not end within {:?}, so the grader killed it\n{output}",
            run_timeout()
        );
        output
    }
}

impl Output {
    /// The word that follows `prefix` in the first stderr line holding it: with
    /// `-v`, `said("container ")` is the container's id ("container ID gets ...").
    pub fn said(&self, prefix: &str) -> Option<String> {
        self.stderr
            .lines()
            .find_map(|l| l.split(prefix).nth(1)?.split(' ').next().map(str::to_string))
    }

    /// The container's id, which `-v` prints from chapter 04 on.
    pub fn container_id(&self) -> String {
        self.said("container ").unwrap_or_default()
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = self
            .code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "none (killed by a signal)".into());
        writeln!(f, "--- the run ---\n$ {}\nexit status: {code}", self.command_line)?;
        writeln!(
            f,
            "--- stdout ---\n{}--- stderr ---\n{}--------------",
            self.stdout, self.stderr
        )
    }
}

/// Sends each line `reader` gives to `sender`, from a thread of its own.
fn forward_lines(reader: impl Read + Send + 'static, sender: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
}

/// A minimal rootfs: busybox with its applets, the probe, /etc, /proc, /tmp.
fn build_rootfs(rootfs: &Path) {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"].into_iter().find(|p| Path::new(p).exists()).expect(
        "busybox is not installed: the grader builds its test rootfs from it (sudo scripts/provision.sh installs busybox-static)",
    );
    for dir in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root",
    ] {
        std::fs::create_dir_all(rootfs.join(dir)).unwrap();
    }
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    let applets = Command::new(busybox)
        .arg("--list")
        .output()
        .expect("running busybox --list");
    for applet in String::from_utf8_lossy(&applets.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
        }
    }
    let _ = std::fs::remove_file(rootfs.join("bin/probe"));
    std::fs::copy(crate::PROBE, rootfs.join("bin/probe")).unwrap();
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
    std::fs::write(
        rootfs.join("workshop-rootfs"),
        "this file is at the root of the test rootfs\n",
    )
    .unwrap();
}
