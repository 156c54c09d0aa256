//! The UTS namespace (uts_namespaces(7)): the hostname and NIS domain name, as
//! uname(2) reports them, become the container's own. The name comes from the
//! old "UNIX Time-sharing System" struct utsname.

use anyhow::{bail, Context, Result};
use ch01::{verbose, Container, Mechanism};
use nix::sched::CloneFlags;

/// The UTS namespace mechanism.
pub struct UtsNamespace {
    /// `--hostname`, if given.
    requested: Option<String>,
    /// The hostname the container gets, decided in `prepare`.
    hostname: String,
}

impl UtsNamespace {
    pub fn new(requested: Option<String>) -> UtsNamespace {
        UtsNamespace {
            requested,
            hostname: String::new(),
        }
    }
}

impl Mechanism for UtsNamespace {
    fn name(&self) -> &'static str {
        "uts namespace"
    }

    fn clone_flags(&self) -> CloneFlags {
        CloneFlags::CLONE_NEWUTS
    }

    fn prepare(&mut self, container: &Container) -> Result<()> {
        self.hostname = match &self.requested {
            Some(name) => check_hostname(name)?,
            None => container.id.clone(),
        };
        verbose::say(format_args!(
            "container {} gets the hostname {:?}",
            container.id, self.hostname
        ));
        Ok(())
    }

    fn child_before_exec(&mut self, _container: &Container) -> Result<()> {
        set_hostname(&self.hostname)
    }
}

// ANCHOR: set_hostname
/// Sets the hostname of this process's UTS namespace.
pub fn set_hostname(hostname: &str) -> Result<()> {
    // exercise(set_hostname): call sethostname(2) (nix::unistd::sethostname).
    // In the child, this changes the container's UTS namespace only; the
    // host's hostname stays as it is. Narrate it with `verbose::say`.
    // hint: `nix::unistd::sethostname(hostname)` (`man 2 sethostname`); it returns a nix `Result`,
    //       turn its error into anyhow's with `.context(...)`.
    // hint: This runs in the child, in the new UTS namespace (CLONE_NEWUTS), so the host's hostname
    //       does not change. Narrate with `verbose::say(format_args!("sethostname({hostname:?})"))`
    //       first.
    verbose::say(format_args!("sethostname({hostname:?})"));
    nix::unistd::sethostname(hostname).context("sethostname(2) failed")
    // end exercise
}
// ANCHOR_END: set_hostname

/// A hostname the kernel and other programs accept: 1 to 63 letters, digits,
/// dots and dashes (RFC 1123 labels), not starting with a dash.
pub fn check_hostname(name: &str) -> Result<String> {
    let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if name.is_empty() || name.len() > 63 || !valid_chars || name.starts_with('-') {
        bail!(
            "--hostname {name:?} is not a valid hostname: use 1 to 63 letters, digits, dots and dashes, \
             not starting with a dash"
        );
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::check_hostname;

    #[test]
    fn hostnames_are_checked() {
        for good in ["box", "web-1", "a.b.c", "x"] {
            assert!(check_hostname(good).is_ok(), "{good}");
        }
        for bad in ["", "-lead", "with space", "semi;colon", &"x".repeat(64)] {
            assert!(check_hostname(bad).is_err(), "{bad}");
        }
    }
}
