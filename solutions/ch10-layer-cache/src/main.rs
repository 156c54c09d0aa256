use ch09::reference::parse_reference;
use ch10_layer_cache_solution::{gc, pull, store, RunArgs};
use clap::{Parser, Subcommand};

/// Chapter 10: images in a content-addressed layer cache, stacked by overlayfs.
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
    /// Pull IMAGE into the store, fetching only what it does not have.
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
    /// Remove IMAGE, and the layers no other image uses.
    Rmi {
        /// The image, as pulled.
        image: String,
    },
}

fn main() {
    let cli: Cli = ch01::cli::parse_or_exit();
    let code = match cli.command {
        Command::Run(args) => ch10_layer_cache_solution::run(&args),
        Command::Pull {
            image,
            insecure,
            verbose,
        } => {
            if verbose {
                ch01::verbose::enable();
            }
            report(
                parse_reference(&image)
                    .and_then(|reference| pull::pull(&reference, insecure))
                    .map(|record| {
                        println!("{}: {}", record.reference, record.manifest_digest);
                    }),
            )
        }
        Command::Images => {
            println!("{:<50} {:<14} {:>7} {:>10}", "REFERENCE", "DIGEST", "LAYERS", "SIZE");
            for record in store::list() {
                let digest = &record.manifest_digest.trim_start_matches("sha256:")[..12];
                let size = record.size as f64 / 1e6;
                println!(
                    "{:<50} {:<14} {:>7} {:>7.1} MB",
                    record.reference,
                    digest,
                    record.layers.len(),
                    size
                );
            }
            0
        }
        Command::Rmi { image } => report(parse_reference(&image).and_then(|reference| {
            if !store::forget(&reference.to_string())? {
                anyhow::bail!("{reference} is not in the store (see `images`)");
            }
            let collected = gc::collect_garbage()?;
            println!("Untagged: {reference}");
            println!("Deleted: {} layer(s), {} blob(s)", collected.layers, collected.blobs);
            Ok(())
        })),
    };
    std::process::exit(code);
}

fn report(result: anyhow::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("workshop: error: {error:#}");
            1
        }
    }
}
