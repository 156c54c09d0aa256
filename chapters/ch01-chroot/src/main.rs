use ch01_chroot::{cli, ContainerArgs};
use clap::{Parser, Subcommand};

/// Chapter 01: run a command inside a root filesystem with chroot(2).
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND inside the root filesystem DIR.
    Run(ContainerArgs),
}

fn main() {
    let cli: Cli = cli::parse_or_exit();
    let code = match cli.command {
        Command::Run(args) => ch01_chroot::run(&args),
    };
    std::process::exit(code);
}
