//! `ehrsim stats` and `ehrsim modules`.

use super::{EXIT_FAILURE, EXIT_INPUT, EXIT_OK, EXIT_USAGE, GenerateArgs, fail, parse_date, write_stdout};
use crate::stats::{CodeBook, CodeSet, Criterion, DEFAULT_AGE_BANDS, Dim, Kind, Measure, Population, Spec, Tally};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ehrsim stats output                                  population, quality measures, top conditions
  ehrsim stats output --condition diabetes --by age,sex
  ehrsim stats output --condition 44054006 --by race,ethnicity
  ehrsim stats -p 50000 -s 1 -r 2025-01-01 --only-alive --targets examples/targets/realism.yaml
                                                       simulate in memory (nothing written) and compare

Exit codes: 0 success; 1 bad input (or a target missed, with --check); 2 bad command line;
3 the run failed")]
pub struct StatsArgs {
    /// A run's output directory (with csv/); without it, patients are simulated in memory with
    /// the generate options below and nothing is written
    #[arg(value_name = "DIR")]
    pub input: Option<PathBuf>,
    /// Compare with the published figures of this targets file (schemas/targets.schema.json)
    #[arg(short = 't', long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// Prevalence of a condition: a code (44054006) or a module name (every condition the
    /// module records); repeatable
    #[arg(short = 'c', long = "condition", value_name = "CODE|MODULE")]
    pub conditions: Vec<String>,
    /// Break the --condition prevalences down by these (comma-separated: age, sex, race, ethnicity)
    #[arg(long, value_delimiter = ',', default_value = "age,sex", value_name = "DIMS")]
    pub by: Vec<String>,
    /// Lower bounds of the age bands (comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "AGES")]
    pub age_bands: Vec<u32>,
    /// The date at which prevalence is measured (default: the run's reference date)
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// How many of the most prevalent conditions to list (0: none)
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// Also write the results as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write an HTML report of the results to this file (as `ehrsim report` does)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Exit with code 1 when a target is missed
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub run: GenerateArgs,
}

/// Condition codes a module name stands for: those of its ConditionOnset states, in order.
fn module_conditions(world: &crate::sim::world::World, name: &str) -> Option<Vec<(String, String)>> {
    let (_, module) =
        world.lib.top_level().find(|(_, m)| m.path.eq_ignore_ascii_case(name) || m.name.eq_ignore_ascii_case(name))?;
    let mut out: Vec<(String, String)> = Vec::new();
    for s in module.graph.node_weights() {
        if let crate::compiled::StateKind::ConditionOnset(o) = &s.kind {
            for c in o.codes.iter().take(1) {
                let e = world.lib.code(*c);
                if !out.iter().any(|(code, _)| *code == e.code) {
                    out.push((e.code.clone(), e.display.clone()));
                }
            }
        }
    }
    Some(out)
}

pub fn stats(args: &StatsArgs) -> u8 {
    // Targets file.
    let targets = match &args.targets {
        Some(path) => match read_targets(path) {
            Ok(t) => Some(t),
            Err(e) => return fail(EXIT_INPUT, e),
        },
        None => None,
    };
    let mut dims = Vec::new();
    for d in &args.by {
        match Dim::parse(d) {
            Some(x) => dims.push(x),
            None => {
                return fail(EXIT_USAGE, format!("--by: cannot break down by `{d}`; use age, sex, race or ethnicity"));
            }
        }
    }
    let age_bands = if !args.age_bands.is_empty() {
        let mut b = args.age_bands.clone();
        if b[0] != 0 {
            b.insert(0, 0);
        }
        if b.windows(2).any(|w| w[0] >= w[1]) {
            return fail(EXIT_USAGE, "--age-bands must be ascending, e.g. 0,18,45,65");
        }
        b
    } else if let Some(b) = targets.as_ref().and_then(|t| t.age_bands.clone()) {
        b
    } else {
        DEFAULT_AGE_BANDS.to_vec()
    };
    let date_arg = match &args.date {
        Some(d) => match parse_date("--date", d) {
            Ok(d) => Some(d),
            Err(e) => return fail(EXIT_USAGE, e),
        },
        None => None,
    };

    // The library, to resolve module names (and to simulate).
    let plan = if args.input.is_none() {
        match super::plan(&args.run) {
            Ok(p) => Some(p),
            Err((code, message)) => return fail(code, message),
        }
    } else {
        None
    };
    let library_world;
    let world = match &plan {
        Some(p) => &p.world,
        None => {
            let mut run = args.run.clone();
            run.modules.clear();
            match super::plan(&run) {
                Ok(p) => {
                    library_world = p.world;
                    &library_world
                }
                Err((code, message)) => return fail(code, message),
            }
        }
    };

    let mut measures: Vec<Measure> = Vec::new();
    for c in &args.conditions {
        let codes: Vec<(String, String)> = match module_conditions(world, c) {
            Some(list) if !list.is_empty() => list,
            Some(_) => return fail(EXIT_USAGE, format!("module `{c}` records no condition")),
            None => vec![(c.clone(), String::new())],
        };
        for (code, display) in codes {
            let label =
                if display.is_empty() { format!("Prevalence of {code}") } else { format!("{display} ({code})") };
            measures.push(Measure {
                id: code.clone(),
                label,
                kind: Kind::Share(Criterion::Condition(CodeSet::new(vec![code]))),
                population: Population::default(),
                by: dims.clone(),
                target: None,
            });
        }
    }
    if let Some(t) = &targets {
        measures.extend(t.measures.iter().cloned());
    }
    for q in crate::stats::quality_measures() {
        if !measures.iter().any(|m| m.id == q.id) {
            measures.push(q);
        }
    }

    let (spec, tally, book) = match (&args.input, plan) {
        (Some(dir), _) => {
            let mut spec = Spec {
                date: crate::sim::time::Date { year: 1970, month: 1, day: 1 },
                age_bands,
                measures,
                all_conditions: args.top > 0,
            };
            let records = match crate::stats::csvin::read(dir, &spec.wanted()) {
                Ok(r) => r,
                Err(e) => return fail(EXIT_INPUT, e),
            };
            let Some(date) = date_arg.or(targets.as_ref().and_then(|t| t.date)).or(records.reference_date) else {
                return fail(EXIT_USAGE, format!("`{}` has no run.json: give the date with --date", dir.display()));
            };
            spec.date = date;
            spec.resolve(&records.book);
            let mut tally = Tally::new(&spec);
            for f in &records.facts {
                tally.add(spec.evaluate(f));
            }
            (spec, tally, records.book)
        }
        (None, Some(mut plan)) => {
            let date = date_arg.or(targets.as_ref().and_then(|t| t.date)).unwrap_or(plan.options.reference);
            let book = CodeBook::of_world(&plan.world);
            let mut spec = Spec { date, age_bands, measures, all_conditions: args.top > 0 };
            spec.resolve(&book);
            plan.config.formats.clear();
            plan.config.dry = true;
            plan.config.stats = Some(Arc::new(spec.clone()));
            plan.config.progress = !args.run.quiet && std::io::stderr().is_terminal();
            let pool = match rayon::ThreadPoolBuilder::new().num_threads(args.run.threads.unwrap_or(0)).build() {
                Ok(p) => p,
                Err(e) => return fail(EXIT_FAILURE, format!("cannot start worker threads: {e}")),
            };
            let summary = match pool.install(|| crate::run::run(&plan.world, &plan.options, &plan.config)) {
                Ok(s) => s,
                Err(e) => return fail(EXIT_FAILURE, format!("the run failed: {e}")),
            };
            let Some(tally) = summary.stats else { return fail(EXIT_FAILURE, "the run computed no statistics") };
            (spec, tally, book)
        }
        (None, None) => return fail(EXIT_FAILURE, "nothing to read and nothing to simulate"),
    };

    let text = crate::stats::report::text(&spec, &tally, &book, args.top);
    if let Some(path) = &args.json {
        let json = crate::stats::report::json(&spec, &tally, &book);
        let body = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
        if let Err(e) = crate::atomic::write(path, body.as_bytes()) {
            return fail(EXIT_FAILURE, format!("cannot write `{}`: {e}", path.display()));
        }
    }
    if let Some(path) = &args.html {
        let json = crate::stats::report::json(&spec, &tally, &book);
        let written = crate::report::html(&json, None, "ehrsim stats")
            .and_then(|page| crate::atomic::write(path, page.as_bytes()).map_err(|e| e.to_string()));
        if let Err(e) = written {
            return fail(EXIT_FAILURE, format!("cannot write `{}`: {e}", path.display()));
        }
    }
    let code = write_stdout(text.as_bytes());
    if code != EXIT_OK {
        return code;
    }
    let missed = crate::stats::report::outcomes(&spec, &tally).iter().filter(|o| o.pass == Some(false)).count();
    if args.check && missed > 0 {
        return fail(EXIT_INPUT, format!("{missed} target(s) missed"));
    }
    EXIT_OK
}

#[derive(Debug, clap::Args)]
pub struct ModulesArgs {
    /// List the modules of these directories instead of the embedded library
    #[arg(long = "modules-dir", value_name = "DIR")]
    pub modules_dir: Vec<PathBuf>,
    /// Also list submodules
    #[arg(long)]
    pub all: bool,
}

pub fn modules(args: &ModulesArgs) -> u8 {
    let requests = match super::library_requests(&args.modules_dir) {
        Ok(r) => r,
        Err(e) => return fail(EXIT_INPUT, e),
    };
    let (set, compilation) = super::build(&requests);
    let Some(lib) = compilation.library else {
        crate::diagnostic::emit_to_stderr(
            &set.sources,
            &compilation.diagnostics,
            crate::diagnostic::Style::Short,
            super::use_color(super::ColorChoice::Auto),
        );
        return fail(EXIT_INPUT, "the modules have errors (run `ehrsim check` on them)");
    };
    let list: Vec<&crate::compiled::Module> = lib.modules.iter().filter(|m| args.all || m.top_level).collect();
    let width = list.iter().map(|m| m.path.len()).max().unwrap_or(8);
    let mut out = String::new();
    for m in &list {
        let kind = if m.top_level { "" } else { " (submodule)" };
        let description = m.description.as_deref().unwrap_or(&m.name);
        out.push_str(&format!("{:<width$}  {description}{kind}\n", m.path));
    }
    out.push_str(&format!(
        "\n{} modules; run some with `ehrsim -p 100 --modules {}`\n",
        list.len(),
        list.iter().filter(|m| m.top_level).take(2).map(|m| m.path.as_str()).collect::<Vec<_>>().join(",")
    ));
    write_stdout(out.as_bytes())
}

/// Reads a file with a parser that reports diagnostics; they are printed on standard error.
fn read_reported<T>(
    path: &std::path::Path,
    what: &str,
    parse: impl FnOnce(&crate::source::Sources, crate::source::FileId, &mut crate::diagnostic::Diagnostics) -> Option<T>,
) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {what} `{}`: {e}", path.display()))?;
    let mut sources = crate::source::Sources::new();
    let file = sources.add(path.display().to_string(), text);
    let mut diags = crate::diagnostic::Diagnostics::new();
    let parsed = parse(&sources, file, &mut diags);
    if !diags.is_empty() {
        crate::diagnostic::emit_to_stderr(
            &sources,
            &diags,
            crate::diagnostic::Style::Rich,
            super::use_color(super::ColorChoice::Auto),
        );
    }
    parsed.ok_or_else(|| format!("the {what} `{}` has errors", path.display()))
}

/// Reads an overlay file, with diagnostics on standard error.
pub fn read_overlay(path: &std::path::Path) -> Result<crate::calibrate::overlay::Overlay, String> {
    read_reported(path, "overlay", crate::calibrate::overlay::parse)
}

/// Reads a targets file, with diagnostics on standard error.
fn read_targets(path: &std::path::Path) -> Result<crate::stats::targets::TargetsFile, String> {
    read_reported(path, "targets file", crate::stats::targets::parse)
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
The fit runs the same patients (one seed) for every parameter vector, so differences are the
model's, not noise; Levenberg-Marquardt on log factors, Jacobian by finite differences then
Broyden updates. Parameters: the targets file's `parameters:` list, else the `tunable:`
sections of the modules in the run.

Example:
  ehrsim calibrate --targets examples/targets/cdc-diabetes.yaml --only-alive -o diabetes.overlay.yaml
  ehrsim -p 1000 --overlay diabetes.overlay.yaml

Exit codes: 0 every target met; 1 bad input or targets still missed; 2 bad command line; 3 failure")]
pub struct CalibrateArgs {
    /// The targets file to fit
    #[arg(short = 't', long, value_name = "FILE")]
    pub targets: PathBuf,
    /// Where to write the overlay
    #[arg(short = 'o', long, default_value = "overlay.yaml", value_name = "FILE")]
    pub output: PathBuf,
    /// Patients per evaluation
    #[arg(short = 'p', long, default_value_t = 20_000, value_name = "N")]
    pub population: u64,
    /// Seed of the evaluation sample (the same seed gives the same overlay)
    #[arg(short = 's', long, default_value_t = 1, value_name = "N")]
    pub seed: u64,
    /// Reference date (default: the targets file's date)
    #[arg(short = 'r', long, value_name = "DATE")]
    pub reference_date: Option<String>,
    /// Run only these top-level modules (comma-separated)
    #[arg(short = 'm', long, value_delimiter = ',', value_name = "NAMES")]
    pub modules: Vec<String>,
    /// Take modules from this directory instead of the embedded library (repeatable)
    #[arg(long = "modules-dir", value_name = "DIR")]
    pub modules_dir: Vec<PathBuf>,
    /// Evaluate on patients alive at the reference date (the dead are simulated again), so the
    /// age structure is the census's: what cross-sectional surveys measure
    #[arg(long)]
    pub only_alive: bool,
    /// Most Levenberg-Marquardt steps
    #[arg(long, default_value_t = 12, value_name = "N")]
    pub iterations: usize,
    /// Worker threads (the result does not depend on it)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Write the statistics before and after the fit as JSON (for `ehrsim report --before`)
    #[arg(long, value_name = "FILE")]
    pub before_json: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub after_json: Option<PathBuf>,
    /// No progress lines
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

struct Lines {
    quiet: bool,
    started: std::time::Instant,
    targets: usize,
}

impl crate::calibrate::Progress for Lines {
    fn evaluation(&mut self, n: usize, e: &crate::calibrate::Evaluation, what: &str) {
        if !self.quiet {
            eprintln!(
                "  run {n:>3} ({what}): objective {:.3}, {}/{} targets met, {:.0} s",
                e.objective,
                e.passed,
                self.targets,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

/// Parameters named by a targets file.
fn named_parameters(node: &crate::syntax::Node) -> Result<Vec<crate::calibrate::overlay::Param>, String> {
    use crate::syntax::Node;
    let Some(list) = node.as_seq() else { return Err("`parameters` must be a list".into()) };
    let mut out = Vec::new();
    for n in list {
        let text = |k: &str| n.get(k).and_then(Node::as_str).map(str::to_owned);
        let (Some(module), Some(state)) = (text("module"), text("state")) else {
            return Err("every parameter needs `module` and `state`".into());
        };
        let branch = n.get("branch").and_then(Node::as_f64).map(|b| b.max(0.0) as usize);
        let id = text("id").unwrap_or_else(|| match branch {
            Some(b) => format!("{module}/{state}[{b}]"),
            None => format!("{module}/{state}"),
        });
        let min = n.get("min").and_then(Node::as_f64).unwrap_or(0.25);
        let max = n.get("max").and_then(Node::as_f64).unwrap_or(4.0);
        let options = crate::calibrate::overlay::options_of(n);
        out.push(crate::calibrate::overlay::Param { id, module, state, branch, options, min, max });
    }
    Ok(out)
}

pub fn calibrate(args: &CalibrateArgs) -> u8 {
    let targets = match read_targets(&args.targets) {
        Ok(t) => t,
        Err(e) => return fail(EXIT_INPUT, e),
    };
    if !targets.measures.iter().any(|m| m.target.is_some()) {
        return fail(EXIT_INPUT, format!("`{}` has no target with a value", args.targets.display()));
    }
    let mut run = match <super::Cli as clap::Parser>::try_parse_from(["ehrsim"]) {
        Ok(cli) => cli.generate,
        Err(e) => return fail(EXIT_FAILURE, e),
    };
    run.population = args.population;
    run.seed = args.seed;
    run.reference_date = args.reference_date.clone().or_else(|| targets.date.map(|d| d.to_string()));
    if run.reference_date.is_none() {
        return fail(EXIT_USAGE, "give the reference date with -r (or `date:` in the targets file)");
    }
    run.modules = args.modules.clone();
    run.modules_dir = args.modules_dir.clone();
    run.only_alive = args.only_alive;
    let plan = match super::plan(&run) {
        Ok(p) => p,
        Err((code, message)) => return fail(code, message),
    };
    let mut world = plan.world;
    let params = match &targets.parameters {
        Some(node) => match named_parameters(node) {
            Ok(p) => p,
            Err(e) => return fail(EXIT_INPUT, format!("`{}`: {e}", args.targets.display())),
        },
        None => {
            let mut ids: Vec<crate::compiled::ModuleId> = world.top_level.clone();
            ids.sort();
            crate::calibrate::overlay::declared(&world.lib, &ids)
        }
    };
    if params.is_empty() {
        return fail(
            EXIT_INPUT,
            "nothing to tune: the modules of this run declare no `tunable:` numbers and the targets file names no `parameters:`",
        );
    }
    let mut bounds = Vec::new();
    for p in &params {
        match crate::calibrate::overlay::bind(&world.lib, p) {
            Ok(b) => bounds.push(b),
            Err(e) => return fail(EXIT_INPUT, e),
        }
    }
    let book = CodeBook::of_world(&world);
    let mut spec = Spec {
        date: targets.date.unwrap_or(plan.options.reference),
        age_bands: targets.age_bands.clone().unwrap_or_else(|| DEFAULT_AGE_BANDS.to_vec()),
        measures: targets.measures.clone(),
        all_conditions: false,
    };
    spec.resolve(&book);
    let total = spec.measures.iter().filter(|m| m.target.is_some()).count();
    if !args.quiet {
        eprintln!(
            "calibrating {} parameters to {total} targets on {} patients (seed {})",
            bounds.len(),
            args.population,
            args.seed
        );
    }
    let config = crate::calibrate::dry_config(args.population, &spec);
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(args.threads.unwrap_or(0)).build() {
        Ok(p) => p,
        Err(e) => return fail(EXIT_FAILURE, format!("cannot start worker threads: {e}")),
    };
    let started = std::time::Instant::now();
    let mut lines = Lines { quiet: args.quiet, started, targets: total };
    let mut problem = crate::calibrate::Problem {
        world: &mut world,
        options: &plan.options,
        config,
        spec: spec.clone(),
        bounds,
        ridge: 1e-3,
    };
    let fit = match pool.install(|| crate::calibrate::calibrate(&mut problem, args.iterations, &mut lines)) {
        Ok(f) => f,
        Err(e) => return fail(EXIT_FAILURE, format!("the run failed: {e}")),
    };
    let bounds = problem.bounds.clone();

    // The before/after table.
    let mut out = String::new();
    let width = spec.measures.iter().map(|m| m.id.len()).max().unwrap_or(10).max(10);
    out.push_str(&format!("{:<width$} {:>8} {:>8} {:>8} {:>6}\n", "target", "value", "before", "after", "result"));
    let before = crate::stats::report::outcomes(&spec, &fit.before.tally);
    let after = crate::stats::report::outcomes(&spec, &fit.after.tally);
    for (b, a) in before.iter().zip(&after) {
        let Some(v) = a.target else { continue };
        let f = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}"));
        out.push_str(&format!(
            "{:<width$} {v:>8.2} {:>8} {:>8} {:>6}\n",
            a.id,
            f(b.measured),
            f(a.measured),
            if a.pass == Some(true) { "pass" } else { "FAIL" }
        ));
    }
    out.push_str(&format!(
        "{} of {total} targets met (before: {}); {} runs of {} patients, {} steps, {:.0} s\n\nfactors:\n",
        fit.after.passed,
        fit.before.passed,
        fit.evaluations,
        args.population,
        fit.iterations,
        started.elapsed().as_secs_f64()
    ));
    let mut overlay = crate::calibrate::overlay::Overlay::default();
    for (b, x) in bounds.iter().zip(&fit.after.x) {
        out.push_str(&format!("  {:<40} {:.4}\n", b.param.id, x.exp()));
        overlay.entries.push((b.param.clone(), x.exp()));
    }
    let header = format!(
        "ehrsim overlay, written by `ehrsim calibrate` ({})\n\ntargets: {}\nevaluation: {} patients, seed {}, reference date {}\nresult: {} of {total} targets within tolerance\n\nApply with `ehrsim generate --overlay {}`.",
        env!("CARGO_PKG_VERSION"),
        args.targets.display(),
        args.population,
        args.seed,
        spec.date,
        fit.after.passed,
        args.output.display(),
    );
    if let Err(e) = crate::atomic::write(&args.output, overlay.to_yaml(&header).as_bytes()) {
        return fail(EXIT_FAILURE, format!("cannot write `{}`: {e}", args.output.display()));
    }
    for (path, e) in [(&args.before_json, &fit.before), (&args.after_json, &fit.after)] {
        if let Some(path) = path {
            let json = crate::stats::report::json(&spec, &e.tally, &book);
            let body = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
            if let Err(err) = crate::atomic::write(path, body.as_bytes()) {
                return fail(EXIT_FAILURE, format!("cannot write `{}`: {err}", path.display()));
            }
        }
    }
    out.push_str(&format!("\noverlay: {}\n", args.output.display()));
    let code = write_stdout(out.as_bytes());
    if code != EXIT_OK {
        return code;
    }
    if fit.after.passed < total {
        return fail(EXIT_INPUT, format!("{} target(s) still missed", total - fit.after.passed));
    }
    EXIT_OK
}
