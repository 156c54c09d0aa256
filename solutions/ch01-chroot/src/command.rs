//! Finding and executing the container's command.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::exit_status::{CANNOT_EXECUTE, NOT_FOUND, RUNTIME_ERROR};
use crate::verbose;

/// The PATH every container starts with (the one Docker uses).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why the command could not be started, with the exit status it maps to.
#[derive(Debug, PartialEq, Eq)]
pub enum CommandError {
    /// Nothing by that name in any PATH directory: exit status 127.
    NotFound(String),
    /// A file by that name exists but cannot be executed: exit status 126.
    NotExecutable(PathBuf),
}

impl CommandError {
    /// The exit status for this failure (127 or 126, as shells use them).
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::NotFound(_) => NOT_FOUND,
            CommandError::NotExecutable(_) => CANNOT_EXECUTE,
        }
    }
}

// ANCHOR: find_in_path
/// Looks `name` (a bare command name such as `ls`) up in the directories of
/// `path`, a colon-separated list like [`DEFAULT_PATH`], as a shell does.
pub fn find_in_path(name: &str, path: &str) -> Result<PathBuf, CommandError> {
    // exercise(find_in_path): try each directory of `path` in order and return the
    // first `dir/name` that is a regular file with an execute bit set
    // (`metadata.permissions().mode() & 0o111`). If no directory has an
    // executable one, return `NotExecutable(candidate)` when some directory had
    // a file by that name that cannot be executed, else `NotFound(name)`.
    // hint: Split `path` with `path.split(':')` (skip empty parts) and build each candidate with
    //       `Path::new(dir).join(name)`.
    // hint: `std::fs::metadata(&candidate)` follows symlinks (busybox applets are symlinks); an
    //       `Err` means "not here": go on. `metadata.is_file() && metadata.permissions().mode() &
    //       0o111 != 0` means executable (`use std::os::unix::fs::PermissionsExt`).
    // hint: Pitfall: return NotExecutable only if no later directory has an executable match;
    //       remember the first non-executable candidate (`Option::get_or_insert`) and decide after
    //       the loop.
    let mut not_executable = None;
    for dir in path.split(':').filter(|dir| !dir.is_empty()) {
        let candidate = Path::new(dir).join(name);
        let Ok(metadata) = std::fs::metadata(&candidate) else {
            continue;
        };
        if metadata.is_file() && metadata.permissions().mode() & 0o111 != 0 {
            return Ok(candidate);
        }
        not_executable.get_or_insert(candidate);
    }
    Err(match not_executable {
        Some(candidate) => CommandError::NotExecutable(candidate),
        None => CommandError::NotFound(name.to_string()),
    })
    // end exercise
}
// ANCHOR_END: find_in_path

// ANCHOR: container_env
/// The environment the container's command starts with. Nothing of the host's
/// environment leaks in, except the terminal type `host_term` (from `$TERM`).
pub fn container_env(host_term: Option<&str>) -> Vec<String> {
    // exercise(container_env): return "NAME=value" strings: PATH set to
    // DEFAULT_PATH, HOME=/root, and TERM=<host_term> only when the host has one.
    // hint: Build a `Vec<String>`: start with `format!("PATH={DEFAULT_PATH}")` and
    //       `"HOME=/root".to_string()`.
    // hint: `host_term` is an `Option`: push `format!("TERM={term}")` only inside `if let
    //       Some(term) = host_term`. Nothing else from the host's environment may leak in.
    let mut env = vec![format!("PATH={DEFAULT_PATH}"), "HOME=/root".to_string()];
    if let Some(term) = host_term {
        env.push(format!("TERM={term}"));
    }
    env
    // end exercise
}
// ANCHOR_END: container_env

/// `base` with `extra` ("NAME=value", an image's variables) added; a variable of
/// `extra` replaces one of the same name in `base`.
pub fn with_extra_env(base: Vec<String>, extra: &[String]) -> Vec<String> {
    let name = |var: &str| var.split('=').next().unwrap_or("").to_string();
    let mut env: Vec<String> = base
        .into_iter()
        .filter(|var| !extra.iter().any(|e| name(e) == name(var)))
        .collect();
    env.extend(extra.iter().cloned());
    env
}

/// Moves into the container's working directory (made if missing, as Docker does)
/// and takes its user's ids, when the container has them (from an image).
pub fn enter_workdir_and_user(container: &crate::lifecycle::Container) -> anyhow::Result<()> {
    use anyhow::Context;
    if let Some(workdir) = &container.workdir {
        std::fs::create_dir_all(workdir)
            .with_context(|| format!("creating the working directory {}", workdir.display()))?;
        verbose::say(format_args!("chdir({workdir:?})"));
        nix::unistd::chdir(workdir).with_context(|| format!("chdir({}) failed", workdir.display()))?;
    }
    if let Some((uid, gid)) = container.user {
        let (uid, gid) = (nix::unistd::Uid::from_raw(uid), nix::unistd::Gid::from_raw(gid));
        verbose::say(format_args!("setgroups([{gid}]); setresgid({gid}); setresuid({uid})"));
        nix::unistd::setgroups(&[gid]).context("setgroups(2) failed")?;
        nix::unistd::setresgid(gid, gid, gid).context("setresgid(2) failed")?;
        nix::unistd::setresuid(uid, uid, uid).context("setresuid(2) failed")?;
    }
    Ok(())
}

/// Replaces this process with the container's command, execve(2). Returns only on
/// failure, with the exit status and a message saying what to do.
pub fn exec_command(command: &[String], env: &[String]) -> Result<Infallible, (i32, String)> {
    let program = &command[0];
    let path = if program.contains('/') {
        PathBuf::from(program)
    } else {
        // The container's own PATH (an image may set one), else the default.
        let path = env
            .iter()
            .find_map(|var| var.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        find_in_path(program, path).map_err(|error| describe(&error, path))?
    };
    let cstring = |s: &str| CString::new(s).map_err(|_| (RUNTIME_ERROR, format!("{s:?} contains a NUL byte")));
    let c_path = cstring(&path.to_string_lossy())?;
    let c_args = command.iter().map(|a| cstring(a)).collect::<Result<Vec<_>, _>>()?;
    let c_env = env.iter().map(|e| cstring(e)).collect::<Result<Vec<_>, _>>()?;
    verbose::say(format_args!("execve({path:?}, {command:?})"));
    let errno = nix::unistd::execve(&c_path, &c_args, &c_env).unwrap_err();
    Err(exec_failure(&path, errno))
}

/// Turns a failed execve(2) into Docker's exit status and a message.
fn exec_failure(path: &Path, errno: Errno) -> (i32, String) {
    let shown = path.display();
    match errno {
        Errno::ENOENT => (
            NOT_FOUND,
            format!("{shown}: not found in the rootfs (or its interpreter / dynamic loader is missing: is it a static binary?)"),
        ),
        Errno::EACCES => (CANNOT_EXECUTE, format!("{shown}: permission denied (is it executable? chmod +x)")),
        Errno::ENOEXEC => (CANNOT_EXECUTE, format!("{shown}: not an executable format (a script needs a #! line)")),
        Errno::EISDIR => (CANNOT_EXECUTE, format!("{shown}: is a directory")),
        other => (CANNOT_EXECUTE, format!("{shown}: execve(2) failed: {other}")),
    }
}

fn describe(error: &CommandError, path: &str) -> (i32, String) {
    let message = match error {
        CommandError::NotFound(name) => {
            format!("{name}: command not found in the rootfs (searched PATH={path})")
        }
        CommandError::NotExecutable(path) => {
            format!(
                "{}: found, but it is not executable (chmod +x it in the rootfs)",
                path.display()
            )
        }
    };
    (error.exit_code(), message)
}
