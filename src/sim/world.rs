//! The world a run happens in: the compiled library plus the clinical core's reference data,
//! shared read-only by every thread.
//!
//! Building a `World` registers what the clinical core writes into the library (the codes of
//! wellness visits, vaccines and death certificates; the attributes and text values the core
//! sets) so that at run time everything is an interned id. After `World::new` nothing changes.

use crate::compiled::{CodeEntry, CodeId, Library, ModuleId, StateKind, Symbol};
use crate::core::cardio::Pce;
use crate::core::habits::Habits;
use crate::core::immunizations::Schedule;
use crate::core::mortality::LifeTable;
use crate::core::physiology::Reference;
use crate::export::billing::Costs;
use crate::world::demographics::Demographics;
use crate::world::payers::Payer;
use crate::world::providers::Directory;
use std::collections::BTreeSet;

macro_rules! core_symbols {
    ($($field:ident => $name:literal,)*) => {
        /// Attributes the clinical core sets or reads, interned once.
        #[derive(Debug, Clone)]
        pub struct CoreSymbols { $(pub $field: Symbol,)* }

        impl CoreSymbols {
            fn intern(lib: &mut Library) -> CoreSymbols {
                CoreSymbols { $($field: lib.attributes.intern($name),)* }
            }
        }
    };
}

core_symbols! {
    gender => "gender",
    race => "race",
    ethnicity => "ethnicity",
    state => "state",
    city => "city",
    county => "county",
    zip => "zip",
    income => "income",
    income_level => "income_level",
    education => "education",
    education_level => "education_level",
    poverty_ratio => "poverty_ratio",
    occupation_level => "occupation_level",
    socioeconomic_score => "socioeconomic_score",
    socioeconomic_category => "socioeconomic_category",
    marital_status => "marital_status",
    first_language => "first_language",
    birth_country => "birth_country",
    sexual_orientation => "sexual_orientation",
    smoker => "smoker",
    quit_smoking_age => "quit smoking age",
    alcoholic => "alcoholic",
    rh_neg => "RH_NEG",
    bmi_percentile => "bmi_percentile",
    weight_length_percentile => "current_weight_length_percentile",
    days_until_death => "days_until_death",
    fall_risk => "probability_of_fall_injury",
    food_insecurity => "food_insecurity",
    housing_cost_burden => "severe_housing_cost_burden",
    unemployed => "unemployed",
    no_vehicle_access => "no_vehicle_access",
    insurance_status => "insurance_status",
    mi_risk => "mi_risk",
    ihd_risk => "ihd_risk",
    stroke_risk => "stroke_risk",
    af_risk => "atrial_fibrillation_risk",
    cardio_risk => "cardio_risk",
    ascvd_risk => "ascvd_risk",
    hypertension => "hypertension",
    hypertension_severe => "hypertension_severe",
    blood_pressure_controlled => "blood_pressure_controlled",
    diabetes_controlled => "diabetes_controlled",
    on_statin => "on_statin",
    flu_by_module => "flu_vaccination_by_module",
    diabetes => "diabetes",
    prediabetes => "prediabetes",
    diabetes_severity => "diabetes_severity",
    ckd => "ckd",
    chf => "chf",
    osteoporosis => "osteoporosis",
    coronary_heart_disease => "coronary_heart_disease",
    weight_loss => "weight_loss_bmi_change",
    weight_loss_adherence => "weight_loss_adherence",
    covid_vaccinated => "C19_FULLY_VACCINATED",
    address => "address",
}

/// Codes the clinical core records, as one-element slices entries can borrow.
#[derive(Debug, Clone)]
pub struct CoreCodes {
    pub well_child: [CodeId; 1],
    pub general_exam: [CodeId; 1],
    pub emergency: [CodeId; 1],
    pub urgent_care: [CodeId; 1],
    pub checkup: [CodeId; 1],
    pub death_certification: [CodeId; 1],
    pub cause_of_death: [CodeId; 1],
    pub death_certificate: [CodeId; 1],
    pub natural_death: CodeId,
    /// CVX code of each vaccine of the schedule, in schedule order.
    pub vaccines: Vec<[CodeId; 1]>,
}

/// Everything shared by the patients of a run.
#[derive(Debug)]
pub struct World {
    pub lib: Library,
    pub demographics: Demographics,
    pub providers: Directory,
    pub payers: Vec<Payer>,
    pub costs: Costs,
    pub physiology: Reference,
    pub habits: Habits,
    pub life_table: LifeTable,
    pub schedule: Schedule,
    pub pce: Pce,
    pub sym: CoreSymbols,
    pub codes: CoreCodes,
    /// Per module, per state: the state's name in `lib.state_names`.
    pub state_symbols: Vec<Vec<Symbol>>,
    /// Per module: whether a PriorState condition in it or its submodules needs its history.
    pub needs_history: Vec<bool>,
    /// Top-level modules, in the order they run each step.
    pub top_level: Vec<ModuleId>,
}

/// Adds a code to the library (or finds it) while the world is being built.
pub fn add_code(lib: &mut Library, system: &str, code: &str, display: &str) -> CodeId {
    if let Some(i) = lib.codes.iter().position(|c| c.system == system && c.code == code && c.display == display) {
        return CodeId(i as u32);
    }
    let key = lib.code_keys.intern(code);
    lib.codes.push(CodeEntry { system: system.into(), code: code.into(), display: display.into(), key });
    CodeId((lib.codes.len() - 1) as u32)
}

impl World {
    pub fn new(mut lib: Library) -> World {
        let demographics = Demographics::load().expect("embedded demographic data");
        let schedule = Schedule::load();
        let sym = CoreSymbols::intern(&mut lib);
        let sn = |lib: &mut Library, c: &str, d: &str| [add_code(lib, "SNOMED-CT", c, d)];
        let codes = CoreCodes {
            well_child: sn(&mut lib, "410620009", "Well child visit (procedure)"),
            general_exam: sn(&mut lib, "162673000", "General examination of patient (procedure)"),
            emergency: sn(&mut lib, "50849002", "Emergency room admission (procedure)"),
            urgent_care: sn(&mut lib, "702927004", "Urgent care clinic (environment)"),
            checkup: sn(&mut lib, "185349003", "Encounter for check up (procedure)"),
            death_certification: sn(&mut lib, "308646001", "Death Certification"),
            cause_of_death: [add_code(
                &mut lib,
                "LOINC",
                "69453-9",
                "Cause of Death [US Standard Certificate of Death]",
            )],
            death_certificate: [add_code(
                &mut lib,
                "LOINC",
                "69409-1",
                "U.S. standard certificate of death - 2003 revision",
            )],
            natural_death: add_code(&mut lib, "SNOMED-CT", "9855000", "Natural death with unknown cause (finding)"),
            vaccines: schedule.vaccines.iter().map(|v| [add_code(&mut lib, "CVX", &v.cvx, &v.display)]).collect(),
        };
        for text in [
            "M",
            "F",
            "white",
            "black",
            "asian",
            "native",
            "hawaiian",
            "other",
            "hispanic",
            "nonhispanic",
            "High",
            "Middle",
            "Low",
            "less_than_hs",
            "hs_degree",
            "some_college",
            "bs_degree",
            "S",
            "D",
            "W",
            "heterosexual",
            "homosexual",
            "bisexual",
            "United States",
            "private",
            "medicare",
            "medicaid",
            "dual_eligible",
            "none",
        ] {
            lib.strings.intern(text);
        }
        for text in demographics.interned_values() {
            lib.strings.intern(&text);
        }
        let state_symbols = lib
            .modules
            .iter()
            .map(|m| m.graph.node_indices().map(|i| m.graph[i].name.clone()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
            .into_iter()
            .map(|names| names.iter().map(|n| lib.state_names.intern(n)).collect())
            .collect();
        let needs_history = needs_history(&lib);
        let top_level = lib.top_level().map(|(id, _)| id).collect();
        let providers = Directory::build(&demographics);
        World {
            lib,
            providers,
            payers: crate::world::payers::payers(),
            costs: Costs::load(),
            demographics,
            physiology: Reference::load(),
            habits: Habits::load(),
            life_table: LifeTable::load(),
            schedule,
            pce: Pce::load(),
            sym,
            codes,
            state_symbols,
            needs_history,
            top_level,
        }
    }
}

/// A module needs its state history if a PriorState condition appears in it or in any module
/// it calls (submodule histories merge into the caller's).
fn needs_history(lib: &Library) -> Vec<bool> {
    let has_prior: Vec<bool> = lib
        .modules
        .iter()
        .map(|m| {
            m.graph.node_weights().any(|s| {
                let in_kind = matches!(&s.kind, StateKind::Guard { allow } if mentions_prior(allow));
                let in_transition = match &s.transition {
                    crate::compiled::Transition::Conditional(os) => {
                        os.iter().any(|(c, _)| c.as_ref().is_some_and(mentions_prior))
                    }
                    crate::compiled::Transition::Complex(os) => {
                        os.iter().any(|(c, _)| c.as_ref().is_some_and(mentions_prior))
                    }
                    _ => false,
                };
                in_kind || in_transition
            })
        })
        .collect();
    (0..lib.modules.len())
        .map(|start| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![start];
            while let Some(i) = stack.pop() {
                if !seen.insert(i) {
                    continue;
                }
                if has_prior[i] {
                    return true;
                }
                for s in lib.modules[i].graph.node_weights() {
                    if let StateKind::CallSubmodule { submodule } = s.kind {
                        stack.push(submodule.0 as usize);
                    }
                }
            }
            false
        })
        .collect()
}

fn mentions_prior(c: &crate::compiled::Cond) -> bool {
    use crate::compiled::Cond;
    match c {
        Cond::PriorState { .. } => true,
        Cond::And(cs) | Cond::Or(cs) | Cond::AtLeast(_, cs) | Cond::AtMost(_, cs) => cs.iter().any(mentions_prior),
        Cond::Not(c) => mentions_prior(c),
        _ => false,
    }
}
