use ch08_network_solution::RunArgs;
use clap::{Parser, Subcommand};

/// Chapter 08: run a command with a network of its own: a veth pair to the workshop0 bridge.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND inside the root filesystem DIR, on an overlay, with its own network, volumes and cgroup limits, in new namespaces.
    Run(RunArgs),
}

fn main() {
    let cli: Cli = ch01::cli::parse_or_exit();
    let code = match cli.command {
        Command::Run(args) => ch08_network_solution::run(&args),
    };
    std::process::exit(code);
}
