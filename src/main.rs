//! The `newswatch` binary: parses the command line and hands over to [`newswatch::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    newswatch::cli::main()
}
