//! Export: turning patient records into files.
//!
//! Every output format implements [`Format`]: it names the files it streams into (with their
//! headers) and renders one patient into byte chunks. Rendering is a pure function of the
//! patient, so it runs on the worker threads; the run writes the chunks of patient 0, 1, 2, …
//! in order, which makes the output byte-identical whatever the thread count. A format may
//! also write a file of its own per patient (FHIR bundles).
//!
//! Architecture invariant: `export` knows nothing of YAML, modules or the engine; it reads
//! [`Patient`]s and the compiled library's code table.

pub mod billing;
pub mod csv;
pub mod fhir;
pub mod json;

use crate::sim::Patient;
use crate::sim::record::Record;
use crate::sim::time::{Time, YEAR};
use crate::sim::world::World;

/// Where a chunk of bytes goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Appended to the format's `n`th stream file.
    Stream(usize),
    /// A file of its own (relative to the output directory).
    File(String),
}

/// Bytes rendered for one patient.
#[derive(Debug, Default)]
pub struct Rendered {
    pub chunks: Vec<(Target, Vec<u8>)>,
    /// Rows or resources written, by kind (for the run summary).
    pub counts: Vec<(&'static str, u64)>,
}

/// What every format needs besides the patient.
#[derive(Debug, Clone, Copy)]
pub struct Context<'w> {
    pub world: &'w World,
    /// The end of the simulated period (records are as of this time).
    pub end: Time,
}

/// An output format.
pub trait Format: Sync + Send + std::fmt::Debug {
    /// Short name (`csv`, `fhir`, `ndjson`).
    fn name(&self) -> &'static str;
    /// The subdirectory of the output directory it writes into.
    fn directory(&self) -> &'static str;
    /// Stream files (relative to its directory) and what they start with: a header, and in
    /// the first shard of a run (`first_shard`) whatever belongs to the run rather than to a
    /// patient (the provider directory, the payers).
    fn streams(&self, cx: &Context, first_shard: bool) -> Vec<(String, Vec<u8>)>;
    /// Renders one patient.
    fn render(&self, cx: &Context, patient: &Patient, out: &mut Rendered);
}

/// Drops what lies before the last `years` years of history, as Synthea's exporters do:
/// entries that started before the cut-off and ended before it go, active entries stay, and
/// encounters left with nothing to show go too. `years == 0` keeps everything.
pub fn filter_history(record: &mut Record, end: Time, years: u32) {
    if years == 0 {
        return;
    }
    let cutoff = end - i64::from(years) * YEAR;
    let keep_entry = |start: Time, stop: Option<Time>| start >= cutoff || stop.is_none_or(|s| s >= cutoff);
    let n = record.encounters.len();
    let mut used = vec![false; n];
    for (i, e) in record.encounters.iter().enumerate() {
        if e.start >= cutoff {
            used[i] = true;
        }
    }
    let mut mark = |enc: u32, keep: bool| {
        if keep && (enc as usize) < n {
            used[enc as usize] = true;
        }
        keep
    };
    record.conditions.retain(|e| mark(e.encounter, keep_entry(e.start, e.stop)));
    record.allergies.retain(|a| mark(a.entry.encounter, keep_entry(a.entry.start, a.entry.stop)));
    record.medications.retain(|m| mark(m.entry.encounter, keep_entry(m.entry.start, m.entry.stop)));
    record.careplans.retain(|c| mark(c.entry.encounter, keep_entry(c.entry.start, c.entry.stop)));
    record.procedures.retain(|p| mark(p.entry.encounter, p.entry.start >= cutoff));
    record.devices.retain(|d| mark(d.entry.encounter, keep_entry(d.entry.start, d.entry.stop)));
    record.immunizations.retain(|i| mark(i.encounter, i.time >= cutoff));
    record.imaging_studies.retain(|s| mark(s.encounter, s.time >= cutoff));
    record.supplies.retain(|s| mark(s.encounter, s.time >= cutoff));
    // Observations and reports follow their time; report ranges are rebuilt below.
    let mut obs_map = vec![u32::MAX; record.observations.len()];
    let mut kept = 0u32;
    for (i, o) in record.observations.iter().enumerate() {
        if o.time >= cutoff {
            obs_map[i] = kept;
            kept += 1;
            if (o.encounter as usize) < n {
                used[o.encounter as usize] = true;
            }
        }
    }
    let mut i = 0;
    record.observations.retain(|_| {
        i += 1;
        obs_map[i - 1] != u32::MAX
    });
    record.reports.retain(|r| r.time >= cutoff);
    for r in &mut record.reports {
        let start = obs_map.get(r.observations.start as usize).copied().unwrap_or(u32::MAX);
        let end = (r.observations.start..r.observations.end)
            .filter_map(|k| obs_map.get(k as usize))
            .filter(|&&m| m != u32::MAX)
            .max();
        r.observations = match (start, end) {
            (s, Some(&e)) if s != u32::MAX => s..e + 1,
            _ => 0..0,
        };
    }
    // Renumber encounters.
    let mut map = vec![u32::MAX; n];
    let mut next = 0u32;
    for (i, &u) in used.iter().enumerate() {
        if u {
            map[i] = next;
            next += 1;
        }
    }
    let mut idx = 0;
    record.encounters.retain(|_| {
        idx += 1;
        used[idx - 1]
    });
    let remap = |e: &mut u32| *e = map.get(*e as usize).copied().filter(|&m| m != u32::MAX).unwrap_or(0);
    record.conditions.iter_mut().for_each(|e| remap(&mut e.encounter));
    record.allergies.iter_mut().for_each(|a| remap(&mut a.entry.encounter));
    record.medications.iter_mut().for_each(|m| remap(&mut m.entry.encounter));
    record.careplans.iter_mut().for_each(|c| remap(&mut c.entry.encounter));
    record.procedures.iter_mut().for_each(|p| remap(&mut p.entry.encounter));
    record.devices.iter_mut().for_each(|d| remap(&mut d.entry.encounter));
    record.immunizations.iter_mut().for_each(|i| remap(&mut i.encounter));
    record.imaging_studies.iter_mut().for_each(|s| remap(&mut s.encounter));
    record.supplies.iter_mut().for_each(|s| remap(&mut s.encounter));
    record.observations.iter_mut().for_each(|o| remap(&mut o.encounter));
    record.reports.iter_mut().for_each(|r| remap(&mut r.encounter));
}

/// The URI of a GMF code system, as FHIR and Synthea's CSV write it.
pub fn system_uri(system: &str) -> &str {
    match system {
        "SNOMED-CT" | "SNOMED" | "SCT" => "http://snomed.info/sct",
        "LOINC" => "http://loinc.org",
        "RxNorm" | "RXNORM" => "http://www.nlm.nih.gov/research/umls/rxnorm",
        "CVX" => "http://hl7.org/fhir/sid/cvx",
        "DICOM-DCM" => "http://dicom.nema.org/resources/ontology/DCM",
        "DICOM-SOP" => "urn:ietf:rfc:3986",
        "NUBC" => "https://www.nubc.org/CodeSystem/PatDischargeStatus",
        "ICD-10-CM" | "ICD10-CM" => "http://hl7.org/fhir/sid/icd-10-cm",
        "NullFlavor" => "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
        other => other,
    }
}
