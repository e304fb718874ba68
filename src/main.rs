//! The `chaos-harness` binary: parse arguments, run, map the outcome to the exit code.

use clap::Parser;

fn main() {
    let cli = chaos_harness::cli::Cli::parse();
    let code = match chaos_harness::cli::main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
