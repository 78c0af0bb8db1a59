//! FHIR R4 export, shaped by US Core 6.1: one transaction Bundle per patient (`--format
//! fhir`), or bulk-data NDJSON with one file per resource type (`--format ndjson`).
//!
//! Both formats write the same resources with the same writer; they differ in how resources
//! point at each other (`urn:uuid:` full URLs inside a bundle, `Type/id` in bulk files) and in
//! where organizations, clinicians and locations go. A bundle includes the ones it refers to as
//! conditional creates (`ifNoneExist` on their NPI or identifier), so every bundle loads on its
//! own into an empty server and a thousand bundles create each organization once; NDJSON writes
//! the whole directory once per run, in the first shard.
//!
//! Resources are written straight to bytes by `export::json` (serde-level structs for ~20
//! resource types would cost more than the simulation). The tests read every resource back
//! and check references resolve; CI validates them with external FHIR validators.

use super::billing::{Bill, bill};
use super::json::{Arr, Obj, object};
use super::{Context, Format, Rendered, Target, system_uri};
use crate::ast::{AllergyType, EncounterClass, Severity, Sex};
use crate::compiled::CodeId;
use crate::sim::Patient;
use crate::sim::person::splitmix;
use crate::sim::record::{Uuid, Value};
use crate::sim::time::{Date, Time, iso_datetime};
use crate::world::providers::{Clinician, Organization};
use std::collections::BTreeSet;

const US_CORE: &str = "http://hl7.org/fhir/us/core/StructureDefinition/";
const NPI: &str = "http://hl7.org/fhir/sid/us-npi";
const URI: &str = "urn:ietf:rfc:3986";

/// Resource types written to NDJSON, in file order.
pub const NDJSON_TYPES: &[&str] = &[
    "Organization",
    "Practitioner",
    "Location",
    "Patient",
    "Encounter",
    "Condition",
    "AllergyIntolerance",
    "Observation",
    "DiagnosticReport",
    "Procedure",
    "MedicationRequest",
    "MedicationAdministration",
    "Immunization",
    "CareTeam",
    "CarePlan",
    "Goal",
    "ImagingStudy",
    "Device",
    "SupplyDelivery",
    "Claim",
    "ExplanationOfBenefit",
    "Provenance",
];

/// One transaction Bundle per patient.
#[derive(Debug, Default, Clone, Copy)]
pub struct Bundles;

/// FHIR bulk data: one NDJSON file per resource type.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ndjson;

/// How references are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refs {
    /// `urn:uuid:<id>` (inside a transaction bundle).
    Urn,
    /// `Type/<id>` (bulk data).
    Relative,
}

struct Resource {
    kind: &'static str,
    id: Uuid,
    json: Vec<u8>,
    /// `ifNoneExist` query for conditional creates.
    if_none_exist: Option<String>,
}

struct Writer<'a, 'w> {
    cx: &'a Context<'w>,
    patient: &'a Patient<'w>,
    bill: Bill,
    refs: Refs,
    out: Vec<Resource>,
    organizations: BTreeSet<u32>,
    clinicians: BTreeSet<u32>,
}

fn derived(id: Uuid, salt: u64) -> Uuid {
    let a = splitmix(id.0 as u64 ^ salt);
    let b = splitmix((id.0 >> 64) as u64 ^ a);
    Uuid::from_bits((u128::from(a) << 64) | u128::from(b))
}

fn date(t: Time) -> String {
    Date::of(t).to_string()
}

fn meta(o: &mut Obj, profile: &str) {
    o.obj("meta", |m| {
        m.arr("profile", |a| {
            a.str(&format!("{US_CORE}{profile}"));
        });
    });
}

fn coding(o: &mut Obj, system: &str, code: &str, display: &str) {
    o.str("system", system).str("code", code);
    if !display.is_empty() {
        o.str("display", display);
    }
}

/// A US Core race or ethnicity extension: one OMB category and its text.
fn omb_extension(a: &mut Arr, profile: &str, code: &str, display: &str) {
    a.obj(|x| {
        x.str("url", &format!("{US_CORE}{profile}"));
        x.arr("extension", |e| {
            e.obj(|y| {
                y.str("url", "ombCategory");
                y.obj("valueCoding", |c| coding(c, "urn:oid:2.16.840.1.113883.6.238", code, display));
            });
            e.obj(|y| {
                y.str("url", "text").str("valueString", display);
            });
        });
    });
}

fn simple_concept(o: &mut Obj, system: &str, code: &str, display: &str) {
    o.arr("coding", |a| {
        a.obj(|c| coding(c, system, code, display));
    });
    if !display.is_empty() {
        o.str("text", display);
    }
}

impl<'w> Writer<'_, 'w> {
    fn reference(&self, kind: &str, id: Uuid) -> String {
        match self.refs {
            Refs::Urn => format!("urn:uuid:{id}"),
            Refs::Relative => format!("{kind}/{id}"),
        }
    }

    fn reference_field(&self, o: &mut Obj, key: &str, kind: &str, id: Uuid) {
        let r = self.reference(kind, id);
        o.obj(key, |x| {
            x.str("reference", &r);
        });
    }

    fn concept(&self, o: &mut Obj, codes: &[CodeId]) {
        let lib = &self.cx.world.lib;
        o.arr("coding", |a| {
            for &c in codes {
                let e = lib.code(c);
                a.obj(|x| coding(x, system_uri(&e.system), &e.code, &e.display));
            }
        });
        if let Some(&first) = codes.first() {
            o.str("text", &lib.code(first).display);
        }
    }

    fn push(&mut self, kind: &'static str, id: Uuid, f: impl FnOnce(&mut Self, &mut Obj)) {
        let mut json = Vec::with_capacity(512);
        // Build the body with a temporary buffer so `f` may borrow `self`.
        object(&mut json, |o| {
            o.str("resourceType", kind).str("id", &id.to_string());
            f(self, o);
        });
        self.out.push(Resource { kind, id, json, if_none_exist: None });
    }

    fn patient_ref(&self, o: &mut Obj, key: &str) {
        self.reference_field(o, key, "Patient", self.patient.person.id);
    }

    fn encounter_ref(&self, o: &mut Obj, encounter: u32) {
        if let Some(e) = self.patient.person.record.encounters.get(encounter as usize) {
            self.reference_field(o, "encounter", "Encounter", e.id);
        }
    }

    fn patient(&mut self) {
        let p = &self.patient.profile;
        let person = &self.patient.person;
        let id = person.id;
        self.push("Patient", id, |w, o| {
            meta(o, "us-core-patient");
            o.arr("extension", |a| {
                let (race_code, race_display) = match p.race.as_str() {
                    "white" => ("2106-3", "White"),
                    "black" => ("2054-5", "Black or African American"),
                    "asian" => ("2028-9", "Asian"),
                    "native" => ("1002-5", "American Indian or Alaska Native"),
                    "hawaiian" => ("2076-8", "Native Hawaiian or Other Pacific Islander"),
                    _ => ("2131-1", "Other Race"),
                };
                omb_extension(a, "us-core-race", race_code, race_display);
                let (eth_code, eth_display) =
                    if p.hispanic { ("2135-2", "Hispanic or Latino") } else { ("2186-5", "Not Hispanic or Latino") };
                omb_extension(a, "us-core-ethnicity", eth_code, eth_display);
                a.obj(|x| {
                    x.str("url", &format!("{US_CORE}us-core-birthsex")).str("valueCode", p.sex.as_str());
                });
            });
            o.arr("identifier", |a| {
                a.obj(|x| {
                    x.str("system", URI).str("value", &oid(id));
                });
                a.obj(|x| {
                    x.obj("type", |t| {
                        simple_concept(
                            t,
                            "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "SS",
                            "Social Security number",
                        )
                    });
                    x.str("system", "http://hl7.org/fhir/sid/us-ssn").str("value", &p.ssn);
                });
            });
            o.arr("name", |a| {
                a.obj(|n| {
                    n.str("use", "official").str("family", &p.last_name);
                    n.arr("given", |g| {
                        g.str(&p.first_name);
                        if let Some(m) = &p.middle_name {
                            g.str(m);
                        }
                    });
                });
            });
            o.arr("telecom", |a| {
                a.obj(|t| {
                    t.str("system", "phone").str("value", &p.phone).str("use", "home");
                });
            });
            o.str("gender", if p.sex == Sex::Male { "male" } else { "female" });
            o.str("birthDate", &date(person.birth));
            if let Some(d) = person.death {
                o.str("deceasedDateTime", &iso_datetime(d));
            }
            o.arr("address", |a| {
                a.obj(|x| address(x, &p.address, &p.city, &p.state_abbrev, &p.zip));
            });
            if let Some((code, display)) = language(&p.language) {
                o.arr("communication", |a| {
                    a.obj(|c| {
                        c.obj("language", |l| simple_concept(l, "urn:ietf:bcp:47", code, display));
                    });
                });
            }
            let _ = w;
        });
    }

    fn encounters(&mut self) {
        let rec = &self.patient.person.record;
        for (i, e) in rec.encounters.iter().enumerate() {
            let b = self.bill.encounters[i];
            self.organizations.insert(b.organization);
            self.clinicians.insert(b.clinician);
            let world = self.cx.world;
            let org: &Organization = &world.providers.organizations[b.organization as usize];
            let clinician: &Clinician = &world.providers.clinicians[b.clinician as usize];
            self.push("Encounter", e.id, |w, o| {
                meta(o, "us-core-encounter");
                o.arr("identifier", |a| {
                    a.obj(|x| {
                        x.str("use", "official").str("system", URI).str("value", &oid(e.id));
                    });
                });
                o.str("status", "finished");
                let (code, display) = act_code(e.class);
                o.obj("class", |c| coding(c, "http://terminology.hl7.org/CodeSystem/v3-ActCode", code, display));
                o.arr("type", |a| {
                    a.obj(|t| w.concept(t, e.codes));
                });
                w.patient_ref(o, "subject");
                o.arr("participant", |a| {
                    a.obj(|p| {
                        p.arr("type", |t| {
                            t.obj(|c| {
                                simple_concept(
                                    c,
                                    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                    "PPRF",
                                    "primary performer",
                                )
                            });
                        });
                        let r = w.reference("Practitioner", clinician.id);
                        p.obj("individual", |x| {
                            x.str("reference", &r)
                                .str("display", &format!("Dr. {} {}", clinician.first_name, clinician.last_name));
                        });
                    });
                });
                o.obj("period", |p| {
                    p.str("start", &iso_datetime(e.start)).str("end", &iso_datetime(e.stop.unwrap_or(e.start)));
                });
                if let Some(r) = e.reason {
                    o.arr("reasonCode", |a| {
                        a.obj(|c| w.concept(c, std::slice::from_ref(&r)));
                    });
                }
                if let Some(d) = e.discharge {
                    o.obj("hospitalization", |h| {
                        h.obj("dischargeDisposition", |c| w.concept(c, std::slice::from_ref(&d)));
                    });
                }
                let loc = w.reference("Location", org.location_id);
                o.arr("location", |a| {
                    a.obj(|l| {
                        l.obj("location", |x| {
                            x.str("reference", &loc).str("display", &org.name);
                        });
                    });
                });
                let r = w.reference("Organization", org.id);
                o.obj("serviceProvider", |x| {
                    x.str("reference", &r).str("display", &org.name);
                });
            });
        }
    }

    fn conditions(&mut self) {
        let rec = &self.patient.person.record;
        for c in &rec.conditions {
            self.push("Condition", c.id, |w, o| {
                meta(o, "us-core-condition-encounter-diagnosis");
                let status = if c.stop.is_some() { "resolved" } else { "active" };
                o.obj("clinicalStatus", |x| {
                    simple_concept(x, "http://terminology.hl7.org/CodeSystem/condition-clinical", status, "")
                });
                o.obj("verificationStatus", |x| {
                    simple_concept(x, "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "")
                });
                o.arr("category", |a| {
                    a.obj(|x| {
                        simple_concept(
                            x,
                            "http://terminology.hl7.org/CodeSystem/condition-category",
                            "encounter-diagnosis",
                            "Encounter Diagnosis",
                        )
                    });
                });
                o.obj("code", |x| w.concept(x, c.codes));
                w.patient_ref(o, "subject");
                w.encounter_ref(o, c.encounter);
                o.str("onsetDateTime", &iso_datetime(c.start));
                if let Some(s) = c.stop {
                    o.str("abatementDateTime", &iso_datetime(s));
                }
                o.str("recordedDate", &iso_datetime(c.start));
            });
        }
        for a in &rec.allergies {
            self.push("AllergyIntolerance", a.entry.id, |w, o| {
                meta(o, "us-core-allergyintolerance");
                let status = if a.entry.stop.is_some() { "resolved" } else { "active" };
                o.obj("clinicalStatus", |x| {
                    simple_concept(x, "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", status, "")
                });
                o.obj("verificationStatus", |x| {
                    simple_concept(
                        x,
                        "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                        "confirmed",
                        "",
                    )
                });
                o.str("type", if a.allergy_type == AllergyType::Allergy { "allergy" } else { "intolerance" });
                let category = match a.category {
                    "food" | "medication" | "environment" | "biologic" => a.category,
                    "drug" => "medication",
                    _ => "environment",
                };
                o.arr("category", |c| {
                    c.str(category);
                });
                o.str("criticality", "low");
                o.obj("code", |x| w.concept(x, a.entry.codes));
                w.patient_ref(o, "patient");
                w.encounter_ref(o, a.entry.encounter);
                o.str("recordedDate", &iso_datetime(a.entry.start));
                if !a.reactions.is_empty() {
                    o.arr("reaction", |r| {
                        for (code, severity) in &a.reactions {
                            r.obj(|x| {
                                x.arr("manifestation", |m| {
                                    m.obj(|c| w.concept(c, std::slice::from_ref(code)));
                                });
                                let s = match severity {
                                    Severity::Severe => "severe",
                                    Severity::Moderate => "moderate",
                                    _ => "mild",
                                };
                                x.str("severity", s);
                            });
                        }
                    });
                }
            });
        }
    }

    fn value(&self, o: &mut Obj, value: &Value, unit: &str) {
        match value {
            Value::Number(v) => {
                o.obj("valueQuantity", |q| {
                    q.num("value", *v);
                    if !unit.is_empty() {
                        q.str("unit", unit).str("system", "http://unitsofmeasure.org").str("code", unit);
                    }
                });
            }
            Value::Text(s) => {
                o.str("valueString", s);
            }
            Value::Code(c) => {
                o.obj("valueCodeableConcept", |x| self.concept(x, std::slice::from_ref(c)));
            }
            Value::None => {}
        }
    }

    /// Everything an Observation has before its value: profile, status, category, code,
    /// subject, encounter, times.
    fn observation_head(&self, o: &mut Obj, code: &str, category: &str, codes: &[CodeId], encounter: u32, t: Time) {
        if let Some(profile) = observation_profile(code, category) {
            meta(o, profile);
        }
        o.str("status", "final");
        if !category.is_empty() {
            o.arr("category", |a| {
                a.obj(|c| {
                    simple_concept(
                        c,
                        "http://terminology.hl7.org/CodeSystem/observation-category",
                        category,
                        category_display(category),
                    )
                });
            });
        }
        o.obj("code", |c| self.concept(c, codes));
        self.patient_ref(o, "subject");
        self.encounter_ref(o, encounter);
        o.str("effectiveDateTime", &iso_datetime(t)).str("issued", &iso_instant(t));
    }

    fn observations(&mut self) {
        let rec = &self.patient.person.record;
        // Parts of panels become components of the panel's observation.
        let mut in_panel = vec![false; rec.observations.len()];
        for r in rec.reports.iter().filter(|r| r.panel) {
            for i in r.observations.clone() {
                if let Some(flag) = in_panel.get_mut(i as usize) {
                    *flag = true;
                }
            }
        }
        let lib = &self.cx.world.lib;
        for (i, ob) in rec.observations.iter().enumerate() {
            if in_panel[i] {
                continue;
            }
            let code = lib.code(ob.codes[0]).code.as_str();
            self.push("Observation", ob.id, |w, o| {
                w.observation_head(o, code, ob.category, ob.codes, ob.encounter, ob.time);
                w.value(o, &ob.value, ob.unit);
            });
        }
        for r in rec.reports.iter() {
            if r.panel {
                let code = lib.code(r.codes[0]).code.as_str();
                let parts: Vec<usize> = r.observations.clone().map(|i| i as usize).collect();
                let first = parts.first().and_then(|&i| rec.observations.get(i));
                let category = first.map_or("", |o| o.category);
                self.push("Observation", r.id, |w, o| {
                    w.observation_head(o, code, category, r.codes, r.encounter, r.time);
                    o.arr("component", |a| {
                        for &i in &parts {
                            if let Some(part) = rec.observations.get(i) {
                                a.obj(|c| {
                                    c.obj("code", |x| w.concept(x, part.codes));
                                    w.value(c, &part.value, part.unit);
                                });
                            }
                        }
                    });
                });
            } else {
                let ids: Vec<Uuid> =
                    r.observations.clone().filter_map(|i| rec.observations.get(i as usize)).map(|o| o.id).collect();
                self.push("DiagnosticReport", r.id, |w, o| {
                    meta(o, "us-core-diagnosticreport-lab");
                    o.str("status", "final");
                    o.arr("category", |a| {
                        a.obj(|c| {
                            simple_concept(c, "http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")
                        });
                    });
                    o.obj("code", |c| w.concept(c, r.codes));
                    w.patient_ref(o, "subject");
                    w.encounter_ref(o, r.encounter);
                    o.str("effectiveDateTime", &iso_datetime(r.time)).str("issued", &iso_instant(r.time));
                    if !ids.is_empty() {
                        o.arr("result", |a| {
                            for id in &ids {
                                let rf = w.reference("Observation", *id);
                                a.obj(|x| {
                                    x.str("reference", &rf);
                                });
                            }
                        });
                    }
                });
            }
        }
    }

    fn procedures(&mut self) {
        let rec = &self.patient.person.record;
        for p in &rec.procedures {
            self.push("Procedure", p.entry.id, |w, o| {
                meta(o, "us-core-procedure");
                o.str("status", "completed");
                o.obj("code", |c| w.concept(c, p.entry.codes));
                w.patient_ref(o, "subject");
                w.encounter_ref(o, p.entry.encounter);
                o.obj("performedPeriod", |x| {
                    x.str("start", &iso_datetime(p.entry.start))
                        .str("end", &iso_datetime(p.entry.stop.unwrap_or(p.entry.start)));
                });
                if let Some(r) = p.reason {
                    o.arr("reasonCode", |a| {
                        a.obj(|c| w.concept(c, std::slice::from_ref(&r)));
                    });
                }
            });
        }
    }

    fn medications(&mut self) {
        let rec = &self.patient.person.record;
        for (i, m) in rec.medications.iter().enumerate() {
            let encounter = m.entry.encounter;
            let clinician = self.bill.encounters.get(encounter as usize).map(|b| b.clinician);
            if m.administration && !m.chronic {
                self.push("MedicationAdministration", m.entry.id, |w, o| {
                    o.str("status", "completed");
                    o.obj("medicationCodeableConcept", |c| w.concept(c, m.entry.codes));
                    w.patient_ref(o, "subject");
                    if let Some(e) = rec.encounters.get(encounter as usize) {
                        w.reference_field(o, "context", "Encounter", e.id);
                    }
                    o.str("effectiveDateTime", &iso_datetime(m.entry.start));
                });
                continue;
            }
            let _ = i;
            self.push("MedicationRequest", m.entry.id, |w, o| {
                meta(o, "us-core-medicationrequest");
                let status = match m.entry.stop {
                    None => "active",
                    Some(s) if s <= w.cx.end => "stopped",
                    Some(_) => "active",
                };
                o.str("status", status).str("intent", "order");
                o.obj("medicationCodeableConcept", |c| w.concept(c, m.entry.codes));
                w.patient_ref(o, "subject");
                w.encounter_ref(o, encounter);
                o.str("authoredOn", &iso_datetime(m.entry.start));
                if let Some(c) = clinician {
                    let id = w.cx.world.providers.clinicians[c as usize].id;
                    w.reference_field(o, "requester", "Practitioner", id);
                }
                if let Some(r) = m.reason {
                    o.arr("reasonCode", |a| {
                        a.obj(|c| w.concept(c, std::slice::from_ref(&r)));
                    });
                }
                o.arr("dosageInstruction", |a| {
                    a.obj(|d| {
                        d.int("sequence", 1);
                        if m.as_needed {
                            d.bool("asNeededBoolean", true);
                        } else if let Some(per_day) = m.daily_doses {
                            d.obj("timing", |t| {
                                t.obj("repeat", |r| {
                                    r.num("frequency", per_day.round().max(1.0))
                                        .num("period", 1.0)
                                        .str("periodUnit", "d");
                                });
                            });
                        }
                    });
                });
            });
        }
    }

    fn immunizations(&mut self) {
        let rec = &self.patient.person.record;
        for v in &rec.immunizations {
            self.push("Immunization", v.id, |w, o| {
                meta(o, "us-core-immunization");
                o.str("status", "completed");
                o.obj("vaccineCode", |c| w.concept(c, v.codes));
                w.patient_ref(o, "patient");
                w.encounter_ref(o, v.encounter);
                o.str("occurrenceDateTime", &iso_datetime(v.time)).bool("primarySource", true);
            });
        }
    }

    fn careplans(&mut self) {
        let rec = &self.patient.person.record;
        for cp in &rec.careplans {
            let team = derived(cp.entry.id, 0x7ea);
            let clinician = self.bill.encounters.get(cp.entry.encounter as usize).map(|b| b.clinician);
            let organization = self.bill.encounters.get(cp.entry.encounter as usize).map(|b| b.organization);
            let active = cp.entry.stop.is_none();
            self.push("CareTeam", team, |w, o| {
                meta(o, "us-core-careteam");
                o.str("status", if active { "active" } else { "inactive" });
                w.patient_ref(o, "subject");
                w.encounter_ref(o, cp.entry.encounter);
                o.obj("period", |p| {
                    p.str("start", &iso_datetime(cp.entry.start));
                    if let Some(s) = cp.entry.stop {
                        p.str("end", &iso_datetime(s));
                    }
                });
                o.arr("participant", |a| {
                    let patient = w.reference("Patient", w.patient.person.id);
                    a.obj(|p| {
                        p.arr("role", |r| {
                            r.obj(|c| simple_concept(c, "http://snomed.info/sct", "116154003", "Patient"));
                        });
                        p.obj("member", |m| {
                            m.str("reference", &patient);
                        });
                    });
                    if let Some(c) = clinician {
                        let id = w.reference("Practitioner", w.cx.world.providers.clinicians[c as usize].id);
                        a.obj(|p| {
                            p.arr("role", |r| {
                                r.obj(|c| {
                                    simple_concept(
                                        c,
                                        "http://snomed.info/sct",
                                        "223366009",
                                        "Healthcare professional (occupation)",
                                    )
                                });
                            });
                            p.obj("member", |m| {
                                m.str("reference", &id);
                            });
                        });
                    }
                });
                if let Some(org) = organization {
                    let r = w.reference("Organization", w.cx.world.providers.organizations[org as usize].id);
                    o.arr("managingOrganization", |a| {
                        a.obj(|x| {
                            x.str("reference", &r);
                        });
                    });
                }
            });
            let goal_ids: Vec<Uuid> = (0..cp.goals.len()).map(|k| derived(cp.entry.id, 0x90a1 + k as u64)).collect();
            for (k, goal) in cp.goals.iter().enumerate() {
                self.push("Goal", goal_ids[k], |w, o| {
                    meta(o, "us-core-goal");
                    o.str("lifecycleStatus", if active { "active" } else { "completed" });
                    let text = goal.text.clone().unwrap_or_else(|| "Care plan goal".to_owned());
                    o.obj("description", |d| {
                        d.str("text", &text);
                    });
                    w.patient_ref(o, "subject");
                });
            }
            self.push("CarePlan", cp.entry.id, |w, o| {
                meta(o, "us-core-careplan");
                let lib = &w.cx.world.lib;
                let title = lib.code(cp.entry.codes[0]).display.clone();
                o.obj("text", |t| {
                    t.str("status", "generated").str(
                        "div",
                        &format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">Care plan: {}</div>", xml_escape(&title)),
                    );
                });
                o.str("status", if active { "active" } else { "completed" }).str("intent", "order");
                o.arr("category", |a| {
                    a.obj(|c| {
                        simple_concept(c, "http://hl7.org/fhir/us/core/CodeSystem/careplan-category", "assess-plan", "")
                    });
                    a.obj(|c| w.concept(c, cp.entry.codes));
                });
                w.patient_ref(o, "subject");
                w.encounter_ref(o, cp.entry.encounter);
                o.obj("period", |p| {
                    p.str("start", &iso_datetime(cp.entry.start));
                    if let Some(s) = cp.entry.stop {
                        p.str("end", &iso_datetime(s));
                    }
                });
                let team_ref = w.reference("CareTeam", team);
                o.arr("careTeam", |a| {
                    a.obj(|x| {
                        x.str("reference", &team_ref);
                    });
                });
                if !goal_ids.is_empty() {
                    o.arr("goal", |a| {
                        for g in &goal_ids {
                            let r = w.reference("Goal", *g);
                            a.obj(|x| {
                                x.str("reference", &r);
                            });
                        }
                    });
                }
                if !cp.activities.is_empty() {
                    o.arr("activity", |a| {
                        for act in cp.activities {
                            a.obj(|x| {
                                x.obj("detail", |d| {
                                    d.obj("code", |c| w.concept(c, std::slice::from_ref(act)));
                                    d.str("status", if active { "in-progress" } else { "completed" });
                                });
                            });
                        }
                    });
                }
            });
        }
    }

    fn imaging_devices_supplies(&mut self) {
        let rec = &self.patient.person.record;
        let lib = &self.cx.world.lib;
        for s in &rec.imaging_studies {
            self.push("ImagingStudy", s.id, |w, o| {
                o.arr("identifier", |a| {
                    a.obj(|x| {
                        x.str("use", "official").str("system", URI).str("value", &oid(s.id));
                    });
                });
                o.str("status", "available");
                w.patient_ref(o, "subject");
                w.encounter_ref(o, s.encounter);
                o.str("started", &iso_datetime(s.time));
                let instances: usize = s.series.iter().map(|x| x.instances.len()).sum();
                o.int("numberOfSeries", s.series.len() as i64).int("numberOfInstances", instances as i64);
                o.arr("procedureCode", |a| {
                    a.obj(|c| w.concept(c, std::slice::from_ref(&s.procedure_code)));
                });
                o.arr("series", |a| {
                    for (n, series) in s.series.iter().enumerate() {
                        a.obj(|x| {
                            x.str("uid", &series.uid).int("number", n as i64 + 1);
                            let m = lib.code(series.modality);
                            x.obj("modality", |c| coding(c, system_uri(&m.system), &m.code, &m.display));
                            x.int("numberOfInstances", series.instances.len() as i64);
                            let b = lib.code(series.body_site);
                            x.obj("bodySite", |c| coding(c, system_uri(&b.system), &b.code, &b.display));
                            x.str("started", &iso_datetime(s.time));
                            x.arr("instance", |ins| {
                                for (k, inst) in series.instances.iter().enumerate() {
                                    ins.obj(|y| {
                                        y.str("uid", &inst.uid);
                                        let sop = lib.code(inst.sop_class);
                                        y.obj("sopClass", |c| {
                                            c.str("system", URI).str("code", &format!("urn:oid:{}", sop.code));
                                        });
                                        y.int("number", k as i64 + 1);
                                        if !inst.title.is_empty() {
                                            y.str("title", &inst.title);
                                        }
                                    });
                                }
                            });
                        });
                    }
                });
            });
        }
        for d in &rec.devices {
            self.push("Device", d.entry.id, |w, o| {
                meta(o, "us-core-implantable-device");
                let di = d.udi.split("(11)").next().unwrap_or("").trim_start_matches("(01)").to_owned();
                o.arr("udiCarrier", |a| {
                    a.obj(|x| {
                        x.str("deviceIdentifier", &di).str("carrierHRF", &d.udi);
                    });
                });
                o.str("status", if d.entry.stop.is_none() { "active" } else { "inactive" });
                o.obj("type", |c| w.concept(c, d.entry.codes));
                w.patient_ref(o, "patient");
            });
        }
        for (k, s) in rec.supplies.iter().enumerate() {
            let id = derived(w_id(self.patient), 0x50_0000 + k as u64);
            self.push("SupplyDelivery", id, |w, o| {
                o.str("status", "completed");
                w.patient_ref(o, "patient");
                o.obj("type", |c| {
                    simple_concept(c, "http://terminology.hl7.org/CodeSystem/supply-item-type", "device", "Device")
                });
                o.obj("suppliedItem", |i| {
                    i.obj("quantity", |q| {
                        q.num("value", f64::from(s.quantity));
                    });
                    i.obj("itemCodeableConcept", |c| w.concept(c, std::slice::from_ref(&s.code)));
                });
                o.str("occurrenceDateTime", &iso_datetime(s.time));
            });
        }
    }

    fn claims(&mut self) {
        let rec = &self.patient.person.record;
        let world = self.cx.world;
        for (i, e) in rec.encounters.iter().enumerate() {
            let b = self.bill.encounters[i];
            let claim = derived(e.id, 0xc1a1);
            let eob = derived(e.id, 0xe0b);
            let payer = &world.payers[b.payer];
            let org = &world.providers.organizations[b.organization as usize];
            let clinician = &world.providers.clinicians[b.clinician as usize];
            let institutional = matches!(e.class, EncounterClass::Inpatient | EncounterClass::Emergency);
            let claim_type = if institutional { "institutional" } else { "professional" };
            let period = |o: &mut Obj| {
                o.obj("billablePeriod", |p| {
                    p.str("start", &iso_datetime(e.start)).str("end", &iso_datetime(e.stop.unwrap_or(e.start)));
                });
            };
            let money = |o: &mut Obj, key: &str, v: f64| {
                o.obj(key, |m| {
                    m.num("value", (v * 100.0).round() / 100.0).str("currency", "USD");
                });
            };
            // An adjudicated amount of a category (benefit, submitted).
            let amount = |o: &mut Obj, code: &str, display: &str, value: f64| {
                o.obj("category", |c| {
                    simple_concept(c, "http://terminology.hl7.org/CodeSystem/adjudication", code, display)
                });
                money(o, "amount", value);
            };
            // What the Claim and its ExplanationOfBenefit share.
            let header = |w: &Self, o: &mut Obj| {
                o.str("status", "active");
                o.obj("type", |t| {
                    simple_concept(t, "http://terminology.hl7.org/CodeSystem/claim-type", claim_type, "")
                });
                o.str("use", "claim");
                w.patient_ref(o, "patient");
                period(o);
                o.str("created", &iso_datetime(e.stop.unwrap_or(e.start)));
            };
            let item = |w: &Self, x: &mut Obj| {
                x.int("sequence", 1);
                x.obj("productOrService", |c| w.concept(c, e.codes));
                let r = w.reference("Encounter", e.id);
                x.arr("encounter", |en| {
                    en.obj(|y| {
                        y.str("reference", &r);
                    });
                });
                money(x, "net", b.total);
            };
            self.push("Claim", claim, |w, o| {
                header(w, o);
                w.reference_field(o, "provider", "Organization", org.id);
                o.obj("priority", |p| {
                    simple_concept(p, "http://terminology.hl7.org/CodeSystem/processpriority", "normal", "")
                });
                o.arr("insurance", |a| {
                    a.obj(|x| {
                        x.int("sequence", 1).bool("focal", true);
                        x.obj("coverage", |c| {
                            c.str("display", payer.name);
                        });
                    });
                });
                o.arr("item", |a| {
                    a.obj(|x| {
                        item(w, x);
                    });
                });
                money(o, "total", b.total);
            });
            self.push("ExplanationOfBenefit", eob, |w, o| {
                header(w, o);
                o.obj("insurer", |x| {
                    x.str("display", payer.name);
                });
                w.reference_field(o, "provider", "Practitioner", clinician.id);
                w.reference_field(o, "claim", "Claim", claim);
                o.str("outcome", "complete");
                o.arr("insurance", |a| {
                    a.obj(|x| {
                        x.bool("focal", true);
                        x.obj("coverage", |c| {
                            c.str("display", payer.name);
                        });
                    });
                });
                o.arr("item", |a| {
                    a.obj(|x| {
                        item(w, x);
                        x.arr("adjudication", |adj| {
                            adj.obj(|y| amount(y, "benefit", "Benefit Amount", b.covered));
                        });
                    });
                });
                o.arr("total", |a| {
                    a.obj(|x| amount(x, "submitted", "Submitted Amount", b.total));
                });
                o.obj("payment", |p| money(p, "amount", b.covered));
            });
        }
    }

    fn provenance(&mut self) {
        let id = derived(self.patient.person.id, 0x960);
        let org = self.bill.encounters.first().map(|b| b.organization);
        let recorded = iso_instant(self.cx.end.min(self.patient.person.death.unwrap_or(self.cx.end)));
        if let Some(o) = org {
            self.organizations.insert(o);
        }
        self.push("Provenance", id, |w, o| {
            meta(o, "us-core-provenance");
            let patient = w.reference("Patient", w.patient.person.id);
            o.arr("target", |a| {
                a.obj(|x| {
                    x.str("reference", &patient);
                });
            });
            o.str("recorded", &recorded);
            o.arr("agent", |a| {
                a.obj(|x| {
                    x.obj("type", |t| {
                        simple_concept(
                            t,
                            "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "author",
                            "Author",
                        )
                    });
                    match org {
                        Some(org) => {
                            let id = w.cx.world.providers.organizations[org as usize].id;
                            w.reference_field(x, "who", "Organization", id);
                            w.reference_field(x, "onBehalfOf", "Organization", id);
                        }
                        None => {
                            x.obj("who", |r| {
                                r.str("display", "ehrsim");
                            });
                        }
                    }
                });
            });
        });
    }
}

/// A UUID as an OID URI (`urn:oid:2.25.<the UUID as a decimal number>`, ITU-T X.667). Used
/// for identifiers, so that they never equal a bundle entry's `urn:uuid:` full URL, which a
/// server rewrites when it assigns ids.
fn oid(id: Uuid) -> String {
    format!("urn:oid:2.25.{}", id.0)
}

fn w_id(p: &Patient) -> Uuid {
    p.person.id
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// An instant: a date-time with seconds and a time zone (`issued`, `recorded`).
fn iso_instant(t: Time) -> String {
    iso_datetime(t)
}

fn address(o: &mut Obj, line: &str, city: &str, state: &str, zip: &str) {
    o.arr("line", |a: &mut Arr| {
        a.str(line);
    });
    o.str("city", city).str("state", state).str("postalCode", zip).str("country", "US");
}

fn language(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "english" => ("en-US", "English (United States)"),
        "spanish" => ("es", "Spanish"),
        "chinese" => ("zh", "Chinese"),
        "tagalog" => ("tl", "Tagalog"),
        "vietnamese" => ("vi", "Vietnamese"),
        "arabic" => ("ar", "Arabic"),
        "french" => ("fr", "French"),
        "korean" => ("ko", "Korean"),
        "russian" => ("ru", "Russian"),
        "german" => ("de", "German"),
        "hindi" => ("hi", "Hindi"),
        "portuguese" => ("pt", "Portuguese"),
        _ => return None,
    })
}

fn act_code(class: EncounterClass) -> (&'static str, &'static str) {
    match class {
        EncounterClass::Emergency => ("EMER", "emergency"),
        EncounterClass::Inpatient => ("IMP", "inpatient encounter"),
        EncounterClass::Snf => ("NONAC", "inpatient non-acute"),
        EncounterClass::Hospice | EncounterClass::Home => ("HH", "home health"),
        EncounterClass::Virtual => ("VR", "virtual"),
        _ => ("AMB", "ambulatory"),
    }
}

fn category_display(c: &str) -> &'static str {
    match c {
        "vital-signs" => "Vital Signs",
        "laboratory" => "Laboratory",
        "exam" => "Exam",
        "procedure" => "Procedure",
        "survey" => "Survey",
        "imaging" => "Imaging",
        "therapy" => "Therapy",
        "social-history" => "Social History",
        "activity" => "Activity",
        _ => "",
    }
}

/// The US Core 6.1 profile of an observation, by code and category.
fn observation_profile(code: &str, category: &str) -> Option<&'static str> {
    Some(match code {
        "8302-2" => "us-core-body-height",
        "29463-7" => "us-core-body-weight",
        "39156-5" => "us-core-bmi",
        "85354-9" => "us-core-blood-pressure",
        "8867-4" => "us-core-heart-rate",
        "9279-1" => "us-core-respiratory-rate",
        "2708-6" | "59408-5" => "us-core-pulse-oximetry",
        "8310-5" => "us-core-body-temperature",
        "9843-4" => "us-core-head-circumference",
        "59576-9" => "pediatric-bmi-for-age",
        "77606-2" => "pediatric-weight-for-height",
        "72166-2" => "us-core-smokingstatus",
        _ => match category {
            "vital-signs" => "us-core-vital-signs",
            "laboratory" => "us-core-observation-lab",
            "survey" | "social-history" => "us-core-observation-screening-assessment",
            "" => return None,
            _ => "us-core-observation-clinical-result",
        },
    })
}

/// What organizations and practitioners start with: profile, NPI, active.
fn npi_head(o: &mut Obj, profile: &str, npi: &str) {
    meta(o, profile);
    o.arr("identifier", |a| {
        a.obj(|x| {
            x.str("system", NPI).str("value", npi);
        });
    });
    o.bool("active", true);
}

fn organization(o: &mut Obj, org: &Organization) {
    npi_head(o, "us-core-organization", &org.npi);
    o.arr("type", |a| {
        a.obj(|c| {
            simple_concept(c, "http://terminology.hl7.org/CodeSystem/organization-type", "prov", "Healthcare Provider")
        });
    });
    o.str("name", &org.name);
    o.arr("telecom", |a| {
        a.obj(|t| {
            t.str("system", "phone").str("value", &org.phone);
        });
    });
    o.arr("address", |a| {
        a.obj(|x| address(x, &org.address, &org.city, &org.state, &org.zip));
    });
}

fn practitioner(o: &mut Obj, c: &Clinician) {
    npi_head(o, "us-core-practitioner", &c.npi);
    o.arr("name", |a| {
        a.obj(|n| {
            n.str("family", &c.last_name);
            n.arr("given", |g| {
                g.str(&c.first_name);
            });
            n.arr("prefix", |p| {
                p.str("Dr.");
            });
        });
    });
    o.str("gender", if c.sex == Sex::Male { "male" } else { "female" });
}

fn location(o: &mut Obj, org: &Organization, org_ref: &str) {
    meta(o, "us-core-location");
    o.arr("identifier", |a| {
        a.obj(|x| {
            x.str("system", URI).str("value", &oid(org.location_id));
        });
    });
    o.str("status", "active").str("name", &org.name);
    o.arr("telecom", |a| {
        a.obj(|t| {
            t.str("system", "phone").str("value", &org.phone);
        });
    });
    o.obj("address", |x| address(x, &org.address, &org.city, &org.state, &org.zip));
    o.obj("position", |p| {
        p.num("longitude", org.lon).num("latitude", org.lat);
    });
    o.obj("managingOrganization", |m| {
        m.str("reference", org_ref);
    });
}

fn write_all<'a, 'w>(cx: &'a Context<'w>, patient: &'a Patient<'w>, refs: Refs) -> Writer<'a, 'w> {
    let mut w = Writer {
        cx,
        patient,
        bill: bill(cx, patient),
        refs,
        out: Vec::new(),
        organizations: BTreeSet::new(),
        clinicians: BTreeSet::new(),
    };
    w.patient();
    w.encounters();
    w.conditions();
    w.observations();
    w.procedures();
    w.medications();
    w.immunizations();
    w.careplans();
    w.imaging_devices_supplies();
    w.claims();
    w.provenance();
    w
}

/// An Organization resource of the provider directory.
fn organization_resource(out: &mut Vec<u8>, org: &Organization) {
    object(out, |x| {
        x.str("resourceType", "Organization").str("id", &org.id.to_string());
        organization(x, org);
    });
}

/// The Location of an organization, which refers to it as `org_ref`.
fn location_resource(out: &mut Vec<u8>, org: &Organization, org_ref: &str) {
    object(out, |x| {
        x.str("resourceType", "Location").str("id", &org.location_id.to_string());
        location(x, org, org_ref);
    });
}

/// A Practitioner resource of the provider directory.
fn practitioner_resource(out: &mut Vec<u8>, clinician: &Clinician) {
    object(out, |x| {
        x.str("resourceType", "Practitioner").str("id", &clinician.id.to_string());
        practitioner(x, clinician);
    });
}

/// The per-patient bundle file name: `<First>_<Last>_<id>.json`.
pub fn bundle_name(patient: &Patient) -> String {
    let clean = |s: &str| s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>();
    format!("{}_{}_{}.json", clean(&patient.profile.first_name), clean(&patient.profile.last_name), patient.person.id)
}

impl Format for Bundles {
    fn name(&self) -> &'static str {
        "fhir"
    }

    fn directory(&self) -> &'static str {
        "fhir"
    }

    fn streams(&self, _cx: &Context, _first_shard: bool) -> Vec<(String, Vec<u8>)> {
        Vec::new()
    }

    fn render(&self, cx: &Context, patient: &Patient, out: &mut Rendered) {
        let mut w = write_all(cx, patient, Refs::Urn);
        // The organizations, clinicians and locations this bundle refers to, created only if
        // the server does not have them yet.
        let world = cx.world;
        let mut directory = Vec::new();
        for &o in &w.organizations {
            let org = &world.providers.organizations[o as usize];
            let mut json = Vec::new();
            organization_resource(&mut json, org);
            directory.push(Resource {
                kind: "Organization",
                id: org.id,
                json,
                if_none_exist: Some(format!("identifier={NPI}|{}", org.npi)),
            });
            let mut json = Vec::new();
            location_resource(&mut json, org, &format!("urn:uuid:{}", org.id));
            directory.push(Resource {
                kind: "Location",
                id: org.location_id,
                json,
                if_none_exist: Some(format!("identifier={URI}|{}", oid(org.location_id))),
            });
        }
        for &c in &w.clinicians {
            let cl = &world.providers.clinicians[c as usize];
            let mut json = Vec::new();
            practitioner_resource(&mut json, cl);
            directory.push(Resource {
                kind: "Practitioner",
                id: cl.id,
                json,
                if_none_exist: Some(format!("identifier={NPI}|{}", cl.npi)),
            });
        }
        directory.append(&mut w.out);
        let resources = directory;
        let capacity = resources.iter().map(|r| r.json.len() + 120).sum();
        let bytes = assemble_bundle(patient, &resources, capacity);
        out.counts.extend(count_kinds(&resources));
        out.chunks.push((Target::File(bundle_name(patient)), bytes));
    }
}

/// The transaction bundle's bytes, with each resource's JSON spliced in.
fn assemble_bundle(patient: &Patient, resources: &[Resource], capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(b"{\"resourceType\":\"Bundle\",\"id\":\"");
    out.extend_from_slice(derived(patient.person.id, 0xb0d1e).to_string().as_bytes());
    out.extend_from_slice(b"\",\"type\":\"transaction\",\"entry\":[");
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"fullUrl\":\"urn:uuid:");
        out.extend_from_slice(r.id.to_string().as_bytes());
        out.extend_from_slice(b"\",\"resource\":");
        out.extend_from_slice(&r.json);
        out.extend_from_slice(b",\"request\":");
        object(&mut out, |q| {
            q.str("method", "POST").str("url", r.kind);
            if let Some(cond) = &r.if_none_exist {
                q.str("ifNoneExist", cond);
            }
        });
        out.push(b'}');
    }
    out.extend_from_slice(b"]}\n");
    out
}

fn count_kinds(resources: &[Resource]) -> Vec<(&'static str, u64)> {
    let mut counts: Vec<(&'static str, u64)> = Vec::new();
    for r in resources {
        match counts.iter_mut().find(|(k, _)| *k == r.kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.kind, 1)),
        }
    }
    counts
}

impl Format for Ndjson {
    fn name(&self) -> &'static str {
        "ndjson"
    }

    fn directory(&self) -> &'static str {
        "ndjson"
    }

    fn streams(&self, cx: &Context, first_shard: bool) -> Vec<(String, Vec<u8>)> {
        let mut streams: Vec<(String, Vec<u8>)> =
            NDJSON_TYPES.iter().map(|t| (format!("{t}.ndjson"), Vec::new())).collect();
        if first_shard {
            let world = cx.world;
            for org in &world.providers.organizations {
                let buf = &mut streams[0].1;
                organization_resource(buf, org);
                buf.push(b'\n');
                let buf = &mut streams[2].1;
                location_resource(buf, org, &format!("Organization/{}", org.id));
                buf.push(b'\n');
            }
            for c in &world.providers.clinicians {
                let buf = &mut streams[1].1;
                practitioner_resource(buf, c);
                buf.push(b'\n');
            }
        }
        streams
    }

    fn render(&self, cx: &Context, patient: &Patient, out: &mut Rendered) {
        let w = write_all(cx, patient, Refs::Relative);
        let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); NDJSON_TYPES.len()];
        for r in &w.out {
            if let Some(i) = NDJSON_TYPES.iter().position(|t| *t == r.kind) {
                bufs[i].extend_from_slice(&r.json);
                bufs[i].push(b'\n');
            }
        }
        out.counts.extend(count_kinds(&w.out));
        for (i, b) in bufs.into_iter().enumerate() {
            if !b.is_empty() {
                out.chunks.push((Target::Stream(i), b));
            }
        }
    }
}
