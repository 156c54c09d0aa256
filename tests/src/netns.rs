//! A network namespace made for one check, as the "host" its containers connect
//! to: network checks never touch the machine's real network, and run in parallel.

use std::cell::RefCell;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The namespace that sandboxes made on this thread run in, if any.
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `checks` (earlier chapters' checks, which make their own sandboxes) with
/// every sandbox they make running in `netns`: from chapter 08 on, a container
/// without `--net` gets a bridge and a veth, which must never reach the real host.
pub fn with_every_run_in<R>(netns: &NetNs, checks: impl FnOnce() -> R) -> R {
    CURRENT.with(|current| *current.borrow_mut() = Some(netns.name.clone()));
    let result = checks();
    CURRENT.with(|current| *current.borrow_mut() = None);
    result
}

/// The command that runs a program in the network namespace `name`: nsenter(1),
/// which changes only the network namespace (`ip netns exec` also remounts /sys,
/// which would hide the host's cgroup filesystems from the runtime).
pub(crate) fn enter_command(name: &str) -> Vec<String> {
    vec!["nsenter".into(), format!("--net=/run/netns/{name}"), "--".into()]
}

/// The namespace set by [`with_every_run_in`] on this thread.
pub(crate) fn current() -> Option<String> {
    CURRENT.with(|current| current.borrow().clone())
}

/// A named network namespace (`ip netns add`), deleted when dropped.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new() -> NetNs {
        let name = format!(
            "workshop-t{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        run(&["ip", "netns", "add", &name]);
        run(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        NetNs { name }
    }

    /// Runs `ip -n NAME ARGS...` and returns its output.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["ip", "-n", &self.name];
        full.extend_from_slice(args);
        run(&full)
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
        let _ = Command::new("ip").args(["netns", "delete", &self.name]).status();
    }
}

fn run(args: &[&str]) -> String {
    let output = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
