//! A mount namespace of the test's own, with small tmpfs mounted over some of the
//! workshop's state directories: the programs run in it (through `nsenter
//! --mount`) see the small filesystems, the host never does, and they are gone
//! with the namespace when its holder process ends. See mount_namespaces(7).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use workshop_grader::NetNs;

/// A mount namespace held by a sleeping process.
pub struct PrivateMounts {
    holder: Child,
}

impl PrivateMounts {
    /// A new mount namespace (private propagation: nothing mounted in it reaches
    /// the host) with a tmpfs of `options` (e.g. "size=2m") on each path.
    pub fn with_tmpfs(mounts: &[(&str, &str)]) -> PrivateMounts {
        let mut script = String::new();
        for (path, options) in mounts {
            std::fs::create_dir_all(path).unwrap();
            script.push_str(&format!("mount -t tmpfs -o {options} tmpfs {path} && "));
        }
        script.push_str("exec sleep 1000000");
        let holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("starting unshare(1)");
        let private = PrivateMounts { holder };
        // unshare and sh exec in place: the holder's PID stays; wait for the mounts.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mountinfo = std::fs::read_to_string(format!("/proc/{}/mountinfo", private.pid())).unwrap_or_default();
            let all_there = mounts.iter().all(|(path, _)| {
                mountinfo
                    .lines()
                    .any(|l| l.contains(&format!(" {path} ")) && l.contains("tmpfs"))
            });
            if all_there {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the private mounts never appeared: {mountinfo}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        private
    }

    fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// Where the host sees `path` of this namespace: /proc/PID/root/PATH.
    pub fn path(&self, path: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{path}", self.pid()))
    }

    /// The command that runs a program in this namespace (and in `netns`, if given).
    pub fn enter(&self, netns: Option<&NetNs>) -> Command {
        let mut command = Command::new("nsenter");
        command.arg(format!("--mount=/proc/{}/ns/mnt", self.pid()));
        if let Some(netns) = netns {
            command.arg(format!("--net={}", netns.path()));
        }
        command.arg("--");
        command
    }

    /// `mount -o remount,OPTIONS PATH` in this namespace.
    pub fn remount(&self, path: &str, options: &str) {
        let status = self
            .enter(None)
            .args(["mount", "-o", &format!("remount,{options}"), path])
            .status()
            .unwrap();
        assert!(status.success(), "remounting {path} with {options} failed");
    }

    /// (used, size) in bytes of the filesystem at `path` in this namespace.
    pub fn usage(&self, path: &str) -> (u64, u64) {
        let stat = nix::sys::statvfs::statvfs(&self.path(path)).unwrap();
        let block = stat.fragment_size();
        let size = stat.blocks() * block;
        (size - stat.blocks_free() * block, size)
    }
}

impl Drop for PrivateMounts {
    fn drop(&mut self) {
        // The namespace, and its tmpfs, go with their last process.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
