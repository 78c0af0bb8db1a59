//! Running a population: patients simulated in parallel, written in order, with flat memory.
//!
//! Patients are processed in windows of a few thousand indices: the worker threads simulate and
//! render a window (each patient into its own buffers), then a writer thread appends the
//! buffers in patient order while the next window is computed. Memory holds at most two
//! windows, whatever the population; the bytes written depend only on (seed, index, modules,
//! options), never on the number of threads.
//!
//! `--shard K/N` runs the contiguous index range `[K·P/N, (K+1)·P/N)`: the shards' outputs,
//! concatenated in shard order (headers kept from the first shard only), are the unsharded
//! output. Each output directory's `run.json` says which range it holds and how to join them.

use crate::atomic::AtomicFile;
use crate::export::{Context, Format, Rendered, Target, filter_history};
use crate::sim::world::World;
use crate::sim::{Options, simulate};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How to run the population (what to simulate is in [`Options`]).
#[derive(Debug)]
pub struct RunConfig {
    pub population: u64,
    /// `(k, n)`: run the k-th of n shards (0-based).
    pub shard: (u64, u64),
    pub output: PathBuf,
    pub formats: Vec<Box<dyn Format>>,
    pub years_of_history: u32,
    pub progress: bool,
    /// Compress every output file (`.gz` appended to its name).
    pub gzip: bool,
    /// Statistics to compute from every patient's whole record (before the history cut).
    pub stats: Option<std::sync::Arc<crate::stats::Spec>>,
    /// Write nothing at all (no directory, no manifest): a statistics-only run.
    pub dry: bool,
}

/// What a run produced.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub patients: u64,
    pub alive: u64,
    pub dead: u64,
    /// Patients that did not meet `--only-alive` or the keep module within the attempts.
    pub not_kept: u64,
    pub counts: BTreeMap<&'static str, u64>,
    /// Problems Synthea's engine would have stopped on, and the first few of them.
    pub runtime_errors: u64,
    pub runtime_messages: Vec<String>,
    pub elapsed: Duration,
    pub first_index: u64,
    /// The statistics, when the run computed them.
    pub stats: Option<crate::stats::Tally>,
}

/// The index range of a shard.
pub fn shard_range(population: u64, (k, n): (u64, u64)) -> std::ops::Range<u64> {
    let start = population * k / n;
    let end = population * (k + 1) / n;
    start..end
}

/// One format's open stream files.
struct Streams {
    files: Vec<AtomicFile>,
}

fn gz_name(name: &str, gzip: bool) -> String {
    if gzip { format!("{name}.gz") } else { name.to_owned() }
}

fn open_streams(
    output: &Path,
    format: &dyn Format,
    cx: &Context,
    first_shard: bool,
    gzip: bool,
) -> std::io::Result<Streams> {
    let dir = output.join(format.directory());
    std::fs::create_dir_all(&dir)?;
    let mut files = Vec::new();
    for (name, header) in format.streams(cx, first_shard) {
        let mut f = AtomicFile::create_with(dir.join(gz_name(&name, gzip)), gzip)?;
        f.write_all(&header)?;
        files.push(f);
    }
    Ok(Streams { files })
}

/// One patient, simulated and rendered by a worker.
struct Simulated {
    rendered: Rendered,
    stats: Option<crate::stats::Contribution>,
    dead: bool,
    kept: bool,
    runtime_errors: u32,
    runtime_messages: Vec<String>,
}

struct Done {
    rendered: Vec<Rendered>,
    stats: Vec<crate::stats::Contribution>,
    runtime_errors: u64,
    runtime_messages: Vec<String>,
    alive: u64,
    dead: u64,
    not_kept: u64,
}

/// Runs the population and writes every format. On error nothing partial is left behind.
pub fn run(world: &World, options: &Options, config: &RunConfig) -> std::io::Result<Summary> {
    let started = Instant::now();
    let range = shard_range(config.population, config.shard);
    if !config.dry {
        std::fs::create_dir_all(&config.output)?;
    }
    let cx = Context { world, end: options.end.time() + crate::sim::time::DAY };
    let first_shard = config.shard.0 == 0;
    let mut streams: Vec<Streams> = config
        .formats
        .iter()
        .map(|f| open_streams(&config.output, f.as_ref(), &cx, first_shard, config.gzip))
        .collect::<std::io::Result<_>>()?;
    let bar = progress_bar(config.progress, range.end - range.start);
    let window = (rayon::current_num_threads() as u64 * 64).max(64);
    let (tx, rx) = mpsc::sync_channel::<Done>(1);
    let mut summary = Summary { first_index: range.start, ..Summary::default() };

    let result = std::thread::scope(|scope| {
        let writer = scope.spawn(|| -> std::io::Result<Summary> {
            let mut s = Summary::default();
            let mut tally = config.stats.as_deref().map(crate::stats::Tally::new);
            for done in rx {
                if let Some(t) = &mut tally {
                    for c in done.stats {
                        t.add(c);
                    }
                }
                s.alive += done.alive;
                s.dead += done.dead;
                s.not_kept += done.not_kept;
                s.runtime_errors += done.runtime_errors;
                for m in done.runtime_messages {
                    if s.runtime_messages.len() < 5 && !s.runtime_messages.contains(&m) {
                        s.runtime_messages.push(m);
                    }
                }
                for r in done.rendered {
                    s.patients += 1;
                    for (kind, n) in &r.counts {
                        *s.counts.entry(kind).or_default() += n;
                    }
                    write_rendered(&config.output, &mut streams, r, config.gzip)?;
                }
            }
            s.stats = tally;
            Ok(s)
        });
        let mut start = range.start;
        let mut failed = false;
        while start < range.end {
            let end = (start + window).min(range.end);
            let rendered: Vec<Simulated> = (start..end)
                .into_par_iter()
                .map(|index| {
                    let mut patient = simulate(world, options, index);
                    let stats = config.stats.as_deref().map(|spec| spec.evaluate(&crate::stats::facts_of(&patient)));
                    filter_history(&mut patient.person.record, cx.end, config.years_of_history);
                    let mut out = Rendered::default();
                    for (fi, format) in config.formats.iter().enumerate() {
                        let mut one = Rendered::default();
                        format.render(&cx, &patient, &mut one);
                        for (target, bytes) in one.chunks {
                            // Streams of all formats share one index space: format × 64 + stream.
                            let target = match target {
                                Target::Stream(s) => Target::Stream(fi * 64 + s),
                                Target::File(name) => Target::File(format!("{}/{name}", format.directory())),
                            };
                            out.chunks.push((target, bytes));
                        }
                        if fi == 0 {
                            out.counts = one.counts;
                        }
                    }
                    Simulated {
                        rendered: out,
                        stats,
                        dead: patient.person.death.is_some(),
                        kept: patient.kept,
                        runtime_errors: patient.person.runtime_errors,
                        runtime_messages: std::mem::take(&mut patient.person.runtime_messages),
                    }
                })
                .collect();
            let mut done = Done {
                rendered: Vec::with_capacity(rendered.len()),
                stats: Vec::new(),
                runtime_errors: 0,
                runtime_messages: Vec::new(),
                alive: 0,
                dead: 0,
                not_kept: 0,
            };
            for Simulated { rendered: r, stats, dead, kept, runtime_errors, runtime_messages } in rendered {
                done.stats.extend(stats);
                done.runtime_errors += u64::from(runtime_errors);
                for m in runtime_messages {
                    if done.runtime_messages.len() < 5 {
                        done.runtime_messages.push(m);
                    }
                }
                if dead {
                    done.dead += 1;
                } else {
                    done.alive += 1;
                }
                if !kept {
                    done.not_kept += 1;
                }
                done.rendered.push(r);
            }
            if let Some(b) = &bar {
                b.inc(end - start);
            }
            if tx.send(done).is_err() {
                failed = true;
                break;
            }
            start = end;
        }
        drop(tx);
        let written = writer.join().unwrap_or_else(|_| Err(std::io::Error::other("the writer thread panicked")));
        if failed && written.is_ok() {
            return Err(std::io::Error::other("the writer stopped early"));
        }
        written
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let written = result?;
    summary.patients = written.patients;
    summary.alive = written.alive;
    summary.dead = written.dead;
    summary.not_kept = written.not_kept;
    summary.counts = written.counts;
    summary.runtime_errors = written.runtime_errors;
    summary.runtime_messages = written.runtime_messages;
    summary.stats = written.stats;
    // Everything is written: make it visible.
    for s in streams {
        for f in s.files {
            f.commit()?;
        }
    }
    if !config.dry {
        write_manifest(options, config, &range)?;
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn write_rendered(output: &Path, streams: &mut [Streams], r: Rendered, gzip: bool) -> std::io::Result<()> {
    for (target, bytes) in r.chunks {
        match target {
            Target::Stream(s) => {
                let (format, stream) = (s / 64, s % 64);
                streams[format].files[stream].write_all(&bytes)?;
            }
            Target::File(name) => crate::atomic::write_with(output.join(gz_name(&name, gzip)), &bytes, gzip)?,
        }
    }
    Ok(())
}

fn write_manifest(options: &Options, config: &RunConfig, range: &std::ops::Range<u64>) -> std::io::Result<()> {
    let manifest = serde_json::json!({
        "generator": format!("ehrsim {}", env!("CARGO_PKG_VERSION")),
        "seed": options.seed,
        "population": config.population,
        "reference_date": options.reference.to_string(),
        "end_date": options.end.to_string(),
        "years_of_history": config.years_of_history,
        "gzip": config.gzip,
        "formats": config.formats.iter().map(|f| f.name()).collect::<Vec<_>>(),
        "shard": { "index": config.shard.0, "count": config.shard.1, "first_patient": range.start, "end_patient": range.end },
        "concatenate": if config.shard.1 > 1 {
            "join shards in shard order: keep the first shard's files whole; append the other shards' CSV files without their first (header) line and their NDJSON files as they are (the provider directory and payers are written by the first shard only)"
        } else {
            "this run is whole; nothing to join"
        },
    });
    let text = serde_json::to_string_pretty(&manifest).map_err(std::io::Error::other)?;
    crate::atomic::write(config.output.join("run.json"), format!("{text}\n").as_bytes())
}

fn progress_bar(enabled: bool, total: u64) -> Option<indicatif::ProgressBar> {
    if !enabled {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} patients, {per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    Some(bar)
}
