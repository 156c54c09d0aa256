use ch02_pid_namespace::RunArgs;
use clap::{Parser, Subcommand};

/// Chapter 02: run a command as PID 1 of its own PID namespace.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND inside the root filesystem DIR, in a new PID namespace.
    Run(RunArgs),
}

fn main() {
    let cli: Cli = ch01::cli::parse_or_exit();
    let code = match cli.command {
        Command::Run(args) => ch02_pid_namespace::run(&args),
    };
    std::process::exit(code);
}
