//! Chapter 01: chroot, running a command, exit codes, signals, `-v`.
//!
//! Every check takes the path of the chapter binary under test (the student's
//! or the solution's) and runs it as a user would.

use std::os::unix::fs::PermissionsExt;

use nix::sys::signal::Signal;

use crate::{Output, Sandbox};

/// Fails the check with what went wrong, where to look, and the whole run.
pub(crate) fn expect(ok: bool, what: &str, where_to_look: &str, output: &Output) {
    assert!(ok, "{what}\n\nWhere to look: {where_to_look}\n\n{output}");
}

/// The container sees the rootfs as "/" and starts in it.
pub fn the_rootfs_is_the_root(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&[], &["/bin/probe", "ls", "/"]);
    expect(
        output.stdout.lines().any(|l| l == "workshop-rootfs"),
        "`ls /` in the container should list the rootfs (with its file `workshop-rootfs`)",
        "`enter_rootfs` in src/chroot.rs: chroot(2) into the rootfs",
        &output,
    );
    insta::assert_snapshot!("ch01_ls_root", output.stdout);
    let output = sandbox.run(&[], &["/bin/probe", "cwd"]);
    expect(
        output.stdout == "cwd: /\n",
        "the container's command should start in the new root directory \"/\"",
        "`enter_rootfs` in src/chroot.rs: chroot(2) does not change the current directory; chdir(\"/\") does",
        &output,
    );
}

/// The classic escape works from a chroot: a root process inside reaches the host.
pub fn the_chroot_escape_works(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let host_file = sandbox.host_only_file.display().to_string();
    let hidden = sandbox.run(&[], &["/bin/probe", "ls", &sandbox.dir.display().to_string()]);
    expect(
        hidden.stdout.starts_with("error:"),
        "before the escape, the host's files should not be visible from the container",
        "`enter_rootfs` in src/chroot.rs",
        &hidden,
    );
    let output = sandbox.run(&[], &["/bin/probe", "escape", &host_file]);
    expect(
        output.stdout.starts_with("escape: reached the host"),
        "in chapter 01 the chroot escape should work (chapter 03 closes it)",
        "`enter_rootfs` in src/chroot.rs: chroot, then chdir(\"/\")",
        &output,
    );
}

/// stdin, stdout and stderr pass through the runtime untouched.
pub fn stdio_passes_through(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let args = sandbox.run_args(
        &[],
        &[
            "/bin/sh",
            "-c",
            "read line; echo \"out: $line\"; echo \"err: $line\" >&2",
        ],
    );
    let output = sandbox.run_raw(&args, Some("hello from stdin\n"), &[]);
    expect(
        output.stdout == "out: hello from stdin\n" && output.stderr.contains("err: hello from stdin\n"),
        "the container should read the runtime's stdin and write to its stdout and stderr",
        "the lifecycle in src/lifecycle.rs and `enter_rootfs` in src/chroot.rs",
        &output,
    );
}

/// A bare command name is looked up in the container's PATH.
pub fn commands_are_found_in_path(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&[], &["probe", "cwd"]);
    expect(
        output.code == Some(0) && output.stdout == "cwd: /\n",
        "`probe` (in /bin of the rootfs) should be found through PATH and run",
        "`find_in_path` in src/command.rs",
        &output,
    );
}

/// A command that is nowhere in the rootfs: exit status 127 and a clear message.
pub fn a_missing_command_is_127(binary: &str) {
    let sandbox = Sandbox::new(binary);
    for command in ["no-such-command", "/bin/no-such-command"] {
        let output = sandbox.run(&[], &[command]);
        expect(
            output.code == Some(127) && output.stderr.contains("not found"),
            "a command that does not exist in the rootfs should give exit status 127 and say \"not found\"",
            "`find_in_path` in src/command.rs (NotFound)",
            &output,
        );
    }
}

/// A command that exists but cannot be executed: exit status 126.
pub fn a_non_executable_command_is_126(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let file = sandbox.rootfs.join("usr/bin/not-executable");
    std::fs::write(&file, "#!/bin/sh\necho should not run\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    for command in ["not-executable", "/usr/bin/not-executable"] {
        let output = sandbox.run(&[], &[command]);
        expect(
            output.code == Some(126) && !output.stdout.contains("should not run"),
            "a file that is not executable should give exit status 126",
            "`find_in_path` in src/command.rs (NotExecutable)",
            &output,
        );
    }
}

/// The container's environment: PATH, HOME and the host's TERM, nothing else.
pub fn the_environment_is_clean(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let args = sandbox.run_args(&[], &["/bin/probe", "env"]);
    let output = sandbox.run_raw(&args, None, &[("WORKSHOP_HOST_SECRET", "must not leak")]);
    expect(
        !output.stdout.contains("WORKSHOP_HOST_SECRET") && output.stdout.contains("PATH="),
        "the container should get a clean environment: PATH, HOME and TERM, and nothing else from the host",
        "`container_env` in src/command.rs",
        &output,
    );
    insta::assert_snapshot!("ch01_environment", output.stdout);
}

/// The command's exit code is the runtime's.
pub fn the_exit_code_is_the_commands(binary: &str) {
    let sandbox = Sandbox::new(binary);
    for code in [0, 3, 42] {
        let output = sandbox.run(&[], &["/bin/sh", "-c", &format!("exit {code}")]);
        expect(
            output.code == Some(code),
            &format!("`exit {code}` in the container should make the runtime exit with {code}"),
            "`exit_code` in src/exit_status.rs",
            &output,
        );
    }
}

/// A command killed by signal N gives 128 + N.
pub fn a_signal_death_is_128_plus_n(binary: &str) {
    let sandbox = Sandbox::new(binary);
    for (signal, code) in [("TERM", 143), ("KILL", 137)] {
        let output = sandbox.run(&[], &["/bin/sh", "-c", &format!("kill -{signal} $$")]);
        expect(
            output.code == Some(code),
            &format!("a command killed by SIG{signal} should make the runtime exit with {code} (128 + the signal)"),
            "`exit_code` in src/exit_status.rs",
            &output,
        );
    }
}

/// SIGINT, SIGTERM and SIGHUP sent to the runtime reach the container's process.
pub fn signals_reach_the_container(binary: &str) {
    let sandbox = Sandbox::new(binary);
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        let mut running = sandbox.spawn(&[], &["/bin/probe", "signals"]);
        running.wait_for_line("ready");
        running.signal(signal);
        let output = running.wait();
        sandbox.assert_no_mount_left(&output);
        expect(
            output.stdout.contains(&format!("received {signal}")) && output.code == Some(0),
            &format!("{signal} sent to the runtime should be forwarded to the container's process"),
            "the supervise loop in src/signals.rs",
            &output,
        );
    }
}

/// A runtime started in the background by a shell inherits SIGINT ignored; the
/// container must still start with the default action, so a forwarded Ctrl-C ends it.
pub fn a_background_runtime_still_forwards_sigint(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let mut running = sandbox.spawn_ignoring(Signal::SIGINT, &[], &["/bin/sh", "-c", "echo started; exec sleep 60"]);
    running.wait_for_line("started");
    std::thread::sleep(std::time::Duration::from_millis(300));
    running.signal(Signal::SIGINT);
    if !running.ends_within(std::time::Duration::from_secs(5)) {
        running.kill_container();
    }
    let output = running.wait();
    sandbox.assert_no_mount_left(&output);
    expect(
        output.code == Some(130),
        "SIGINT forwarded to `sleep` should end it (130) even when the runtime itself started with SIGINT ignored",
        "`reset_for_exec` in src/signals.rs: the container starts with default signal actions",
        &output,
    );
}

/// `-v` narrates the kernel calls in order.
pub fn verbose_narrates_the_kernel_calls(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&["-v"], &["/bin/probe", "cwd"]);
    let narration = redact_pids(&sandbox.redact(&output.stderr));
    expect(
        narration.contains("chroot(") && narration.contains("execve("),
        "`-v` should narrate each kernel call: clone, chroot, chdir, execve, waitpid",
        "`enter_rootfs` in src/chroot.rs narrates with `verbose::say`",
        &output,
    );
    insta::assert_snapshot!("ch01_verbose", narration);
}

/// A missing rootfs is a runtime error (125) that says what to do, and changes nothing.
pub fn a_missing_rootfs_is_a_clear_error(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let missing = sandbox.dir.join("no-such-rootfs");
    let args: Vec<String> = ["run", "--rootfs", &missing.display().to_string(), "--", "/bin/sh"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let output = sandbox.run_raw(&args, None, &[]);
    expect(
        output.code == Some(125) && output.stderr.contains("does not exist") && !missing.exists(),
        "a missing rootfs should fail with 125 and a message saying it does not exist, creating nothing",
        "`Container::from_args` in src/lifecycle.rs",
        &output,
    );
}

/// A bad flag is a runtime error too: 125, never mistaken for the command's status.
pub fn a_bad_flag_is_125(binary: &str) {
    let sandbox = Sandbox::new(binary);
    let output = sandbox.run(&["--no-such-flag"], &["/bin/true"]);
    expect(
        output.code == Some(125),
        "an unknown flag should give exit status 125",
        "src/cli.rs",
        &output,
    );
}

/// Replaces the container's host PID (from the narrated clone line) with [PID].
pub fn redact_pids(narration: &str) -> String {
    let pid = narration
        .lines()
        .find(|line| line.contains("clone("))
        .and_then(|line| line.rsplit("= ").next())
        .map(|pid| pid.trim().to_string());
    match pid {
        Some(pid) if !pid.is_empty() => narration
            .replace(&format!("= {pid}\n"), "= [PID]\n")
            .replace(&format!("({pid}"), "([PID]")
            .replace(&format!("PID {pid} "), "PID [PID] "),
        _ => narration.to_string(),
    }
}
