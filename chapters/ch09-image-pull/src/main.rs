use ch01::lifecycle::without_panics;
use ch09_image_pull::reference::parse_reference;
use ch09_image_pull::{pull, store, PullArgs, RunArgs};
use clap::{Parser, Subcommand};

/// Chapter 09: pull images from a registry and run them.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a container: from an image, or (as in the chapters before) on --rootfs DIR.
    #[command(
        override_usage = concat!(
            env!("CARGO_BIN_NAME"), " run [OPTIONS] IMAGE [-- COMMAND [ARG...]]\n       ",
            env!("CARGO_BIN_NAME"), " run [OPTIONS] --rootfs DIR -- COMMAND [ARG...]"
        ),
        mut_arg("command", |arg| arg.value_name("IMAGE|COMMAND").help(ch09_image_pull::RUN_WORDS_HELP))
    )]
    Run(Box<RunArgs>),
    /// Pull IMAGE from its registry into the store.
    Pull(PullArgs),
    /// List the images in the store.
    Images,
}

fn main() {
    let cli: Cli = ch01::cli::parse_or_exit();
    let code = match cli.command {
        Command::Run(args) => ch09_image_pull::run(&args),
        Command::Pull(PullArgs {
            image,
            registry,
            verbose,
        }) => {
            if verbose {
                ch01::verbose::enable();
            }
            // A panic (an exercise still todo!()) becomes an error like any other.
            match without_panics(|| {
                parse_reference(&image).and_then(|reference| pull::pull(&reference, registry.insecure))
            }) {
                Ok(stored) => {
                    println!("{}: {}", stored.record.reference, stored.record.manifest_digest);
                    0
                }
                Err(error) => {
                    ch01::message::print(format_args!("workshop: error: {error:#}"));
                    1
                }
            }
        }
        Command::Images => match store::list() {
            Ok(records) => {
                let width = records.iter().map(|r| r.reference.len()).max().unwrap_or(0).max(9);
                println!("{:<width$}  {:<12}  {:>10}", "REFERENCE", "DIGEST", "SIZE");
                for record in records {
                    let digest = &record.manifest_digest.trim_start_matches("sha256:")[..12];
                    let size = record.size as f64 / 1e6;
                    println!("{:<width$}  {digest:<12}  {size:>7.1} MB", record.reference);
                }
                0
            }
            Err(error) => {
                ch01::message::print(format_args!("workshop: error: {error:#}"));
                1
            }
        },
    };
    std::process::exit(code);
}
