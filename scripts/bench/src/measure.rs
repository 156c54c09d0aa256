//! One measurement: start a program (fork + exec), wait for it with wait4(2), and
//! keep what the kernel reports: the wall time from before the fork to after the
//! wait, the CPU time (user + system) of the child and of every descendant it
//! waited for, and the largest resident set size among them (`ru_maxrss`, see
//! getrusage(2): for wait4 it is the child's, its waited-for descendants' included).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// What one run of one contender cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub wall: Duration,
    /// ru_utime + ru_stime of the waited child (its waited-for descendants included).
    pub cpu: Duration,
    /// ru_maxrss, in KiB.
    pub max_rss_kib: u64,
}

impl Sample {
    /// Two programs run one after the other (a pull, then an unpack) as one step.
    pub fn then(self, next: Sample) -> Sample {
        Sample {
            wall: self.wall + next.wall,
            cpu: self.cpu + next.cpu,
            max_rss_kib: self.max_rss_kib.max(next.max_rss_kib),
        }
    }
}

/// Set by SIGINT, SIGTERM or SIGHUP: stop measuring, clean up, exit.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Catches Ctrl-C (and SIGTERM, SIGHUP) so that the benchmark can remove what it made.
pub fn catch_interrupts() -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(signal, &action) }.context("sigaction")?;
    }
    Ok(())
}

/// Has the user asked us to stop?
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fails when the user pressed Ctrl-C, so that `?` leads straight to the cleanup.
pub fn check_interrupted() -> Result<()> {
    if interrupted() {
        bail!("interrupted");
    }
    Ok(())
}

/// Runs `command` to its end and measures it. Its stdin and stdout are /dev/null,
/// its stderr goes to `stderr_file` (shown if it fails). A non-zero exit fails.
pub fn measure(command: &mut Command, stderr_file: &Path) -> Result<Sample> {
    let stderr = File::create(stderr_file).with_context(|| format!("create {}", stderr_file.display()))?;
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
    // A pre_exec hook makes std fork(2) the child instead of posix_spawn's
    // vfork: a vforked child shares our memory, and exec(2) would record our own
    // peak resident size as the child's ru_maxrss. A forked child starts its
    // count at what it copies of our current (small) resident set.
    // SAFETY: the hook does nothing.
    unsafe { command.pre_exec(|| Ok(())) };
    let started = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("could not start {:?}", command.get_program()))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4(2) on our own child, with pointers to live locals.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if waited == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(error).context("wait4");
        }
    }
    let wall = started.elapsed();
    let seconds = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let sample = Sample {
        wall,
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss as u64,
    };
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        check_interrupted()?;
        let what = if libc::WIFEXITED(status) {
            format!("exit status {}", libc::WEXITSTATUS(status))
        } else {
            format!("killed by signal {}", libc::WTERMSIG(status))
        };
        let output = std::fs::read_to_string(stderr_file).unwrap_or_default();
        bail!("{command:?} failed ({what}):\n{output}");
    }
    Ok(sample)
}

/// The median of `values` (the mean of the two middle ones for an even count).
pub fn median(values: &mut [f64]) -> f64 {
    assert!(!values.is_empty(), "median of nothing");
    values.sort_by(|a, b| a.total_cmp(b));
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// The medians of a contender's samples: wall and CPU in milliseconds, max RSS in MiB.
#[derive(Debug, Clone, Copy)]
pub struct Medians {
    pub wall_ms: f64,
    pub cpu_ms: f64,
    pub rss_mib: f64,
    /// The largest max RSS of any run, in MiB.
    pub rss_max_mib: f64,
}

impl Medians {
    pub fn of(samples: &[Sample]) -> Medians {
        let mut wall: Vec<f64> = samples.iter().map(|s| s.wall.as_secs_f64() * 1e3).collect();
        let mut cpu: Vec<f64> = samples.iter().map(|s| s.cpu.as_secs_f64() * 1e3).collect();
        let mut rss: Vec<f64> = samples.iter().map(|s| s.max_rss_kib as f64 / 1024.0).collect();
        let rss_max_mib = rss.iter().copied().fold(0.0, f64::max);
        Medians {
            wall_ms: median(&mut wall),
            cpu_ms: median(&mut cpu),
            rss_mib: median(&mut rss),
            rss_max_mib,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn measures_a_program_and_its_failure() {
        let dir = std::env::temp_dir().join(format!("workshop-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stderr = dir.join("stderr");
        // A child that burns some CPU in a grandchild it waits for: counted too.
        let sample = measure(
            Command::new("sh").args(["-c", "sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done'"]),
            &stderr,
        )
        .unwrap();
        assert!(sample.cpu > Duration::ZERO, "{sample:?}");
        assert!(sample.wall >= sample.cpu / 2, "{sample:?}");
        assert!(sample.max_rss_kib > 0);
        let error = measure(Command::new("sh").args(["-c", "echo oops >&2; exit 3"]), &stderr).unwrap_err();
        assert!(error.to_string().contains("exit status 3") && error.to_string().contains("oops"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
