use ch01::lifecycle::without_panics;
use ch09_image_pull::reference::parse_reference;
use ch09_image_pull::{pull, store, RunArgs};
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
        mut_arg("command", |arg| arg
            .value_name("IMAGE|COMMAND")
            .help("The image to run, then the command and its arguments (default: the image's entrypoint and cmd); \
                   with --rootfs, only the command. Put `--` before a command that has flags of its own"))
    )]
    Run(Box<RunArgs>),
    /// Pull IMAGE from its registry into the store.
    Pull {
        /// The image, e.g. alpine:3.20 or localhost:5000/team/app:tag.
        image: String,
        /// Use plain HTTP (loopback registries always do).
        #[arg(long)]
        insecure: bool,
        /// Narrate each request.
        #[arg(short, long)]
        verbose: bool,
    },
    /// List the images in the store.
    Images,
}

fn main() {
    let cli: Cli = ch01::cli::parse_or_exit();
    let code = match cli.command {
        Command::Run(args) => ch09_image_pull::run(&args),
        Command::Pull {
            image,
            insecure,
            verbose,
        } => {
            if verbose {
                ch01::verbose::enable();
            }
            // A panic (an exercise still todo!()) becomes an error like any other.
            match without_panics(|| parse_reference(&image).and_then(|reference| pull::pull(&reference, insecure))) {
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
