use ch01::lifecycle::without_panics;
use ch09::reference::parse_reference;
use ch09::PullArgs;
use ch10_layer_cache::{gc, pull, store, RunArgs};
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
    /// Run a container: from an image, or (as in the chapters before) on --rootfs DIR.
    #[command(
        override_usage = concat!(
            env!("CARGO_BIN_NAME"), " run [OPTIONS] IMAGE [-- COMMAND [ARG...]]\n       ",
            env!("CARGO_BIN_NAME"), " run [OPTIONS] --rootfs DIR -- COMMAND [ARG...]"
        ),
        mut_arg("command", |arg| arg.value_name("IMAGE|COMMAND").help(ch09::RUN_WORDS_HELP))
    )]
    Run(Box<RunArgs>),
    /// Pull IMAGE into the store, fetching only what it does not have.
    Pull(PullArgs),
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
        Command::Run(args) => ch10_layer_cache::run(&args),
        Command::Pull(PullArgs {
            image,
            registry,
            verbose,
        }) => {
            if verbose {
                ch01::verbose::enable();
            }
            report(|| {
                let record = pull::pull(&parse_reference(&image)?, registry.insecure)?;
                println!("{}: {}", record.reference, record.manifest_digest);
                Ok(())
            })
        }
        Command::Images => {
            let records = store::list();
            let width = records.iter().map(|r| r.reference.len()).max().unwrap_or(0).max(9);
            println!(
                "{:<width$}  {:<12}  {:>6}  {:>10}",
                "REFERENCE", "DIGEST", "LAYERS", "SIZE"
            );
            for record in records {
                let digest = &record.manifest_digest.trim_start_matches("sha256:")[..12];
                let size = record.size as f64 / 1e6;
                let layers = record.layers.len();
                println!(
                    "{:<width$}  {digest:<12}  {layers:>6}  {size:>7.1} MB",
                    record.reference
                );
            }
            0
        }
        Command::Rmi { image } => report(|| {
            let reference = parse_reference(&image)?;
            if !store::forget(&reference.to_string())? {
                anyhow::bail!("{reference} is not in the store (see `images`)");
            }
            let collected = gc::collect_garbage()?;
            println!("Untagged: {reference}");
            println!("Deleted: {} layer(s), {} blob(s)", collected.layers, collected.blobs);
            Ok(())
        }),
    };
    std::process::exit(code);
}

fn report(result: impl FnOnce() -> anyhow::Result<()>) -> i32 {
    // A panic (an exercise still todo!()) becomes an error like any other.
    match without_panics(result) {
        Ok(()) => 0,
        Err(error) => {
            ch01::message::print(format_args!("workshop: error: {error:#}"));
            1
        }
    }
}
