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

mod marginals_cmd;
mod report_cmd;
mod stats_cmd;
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
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `generate`, the default command
    #[command(flatten)]
    pub generate: GenerateArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate patients (the default command: `ehrsim -p 100` is `ehrsim generate -p 100`)
    #[command(after_help = AFTER_HELP)]
    Generate(Box<GenerateArgs>),
    /// Measure patient-lifetimes per second per core and peak memory on a module library
    #[command(after_help = AFTER_HELP)]
    Bench(BenchArgs),
    /// Check module files and directories: syntax, types, references, probabilities
    #[command(after_help = AFTER_HELP)]
    Check(CheckArgs),
    /// Draw a module's state graph as DOT, SVG (no Graphviz needed) or Mermaid
    #[command(after_help = AFTER_HELP)]
    Graph(GraphArgs),
    /// List the modules of the library with a one-line description each
    #[command(after_help = AFTER_HELP)]
    Modules(stats_cmd::ModulesArgs),
    /// Prevalence by age, sex, race and ethnicity, quality measures, and published targets,
    /// from a run's CSV output or from patients simulated in memory
    Stats(Box<stats_cmd::StatsArgs>),
    /// Fit the modules' tunable probabilities to a targets file and write an overlay
    Calibrate(Box<stats_cmd::CalibrateArgs>),
    /// Post a run's FHIR bundles (or NDJSON) to a FHIR server, resumably, with a load-test report
    #[command(after_help = AFTER_HELP)]
    Upload(Box<UploadArgs>),
    /// Write a self-contained HTML report (SVG charts) of a stats JSON, optionally before/after
    Report(report_cmd::ReportArgs),
    /// Compute a targets file from an extract of real data under differential privacy
    Marginals(Box<marginals_cmd::MarginalsArgs>),
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
    let args = match crate::config::with_config_file(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => return ExitCode::from(fail(EXIT_USAGE, e)),
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        None => generate(&cli.generate),
        Some(Command::Generate(args)) => generate(&args),
        Some(Command::Bench(args)) => bench(&args),
        Some(Command::Check(args)) => check(&args),
        Some(Command::Graph(args)) => graph(&args),
        Some(Command::Modules(args)) => stats_cmd::modules(&args),
        Some(Command::Stats(args)) => stats_cmd::stats(&args),
        Some(Command::Calibrate(args)) => stats_cmd::calibrate(&args),
        Some(Command::Upload(args)) => upload(&args),
        Some(Command::Report(args)) => report_cmd::report(&args),
        Some(Command::Marginals(args)) => marginals_cmd::marginals(&args),
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

/// Output formats of `generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatName {
    /// Synthea-compatible longitudinal CSV (patients.csv, encounters.csv, …)
    Csv,
    /// One FHIR R4 transaction Bundle per patient (US Core 6.1), in fhir/
    Fhir,
    /// FHIR bulk data: one NDJSON file per resource type, in ndjson/
    Ndjson,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// Number of patients to generate
    #[arg(short = 'p', long, env = "EHRSIM_POPULATION", default_value_t = 10, value_name = "N")]
    pub population: u64,
    /// Seed of the run: the same seed, options and modules give the same patients, byte for byte
    #[arg(short = 's', long, env = "EHRSIM_SEED", default_value_t = 0, value_name = "N")]
    pub seed: u64,
    /// Date at which ages are computed (YYYY-MM-DD or YYYYMMDD; default: today, in UTC)
    #[arg(short = 'r', long, env = "EHRSIM_REFERENCE_DATE", value_name = "DATE")]
    pub reference_date: Option<String>,
    /// Date the simulation stops (default: the reference date)
    #[arg(short = 'e', long, env = "EHRSIM_END_DATE", value_name = "DATE")]
    pub end_date: Option<String>,
    /// Age range at the reference date, in whole years (e.g. 18-64)
    #[arg(short = 'a', long, env = "EHRSIM_AGE", value_name = "MIN-MAX")]
    pub age: Option<String>,
    /// Only patients of this sex
    #[arg(short = 'g', long, env = "EHRSIM_GENDER", value_name = "M|F")]
    pub gender: Option<String>,
    /// Only patients living in this US state (name or two-letter code)
    #[arg(long, env = "EHRSIM_STATE", value_name = "STATE")]
    pub state: Option<String>,
    /// Run only these top-level modules (comma-separated names; `*` matches anything)
    #[arg(short = 'm', long, env = "EHRSIM_MODULES", value_delimiter = ',', value_name = "NAMES")]
    pub modules: Vec<String>,
    /// Take modules from this directory instead of the embedded library (repeatable)
    #[arg(long = "modules-dir", env = "EHRSIM_MODULES_DIR", value_name = "DIR")]
    pub modules_dir: Vec<PathBuf>,
    /// Apply the tuned numbers of this overlay (written by `ehrsim calibrate`) to the modules
    #[arg(long, env = "EHRSIM_OVERLAY", value_name = "FILE")]
    pub overlay: Option<PathBuf>,
    /// Keep only patients whose keep module ends in a state named `Keep`
    #[arg(short = 'k', long, env = "EHRSIM_KEEP", value_name = "MODULE_FILE")]
    pub keep: Option<PathBuf>,
    /// Export only the last N years of each record (active entries are always kept; 0 = all)
    #[arg(long, env = "EHRSIM_YEARS_OF_HISTORY", default_value_t = 10, value_name = "N")]
    pub years_of_history: u32,
    /// Keep only patients alive at the end date (dead ones are simulated again)
    #[arg(long, env = "EHRSIM_ONLY_ALIVE")]
    pub only_alive: bool,
    /// Switch off natural mortality from the US life table (deaths then come only from modules)
    #[arg(long, env = "EHRSIM_NO_NATURAL_DEATH")]
    pub no_natural_death: bool,
    /// Worker threads (default: one per core); the output does not depend on it
    #[arg(long, env = "EHRSIM_THREADS", value_name = "N")]
    pub threads: Option<usize>,
    /// Run the K-th of N shards (1-based); shards together are the whole run
    #[arg(long, env = "EHRSIM_SHARD", value_name = "K/N")]
    pub shard: Option<String>,
    /// Output directory
    #[arg(short = 'o', long, env = "EHRSIM_OUTPUT", default_value = "output", value_name = "DIR")]
    pub output: PathBuf,
    /// Output formats (comma-separated)
    #[arg(long, env = "EHRSIM_FORMAT", value_enum, value_delimiter = ',', default_value = "csv")]
    pub format: Vec<FormatName>,
    /// Compress every output file with gzip (names end in `.gz`)
    #[arg(long, env = "EHRSIM_GZIP")]
    pub gzip: bool,
    /// Read options from this YAML file (`population: 100`, `format: csv`, …); command-line
    /// options and EHRSIM_* variables take precedence
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// No progress bar
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// After the run, post its FHIR bundles to this server (needs `--format fhir`; resume or
    /// tune it with `ehrsim upload`)
    #[arg(long, env = "EHRSIM_UPLOAD", value_name = "URL")]
    pub upload: Option<String>,
}

fn parse_date(what: &str, text: &str) -> Result<crate::sim::time::Date, String> {
    crate::sim::time::Date::parse(text).ok_or_else(|| format!("invalid {what} `{text}`: expected a date as YYYY-MM-DD"))
}

fn parse_age(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("invalid --age `{text}`: expected MIN-MAX in whole years, e.g. 18-64");
    let (lo, hi) = text.split_once('-').ok_or_else(bad)?;
    let (lo, hi): (u32, u32) = (lo.trim().parse().map_err(|_| bad())?, hi.trim().parse().map_err(|_| bad())?);
    if lo > hi || hi > 110 {
        return Err(format!("invalid --age `{text}`: the range must be MIN ≤ MAX ≤ 110"));
    }
    Ok((lo, hi))
}

fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("invalid --shard `{text}`: expected K/N with 1 ≤ K ≤ N, e.g. 2/8");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k - 1, n))
}

/// Whether a glob (`*` wildcards, case-insensitive) matches a name.
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.to_lowercase(), name.to_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == n;
    }
    let mut rest = n.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else { return false };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

/// The module library to load: these `--modules-dir` directories, or the embedded library.
fn library_requests(dirs: &[PathBuf]) -> Result<Vec<Request>, String> {
    if dirs.is_empty() {
        return Ok(vec![Request { tree: Box::new(crate::embedded::tree()), only: None }]);
    }
    dirs.iter()
        .map(|dir| {
            if dir.is_dir() {
                Ok(Request { tree: Box::new(crate::load::DirTree { root: dir.clone() }), only: None })
            } else {
                Err(format!("--modules-dir `{}` is not a directory", dir.display()))
            }
        })
        .collect()
}

/// Everything `generate` needs, validated.
struct Plan {
    world: crate::sim::world::World,
    options: crate::sim::Options,
    config: crate::run::RunConfig,
    today_default: bool,
}

fn plan(args: &GenerateArgs) -> Result<Plan, (u8, String)> {
    let input = |e: String| (EXIT_USAGE, e);
    let today_default = args.reference_date.is_none();
    let reference = match &args.reference_date {
        Some(t) => parse_date("--reference-date", t).map_err(input)?,
        None => crate::sim::time::Date::of(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64),
        ),
    };
    let end = match &args.end_date {
        Some(t) => parse_date("--end-date", t).map_err(input)?,
        None => reference,
    };
    if end < reference && args.end_date.is_some() {
        return Err(input(format!("--end-date {end} is before the reference date {reference}")));
    }
    let age = args.age.as_deref().map(parse_age).transpose().map_err(input)?;
    let sex = match args.gender.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None => None,
        Some("M") => Some(crate::ast::Sex::Male),
        Some("F") => Some(crate::ast::Sex::Female),
        Some(other) => return Err(input(format!("invalid --gender `{other}`: expected M or F"))),
    };
    let shard = args.shard.as_deref().map(parse_shard).transpose().map_err(input)?.unwrap_or((0, 1));
    if args.threads == Some(0) {
        return Err(input("--threads must be at least 1".into()));
    }
    if args.population == 0 {
        return Err(input("--population must be at least 1".into()));
    }
    if args.upload.is_some() && !args.format.contains(&FormatName::Fhir) {
        return Err(input("--upload posts FHIR bundles: add `fhir` to --format".into()));
    }

    let mut requests = library_requests(&args.modules_dir).map_err(|e| (EXIT_INPUT, e))?;
    let keep_request = match &args.keep {
        Some(path) => Some(
            Request::for_path(path)
                .map_err(|e| (EXIT_INPUT, format!("cannot read --keep `{}`: {e}", path.display())))?,
        ),
        None => None,
    };
    let keep_path = keep_request.as_ref().and_then(|r| r.only.as_ref()).and_then(|o| o.first()).map(|rel| {
        crate::load::MODULE_EXTENSIONS.iter().find_map(|e| rel.strip_suffix(&format!(".{e}"))).unwrap_or(rel).to_owned()
    });
    requests.extend(keep_request);
    let (set, compilation) = build(&requests);
    let Some(library) = compilation.library else {
        emit_to_stderr(&set.sources, &compilation.diagnostics, Style::Rich, use_color(ColorChoice::Auto));
        return Err((EXIT_INPUT, "the modules have errors (run `ehrsim check` on them for the full list)".into()));
    };
    let mut world = crate::sim::world::World::new(library);
    if let Some(path) = &args.overlay {
        let overlay = stats_cmd::read_overlay(path).map_err(|e| (EXIT_INPUT, e))?;
        overlay.apply(&mut world.lib).map_err(|e| (EXIT_INPUT, format!("overlay `{}`: {e}", path.display())))?;
    }
    let state = match &args.state {
        Some(s) => Some(world.demographics.resolve_state(s).map_err(|e| (EXIT_USAGE, format!("--state: {e}")))?),
        None => None,
    };
    let keep = keep_path.as_deref().and_then(|p| world.lib.module_by_path(p));
    if !args.modules.is_empty() {
        let names: Vec<(crate::compiled::ModuleId, String)> =
            world.top_level.iter().map(|&id| (id, world.lib.module(id).path.clone())).collect();
        for pattern in &args.modules {
            if !names.iter().any(|(_, n)| glob_match(pattern, n)) {
                let known: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
                let hint = crate::diagnostic::did_you_mean(pattern, known.iter().copied())
                    .map_or_else(|| format!(" (modules: {})", known.join(", ")), |m| format!("; did you mean `{m}`?"));
                return Err((EXIT_USAGE, format!("no module matches --modules `{pattern}`{hint}")));
            }
        }
        world
            .top_level
            .retain(|id| Some(*id) == keep || args.modules.iter().any(|p| glob_match(p, &world.lib.module(*id).path)));
    }
    if world.top_level.len() > crate::sim::MAX_TOP_LEVEL {
        return Err((
            EXIT_INPUT,
            format!(
                "a run can have at most {} top-level modules, and these modules have {}; select some with --modules",
                crate::sim::MAX_TOP_LEVEL,
                world.top_level.len()
            ),
        ));
    }
    let options = crate::sim::Options {
        seed: args.seed,
        reference,
        end,
        age,
        sex,
        state,
        natural_death: !args.no_natural_death,
        only_alive: args.only_alive,
        keep,
        max_attempts: 1000,
        trace: false,
        poll_every_step: std::env::var_os("EHRSIM_POLL_EVERY_STEP").is_some(),
    };
    let formats: Vec<Box<dyn crate::export::Format>> = {
        let mut seen = Vec::new();
        args.format
            .iter()
            .filter(|f| {
                let new = !seen.contains(*f);
                seen.push(**f);
                new
            })
            .map(|f| -> Box<dyn crate::export::Format> {
                match f {
                    FormatName::Csv => Box::new(crate::export::csv::Csv),
                    FormatName::Fhir => Box::new(crate::export::fhir::Bundles),
                    FormatName::Ndjson => Box::new(crate::export::fhir::Ndjson),
                }
            })
            .collect()
    };
    let config = crate::run::RunConfig {
        population: args.population,
        shard,
        output: args.output.clone(),
        formats,
        years_of_history: args.years_of_history,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        gzip: args.gzip,
        stats: None,
        dry: false,
    };
    Ok(Plan { world, options, config, today_default })
}

fn generate(args: &GenerateArgs) -> u8 {
    let plan = match plan(args) {
        Ok(p) => p,
        Err((code, message)) => return fail(code, message),
    };
    let threads = args.threads.unwrap_or(0);
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(e) => return fail(EXIT_FAILURE, format!("cannot start worker threads: {e}")),
    };
    let result = pool.install(|| crate::run::run(&plan.world, &plan.options, &plan.config));
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            return fail(EXIT_FAILURE, format!("cannot write the output to `{}`: {e}", plan.config.output.display()));
        }
    };
    print_summary(&plan, &summary);
    match &args.upload {
        Some(server) => {
            let mut config =
                crate::upload::Config::new(server, crate::upload::input::Source::Bundles(plan.config.output.clone()));
            config.progress = plan.config.progress;
            finish_upload(crate::upload::upload(&config), None)
        }
        None => EXIT_OK,
    }
}

fn print_summary(plan: &Plan, s: &crate::run::Summary) {
    let mut out = std::io::stdout().lock();
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let (k, n) = plan.config.shard;
    let shard = if n > 1 {
        format!(" (shard {}/{n}: patients {}–{})", k + 1, s.first_index, s.first_index + s.patients.saturating_sub(1))
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "generated {} patients{shard} in {secs:.2} s: {:.0} patients/s",
        s.patients,
        s.patients as f64 / secs
    );
    let _ = writeln!(out, "  alive {}, dead {}, runtime errors {}", s.alive, s.dead, s.runtime_errors);
    for m in &s.runtime_messages {
        let _ = writeln!(out, "    runtime error: {m}");
    }
    if s.not_kept > 0 {
        let _ = writeln!(out, "  {} patients did not meet --only-alive/--keep within 1000 attempts", s.not_kept);
    }
    let per = |n: u64| n as f64 / s.patients.max(1) as f64;
    let records: Vec<String> = s
        .counts
        .iter()
        .filter(|(k, _)| **k != "patients")
        .map(|(k, v)| format!("{k} {v} ({:.1}/patient)", per(*v)))
        .collect();
    let _ = writeln!(out, "  records: {}", records.join(", "));
    let formats: Vec<&str> = plan.config.formats.iter().map(|f| f.directory()).collect();
    let _ = writeln!(out, "  output: {} ({})", plan.config.output.display(), formats.join(", "));
    let today = if plan.today_default { " (today: pass -r to pin it)" } else { "" };
    let _ = writeln!(out, "  seed {}, reference date {}{today}", plan.options.seed, plan.options.reference);
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Patients to simulate
    #[arg(short = 'p', long, default_value_t = 2000, value_name = "N")]
    pub population: u64,
    /// Module directories (default: the embedded library)
    #[arg(long = "modules-dir", value_name = "DIR")]
    pub modules_dir: Vec<PathBuf>,
    /// Worker threads (the figure is reported per core)
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub threads: usize,
    /// Output formats to write (into a temporary directory, removed afterwards)
    #[arg(long, value_enum, value_delimiter = ',', default_value = "csv")]
    pub format: Vec<FormatName>,
    /// Years of history exported
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub years_of_history: u32,
    /// Seed
    #[arg(short = 's', long, default_value_t = 1, value_name = "N")]
    pub seed: u64,
}

/// Peak resident memory of this process, from the kernel (Linux), in MiB.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { dir_size(&p) } else { e.metadata().map_or(0, |m| m.len()) }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn bench(args: &BenchArgs) -> u8 {
    let out = std::env::temp_dir().join(format!("ehrsim-bench-{}", std::process::id()));
    let generate_args = GenerateArgs {
        overlay: None,
        population: args.population,
        seed: args.seed,
        reference_date: Some("2024-06-30".into()),
        end_date: None,
        age: None,
        gender: None,
        state: None,
        modules: Vec::new(),
        modules_dir: args.modules_dir.clone(),
        keep: None,
        years_of_history: args.years_of_history,
        only_alive: false,
        no_natural_death: false,
        threads: Some(args.threads.max(1)),
        shard: None,
        output: out.clone(),
        format: args.format.clone(),
        config: None,
        quiet: true,
        gzip: false,
        upload: None,
    };
    let plan = match plan(&generate_args) {
        Ok(p) => p,
        Err((code, message)) => return fail(code, message),
    };
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(args.threads.max(1)).build() {
        Ok(p) => p,
        Err(e) => return fail(EXIT_FAILURE, format!("cannot start worker threads: {e}")),
    };
    let result = pool.install(|| crate::run::run(&plan.world, &plan.options, &plan.config));
    let bytes = dir_size(&out);
    let _ = std::fs::remove_dir_all(&out);
    let s = match result {
        Ok(s) => s,
        Err(e) => return fail(EXIT_FAILURE, format!("the benchmark run failed: {e}")),
    };
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let library = if args.modules_dir.is_empty() {
        "the embedded library".to_owned()
    } else {
        args.modules_dir.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    };
    let records: u64 = s.counts.values().sum();
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "library: {library} ({} top-level modules)", plan.world.top_level.len());
    let _ = writeln!(o, "patients: {} in {secs:.2} s with {} worker thread(s)", s.patients, args.threads.max(1));
    let _ = writeln!(o, "patient-lifetimes/s per core: {:.0}", s.patients as f64 / secs / args.threads.max(1) as f64);
    let _ = writeln!(o, "records per patient: {:.1}", records as f64 / s.patients.max(1) as f64);
    let _ = writeln!(o, "output per patient: {:.1} kB", bytes as f64 / 1000.0 / s.patients.max(1) as f64);
    if let Some(mib) = peak_memory_mib() {
        let _ = writeln!(o, "peak memory: {mib:.0} MiB");
    }
    let _ = writeln!(o, "runtime errors: {}", s.runtime_errors);
    EXIT_OK
}

#[derive(Debug, clap::Args)]
pub struct UploadArgs {
    /// A run's output directory (its `fhir/` bundles are posted) or a folder of bundles
    #[arg(value_name = "DIR", default_value = "output", conflicts_with = "ndjson")]
    pub dir: PathBuf,
    /// The FHIR server's base URL, e.g. http://127.0.0.1:8090 or https://host/fhir
    #[arg(long, env = "EHRSIM_UPLOAD_SERVER", value_name = "URL")]
    pub server: String,
    /// Bulk mode: post this run's `ndjson/` files (or a folder of .ndjson) as `batch` Bundles
    /// of `PUT Type/id`, type by type
    #[arg(long, value_name = "DIR")]
    pub ndjson: Option<PathBuf>,
    /// Requests in flight at once
    #[arg(short = 'c', long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,
    /// At most this many bundles (or batches) per second, over all workers
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Seconds a request may take, connection to last byte
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub timeout: f64,
    /// A header sent with every request, `Name: value` (repeatable; never printed)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Send `Authorization: Bearer <token>` with the token read from this environment variable
    #[arg(long, value_name = "VAR")]
    pub bearer_env: Option<String>,
    /// Continue the upload the ledger records: post only what the server does not hold yet
    #[arg(long)]
    pub resume: bool,
    /// Ignore an existing ledger and post everything again
    #[arg(long, conflicts_with = "resume")]
    pub restart: bool,
    /// The ledger file (default: `upload-ledger.jsonl` in DIR)
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// Attempts per bundle, the first included (retries on 408/429/502/503/504, timeouts and
    /// lost connections)
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_attempts: u32,
    /// No retry of a bundle starts after this many seconds spent on it
    #[arg(long, default_value_t = 300.0, value_name = "SECS")]
    pub max_retry_time: f64,
    /// Resources per batch Bundle in --ndjson mode
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub batch_size: usize,
    /// Also write the load-test report as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress bar
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

fn seconds(what: &str, secs: f64) -> Result<std::time::Duration, String> {
    if secs.is_finite() && secs > 0.0 && secs < 1e9 {
        Ok(std::time::Duration::from_secs_f64(secs))
    } else {
        Err(format!("{what} must be a positive number of seconds"))
    }
}

fn upload_config(args: &UploadArgs) -> Result<crate::upload::Config, String> {
    use crate::upload::input::Source;
    let source = match &args.ndjson {
        Some(dir) => Source::Ndjson(dir.clone()),
        None => Source::Bundles(args.dir.clone()),
    };
    let mut config = crate::upload::Config::new(&args.server, source);
    config.concurrency = args.concurrency;
    config.rate = args.rate;
    config.timeout = seconds("--timeout", args.timeout)?;
    config.retry.max_attempts = args.max_attempts.max(1);
    config.retry.max_elapsed = seconds("--max-retry-time", args.max_retry_time)?;
    config.resume = args.resume;
    config.restart = args.restart;
    config.ledger = args.ledger.clone();
    config.batch_size = args.batch_size;
    config.progress = !args.quiet && std::io::stderr().is_terminal();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .filter(|(n, _)| !n.trim().is_empty() && !n.trim().contains(' '))
            .ok_or_else(|| "invalid --header: expected `Name: value`".to_owned())?;
        config.headers.0.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    if let Some(var) = &args.bearer_env {
        let token = std::env::var(var)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| format!("--bearer-env: the environment variable `{var}` is not set"))?;
        config.headers.0.push(("authorization".into(), format!("Bearer {}", token.trim())));
    }
    Ok(config)
}

fn upload(args: &UploadArgs) -> u8 {
    let config = match upload_config(args) {
        Ok(c) => c,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    finish_upload(crate::upload::upload(&config), args.report.as_deref())
}

/// Prints an upload's report (and writes it as JSON); the exit code says whether every
/// bundle was accepted.
fn finish_upload(
    result: Result<crate::upload::report::Report, crate::upload::Error>,
    json: Option<&std::path::Path>,
) -> u8 {
    use crate::upload::Error;
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let code = match e {
                Error::Usage(_) => EXIT_USAGE,
                Error::Input(_) => EXIT_INPUT,
                Error::Server(_) | Error::Io(_) => EXIT_FAILURE,
            };
            return fail(code, e);
        }
    };
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(report.text().as_bytes());
    let _ = out.flush();
    if let Some(path) = json
        && let Err(e) = crate::upload::write_report(&report, path)
    {
        return fail(EXIT_FAILURE, e);
    }
    if let Some(why) = &report.stopped {
        return fail(EXIT_FAILURE, format!("the upload stopped: {why}"));
    }
    if report.items.failed > 0 {
        let more = format!(
            "{} of {} bundles failed (see above and the ledger); fix the cause and run again with --resume",
            report.items.failed, report.items.sent
        );
        return fail(EXIT_FAILURE, more);
    }
    EXIT_OK
}
