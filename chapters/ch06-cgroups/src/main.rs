use ch06_cgroups::RunArgs;
use clap::{Parser, Subcommand};

/// Chapter 06: run a command within limits on memory, CPU and processes (cgroups).
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND inside the root filesystem DIR, with cgroup limits, in new user, mount, PID, UTS, IPC and cgroup namespaces.
    Run(RunArgs),
}

fn main() {
    let cli: Cli = ch01::cli::parse_or_exit();
    let code = match cli.command {
        Command::Run(args) => ch06_cgroups::run(&args),
    };
    std::process::exit(code);
}
