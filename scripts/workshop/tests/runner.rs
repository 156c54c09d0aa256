//! The runner, run as a student runs it: the built `workshop` binary, on the real
//! workspace or on a scratch copy of part of it (WORKSHOP_ROOT), with its records
//! in a directory of the test's own (CARGO_TARGET_DIR). Scratch directories live
//! under target/workshop-tests/ and are removed at the end of each test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WORKSHOP: &str = env!("CARGO_BIN_EXE_workshop");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A directory of the test's own under target/workshop-tests/, emptied first and
/// removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = workspace().join("target/workshop-tests").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn workshop(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(WORKSHOP);
    command.args(args).stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The words of `text`, one space between each (hints are wrapped for the terminal).
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `// hint:` texts of an exercise, read straight from the solution file.
fn hints_in(file: &str, exercise: &str) -> Vec<String> {
    let source = std::fs::read_to_string(workspace().join(file)).unwrap();
    let region = chaptergen::regions::regions(&source)
        .unwrap()
        .into_iter()
        .find(|r| r.name == exercise)
        .unwrap();
    region.hints
}

#[test]
fn hints_are_revealed_one_at_a_time_and_remembered() {
    let state = Scratch::new("hint-state");
    let env = [("CARGO_TARGET_DIR", state.0.as_path())];
    let hints = hints_in("solutions/ch01-chroot/src/command.rs", "find_in_path");
    assert!(hints.len() >= 2, "find_in_path should have at least two hints");

    let first = workshop(&["hint", "find_in_path"], &env);
    let shown = text(&first);
    assert!(first.status.success(), "{shown}");
    assert!(shown.contains("chapters/ch01-chroot/src/command.rs"), "{shown}");
    assert!(shown.contains(&format!("Hint 1 of {}", hints.len())), "{shown}");
    assert!(
        flat(&shown).contains(&hints[0]),
        "the first hint, as the solution file has it:\n{shown}"
    );
    assert!(!flat(&shown).contains(&hints[1]), "only one hint at first:\n{shown}");

    let second = text(&workshop(&["hint", "find_in_path"], &env));
    assert!(
        flat(&second).contains(&hints[0]) && flat(&second).contains(&hints[1]),
        "{second}"
    );
    assert!(second.contains(&format!("Hint 2 of {} (new)", hints.len())), "{second}");

    // The chapter's first exercise (no grading recorded) is another one, with its own count.
    let chapter = text(&workshop(&["hint", "ch01"], &env));
    assert!(
        chapter.contains("Exercise `enter_rootfs`") && chapter.contains("Hint 1 of"),
        "{chapter}"
    );
    assert!(chapter.contains("find_in_path (2 of"), "{chapter}");

    let unknown = workshop(&["hint", "no_such_thing"], &env);
    assert!(
        !unknown.status.success() && text(&unknown).contains("no chapter"),
        "{}",
        text(&unknown)
    );
}

#[test]
fn the_student_crates_carry_no_hints() {
    for entry in std::fs::read_dir(workspace().join("chapters")).unwrap() {
        let src = entry.unwrap().path().join("src");
        for file in std::fs::read_dir(&src).unwrap() {
            let file = file.unwrap().path();
            let source = std::fs::read_to_string(&file).unwrap();
            assert!(!source.contains("// hint:"), "{} shows hints", file.display());
        }
    }
}

/// A copy of the workspace with chapter 01 only: its solution, its student crate
/// and the grader. Builds go to target/workshop-tests/target, kept between runs.
fn chapter_01_workspace(scratch: &Scratch) -> PathBuf {
    let root = scratch.0.join("ws");
    let real = workspace();
    // Copied with fresh modification times (not `cp -a`): cargo rebuilds what is
    // newer than its last build, and an earlier run of this test built a solved crate.
    let copy = |from: &str| {
        let status = Command::new("cp")
            .arg("-r")
            .arg(real.join(from))
            .arg(root.join(from).parent().unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "copying {from}");
    };
    for dir in ["solutions", "chapters", "scripts", ".cargo"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    for item in [
        "Cargo.lock",
        ".cargo/config.toml",
        "scripts/sudo-runner",
        "tests",
        "solutions/ch01-chroot",
        "chapters/ch01-chroot",
    ] {
        copy(item);
    }
    let manifest = std::fs::read_to_string(real.join("Cargo.toml")).unwrap();
    let rest = &manifest[manifest.find("[workspace.package]").unwrap()..];
    std::fs::write(
        root.join("Cargo.toml"),
        format!("[workspace]\nresolver = \"2\"\nmembers = [\"solutions/*\", \"chapters/*\", \"tests\"]\n\n{rest}"),
    )
    .unwrap();
    root
}

/// Lines a running `workshop watch` prints, read on a thread.
struct Watching {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    seen: String,
}

impl Watching {
    fn wait_for(&mut self, text: &str) {
        // A guard against a watch that hangs, not a measure of speed (its first
        // grading builds the grader): WORKSHOP_TEST_TIMEOUT_SCALE=N gives it N
        // times as long on a machine known to be slow, as the grader's runs.
        let scale = std::env::var("WORKSHOP_TEST_TIMEOUT_SCALE")
            .ok()
            .and_then(|scale| scale.parse().ok())
            .filter(|scale: &u32| *scale >= 1)
            .unwrap_or(1);
        let deadline = Instant::now() + Duration::from_secs(300) * scale;
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                }
                Err(_) => panic!("watch never printed {text:?}; it printed:\n{}", self.seen),
            }
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        // Our own child, by its PID.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

#[test]
fn watch_grades_explains_and_notices_a_save_and_status_records_it() {
    let scratch = Scratch::new("watch");
    let root = chapter_01_workspace(&scratch);
    let target = workspace().join("target/workshop-tests/target");
    let _ = std::fs::remove_dir_all(target.join("workshop"));
    let env = [
        ("WORKSHOP_ROOT", root.as_path()),
        ("CARGO_TARGET_DIR", target.as_path()),
    ];

    let before = text(&workshop(&["status"], &env));
    assert!(
        before.contains("ch01-chroot") && before.contains("not graded yet"),
        "{before}"
    );
    assert!(before.contains("Next: ch01-chroot"), "{before}");

    let mut command = Command::new(WORKSHOP);
    command
        .args(["watch", "ch01"])
        .env("WORKSHOP_ROOT", &root)
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let (sender, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut watching = Watching {
        child,
        lines,
        seen: String::new(),
    };
    // The unsolved chapter: the first check of grade.rs fails, explained.
    watching.wait_for("Watching chapters/ch01-chroot/ for changes");
    let explained = watching.seen.clone();
    assert!(explained.contains("checks fail"), "{explained}");
    assert!(
        explained.contains("First failing check: enter_rootfs_the_rootfs_is_the_root"),
        "{explained}"
    );
    assert!(
        explained.contains("it grades exercise `enter_rootfs` in chapters/ch01-chroot/src/chroot.rs"),
        "{explained}"
    );
    assert!(
        explained.contains("Expected:\n    `ls /` in the container should list the rootfs"),
        "{explained}"
    );
    assert!(
        explained.contains("What the container showed:\n    --- the run ---"),
        "{explained}"
    );
    assert!(explained.contains("exit status: 125"), "{explained}");
    assert!(
        explained.contains("The exercise `enter_rootfs` is still a todo!()"),
        "{explained}"
    );
    assert!(explained.contains("`cargo workshop hint enter_rootfs`"), "{explained}");

    // Solve every exercise (the generator, with no exercise left unsolved), as a save would.
    let solved = chaptergen::generate_chapter(&root.join("solutions/ch01-chroot"), Some("no-exercise")).unwrap();
    for (path, content) in solved {
        std::fs::write(root.join("chapters/ch01-chroot").join(path), content).unwrap();
    }
    watching.wait_for("==> ch01-chroot: solved");
    watching.wait_for("that was the last one");
    drop(watching);

    let after = text(&workshop(&["status"], &env));
    assert!(after.contains("solved ("), "{after}");
    assert!(
        after.contains("recorded just now") || after.contains("min ago"),
        "{after}"
    );
    assert!(after.contains("Every chapter is solved"), "{after}");

    // An edit after the grading: the record is no longer the chapter's state.
    let file = root.join("chapters/ch01-chroot/src/chroot.rs");
    let source = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{source}\n// an edit\n")).unwrap();
    let edited = text(&workshop(&["status"], &env));
    assert!(edited.contains("edited since"), "{edited}");
    assert!(
        edited.contains("Next: ch01-chroot (it was solved, but edited since"),
        "{edited}"
    );
}

#[test]
fn reset_asks_first_and_restores_the_generated_crate() {
    let scratch = Scratch::new("reset");
    let root = scratch.0.join("ws");
    for dir in ["solutions", "chapters"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        let status = Command::new("cp")
            .arg("-a")
            .arg(workspace().join(dir).join("ch02-pid-namespace"))
            .arg(root.join(dir))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let env = [
        ("WORKSHOP_ROOT", root.as_path()),
        ("CARGO_TARGET_DIR", scratch.0.as_path()),
    ];
    let file = root.join("chapters/ch02-pid-namespace/src/init.rs");
    let generated = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, "my work in progress\n").unwrap();
    let extra = root.join("chapters/ch02-pid-namespace/src/notes.rs");
    std::fs::write(&extra, "// my notes\n").unwrap();

    // Not on a terminal, no --yes: it refuses, and changes nothing.
    let refused = workshop(&["reset", "ch02"], &env);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("pass --yes"), "{}", text(&refused));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "my work in progress\n");

    let reset = workshop(&["reset", "pid-namespace", "--yes"], &env);
    assert!(reset.status.success(), "{}", text(&reset));
    assert!(text(&reset).contains("2 file(s) restored"), "{}", text(&reset));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), generated);
    assert!(!extra.exists(), "a file the generator does not write is removed");

    let again = text(&workshop(&["reset", "2", "--yes"], &env));
    assert!(again.contains("nothing to reset"), "{again}");
}

#[test]
fn doctor_passes_here_and_every_kernel_trial_runs() {
    let output = workshop(&["doctor"], &[]);
    let table = text(&output);
    assert!(output.status.success(), "{table}");
    for check in [
        "pid namespace",
        "mount namespace",
        "uts namespace",
        "ipc namespace",
        "user namespace",
        "cgroup namespace",
        "net namespace",
        "cgroup create/remove",
        "overlayfs",
        "veth and bridge",
        "cgroup controllers",
        "test rootfs",
        "docker-registry",
        "skopeo",
        "umoci",
    ] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{check} ")))
            .unwrap_or_else(|| {
                panic!("no row {check:?}:\n{table}");
            });
        assert!(row.contains(" ok "), "{row}\n{table}");
    }
    let mode = table.lines().find(|l| l.starts_with("cgroup mode ")).unwrap();
    assert!(
        mode.contains("hybrid") || mode.contains("v2") || mode.contains("v1"),
        "{mode}"
    );
}

#[test]
fn doctor_fails_and_says_what_to_fix_when_the_rootfs_is_missing() {
    let scratch = Scratch::new("doctor-rootfs");
    let rootfs = scratch.0.join("no-rootfs");
    let output = workshop(&["doctor"], &[("WORKSHOP_ROOTFS", rootfs.as_path())]);
    let table = text(&output);
    assert_eq!(output.status.code(), Some(1), "{table}");
    let row = table.lines().find(|l| l.starts_with("test rootfs ")).unwrap();
    assert!(row.contains("FAIL") && row.contains("bin/busybox is missing"), "{row}");
    let fix = format!(
        "[FAIL] test rootfs: `sudo scripts/make-rootfs.sh {}` builds it",
        rootfs.display()
    );
    assert!(table.contains(&fix), "no fix {fix:?} in:\n{table}");
}

#[test]
fn doctor_fails_and_says_what_to_fix_when_a_registry_tool_is_missing() {
    let scratch = Scratch::new("doctor-path");
    // A PATH with every tool the doctor looks for but skopeo.
    for tool in ["docker-registry", "umoci", "cc", "sudo"] {
        if let Ok(found) = which(tool) {
            std::os::unix::fs::symlink(found, scratch.0.join(tool)).unwrap();
        }
    }
    let output = workshop(&["doctor"], &[("PATH", scratch.0.as_path())]);
    let table = text(&output);
    assert_eq!(output.status.code(), Some(1), "{table}");
    let row = table.lines().find(|l| l.starts_with("skopeo ")).unwrap();
    assert!(row.contains("FAIL") && row.contains("not found on PATH"), "{row}");
    assert!(table.contains("[FAIL] skopeo: `sudo apt install skopeo`"), "{table}");
    let umoci = table.lines().find(|l| l.starts_with("umoci ")).unwrap();
    assert!(umoci.contains(" ok "), "{umoci}");
}

fn which(tool: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .ok_or(())
}
