//! A synthetic provider directory: hospitals, primary-care clinics and urgent-care centres in
//! every city of the demographic tables, each with clinicians that have valid-format NPIs.
//!
//! The directory is a pure function of the embedded tables (not of the run's seed), so the same
//! organization has the same identifier in every run and every shard: FHIR bundles can create
//! it conditionally (`ifNoneExist` on its identifier) and any number of runs load into one
//! server without duplicates. Names and NPIs are synthetic; the 9-digit bases are hashes and
//! the tenth digit is the Luhn check digit over the `80840` prefix, as CMS specifies.

use crate::ast::{EncounterClass, Sex};
use crate::sim::person::splitmix;
use crate::sim::record::Uuid;
use crate::world::demographics::{Constraints, Demographics, Place};
use rand::SeedableRng;
use std::collections::HashMap;

/// What an organization does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgKind {
    Hospital,
    PrimaryCare,
    UrgentCare,
}

#[derive(Debug, Clone)]
pub struct Organization {
    pub id: Uuid,
    /// The organization's own identifier (also used by its Location).
    pub npi: String,
    pub location_id: Uuid,
    pub kind: OrgKind,
    pub name: String,
    pub address: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub lat: f64,
    pub lon: f64,
    pub phone: String,
    /// Index range of its clinicians in [`Directory::clinicians`].
    pub clinicians: std::ops::Range<u32>,
}

#[derive(Debug, Clone)]
pub struct Clinician {
    pub id: Uuid,
    pub npi: String,
    pub organization: u32,
    pub first_name: String,
    pub last_name: String,
    pub sex: Sex,
    pub specialty: &'static str,
}

/// Every organization and clinician, by city.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub organizations: Vec<Organization>,
    pub clinicians: Vec<Clinician>,
    /// `(state, city)` → (hospital, primary care, urgent care) organization indices.
    by_place: HashMap<(String, String), [u32; 3]>,
}

fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn uuid_of(key: &str) -> Uuid {
    let a = splitmix(hash_str(key));
    let b = splitmix(a ^ 0x5eed);
    Uuid::from_bits((u128::from(a) << 64) | u128::from(b))
}

/// A valid-format NPI: a 9-digit base starting with 1 and its Luhn check digit computed over
/// the `80840` prefix and the base.
pub fn npi(key: &str) -> String {
    let base = (100_000_000 + splitmix(hash_str(key)) % 100_000_000).to_string();
    let check = npi_check(&base);
    format!("{base}{check}")
}

/// Whether a 10-digit NPI has a valid check digit.
pub fn npi_is_valid(npi: &str) -> bool {
    npi.len() == 10 && npi.bytes().all(|b| b.is_ascii_digit()) && self::npi_check(&npi[..9]) == npi[9..]
}

fn npi_check(base: &str) -> String {
    let digits = format!("80840{base}");
    let mut sum = 0;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    ((10 - sum % 10) % 10).to_string()
}

impl Directory {
    /// Builds the directory from the demographic tables (deterministically).
    pub fn build(demographics: &Demographics) -> Directory {
        let mut d = Directory::default();
        // Clinicians' names come from the same name tables as patients, on a fixed stream.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x0c11_91c1_a115);
        for place in demographics.places() {
            let mut ids = [0u32; 3];
            for (slot, (kind, suffix, staff)) in [
                (OrgKind::Hospital, "General Hospital", 6),
                (OrgKind::PrimaryCare, "Family Medicine", 3),
                (OrgKind::UrgentCare, "Urgent Care", 2),
            ]
            .into_iter()
            .enumerate()
            {
                let key = format!("{}|{}|{suffix}", place.state, place.city);
                let index = d.organizations.len() as u32;
                let first = d.clinicians.len() as u32;
                for k in 0..staff {
                    let constraints = Constraints { state: Some(place.state.clone()), sex: None, age: Some((30, 65)) };
                    let p = demographics.sample(&mut rng, &constraints);
                    let ckey = format!("{key}|{k}");
                    d.clinicians.push(Clinician {
                        id: uuid_of(&ckey),
                        npi: npi(&ckey),
                        organization: index,
                        first_name: p.first_name,
                        last_name: p.last_name,
                        sex: p.sex,
                        specialty: if kind == OrgKind::Hospital && k == 0 {
                            "EMERGENCY MEDICINE"
                        } else {
                            "GENERAL PRACTICE"
                        },
                    });
                }
                let h = splitmix(hash_str(&key));
                d.organizations.push(Organization {
                    id: uuid_of(&key),
                    npi: npi(&format!("org|{key}")),
                    location_id: uuid_of(&format!("location|{key}")),
                    kind,
                    name: format!("{} {suffix}", place.city),
                    address: format!(
                        "{} {} Street",
                        1 + h % 899,
                        ["Main", "Oak", "Park", "Elm", "Cedar", "Washington"][(h >> 20) as usize % 6]
                    ),
                    city: place.city.clone(),
                    state: place.state_abbrev.clone(),
                    zip: place.zip.clone(),
                    lat: place.lat + ((h >> 8) % 200) as f64 / 10_000.0 - 0.01,
                    lon: place.lon + ((h >> 16) % 200) as f64 / 10_000.0 - 0.01,
                    phone: format!("555-{:03}-{:04}", (h >> 24) % 1000, (h >> 36) % 10_000),
                    clinicians: first..d.clinicians.len() as u32,
                });
                ids[slot] = index;
            }
            d.by_place.insert((place.state.clone(), place.city.clone()), ids);
        }
        d
    }

    /// The organization that sees a patient of this city for this class of encounter.
    pub fn organization_for(&self, place: &Place, class: EncounterClass) -> Option<u32> {
        let ids = self.by_place.get(&(place.state.clone(), place.city.clone()))?;
        Some(match class {
            EncounterClass::Emergency
            | EncounterClass::Inpatient
            | EncounterClass::Snf
            | EncounterClass::Hospice
            | EncounterClass::Home => ids[0],
            EncounterClass::UrgentCare => ids[2],
            _ => ids[1],
        })
    }

    /// The clinician of that organization who sees this patient (stable per patient).
    pub fn clinician_for(&self, organization: u32, patient: Uuid) -> u32 {
        let org = &self.organizations[organization as usize];
        let n = (org.clinicians.end - org.clinicians.start).max(1);
        org.clinicians.start + (splitmix(patient.0 as u64) % u64::from(n)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npis_have_valid_check_digits() {
        for key in ["a", "b", "Springfield|General Hospital", "x|1"] {
            let n = npi(key);
            assert_eq!(n.len(), 10);
            assert!(n.starts_with('1'));
            assert!(npi_is_valid(&n), "{n}");
        }
        // The CMS example: base 123456789 has check digit 3.
        assert_eq!(npi_check("123456789"), "3");
        assert!(!npi_is_valid("1234567890"));
    }

    #[test]
    fn every_city_has_three_organizations_with_staff() {
        let demographics = Demographics::load().expect("embedded data");
        let d = Directory::build(&demographics);
        assert_eq!(d.organizations.len(), demographics.places().len() * 3);
        assert!(d.organizations.iter().all(|o| !o.clinicians.is_empty() && npi_is_valid(&o.npi)));
        assert!(d.clinicians.iter().all(|c| npi_is_valid(&c.npi)));
        let ids: std::collections::BTreeSet<_> = d.organizations.iter().map(|o| o.id).collect();
        assert_eq!(ids.len(), d.organizations.len(), "unique identifiers");
        // The directory does not depend on anything but the tables.
        let again = Directory::build(&demographics);
        assert_eq!(again.clinicians[17].npi, d.clinicians[17].npi);
    }
}
