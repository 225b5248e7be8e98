//! `vayu`: the command line for people. Thin: tracing, parse, run, map
//! the error to its documented exit code (see `vayu::cli`).

use clap::Parser;

#[tokio::main]
async fn main() {
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VAYU_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let cli = vayu::cli::Cli::parse();
    if let Err(f) = vayu::cli::run(cli).await {
        eprintln!("vayu: {}", f.message);
        std::process::exit(f.code);
    }
}
