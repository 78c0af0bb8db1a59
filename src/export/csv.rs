//! Synthea-compatible longitudinal CSV: one file per record type, with Synthea's exact file
//! names and headers, one patient after another.
//!
//! Values follow Synthea's CSV conventions: timestamps `yyyy-MM-ddTHH:mm:ssZ` in UTC, dates of
//! conditions, allergies, care plans and birth/death as `yyyy-MM-dd`, money with two decimals,
//! numeric observation values with one decimal, commas and line breaks inside text replaced by
//! spaces (no quoting).

use super::{Context, Format, Rendered, Target, billing, system_uri};
use crate::compiled::CodeId;
use crate::sim::Patient;
use crate::sim::person::splitmix;
use crate::sim::record::Uuid;
use crate::sim::record::Value;
use crate::sim::time::{Date, Time, age_years, iso_datetime};
use std::io::Write;

/// The files, in the order of their stream indices.
pub const FILES: &[(&str, &str)] = &[
    (
        "patients.csv",
        "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME",
    ),
    (
        "encounters.csv",
        "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION",
    ),
    ("conditions.csv", "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION"),
    (
        "medications.csv",
        "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION",
    ),
    ("observations.csv", "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE"),
    ("procedures.csv", "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION"),
    ("immunizations.csv", "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST"),
    ("careplans.csv", "Id,START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,REASONCODE,REASONDESCRIPTION"),
    (
        "allergies.csv",
        "START,STOP,PATIENT,ENCOUNTER,CODE,SYSTEM,DESCRIPTION,TYPE,CATEGORY,REACTION1,DESCRIPTION1,SEVERITY1,REACTION2,DESCRIPTION2,SEVERITY2",
    ),
    ("devices.csv", "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,UDI"),
    (
        "imaging_studies.csv",
        "Id,DATE,PATIENT,ENCOUNTER,SERIES_UID,BODYSITE_CODE,BODYSITE_DESCRIPTION,MODALITY_CODE,MODALITY_DESCRIPTION,INSTANCE_UID,SOP_CODE,SOP_DESCRIPTION,PROCEDURE_CODE",
    ),
    ("supplies.csv", "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,QUANTITY"),
    ("organizations.csv", "Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION"),
    ("providers.csv", "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,ENCOUNTERS,PROCEDURES"),
    (
        "payers.csv",
        "Id,NAME,OWNERSHIP,ADDRESS,CITY,STATE_HEADQUARTERED,ZIP,PHONE,AMOUNT_COVERED,AMOUNT_UNCOVERED,REVENUE,COVERED_ENCOUNTERS,UNCOVERED_ENCOUNTERS,COVERED_MEDICATIONS,UNCOVERED_MEDICATIONS,COVERED_PROCEDURES,UNCOVERED_PROCEDURES,COVERED_IMMUNIZATIONS,UNCOVERED_IMMUNIZATIONS,UNIQUE_CUSTOMERS,QOLS_AVG,MEMBER_MONTHS",
    ),
    ("payer_transitions.csv", "PATIENT,MEMBERID,START_DATE,END_DATE,PAYER,SECONDARY_PAYER,PLAN_OWNERSHIP,OWNER_NAME"),
    (
        "claims.csv",
        "Id,PATIENTID,PROVIDERID,PRIMARYPATIENTINSURANCEID,SECONDARYPATIENTINSURANCEID,DEPARTMENTID,PATIENTDEPARTMENTID,DIAGNOSIS1,DIAGNOSIS2,DIAGNOSIS3,DIAGNOSIS4,DIAGNOSIS5,DIAGNOSIS6,DIAGNOSIS7,DIAGNOSIS8,REFERRINGPROVIDERID,APPOINTMENTID,CURRENTILLNESSDATE,SERVICEDATE,SUPERVISINGPROVIDERID,STATUS1,STATUS2,STATUSP,OUTSTANDING1,OUTSTANDING2,OUTSTANDINGP,LASTBILLEDDATE1,LASTBILLEDDATE2,LASTBILLEDDATEP,HEALTHCARECLAIMTYPEID1,HEALTHCARECLAIMTYPEID2",
    ),
    (
        "claims_transactions.csv",
        "ID,CLAIMID,CHARGEID,PATIENTID,TYPE,AMOUNT,METHOD,FROMDATE,TODATE,PLACEOFSERVICE,PROCEDURECODE,MODIFIER1,MODIFIER2,DIAGNOSISREF1,DIAGNOSISREF2,DIAGNOSISREF3,DIAGNOSISREF4,UNITS,DEPARTMENTID,NOTES,UNITAMOUNT,TRANSFEROUTID,TRANSFERTYPE,PAYMENTS,ADJUSTMENTS,TRANSFERS,OUTSTANDING,APPOINTMENTID,LINENOTE,PATIENTINSURANCEID,FEESCHEDULEID,PROVIDERID,SUPERVISINGPROVIDERID",
    ),
];

const PATIENTS: usize = 0;
const ENCOUNTERS: usize = 1;
const CONDITIONS: usize = 2;
const MEDICATIONS: usize = 3;
const OBSERVATIONS: usize = 4;
const PROCEDURES: usize = 5;
const IMMUNIZATIONS: usize = 6;
const CAREPLANS: usize = 7;
const ALLERGIES: usize = 8;
const DEVICES: usize = 9;
const IMAGING: usize = 10;
const SUPPLIES: usize = 11;
const ORGANIZATIONS: usize = 12;
const PROVIDERS: usize = 13;
const PAYERS: usize = 14;
const PAYER_TRANSITIONS: usize = 15;
const CLAIMS: usize = 16;
const CLAIMS_TRANSACTIONS: usize = 17;

/// The CSV format.
#[derive(Debug, Default, Clone, Copy)]
pub struct Csv;

/// Writes text with commas and line breaks replaced by spaces.
fn clean(out: &mut Vec<u8>, text: &str) {
    for b in text.bytes() {
        out.push(if matches!(b, b',' | b'\n' | b'\r') { b' ' } else { b });
    }
}

fn date(out: &mut Vec<u8>, t: Time) {
    let _ = write!(out, "{}", Date::of(t));
}

fn opt_datetime(out: &mut Vec<u8>, t: Option<Time>) {
    if let Some(t) = t {
        out.extend_from_slice(iso_datetime(t).as_bytes());
    }
}

fn opt_date(out: &mut Vec<u8>, t: Option<Time>) {
    if let Some(t) = t {
        date(out, t);
    }
}

struct Row<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Row<'a> {
    fn new(buf: &'a mut Vec<u8>) -> Row<'a> {
        Row { buf, first: true }
    }

    fn sep(&mut self) -> &mut Vec<u8> {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf
    }

    fn text(&mut self, s: &str) -> &mut Self {
        clean(self.sep(), s);
        self
    }

    /// Appends to the current field (no separator).
    fn text_append(&mut self, s: &str) -> &mut Self {
        clean(self.buf, s);
        self
    }

    fn raw(&mut self, s: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.sep(), "{s}");
        self
    }

    fn empty(&mut self) -> &mut Self {
        self.sep();
        self
    }

    fn datetime(&mut self, t: Option<Time>) -> &mut Self {
        opt_datetime(self.sep(), t);
        self
    }

    fn date(&mut self, t: Option<Time>) -> &mut Self {
        opt_date(self.sep(), t);
        self
    }

    fn money(&mut self, v: f64) -> &mut Self {
        let _ = write!(self.sep(), "{v:.2}");
        self
    }

    fn end(&mut self) {
        self.buf.push(b'\n');
    }
}

impl Format for Csv {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn directory(&self) -> &'static str {
        "csv"
    }

    fn streams(&self, cx: &Context, first_shard: bool) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> =
            FILES.iter().map(|(f, h)| ((*f).to_owned(), format!("{h}\n").into_bytes())).collect();
        if first_shard {
            directory(cx, &mut out);
        }
        out
    }

    fn render(&self, cx: &Context, patient: &Patient, out: &mut Rendered) {
        let lib = &cx.world.lib;
        let code = |c: CodeId| lib.code(c);
        let person = &patient.person;
        let rec = &person.record;
        let p = &patient.profile;
        let pid = person.id.to_string();
        let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); FILES.len()];

        let bill = billing::bill(cx, patient);
        let w = cx.world;
        let (expenses, coverage) = (bill.expenses, bill.coverage);
        // patients
        {
            let end_date = Date::of(person.death.unwrap_or(cx.end));
            let age = age_years(person.birth_date, end_date);
            let married = matches!(person.get(cx.world.sym.marital_status), crate::sim::person::Attr::Str(s) if lib.strings.name(s) == "M");
            let prefix = match (age >= 18, p.sex) {
                (false, _) => "",
                (true, crate::ast::Sex::Male) => "Mr.",
                (true, crate::ast::Sex::Female) if married => "Mrs.",
                (true, crate::ast::Sex::Female) => "Ms.",
            };
            let marital = if age >= 28 { if married { "M" } else { "S" } } else { "" };
            let mut r = Row::new(&mut bufs[PATIENTS]);
            r.raw(&pid)
                .date(Some(person.birth))
                .date(person.death)
                .text(&p.ssn)
                .text(if age >= 16 { &p.drivers_license } else { "" })
                .text(if age >= 20 && (person.id.0 & 1) == 0 { &p.passport } else { "" })
                .text(prefix)
                .text(&p.first_name)
                .text(p.middle_name.as_deref().unwrap_or(""))
                .text(&p.last_name)
                .empty()
                .empty()
                .text(marital)
                .text(p.race.as_str())
                .text(p.ethnicity_str())
                .text(p.sex.as_str())
                .text(&p.birthplace)
                .text(&p.address)
                .text(&p.city)
                .text(&p.state)
                .text(&p.county)
                .text(&p.fips)
                .text(&p.zip)
                .raw(format_args!("{:.6}", p.lat))
                .raw(format_args!("{:.6}", p.lon))
                .money(expenses)
                .money(coverage)
                .raw(p.income);
            r.end();
        }
        let enc_id = |i: u32| rec.encounters.get(i as usize).map(|e| e.id.to_string()).unwrap_or_default();

        for (i, e) in rec.encounters.iter().enumerate() {
            let c = code(e.codes[0]);
            let b = &bill.encounters[i];
            let mut r = Row::new(&mut bufs[ENCOUNTERS]);
            r.raw(e.id).datetime(Some(e.start)).datetime(e.stop).raw(&pid);
            r.raw(w.providers.organizations[b.organization as usize].id);
            r.raw(w.providers.clinicians[b.clinician as usize].id);
            r.raw(w.payers[b.payer].id);
            r.text(encounter_class(e.class))
                .text(&c.code)
                .text(&c.display)
                .money(b.base)
                .money(b.total)
                .money(b.covered);
            match e.reason {
                Some(rc) => r.text(&code(rc).code).text(&code(rc).display),
                None => r.empty().empty(),
            };
            r.end();
        }
        for e in &rec.conditions {
            let c = code(e.codes[0]);
            let mut r = Row::new(&mut bufs[CONDITIONS]);
            r.date(Some(e.start)).date(e.stop).raw(&pid).raw(enc_id(e.encounter));
            r.text(system_uri(&c.system)).text(&c.code).text(&c.display);
            r.end();
        }
        for (mi, m) in rec.medications.iter().enumerate() {
            let c = code(m.entry.codes[0]);
            let eb = bill.encounters.get(m.entry.encounter as usize).copied();
            let payer = eb.map_or(crate::world::payers::NO_INSURANCE, |b| b.payer);
            let cost = bill.medications[mi];
            let stop = m.entry.stop;
            let days = (stop.unwrap_or(cx.end) - m.entry.start).max(0) as f64 / 86_400_000.0;
            let dispenses = if m.refills > 0 { m.refills.max(1) as f64 } else { (days / 30.0).floor().max(1.0) };
            let mut r = Row::new(&mut bufs[MEDICATIONS]);
            r.datetime(Some(m.entry.start))
                .datetime(stop)
                .raw(&pid)
                .raw(w.payers[payer].id)
                .raw(enc_id(m.entry.encounter));
            let covered = cost * dispenses * w.payers[payer].coverage;
            r.text(&c.code).text(&c.display).money(cost).money(covered).raw(dispenses as u64).money(cost * dispenses);
            match m.reason {
                Some(rc) => r.text(&code(rc).code).text(&code(rc).display),
                None => r.empty().empty(),
            };
            r.end();
        }
        for o in &rec.observations {
            let c = code(o.codes[0]);
            let mut r = Row::new(&mut bufs[OBSERVATIONS]);
            r.datetime(Some(o.time)).raw(&pid).raw(enc_id(o.encounter)).text(o.category).text(&c.code).text(&c.display);
            match &o.value {
                Value::Number(v) => r.raw(format_args!("{v:.1}")).text(o.unit).raw("numeric"),
                Value::Text(s) => r.text(s).text(o.unit).raw("text"),
                Value::Code(v) => r.text(&code(*v).display).text(o.unit).raw("text"),
                Value::None => r.empty().text(o.unit).raw("text"),
            };
            r.end();
        }
        for (pi, p) in rec.procedures.iter().enumerate() {
            let c = code(p.entry.codes[0]);
            let mut r = Row::new(&mut bufs[PROCEDURES]);
            r.datetime(Some(p.entry.start)).datetime(p.entry.stop.or(Some(p.entry.start))).raw(&pid);
            r.raw(enc_id(p.entry.encounter)).text(system_uri(&c.system)).text(&c.code).text(&c.display);
            r.money(bill.procedures[pi]);
            match p.reason {
                Some(rc) => r.text(&code(rc).code).text(&code(rc).display),
                None => r.empty().empty(),
            };
            r.end();
        }
        for (ii, i) in rec.immunizations.iter().enumerate() {
            let c = code(i.codes[0]);
            let mut r = Row::new(&mut bufs[IMMUNIZATIONS]);
            r.datetime(Some(i.time)).raw(&pid).raw(enc_id(i.encounter)).text(&c.code).text(&c.display);
            r.money(bill.immunizations[ii]);
            r.end();
        }
        for cp in &rec.careplans {
            let c = code(cp.entry.codes[0]);
            let mut r = Row::new(&mut bufs[CAREPLANS]);
            r.raw(cp.entry.id).date(Some(cp.entry.start)).date(cp.entry.stop).raw(&pid).raw(enc_id(cp.entry.encounter));
            r.text(&c.code).text(&c.display);
            match cp.reason {
                Some(rc) => r.text(&code(rc).code).text(&code(rc).display),
                None => r.empty().empty(),
            };
            r.end();
        }
        for a in &rec.allergies {
            let c = code(a.entry.codes[0]);
            let mut r = Row::new(&mut bufs[ALLERGIES]);
            r.date(Some(a.entry.start)).date(a.entry.stop).raw(&pid).raw(enc_id(a.entry.encounter));
            r.text(&c.code).text(system_uri(&c.system)).text(&c.display).text(a.allergy_type.as_str()).text(a.category);
            for k in 0..2 {
                match a.reactions.get(k) {
                    Some((rc, sev)) => {
                        r.text(&code(*rc).code).text(&code(*rc).display).text(&sev.as_str().to_uppercase())
                    }
                    None => r.empty().empty().empty(),
                };
            }
            r.end();
        }
        for d in &rec.devices {
            let c = code(d.entry.codes[0]);
            let mut r = Row::new(&mut bufs[DEVICES]);
            r.datetime(Some(d.entry.start)).datetime(d.entry.stop).raw(&pid).raw(enc_id(d.entry.encounter));
            r.text(&c.code).text(&c.display).text(&d.udi);
            r.end();
        }
        for s in &rec.imaging_studies {
            let proc_code = code(s.procedure_code);
            for series in &s.series {
                for inst in &series.instances {
                    let (b, m, sop) = (code(series.body_site), code(series.modality), code(inst.sop_class));
                    let mut r = Row::new(&mut bufs[IMAGING]);
                    r.raw(s.id).datetime(Some(s.time)).raw(&pid).raw(enc_id(s.encounter)).text(&series.uid);
                    r.text(&b.code).text(&b.display).text(&m.code).text(&m.display).text(&inst.uid);
                    r.text(&sop.code).text(&sop.display).text(&proc_code.code);
                    r.end();
                }
            }
        }
        for s in &rec.supplies {
            let c = code(s.code);
            let mut r = Row::new(&mut bufs[SUPPLIES]);
            r.date(Some(s.time)).raw(&pid).raw(enc_id(s.encounter)).text(&c.code).text(&c.display).raw(s.quantity);
            r.end();
        }
        for &(start, end, payer) in &bill.payer_periods {
            let p = &w.payers[payer];
            let mut r = Row::new(&mut bufs[PAYER_TRANSITIONS]);
            // The policy belongs to a guardian while the patient is a minor.
            let minor = age_years(person.birth_date, Date::of(start)) < 18;
            r.raw(&pid).raw(member_id(person.id, payer)).datetime(Some(start)).datetime(Some(end)).raw(p.id).empty();
            if minor {
                r.raw("Guardian").text("Guardian of ").text_append(&patient.profile.first_name);
            } else {
                r.raw("Self").text(&patient.profile.first_name);
            }
            r.text_append(" ").text_append(&patient.profile.last_name);
            r.end();
        }
        let mut charge_id = 0u64;
        for (i, e) in rec.encounters.iter().enumerate() {
            let b = &bill.encounters[i];
            let claim = claim_id(e.id);
            let diagnoses: Vec<&str> = rec
                .conditions
                .iter()
                .filter(|c| c.encounter as usize == i)
                .map(|c| code(c.codes[0]).code.as_str())
                .take(8)
                .collect();
            let clinician = w.providers.clinicians[b.clinician as usize].id;
            let org = w.providers.organizations[b.organization as usize].id;
            let payer = &w.payers[b.payer];
            let insured = b.payer != crate::world::payers::NO_INSURANCE;
            let mut r = Row::new(&mut bufs[CLAIMS]);
            r.raw(claim).raw(&pid).raw(clinician);
            if insured {
                r.raw(payer.id);
            } else {
                r.empty();
            }
            r.empty().raw(1).raw(1);
            for k in 0..8 {
                r.text(diagnoses.get(k).copied().unwrap_or(""));
            }
            r.empty().raw(e.id).datetime(Some(e.start)).datetime(Some(e.start)).empty();
            let institutional =
                matches!(e.class, crate::ast::EncounterClass::Inpatient | crate::ast::EncounterClass::Emergency);
            let claim_type = if institutional { 2 } else { 1 };
            if insured {
                r.raw("CLOSED").empty().raw("CLOSED").money(0.0).empty().money(0.0);
                r.datetime(Some(e.start)).empty().datetime(Some(e.start)).raw(claim_type).empty();
            } else {
                r.empty().empty().raw("CLOSED").empty().empty().money(0.0);
                r.empty().empty().datetime(Some(e.start)).empty().empty();
            }
            r.end();
            // One charge for the visit, paid by the payer's share and the patient's rest.
            charge_id += 1;
            let c = code(e.codes[0]);
            let mut t = Row::new(&mut bufs[CLAIMS_TRANSACTIONS]);
            t.raw(transaction_id(e.id, 0)).raw(claim).raw(charge_id).raw(&pid).raw("CHARGE").money(b.total).empty();
            t.datetime(Some(e.start)).datetime(e.stop.or(Some(e.start))).raw(org).text(&c.code).empty().empty();
            t.raw(if diagnoses.is_empty() { String::new() } else { "1".to_owned() }).empty().empty().empty();
            t.raw(1).raw(1).text(&c.display).money(b.total).empty().empty().empty().empty().empty().money(b.total);
            t.raw(e.id).empty().empty().raw(1).raw(clinician).raw(clinician);
            t.end();
            if insured && b.covered > 0.0 {
                let mut t = Row::new(&mut bufs[CLAIMS_TRANSACTIONS]);
                t.raw(transaction_id(e.id, 1)).raw(claim).raw(charge_id).raw(&pid).raw("PAYMENT").empty().raw("ECHECK");
                t.datetime(Some(e.start)).datetime(e.stop.or(Some(e.start))).raw(org).text(&c.code).empty().empty();
                t.empty().empty().empty().empty().raw(1).raw(1).text(payer.name).empty().empty().empty();
                t.money(b.covered).money(0.0).money(0.0).money(b.total - b.covered);
                t.raw(e.id).empty().raw(member_id(person.id, b.payer)).raw(1).raw(clinician).raw(clinician);
                t.end();
            }
        }
        let counts = [
            ("patients", 1),
            ("encounters", rec.encounters.len()),
            ("conditions", rec.conditions.len()),
            ("medications", rec.medications.len()),
            ("observations", rec.observations.len()),
            ("procedures", rec.procedures.len()),
            ("immunizations", rec.immunizations.len()),
            ("careplans", rec.careplans.len()),
            ("allergies", rec.allergies.len()),
            ("devices", rec.devices.len()),
            ("imaging_studies", rec.imaging_studies.len()),
            ("supplies", rec.supplies.len()),
            ("claims", rec.encounters.len()),
        ];
        out.counts.extend(counts.iter().map(|&(k, v)| (k, v as u64)));
        for (i, b) in bufs.into_iter().enumerate() {
            if !b.is_empty() {
                out.chunks.push((Target::Stream(i), b));
            }
        }
    }
}

fn encounter_class(c: crate::ast::EncounterClass) -> &'static str {
    c.as_str()
}

fn derived(id: Uuid, salt: u64) -> Uuid {
    let a = splitmix(id.0 as u64 ^ salt);
    let b = splitmix((id.0 >> 64) as u64 ^ a);
    Uuid::from_bits((u128::from(a) << 64) | u128::from(b))
}

fn claim_id(encounter: Uuid) -> Uuid {
    derived(encounter, 0xc1a1)
}

fn transaction_id(encounter: Uuid, n: u64) -> Uuid {
    derived(encounter, 0x7a00 + n)
}

/// The member id of a patient with a payer (stable across exports).
pub fn member_id(patient: Uuid, payer: usize) -> Uuid {
    derived(patient, 0x3e3b + payer as u64)
}

/// The run's organizations, clinicians and payers, written once (by the first shard).
fn directory(cx: &Context, streams: &mut [(String, Vec<u8>)]) {
    let w = cx.world;
    for org in &w.providers.organizations {
        let mut r = Row::new(&mut streams[ORGANIZATIONS].1);
        r.raw(org.id).text(&org.name).text(&org.address).text(&org.city).text(&org.state).text(&org.zip);
        r.raw(format_args!("{:.6}", org.lat)).raw(format_args!("{:.6}", org.lon)).text(&org.phone).money(0.0).raw(0);
        r.end();
    }
    for c in &w.providers.clinicians {
        let org = &w.providers.organizations[c.organization as usize];
        let mut r = Row::new(&mut streams[PROVIDERS].1);
        r.raw(c.id).raw(org.id).text(&c.first_name).text_append(" ").text_append(&c.last_name).text(c.sex.as_str());
        r.text(c.specialty).text(&org.address).text(&org.city).text(&org.state).text(&org.zip);
        r.raw(format_args!("{:.6}", org.lat)).raw(format_args!("{:.6}", org.lon)).raw(0).raw(0);
        r.end();
    }
    for p in &w.payers {
        let mut r = Row::new(&mut streams[PAYERS].1);
        r.raw(p.id).text(p.name).text(p.ownership);
        if p.ownership == "NO_INSURANCE" {
            r.empty().empty().empty().empty().empty();
        } else {
            r.text("1 Health Plaza").text("Washington").text("DC").text("20001").text("555-200-0000");
        }
        for _ in 0..3 {
            r.money(0.0);
        }
        for _ in 0..8 {
            r.raw(0);
        }
        r.raw(0).money(0.0).raw(0);
        r.end();
    }
}
