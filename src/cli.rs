//! The command-line interface: argument definitions and the one place errors are reported.
//!
//! Each subcommand is a function from its parsed arguments to an [`ExitCode`]. Library code
//! returns typed errors and diagnostics; only this module prints them.
//!
//! Exit codes (documented in `--help` and the README):
//! - 0: success
//! - 1: the input has errors (diagnostics were printed), or warnings with `--deny-warnings`
//! - 2: the command line is wrong
//! - 3: an output could not be written, or the run failed

use crate::compile::{Compilation, compile};
use crate::diagnostic::{Style, emit_to_stderr};
use crate::graph::{GraphFormat, render};
use crate::load::{ModuleSet, Request, load};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

pub const EXIT_OK: u8 = 0;
pub const EXIT_INPUT: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_FAILURE: u8 = 3;

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  the input has errors (see the diagnostics), or warnings with --deny-warnings
  2  the command line is wrong
  3  an output could not be written, or the run failed";

#[derive(Debug, Parser)]
#[command(
    name = "ehrsim",
    version,
    about = "Synthetic electronic health records from declarative disease modules",
    long_about = "ehrsim steps synthetic patients through their lifetimes with disease modules \
                  (state machines in YAML, or Synthea's JSON unmodified) and writes their records.\n\n\
                  Module authors: `ehrsim check` reports every problem with file:line:col; \
                  `ehrsim graph` draws a module.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check module files and directories: syntax, types, references, probabilities
    #[command(after_help = AFTER_HELP)]
    Check(CheckArgs),
    /// Draw a module's state graph as DOT, SVG (no Graphviz needed) or Mermaid
    #[command(after_help = AFTER_HELP)]
    Graph(GraphArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// rustc-like, with the source line and a caret under the problem
    Rich,
    /// one line per problem: file:line:col: severity[kind]: message
    Short,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Module files (.yaml, .yml, .json) or directories of modules; a directory's subfolders
    /// hold submodules and its `lookup_tables/` folder the lookup tables
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// How to print diagnostics
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Rich)]
    pub format: DiagnosticFormat,
    /// Print only the summary, not each diagnostic
    #[arg(short, long)]
    pub quiet: bool,
    /// Exit with code 1 when there are warnings, too
    #[arg(long)]
    pub deny_warnings: bool,
    /// When to colour diagnostics
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// The module file to draw (its submodules and lookup tables are loaded from beside it)
    #[arg(value_name = "MODULE")]
    pub module: PathBuf,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = GraphFormat::Svg)]
    pub format: GraphFormat,
    /// Write to this file instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs the command line; the binary's `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Check(args) => check(&args),
        Command::Graph(args) => graph(&args),
    };
    ExitCode::from(code)
}

/// Prints an error message in the house style and returns the exit code.
fn fail(code: u8, message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    code
}

fn requests(paths: &[PathBuf]) -> Result<Vec<Request>, String> {
    paths.iter().map(|p| Request::for_path(p).map_err(|e| format!("cannot read `{}`: {e}", p.display()))).collect()
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// Loads and compiles; the building block of every command that reads modules.
pub fn build(requests: &[Request]) -> (ModuleSet, Compilation) {
    let set = load(requests);
    let compilation = compile(&set);
    (set, compilation)
}

fn check(args: &CheckArgs) -> u8 {
    let requests = match requests(&args.paths) {
        Ok(r) => r,
        Err(e) => return fail(EXIT_INPUT, e),
    };
    let started = Instant::now();
    let (set, compilation) = build(&requests);
    let elapsed = started.elapsed();
    let diags = &compilation.diagnostics;
    if !args.quiet {
        let style = match args.format {
            DiagnosticFormat::Rich => Style::Rich,
            DiagnosticFormat::Short => Style::Short,
        };
        emit_to_stderr(&set.sources, diags, style, use_color(args.color));
    }
    let top = set.top_level().count();
    let states: usize = set.modules.iter().map(|m| m.states.len()).sum();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "checked {} modules ({top} top-level, {} submodules, {states} states) and {} lookup tables in {:.3} s",
        set.modules.len(),
        set.modules.len() - top,
        set.tables.len(),
        elapsed.as_secs_f64()
    );
    let _ = writeln!(out, "{} errors, {} warnings", diags.errors(), diags.warnings());
    for (severity, kind, count) in diags.counts() {
        let severity = match severity {
            crate::diagnostic::Severity::Error => "error",
            crate::diagnostic::Severity::Warning => "warning",
        };
        let _ = writeln!(out, "  {severity:<7} {:<24} {count}", kind.name());
    }
    if diags.has_errors() || (args.deny_warnings && diags.warnings() > 0) { EXIT_INPUT } else { EXIT_OK }
}

fn graph(args: &GraphArgs) -> u8 {
    let requests = match requests(std::slice::from_ref(&args.module)) {
        Ok(r) => r,
        Err(e) => return fail(EXIT_INPUT, e),
    };
    let (set, compilation) = build(&requests);
    let Some(library) = compilation.library else {
        emit_to_stderr(&set.sources, &compilation.diagnostics, Style::Rich, use_color(ColorChoice::Auto));
        return fail(EXIT_INPUT, format!("`{}` has errors; fix them to draw it", args.module.display()));
    };
    let wanted = requests[0].only.as_ref().and_then(|o| o.first()).map(|rel| {
        crate::load::MODULE_EXTENSIONS.iter().find_map(|e| rel.strip_suffix(&format!(".{e}"))).unwrap_or(rel).to_owned()
    });
    let Some(id) = wanted.as_deref().and_then(|p| library.module_by_path(p)) else {
        return fail(EXIT_USAGE, format!("`{}` is not a module file", args.module.display()));
    };
    let text = match render(&library, library.module(id), args.format) {
        Ok(t) => t,
        Err(e) => return fail(EXIT_FAILURE, e),
    };
    match &args.output {
        Some(path) => match crate::atomic::write(path, text.as_bytes()) {
            Ok(()) => EXIT_OK,
            Err(e) => fail(EXIT_FAILURE, format!("cannot write `{}`: {e}", path.display())),
        },
        None => write_stdout(text.as_bytes()),
    }
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => fail(EXIT_FAILURE, format!("cannot write to standard output: {e}")),
    }
}
