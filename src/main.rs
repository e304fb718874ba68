//! The `chaos-harness` binary: parse arguments, run, map the outcome to the exit code.

use clap::Parser;

fn main() {
    let cli = chaos_harness::cli::Cli::parse();
    let exit = match chaos_harness::cli::main(cli) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("{e}");
            e.exit()
        }
    };
    std::process::exit(exit.code());
}
