use ch03_mount_namespace_solution::RunArgs;
use clap::{Parser, Subcommand};

/// Chapter 03: run a command in its own mount namespace, rooted with pivot_root.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND inside the root filesystem DIR, in new mount and PID namespaces.
    Run(RunArgs),
}

fn main() {
    let cli: Cli = ch01::cli::parse_or_exit();
    let code = match cli.command {
        Command::Run(args) => ch03_mount_namespace_solution::run(&args),
    };
    std::process::exit(code);
}
