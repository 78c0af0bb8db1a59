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
  ehrsim stats -p 50000 -s 1 -r 2025-01-01 --targets docs/realism-targets.yaml
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
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => return fail(EXIT_INPUT, format!("cannot read targets file `{}`: {e}", path.display())),
            };
            let mut sources = crate::source::Sources::new();
            let file = sources.add(path.display().to_string(), text);
            let mut diags = crate::diagnostic::Diagnostics::new();
            let parsed = crate::stats::targets::parse(&sources, file, &mut diags);
            if !diags.is_empty() {
                crate::diagnostic::emit_to_stderr(
                    &sources,
                    &diags,
                    crate::diagnostic::Style::Rich,
                    super::use_color(super::ColorChoice::Auto),
                );
            }
            match parsed {
                Some(t) => Some(t),
                None => return fail(EXIT_INPUT, format!("the targets file `{}` has errors", path.display())),
            }
        }
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
    let requests: Vec<crate::load::Request> = if args.modules_dir.is_empty() {
        vec![crate::load::Request { tree: Box::new(crate::embedded::tree()), only: None }]
    } else {
        let mut v = Vec::new();
        for d in &args.modules_dir {
            if !d.is_dir() {
                return fail(EXIT_INPUT, format!("--modules-dir `{}` is not a directory", d.display()));
            }
            v.push(crate::load::Request { tree: Box::new(crate::load::DirTree { root: d.clone() }), only: None });
        }
        v
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
