//! The `ehrsim` binary: parses the command line and hands over to `ehrsim::cli`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ehrsim::cli::main()
}
