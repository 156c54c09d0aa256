//! A network namespace made for one check, as the "host" its containers connect
//! to: network checks never touch the machine's real network, and run in parallel.
//!
//! The namespace is held by a process of the check's own (`sleep`, started in a
//! new network namespace) rather than named with `ip netns add`, which would leave
//! a mount at /run/netns on the machine.

use std::cell::RefCell;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

thread_local! {
    /// The namespace that sandboxes made on this thread run in, if any.
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `checks` (earlier chapters' checks, which make their own sandboxes) with
/// every sandbox they make running in `netns`: from chapter 08 on, a container
/// without `--net` gets a bridge and a veth, which must never reach the real host.
pub fn with_every_run_in<R>(netns: &NetNs, checks: impl FnOnce() -> R) -> R {
    CURRENT.with(|current| *current.borrow_mut() = Some(netns.path()));
    let result = checks();
    CURRENT.with(|current| *current.borrow_mut() = None);
    result
}

/// The namespace set by [`with_every_run_in`] on this thread.
pub(crate) fn current() -> Option<String> {
    CURRENT.with(|current| current.borrow().clone())
}

/// The command that runs a program in the network namespace at `path`:
/// nsenter(1), which changes only the network namespace.
pub(crate) fn enter_command(path: &str) -> Vec<String> {
    vec!["nsenter".into(), format!("--net={path}"), "--".into()]
}

/// A network namespace held by a sleeping process; gone when dropped.
pub struct NetNs {
    holder: Child,
}

impl NetNs {
    pub fn new() -> NetNs {
        let mut command = Command::new("sleep");
        command
            .arg("1000000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: unshare(2) is async-signal-safe, as pre_exec requires.
        unsafe {
            command.pre_exec(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
                Ok(())
            });
        }
        let holder = command
            .spawn()
            .expect("starting the network namespace's holder process");
        let netns = NetNs { holder };
        netns.ip(&["link", "set", "lo", "up"]);
        netns
    }

    /// The namespace's file: /proc/PID/ns/net of its holder.
    pub fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.holder.id())
    }

    /// Runs `ip ARGS...` in this namespace and returns its output.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = enter_command(&self.path());
        full.push("ip".into());
        full.extend(args.iter().map(|a| a.to_string()));
        let output = Command::new(&full[0])
            .args(&full[1..])
            .output()
            .unwrap_or_else(|e| panic!("{full:?}: {e}"));
        assert!(
            output.status.success(),
            "{full:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The names of the links in this namespace, sorted.
    pub fn links(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .ip(&["-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1)?.split('@').next().map(str::to_string))
            .collect();
        names.sort();
        names
    }
}

impl Default for NetNs {
    fn default() -> NetNs {
        NetNs::new()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // The namespace goes with its last process: the holder (containers are done).
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
