//! Does a real output match what the book shows?
//!
//! Both sides are first normalized: what differs from run to run (PIDs, container
//! ids, addresses handed out, veth names, times, durations, sizes, temp paths)
//! becomes a placeholder. Then the shown lines must be the real lines, in order,
//! except that a line `...` in the book stands for any number of lines, and `...`
//! inside a line for any text.
//!
//! One more thing varies: the runtime's parent process and its child (and the
//! container's command) write to the terminal at the same time, so with `-v` the
//! parent's `[workshop parent]` lines interleave with the others differently from
//! run to run. The two streams are compared each in its own order.

use regex::Regex;
use std::sync::LazyLock;

/// What varies from run to run, and what it becomes. Applied in order.
static VARYING: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // MAC addresses (the kernel picks them at random) but the all-zero and broadcast ones
        (r"\b(0[1-9a-f]|[1-9a-e][0-9a-f]|f[0-9a-e])(:[0-9a-f]{2}){5}\b", "<mac>"),
        // IPv6 link-local addresses, made from the MAC address
        (r"\bfe80::[0-9a-f:]+", "fe80::<n>"),
        // sha256 digests, then 12-hex-digit container ids
        (r"\b[0-9a-f]{64}\b", "<digest>"),
        (r"\b[0-9a-f]{12}\b", "<id>"),
        // veth names carry the container id or a number
        (r"\b(veth|ceth)[0-9a-z]+\b", "<veth>"),
        // addresses handed out from the bridge's subnet (10.88.0.1 is the bridge itself)
        (r"\b10\.88\.0\.([2-9]|\d{2,3})\b", "10.88.0.<n>"),
        // the terminal the container's console is bound to
        (r"/dev/pts/\d+", "/dev/pts/<n>"),
        // temp directories
        (r"/tmp/workshop-[A-Za-z0-9._-]+", "/tmp/workshop-<tmp>"),
        (r"/tmp/\.tmp[A-Za-z0-9]+", "/tmp/<tmp>"),
        // dates as ls prints them (Nov 23 14:55), and times of day
        (r"\b[A-Z][a-z]{2} +\d{1,2} +(\d{1,2}:\d{2}|\d{4})\b", "<date>"),
        (r"\b\d{1,2}:\d{2}(:\d{2})?\b", "<time>"),
        // a ping's round trips (min/avg/max = 0.278/0.278/0.278 ms)
        (r"\b\d+\.\d+/\d+\.\d+/\d+\.\d+ ms\b", "<durations>"),
        // the bridge's state in `ip -br`: it follows its ports' carrier, seconds after they go
        (r"^(workshop0 +)(UP|UNKNOWN|DOWN) +", "${1}<state> "),
        // durations and sizes (0.04s, 12ms, 3.1 MiB, 4K)
        (r"\b\d+(\.\d+)? ?(ns|µs|us|ms|s)\b", "<duration>"),
        (r"\b\d+(\.\d+)? ?(B|kB|KB|KiB|MB|MiB|GB|GiB|K|M|G)\b", "<size>"),
        // a mount's size= option (devtmpfs and tmpfs default to a share of the machine's memory)
        (r"\bsize=\d+[kmg]?\b", "size=<size>"),
        // host PIDs where the runtime names them, also when they are small (PIDs wrap around)
        (
            r#"(clone\([^)]*\) = |waitpid\(|/proc/|is PID |cgroup\.procs", "|netns )\d+\b"#,
            "${1}<n>",
        ),
        // PIDs on the host, thread ids, usage counters: any number of 4 digits or more
        // (exit statuses, PIDs inside a PID namespace and ids like 0 stay as they are)
        (r"\b\d{4,}\b", "<n>"),
    ]
    .into_iter()
    .map(|(pattern, placeholder)| (Regex::new(pattern).unwrap(), placeholder))
    .collect()
});

/// The lines a terminal shows at the end, from what was written to it: its line
/// ends are \r\n; a lone \r goes back to the start of the line, so only what
/// follows the last one stays (a pull's progress bar, redrawn in place, then
/// replaced by `Pull complete`); "ESC [K" (erase to the end of the line) and
/// colours (clap's errors) leave nothing a book can show.
pub fn as_on_screen(written: &str) -> Vec<String> {
    let controls = Regex::new("\x1b\\[[0-9;]*[mK]").unwrap();
    controls
        .replace_all(written, "")
        .replace("\r\n", "\n")
        .lines()
        .map(|line| line.rsplit('\r').next().unwrap_or("").to_string())
        .collect()
}

pub fn normalize(line: &str) -> String {
    let mut line = line.trim_end().to_string();
    for (pattern, placeholder) in VARYING.iter() {
        line = pattern.replace_all(&line, *placeholder).into_owned();
    }
    line
}

/// Does the real output (stdout and stderr together) match the shown one?
pub fn output_matches(shown: &[String], actual: &[String]) -> bool {
    // `cargo run` without -q prints its own progress first; the checker runs the built binary.
    let cargo_progress = Regex::new(r"^\s+(Compiling|Finished|Running) ").unwrap();
    let shown: Vec<String> = shown
        .iter()
        .filter(|l| !cargo_progress.is_match(l))
        .map(|l| normalize(l))
        .collect();
    let actual: Vec<String> = actual.iter().map(|l| normalize(l)).collect();
    let is_parent = |line: &String| line.starts_with("[workshop parent]");
    let parent = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| is_parent(l) || *l == "...")
            .cloned()
            .collect::<Vec<_>>()
    };
    let others = |lines: &[String]| lines.iter().filter(|l| !is_parent(l)).cloned().collect::<Vec<_>>();
    lines_match(&parent(&shown), &parent(&actual)) && lines_match(&others(&shown), &others(&actual))
}

/// The shown lines against the real ones, with `...` lines matching any number of lines.
fn lines_match(shown: &[String], actual: &[String]) -> bool {
    match shown.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..])),
        Some((first, rest)) => {
            actual.first().is_some_and(|line| line_matches(first, line)) && lines_match(rest, &actual[1..])
        }
    }
}

/// One shown line against one real line, with `...` in the shown line matching any text.
fn line_matches(shown: &str, actual: &str) -> bool {
    let parts: Vec<&str> = shown.split("...").collect();
    if parts.len() == 1 {
        return shown == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || !actual[first.len()..].ends_with(last) {
        return false;
    }
    // The middle parts, in order, in what lies between.
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn what_varies_is_normalized_and_what_does_not_stays() {
        assert_eq!(
            normalize("clone(CLONE_NEWPID | SIGCHLD) = 27922"),
            "clone(CLONE_NEWPID | SIGCHLD) = <n>"
        );
        assert_eq!(
            normalize("waitpid(739) = exited with status 0"),
            "waitpid(<n>) = exited with status 0"
        );
        assert_eq!(
            normalize("write(\"/proc/739/uid_map\", \"0 100000 65536\")"),
            "write(\"/proc/<n>/uid_map\", \"0 <n> <n>\")"
        );
        assert_eq!(
            normalize("the container's PID 1 is PID 93 on the host"),
            "the container's PID 1 is PID <n> on the host"
        );
        assert_eq!(
            normalize("round-trip min/avg/max = 0.278/0.278/0.278 ms"),
            "round-trip min/avg/max = <durations>"
        );
        assert_eq!(
            normalize("workshop0        UNKNOWN        10.88.0.1/24"),
            normalize("workshop0        UP             10.88.0.1/24")
        );
        assert_ne!(normalize("eth0             UP"), normalize("eth0             DOWN"));
        assert_eq!(normalize("    1 root     ps"), "    1 root     ps");
        assert_eq!(normalize("137"), "137");
        assert_eq!(
            normalize("devtmpfs /dev/null devtmpfs rw,relatime,size=12334524k,nr_inodes=3083631,mode=755 0 0"),
            normalize("devtmpfs /dev/null devtmpfs rw,relatime,size=12334760k,nr_inodes=3083690,mode=755 0 0")
        );
        assert_eq!(
            normalize("upper of 8fbe0a5cff0a in 12ms"),
            "upper of <id> in <duration>"
        );
        assert_eq!(
            normalize("workshop0 UP 26:ec:fe:95:e5:3d 10.88.0.1/24 fe80::14a8:4dff:fe5a:872c/64"),
            "workshop0 <state> <mac> 10.88.0.1/24 fe80::<n>/64"
        );
        assert!(!normalize("link/ether 00:00:00:00:00:00 brd ff:ff:ff:ff:ff:ff").contains("<mac>"));
        assert_ne!(normalize("00:00:00:00:00:00"), normalize("02:00:00:00:00:00"));
        assert_eq!(
            normalize("Digest: sha256:5c6c6b6f444b7a5bbcac0b102a8217788095cdb8ca3fb0e0861e0e531a4f6908"),
            "Digest: sha256:<digest>"
        );
        assert_eq!(normalize("9494392a01aa: Pull complete"), "<id>: Pull complete");
        assert_eq!(
            normalize("localhost:5000/workshop/busybox:latest      5c6c6b6f444b       1      1.1 MB"),
            "localhost:<n>/workshop/busybox:latest      <id>       1      <size>"
        );
        assert_eq!(
            normalize("inet 10.88.0.2/24 via 10.88.0.1"),
            "inet 10.88.0.<n>/24 via 10.88.0.1"
        );
    }

    #[test]
    fn the_screen_keeps_what_a_redrawn_line_shows_last() {
        let written = "latest: Pulling from workshop/busybox\r\n\
            \r9494392a01aa: Downloading [>   ] 0.0MB/1.1MB\x1b[K\r9494392a01aa: Downloading [==> ] 0.8MB/1.1MB\x1b[K\
            \r9494392a01aa: Pull complete\x1b[K\r\n\x1b[1m\x1b[31merror:\x1b[0m no\r\n";
        assert_eq!(
            as_on_screen(written),
            [
                "latest: Pulling from workshop/busybox",
                "9494392a01aa: Pull complete",
                "error: no"
            ]
        );
    }

    #[test]
    fn a_changed_line_an_extra_line_and_a_missing_line_all_fail() {
        let shown = lines("PID   USER     COMMAND\n    1 root     ps");
        assert!(output_matches(&shown, &shown));
        assert!(!output_matches(
            &shown,
            &lines("PID   USER     COMMAND\n    2 root     ps")
        ));
        assert!(!output_matches(
            &shown,
            &lines("PID   USER     COMMAND\n    1 root     ps\nextra")
        ));
        assert!(!output_matches(&shown, &lines("PID   USER     COMMAND")));
    }

    #[test]
    fn ellipses_stand_for_lines_and_for_text() {
        let shown = lines("first\n...\n    1 root     ...\nlast");
        assert!(output_matches(
            &shown,
            &lines("first\na\nb\n    1 root     /sbin/init\nlast")
        ));
        assert!(output_matches(&shown, &lines("first\n    1 root     x\nlast")));
        assert!(!output_matches(&shown, &lines("first\n    2 root     x\nlast")));
    }

    #[test]
    fn the_parent_and_the_rest_are_each_compared_in_order() {
        let shown = lines("[workshop parent] a\n[workshop child] b\noutput\n[workshop parent] c");
        assert!(output_matches(
            &shown,
            &lines("[workshop parent] a\n[workshop child] b\n[workshop parent] c\noutput")
        ));
        assert!(!output_matches(
            &shown,
            &lines("[workshop parent] c\n[workshop child] b\noutput\n[workshop parent] a")
        ));
    }
}
