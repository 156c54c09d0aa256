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
        // durations and sizes (0.04s, 12ms, 3.1 MiB, 4K)
        (r"\b\d+(\.\d+)? ?(ns|µs|us|ms|s)\b", "<duration>"),
        (r"\b\d+(\.\d+)? ?(B|kB|KB|KiB|MB|MiB|GB|GiB|K|M|G)\b", "<size>"),
        // PIDs on the host, thread ids, usage counters: any number of 4 digits or more
        // (exit statuses, PIDs inside a PID namespace and ids like 0 stay as they are)
        (r"\b\d{4,}\b", "<n>"),
    ]
    .into_iter()
    .map(|(pattern, placeholder)| (Regex::new(pattern).unwrap(), placeholder))
    .collect()
});

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
        assert_eq!(normalize("    1 root     ps"), "    1 root     ps");
        assert_eq!(normalize("137"), "137");
        assert_eq!(
            normalize("upper of 8fbe0a5cff0a in 12ms"),
            "upper of <id> in <duration>"
        );
        assert_eq!(
            normalize("inet 10.88.0.2/24 via 10.88.0.1"),
            "inet 10.88.0.<n>/24 via 10.88.0.1"
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
