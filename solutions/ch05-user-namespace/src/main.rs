use ch05_user_namespace_solution::RunArgs;
use clap::{Parser, Subcommand};

/// Chapter 05: run a command as root of its own user namespace, unprivileged on the host.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND inside the root filesystem DIR, in new user, mount, PID, UTS and IPC namespaces.
    Run(RunArgs),
}

fn main() {
    let cli: Cli = ch01::cli::parse_or_exit();
    let code = match cli.command {
        Command::Run(args) => ch05_user_namespace_solution::run(&args),
    };
    std::process::exit(code);
}
