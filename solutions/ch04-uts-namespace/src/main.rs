use ch04_uts_namespace_solution::RunArgs;
use clap::{Parser, Subcommand};

/// Chapter 04: run a command with a hostname and IPC objects of its own.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND inside the root filesystem DIR, in new mount, PID, UTS and IPC namespaces.
    Run(RunArgs),
}

fn main() {
    let cli: Cli = ch01::cli::parse_or_exit();
    let code = match cli.command {
        Command::Run(args) => ch04_uts_namespace_solution::run(&args),
    };
    std::process::exit(code);
}
