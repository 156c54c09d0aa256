//! Runs the commands the book shows and checks that they print what the book says.
//!
//! `scripts/check-book-commands.sh` runs this (as root: the runtimes need it). For
//! every page of book/src, it reads the ```` ```console ```` blocks, decides which
//! commands can run unattended here (select.rs says which and why), builds the
//! chapter binaries they need, runs each with a time limit, and compares the output
//! and the exit status with the page's (compare.rs says how). It prints every
//! mismatch, the commands it skipped with the reason, and a summary line; it exits
//! with 1 when any command did not match.
//!
//! Usage: `scripts/check-book-commands.sh [-v] [--page PAGE]...`: `-v` lists every
//! skipped command with its reason; `--page ch06-cgroups.md` (repeatable) checks
//! only those pages of book/src.

mod book;
mod compare;
mod environment;
mod select;

use anyhow::{bail, Context, Result};
use environment::{host_cgroups, ClassRegistry, DemoNetns};
use select::{Environment, Plan, Status};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// No command of the book takes long; one that hangs is stopped after this.
const TIME_LIMIT_SECONDS: u32 = 30;

const USAGE: &str = "usage: scripts/check-book-commands.sh [-v|--verbose] [--page PAGE]...
  -v, --verbose   list every command skipped, with the reason
  --page PAGE     check only this page of book/src (e.g. ch06-cgroups.md); repeatable";

/// What the command line asks for.
#[derive(Debug, Default, PartialEq)]
struct Options {
    verbose: bool,
    /// The pages to check, as given; none: every page.
    pages: Vec<String>,
}

/// Reads the arguments; `Ok(None)` for --help.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-v" | "--verbose" => options.verbose = true,
            "-h" | "--help" => return Ok(None),
            "--page" => match args.next() {
                Some(page) => options.pages.push(page),
                None => bail!("--page needs a page of book/src, e.g. --page ch06-cgroups.md\n{USAGE}"),
            },
            _ => match arg.strip_prefix("--page=") {
                Some(page) => options.pages.push(page.to_string()),
                None => bail!("unknown argument {arg}\n{USAGE}"),
            },
        }
    }
    Ok(Some(options))
}

fn main() -> Result<ExitCode> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let (verbose, asked) = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => (options.verbose, options.pages),
        Ok(None) => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        Err(error) => {
            eprintln!("bookcheck: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    if !is_root() {
        bail!("the chapter runtimes need root: run scripts/check-book-commands.sh as root (or with sudo)");
    }
    let host = host_cgroups()?;

    let mut available = Vec::new();
    for entry in std::fs::read_dir(root.join("book/src"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "md") {
            available.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    available.sort();
    let chosen = match select::chosen_pages(&available, &asked) {
        Ok(chosen) => chosen,
        Err(error) => {
            eprintln!("bookcheck: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut pages = Vec::new();
    for name in chosen {
        let commands = book::commands_of_page(&name, &std::fs::read_to_string(root.join("book/src").join(&name))?)?;
        let plans = select::plan_page(&commands, host);
        pages.push((name, commands, plans));
    }
    if verbose {
        println!(
            "cgroups: {} ({}): blocks recorded on the other version are skipped",
            host.name(),
            host.version()
        );
    }

    build(&root, &pages)?;
    // Stop between two commands on Ctrl-C, so that the copies below are removed.
    stop_on_ctrl_c()?;
    let _copies = RootfsCopies::make(&pages)?;
    let needs = |environment: Environment| {
        pages
            .iter()
            .flat_map(|(_, _, plans)| plans)
            .any(|plan| matches!(plan, Plan::Run(run) if run.environment == Some(environment)))
    };
    let _netns = needs(Environment::DemoNetns).then(DemoNetns::make).transpose()?;
    let registry = match needs(Environment::ClassRegistry) {
        true => ClassRegistry::start(&root)?,
        false => Err("no command needs it".to_string()),
    };

    let (mut matched, mut skipped, mut failed) = (0, 0, 0);
    for (page, commands, plans) in &pages {
        let (mut page_run, mut page_skipped) = (0, 0);
        let mut previous_status: Option<i32> = None;
        // The block of a command that could not run here, and that command.
        let mut blocked: Option<(usize, String)> = None;
        for (command, plan) in commands.iter().zip(plans) {
            if STOP.load(Ordering::SeqCst) {
                bail!("interrupted");
            }
            // What the page lets run may still find its environment missing here, and
            // then the rest of its block may miss what it would have set up.
            let plan = match plan {
                Plan::Run(_) if blocked.as_ref().is_some_and(|(block, _)| *block == command.block) => Plan::Skip(
                    format!("follows `{}`, which could not run here", blocked.as_ref().unwrap().1),
                ),
                Plan::Run(run) => match cannot_run_here(run, &registry) {
                    Some(reason) => {
                        blocked = Some((command.block, select::short(&command.text)));
                        Plan::Skip(reason)
                    }
                    None => plan.clone(),
                },
                Plan::Skip(_) => plan.clone(),
            };
            match &plan {
                Plan::Skip(reason) => {
                    page_skipped += 1;
                    if verbose {
                        println!(
                            "  skipped {page}:{}: `{}`: {reason}",
                            command.line,
                            select::short(&command.text)
                        );
                    }
                    previous_status = None;
                }
                Plan::Run(run) => {
                    page_run += 1;
                    let (output, status) = if run.status == Status::EchoOfPrevious {
                        let previous = previous_status.context("echo $? after a command that did not run")?;
                        (vec![previous.to_string()], 0)
                    } else {
                        run_command(&root, &run.script)?
                    };
                    previous_status = Some(status);
                    let status_ok = match run.status {
                        Status::Success => status == 0,
                        Status::Failure => status != 0,
                        Status::EchoOfPrevious | Status::ShownInOutput | Status::NotShown => true,
                    };
                    if compare::output_matches(&command.output, &output) && status_ok {
                        matched += 1;
                    } else {
                        failed += 1;
                        report_mismatch(page, command, &run.script, &output, status, &run.status);
                    }
                }
            }
        }
        skipped += page_skipped;
        if page_run + page_skipped > 0 {
            println!("{page}: {page_run} run, {page_skipped} skipped");
        }
    }

    let which = match asked.is_empty() {
        true => String::new(),
        false => format!(
            " (pages: {})",
            pages
                .iter()
                .map(|(page, _, _)| page.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    println!("book commands{which}: {matched} run and matched, {skipped} skipped");
    if failed > 0 {
        println!("{failed} command(s) printed something other than the book shows (above)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a command the page lets run cannot run on this machine now, if it cannot:
/// the class registry could not start, or chapter 10's store holds images the
/// checker did not pull, which `images`, `rmi` and a look at the store would show.
fn cannot_run_here(run: &select::Run, registry: &Result<ClassRegistry, String>) -> Option<String> {
    let reads_the_store = regex::Regex::new(r" images$| rmi |/var/lib/workshop/store/")
        .unwrap()
        .is_match(&run.script);
    match registry {
        Err(reason) if run.environment == Some(Environment::ClassRegistry) => {
            Some(format!("needs the class registry: {reason}"))
        }
        Ok(registry) if reads_the_store && registry.images_before() > 0 => Some(format!(
            "chapter 10's store holds {} image(s) the checker did not pull, which this would show",
            registry.images_before()
        )),
        _ => None,
    }
}

/// The copies of the rootfs the selected commands run on (see select::ROOTFS_COPIES),
/// made as the pages make them, and removed when dropped: at the end, or on an error.
struct RootfsCopies(Vec<&'static str>);

impl RootfsCopies {
    fn make(pages: &[(String, Vec<book::ShownCommand>, Vec<Plan>)]) -> Result<RootfsCopies> {
        let needed: BTreeSet<&'static str> = pages
            .iter()
            .flat_map(|(_, _, plans)| plans)
            .filter_map(|plan| match plan {
                Plan::Run(run) => run.rootfs_copy,
                Plan::Skip(_) => None,
            })
            .collect();
        let mut copies = RootfsCopies(Vec::new());
        for copy in needed {
            if Path::new(copy).exists() {
                bail!("{copy} exists already: remove it (the checker makes it afresh, as the book does)");
            }
            copies.0.push(copy);
            let made = Command::new("cp")
                .args(["-a", select::ROOTFS, copy])
                .status()?
                .success()
                && Command::new("chown")
                    .args(["-R", "100000:100000", copy])
                    .status()?
                    .success();
            if !made {
                bail!("could not copy {} to {copy}", select::ROOTFS);
            }
        }
        Ok(copies)
    }
}

impl Drop for RootfsCopies {
    fn drop(&mut self) {
        for copy in &self.0 {
            if let Err(error) = std::fs::remove_dir_all(copy) {
                eprintln!("bookcheck: could not remove {copy}: {error}");
            }
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn ask_to_stop(_signal: i32) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM set STOP instead of ending the checker. The command running at
/// that moment gets the signal too (from the terminal, or forwarded by timeout(1)).
fn stop_on_ctrl_c() -> Result<()> {
    let action = SigAction::new(SigHandler::Handler(ask_to_stop), SaFlags::empty(), SigSet::empty());
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

/// One `cargo build` of every chapter binary the selected commands need.
fn build(root: &Path, pages: &[(String, Vec<book::ShownCommand>, Vec<Plan>)]) -> Result<()> {
    let packages: BTreeSet<&str> = pages
        .iter()
        .flat_map(|(_, _, plans)| plans)
        .filter_map(|plan| match plan {
            Plan::Run(run) => run.package.as_deref(),
            Plan::Skip(_) => None,
        })
        .collect();
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.current_dir(root).args(["build", "-q"]);
    for package in &packages {
        cargo.args(["-p", package]);
    }
    if !cargo.status()?.success() {
        bail!("cargo build of {packages:?} failed");
    }
    Ok(())
}

/// Runs a command line as the page's reader would type it: in bash, from the
/// workspace's root, on a terminal (script(1) gives it a pseudo-terminal, so
/// stdout and stderr come together as on screen, `ls` prints columns and the
/// runtime sets up `/dev/console`). Returns its lines and its exit status.
fn run_command(root: &Path, script: &str) -> Result<(Vec<String>, i32)> {
    // timeout(1) stops the whole process group if the command hangs; stdin is empty.
    // A wide terminal, as the pages were written on: busybox's ps cuts lines at its width.
    let on_a_wide_terminal = format!("stty cols 200\n{script}");
    let output = Command::new("timeout")
        .args(["--kill-after=5", &TIME_LIMIT_SECONDS.to_string()])
        .args([
            "script",
            "--quiet",
            "--return",
            "--command",
            &on_a_wide_terminal,
            "/dev/null",
        ])
        .current_dir(root)
        .env("SHELL", "/bin/bash")
        // The reader's terminal: chapter 01 shows TERM passed through.
        .env("TERM", "xterm-256color")
        .env_remove("RUST_BACKTRACE")
        .stdin(std::process::Stdio::null())
        .output()
        .context("running timeout(1) and script(1)")?;
    let status = output.status.code().unwrap_or(128);
    let mut lines = compare::as_on_screen(&String::from_utf8_lossy(&output.stdout));
    if status == 124 {
        lines.push(format!("(stopped by the checker after {TIME_LIMIT_SECONDS} s)"));
    }
    Ok((lines, status))
}

fn report_mismatch(
    page: &str,
    command: &book::ShownCommand,
    script: &str,
    output: &[String],
    status: i32,
    expected: &Status,
) {
    println!("\nMISMATCH in book/src/{page}:{}", command.line);
    println!("  the page shows:   $ {}", command.text);
    if !script.is_empty() {
        println!("  the checker ran:  {script}");
    }
    println!("  expected output:");
    for line in &command.output {
        println!("    | {line}");
    }
    println!("  actual output (exit status {status}):");
    for line in output {
        println!("    | {line}");
    }
    match expected {
        Status::Success if status != 0 => println!("  the page shows no error, but the command failed"),
        Status::Failure if status == 0 => println!("  the page shows an error, but the command succeeded"),
        _ => {}
    }
    println!();
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Option<Options>> {
        parse_args(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn pages_and_verbosity_come_from_the_command_line() {
        assert_eq!(parsed(&[]).unwrap(), Some(Options::default()));
        assert_eq!(
            parsed(&["--page", "ch06-cgroups.md", "-v", "--page=ch07-overlayfs.md"]).unwrap(),
            Some(Options {
                verbose: true,
                pages: vec!["ch06-cgroups.md".into(), "ch07-overlayfs.md".into()]
            })
        );
        assert_eq!(parsed(&["--help"]).unwrap(), None);
        assert!(parsed(&["--page"])
            .unwrap_err()
            .to_string()
            .starts_with("--page needs a page"));
        assert!(parsed(&["ch06-cgroups.md"])
            .unwrap_err()
            .to_string()
            .starts_with("unknown argument"));
    }
}
