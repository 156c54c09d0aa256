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
    /// Run a container: `run [OPTIONS] IMAGE [COMMAND...]` or `run [OPTIONS] --rootfs DIR COMMAND...`.
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
            match parse_reference(&image).and_then(|reference| pull::pull(&reference, insecure)) {
                Ok(stored) => {
                    println!("{}: {}", stored.record.reference, stored.record.manifest_digest);
                    0
                }
                Err(error) => {
                    eprintln!("workshop: error: {error:#}");
                    1
                }
            }
        }
        Command::Images => match store::list() {
            Ok(records) => {
                println!("{:<50} {:<20} {:>10}", "REFERENCE", "DIGEST", "SIZE");
                for record in records {
                    let digest = &record.manifest_digest.trim_start_matches("sha256:")[..12];
                    println!(
                        "{:<50} {:<20} {:>7.1} MB",
                        record.reference,
                        digest,
                        record.size as f64 / 1e6
                    );
                }
                0
            }
            Err(error) => {
                eprintln!("workshop: error: {error:#}");
                1
            }
        },
    };
    std::process::exit(code);
}
