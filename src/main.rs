//! The `ehrsim` binary: parses the command line and hands over to `ehrsim::cli`.

fn main() -> std::process::ExitCode {
    ehrsim::cli::main()
}
