use ch07_overlayfs_solution::RunArgs;
use clap::{Parser, Subcommand};

/// Chapter 07: run a command on a throwaway overlay of the rootfs, with volumes.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND inside the root filesystem DIR, on an overlay, with volumes and cgroup limits, in new namespaces.
    Run(RunArgs),
}

fn main() {
    let cli: Cli = ch01::cli::parse_or_exit();
    let code = match cli.command {
        Command::Run(args) => ch07_overlayfs_solution::run(&args),
    };
    std::process::exit(code);
}
