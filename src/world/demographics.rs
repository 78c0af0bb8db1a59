//! Demographic profiles: who a simulated person is before any clinical module runs.
//!
//! This is the demographic part of the clinical core. [`Demographics::load`] parses the US reference
//! tables embedded from `data/demographics/*.csv` (sources, derivations and accuracy caveats are in
//! `data/demographics/README.md` and in each file's `#` header) and prepares them for fast weighted
//! sampling: every weighted choice is a vector of cumulative weights searched by bisection, so drawing
//! a person costs a few dozen random numbers and allocates nothing but the output strings.
//! [`Demographics::sample`] then draws one [`Profile`]: residence, race and ethnicity, sex, age, names,
//! language, education, income and socioeconomic status, address, synthetic identifiers and the social
//! determinants of health of the person's state. A profile is a pure function of the RNG state passed in
//! (and of the [`Constraints`]): the simulator hands each patient its own seeded stream, so every patient
//! is reproducible. The draws happen in the fixed order listed on [`Demographics::sample`]; changing that
//! order changes every patient of every seed.
//!
//! The identifiers are made to be recognisably fake: social security numbers use area 999 (never
//! issued), phone numbers the 555 exchange, driver's licences the `S99` prefix.

use std::fmt;

use rand::{Rng, RngExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::ast::Sex;

/// 2020 HHS poverty guideline for a household of 3 in the 48 contiguous states and DC
/// (Federal Register 85 FR 3060, January 17 2020): the denominator of [`Profile::poverty_ratio`].
pub const POVERTY_GUIDELINE: f64 = 21_720.0;

/// Upper bound (exclusive) of the open-ended top age band: `age_sex.csv` writes 85+ as `85-110`, but
/// spreading that band uniformly to 110 would make about 40 times too many centenarians, so it is cut at 100.
const OPEN_AGE_BAND_END: f64 = 100.0;
const MIDDLE_NAME_PROBABILITY: f64 = 0.8;
const HISPANIC_NAME_GROUP_PROBABILITY: f64 = 0.6;
const ASIAN_NAME_GROUP_PROBABILITY: f64 = 0.5;
const APARTMENT_PROBABILITY: f64 = 0.2;
const SAME_STATE_BIRTH_PROBABILITY: f64 = 0.85;
/// Largest offset, in degrees, added to a city centre's latitude and longitude.
const COORDINATE_JITTER: f64 = 0.05;
/// Most edits for which [`Demographics::resolve_state`] still suggests a state.
const MAX_SUGGESTION_EDITS: usize = 2;

/// Race categories of the 2020 Census ("race alone"; `Other` folds "some other race" and "two or more").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Race {
    /// White alone.
    White,
    /// Black or African American alone.
    Black,
    /// Asian alone.
    Asian,
    /// American Indian and Alaska Native alone.
    Native,
    /// Native Hawaiian and Other Pacific Islander alone.
    Hawaiian,
    /// Some other race, or two or more races.
    Other,
}

impl Race {
    /// Every race, in the column order of `states.csv`.
    pub const ALL: [Race; 6] = [Race::White, Race::Black, Race::Asian, Race::Native, Race::Hawaiian, Race::Other];

    /// Lower-case code as the output formats and the `Race` condition spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Race::White => "white",
            Race::Black => "black",
            Race::Asian => "asian",
            Race::Native => "native",
            Race::Hawaiian => "hawaiian",
            Race::Other => "other",
        }
    }
}

/// Highest educational attainment, in the four brackets of `education.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Education {
    /// No high-school diploma.
    LessThanHs,
    /// High-school graduate or equivalent (GED).
    HighSchool,
    /// Some college, or an associate's degree.
    SomeCollege,
    /// Bachelor's, graduate or professional degree.
    Bachelors,
}

impl Education {
    /// Code as `education.csv` and the output formats spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Education::LessThanHs => "less_than_hs",
            Education::HighSchool => "hs_degree",
            Education::SomeCollege => "some_college",
            Education::Bachelors => "bs_degree",
        }
    }

    fn from_code(code: &str) -> Option<Education> {
        [Education::LessThanHs, Education::HighSchool, Education::SomeCollege, Education::Bachelors]
            .into_iter()
            .find(|e| e.as_str() == code)
    }
}

/// Marital status, in the four categories of `marital.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaritalStatus {
    /// Never married.
    NeverMarried,
    /// Married (spouse present or absent) or separated.
    Married,
    /// Divorced.
    Divorced,
    /// Widowed.
    Widowed,
}

impl MaritalStatus {
    /// Every status, in the column order of `marital.csv`.
    pub const ALL: [MaritalStatus; 4] =
        [MaritalStatus::NeverMarried, MaritalStatus::Married, MaritalStatus::Divorced, MaritalStatus::Widowed];

    /// Code as the column names of `marital.csv` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            MaritalStatus::NeverMarried => "never_married",
            MaritalStatus::Married => "married",
            MaritalStatus::Divorced => "divorced",
            MaritalStatus::Widowed => "widowed",
        }
    }
}

/// Restrictions a caller puts on [`Demographics::sample`]; `Default` means none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Constraints {
    /// Canonical full state name, as returned by [`Demographics::resolve_state`].
    pub state: Option<String>,
    /// Fixed sex instead of the national male share.
    pub sex: Option<Sex>,
    /// Inclusive range of whole years of age at the reference date; the age is then uniform within it
    /// (a reversed range is swapped).
    pub age: Option<(u32, u32)>,
}

/// A city of the tables, for the provider directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub state: String,
    pub state_abbrev: String,
    pub city: String,
    pub county: String,
    pub zip: String,
    pub lat: f64,
    pub lon: f64,
}

/// The demographic profile of one person, as drawn by [`Demographics::sample`].
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Sex at birth.
    pub sex: Sex,
    /// Age at the reference date in fractional years: drawn from the US age-sex pyramid (`age_sex.csv`,
    /// uniform within a 5-year band; the 85+ band spans 85-100), or uniform within [`Constraints::age`].
    pub age_years: f64,
    /// Race, drawn from the state's race shares.
    pub race: Race,
    /// Hispanic or Latino ethnicity (of any race), drawn from the state's Hispanic share.
    pub hispanic: bool,
    /// Given name.
    pub first_name: String,
    /// Second given name, present with probability 0.8.
    pub middle_name: Option<String>,
    /// Surname, weighted by the surname's count times its share for the person's race or Hispanic origin.
    pub last_name: String,
    /// Language spoken at home, lower case (`"english"`, `"spanish"`, ...), given the ethnicity.
    pub language: String,
    /// Highest educational attainment.
    pub education: Education,
    /// Position in the national education distribution, `0..1`, uniform within the bracket's cumulative share.
    pub education_level: f64,
    /// Household income in dollars, uniform within the drawn income bracket.
    pub income: i64,
    /// Position in the national household income distribution, `0..1`.
    pub income_level: f64,
    /// `income` divided by [`POVERTY_GUIDELINE`] (2020 HHS guideline for a household of 3).
    pub poverty_ratio: f64,
    /// Occupational standing, uniform `0..1` (no occupation data yet).
    pub occupation_level: f64,
    /// `0.2 * income_level + 0.7 * education_level + 0.1 * occupation_level`.
    pub socioeconomic_score: f64,
    /// `"High"` if the score is at least 0.66, `"Middle"` if at least 0.25, else `"Low"`.
    pub socioeconomic_category: &'static str,
    /// Full state name.
    pub state: String,
    /// USPS two-letter state code.
    pub state_abbrev: String,
    /// City, town or census-designated place of residence.
    pub city: String,
    /// County (parish, borough) containing the city centre.
    pub county: String,
    /// The city's representative 5-digit ZIP code.
    pub zip: String,
    /// Two-digit state FIPS code. The data has no county FIPS codes, so there is none here.
    pub fips: String,
    /// Latitude: the city centre moved by up to ±0.05 degrees.
    pub lat: f64,
    /// Longitude: the city centre moved by up to ±0.05 degrees.
    pub lon: f64,
    /// Street address, e.g. `"417 Maple Avenue"` or `"12 Oak Street Apt 31"`.
    pub address: String,
    /// `"<city>, <state code>, US"`: the state of residence with probability 0.85, else another state.
    pub birthplace: String,
    /// `"999-XX-XXXX"`; area 999 is never issued, so the number cannot be a real one.
    pub ssn: String,
    /// `"S99"` followed by 7 digits.
    pub drivers_license: String,
    /// `"X"`, 8 digits, `"X"`.
    pub passport: String,
    /// `"555-XXX-XXXX"`.
    pub phone: String,
    /// The household is food insecure (state rate, `sdoh.csv`).
    pub food_insecurity: bool,
    /// The household spends at least half its income on housing (state rate).
    pub severe_housing_cost_burden: bool,
    /// Unemployed (state unemployment rate).
    pub unemployed: bool,
    /// The household has no vehicle (state rate).
    pub no_vehicle_access: bool,
    /// Without health insurance (state rate).
    pub uninsured: bool,
}

impl Profile {
    /// `"hispanic"` or `"nonhispanic"`.
    pub fn ethnicity_str(&self) -> &'static str {
        if self.hispanic { "hispanic" } else { "nonhispanic" }
    }
}

/// The parsed demographic tables, ready for sampling. Build it once with [`Demographics::load`] and share it.
pub struct Demographics {
    states: Vec<State>,
    state_weights: Weighted,
    male_share: f64,
    age_bands: Vec<(f64, f64)>,
    /// Age-band weights, indexed by [`sex_index`].
    age_weights: [Weighted; 2],
    /// Indexed by [`NameGroup`] then [`sex_index`].
    first_names: [[NameTable; 2]; 3],
    surnames: Vec<String>,
    /// Indexed by [`surname_pool`].
    surname_weights: [Weighted; SURNAME_POOLS],
    languages: Vec<String>,
    /// `[non-Hispanic, Hispanic]`.
    language_weights: [Weighted; 2],
    education: Vec<Education>,
    education_weights: Weighted,
    /// Inclusive `(low, high)` dollar ranges.
    income_brackets: Vec<(i64, i64)>,
    income_weights: Weighted,
    streets: Vec<String>,
    street_suffixes: NameTable,
    marital: Vec<MaritalBand>,
}

impl fmt::Debug for Demographics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Demographics")
            .field("states", &self.states.len())
            .field("cities", &self.states.iter().map(|s| s.cities.len()).sum::<usize>())
            .field("surnames", &self.surnames.len())
            .field("streets", &self.streets.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct State {
    name: String,
    abbrev: String,
    fips: String,
    population: f64,
    /// Over [`Race::ALL`].
    race_weights: Weighted,
    hispanic: f64,
    /// food insecurity, severe housing cost burden, unemployed, no vehicle, uninsured.
    sdoh: [f64; 5],
    cities: Vec<City>,
    city_weights: Weighted,
}

#[derive(Debug, Clone)]
struct City {
    name: String,
    county: String,
    zip: String,
    lat: f64,
    lon: f64,
}

#[derive(Debug, Clone)]
struct NameTable {
    names: Vec<String>,
    weights: Weighted,
}

impl NameTable {
    fn pick(&self, rng: &mut impl Rng) -> usize {
        self.weights.pick(rng)
    }
}

#[derive(Debug, Clone)]
struct MaritalBand {
    sex: Sex,
    low: f64,
    /// Exclusive.
    end: f64,
    weights: Weighted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameGroup {
    General = 0,
    Hispanic = 1,
    Asian = 2,
}

const SURNAME_POOLS: usize = 6;

fn sex_index(sex: Sex) -> usize {
    match sex {
        Sex::Male => 0,
        Sex::Female => 1,
    }
}

/// Which surname weighting applies: the share column for the person's race or Hispanic origin. The
/// Census surname table counts Pacific Islanders with Asians and leaves out the other races (its race
/// columns are non-Hispanic), so a non-Hispanic person of race `Other` gets the non-Hispanic share,
/// `1 - hispanic`, which includes two or more races.
fn surname_pool(race: Race, hispanic: bool) -> usize {
    if hispanic {
        return 4;
    }
    match race {
        Race::White => 0,
        Race::Black => 1,
        Race::Asian | Race::Hawaiian => 2,
        Race::Native => 3,
        Race::Other => 5,
    }
}

/// Cumulative weights of a discrete distribution; an item is drawn by bisection on a uniform number.
#[derive(Debug, Clone)]
struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(what: &str, weights: impl IntoIterator<Item = f64>) -> Result<Weighted, String> {
        let mut total = 0.0;
        let mut cumulative = Vec::new();
        for weight in weights {
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(format!("{what}: weight {weight} is not a non-negative number"));
            }
            total += weight;
            cumulative.push(total);
        }
        if total > 0.0 { Ok(Weighted { cumulative }) } else { Err(format!("{what}: the weights add up to 0")) }
    }

    fn total(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }

    /// Index of the item whose cumulative interval contains `x` (items of weight 0 are never chosen).
    fn locate(&self, x: f64) -> usize {
        self.cumulative.partition_point(|&c| c <= x).min(self.cumulative.len() - 1)
    }

    fn pick(&self, rng: &mut impl Rng) -> usize {
        self.locate(rng.random::<f64>() * self.total())
    }

    /// Draws an item and also returns the uniform number `u` in `0..1` that chose it (the position in the
    /// whole distribution) and the relative position `0..1` within the item's own interval.
    fn pick_with_position(&self, rng: &mut impl Rng) -> (usize, f64, f64) {
        let u = rng.random::<f64>();
        let x = u * self.total();
        let index = self.locate(x);
        let start = if index == 0 { 0.0 } else { self.cumulative[index - 1] };
        let width = self.cumulative[index] - start;
        let within = if width > 0.0 { ((x - start) / width).clamp(0.0, 1.0) } else { 0.0 };
        (index, u, within)
    }
}

/// A point uniform in `[low, end)`, guarded against rounding up to `end`.
fn uniform_in(rng: &mut impl Rng, low: f64, end: f64) -> f64 {
    (low + rng.random::<f64>() * (end - low)).min(end.next_down()).max(low)
}

fn draw_sex(rng: &mut impl Rng, male_share: f64) -> Sex {
    if rng.random_bool(male_share) { Sex::Male } else { Sex::Female }
}

fn sex_code(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "M",
        Sex::Female => "F",
    }
}

fn parse_sex(file: &str, code: &str) -> Result<Sex, String> {
    match code {
        "M" => Ok(Sex::Male),
        "F" => Ok(Sex::Female),
        other => Err(format!("{file}: sex `{other}` is neither M nor F")),
    }
}

/// Checks that a value is a share in `0..=1`.
fn share(file: &str, what: &str, value: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&value) { Ok(value) } else { Err(format!("{file}: {what} {value} is not in 0..1")) }
}

/// Number of single-character edits (insertions, deletions, substitutions) between two strings.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

macro_rules! embedded {
    ($file:literal) => {
        ($file, include_str!(concat!("../../data/demographics/", $file)))
    };
}

fn read_table<T: DeserializeOwned>((file, text): (&str, &str)) -> Result<Vec<T>, String> {
    let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(text.as_bytes());
    reader.deserialize().map(|row| row.map_err(|e| format!("data/demographics/{file}: {e}"))).collect()
}

#[derive(Deserialize)]
struct StateRow {
    abbrev: String,
    name: String,
    fips: String,
    population: u64,
    white: f64,
    black: f64,
    asian: f64,
    native: f64,
    hawaiian: f64,
    other: f64,
    hispanic: f64,
}

#[derive(Deserialize)]
struct CityRow {
    state: String,
    city: String,
    county: String,
    population: u64,
    lat: f64,
    lon: f64,
    zip: String,
}

#[derive(Deserialize)]
struct AgeSexRow {
    age_low: u32,
    age_high: u32,
    male: u64,
    female: u64,
}

#[derive(Deserialize)]
struct FirstNameRow {
    name: String,
    sex: String,
    weight: f64,
    group: String,
}

#[derive(Deserialize)]
struct SurnameRow {
    name: String,
    weight: f64,
    white: f64,
    black: f64,
    asian: f64,
    native: f64,
    hispanic: f64,
}

#[derive(Deserialize)]
struct StreetRow {
    name: String,
}

#[derive(Deserialize)]
struct SuffixRow {
    suffix: String,
    weight: f64,
}

#[derive(Deserialize)]
struct IncomeRow {
    low: i64,
    high: i64,
    share: f64,
}

#[derive(Deserialize)]
struct EducationRow {
    level: String,
    share: f64,
}

#[derive(Deserialize)]
struct LanguageRow {
    language: String,
    share_hispanic: f64,
    share_nonhispanic: f64,
}

#[derive(Deserialize)]
struct SdohRow {
    state: String,
    food_insecurity: f64,
    severe_housing_cost_burden: f64,
    unemployed: f64,
    no_vehicle_access: f64,
    uninsured: f64,
}

#[derive(Deserialize)]
struct MaritalRow {
    age_low: u32,
    age_high: u32,
    sex: String,
    never_married: f64,
    married: f64,
    divorced: f64,
    widowed: f64,
}

impl Demographics {
    /// Parses and checks the embedded tables.
    ///
    /// # Errors
    ///
    /// A message naming the file and the problem (unparsable row, share outside `0..1`, unknown state,
    /// gap in the age bands, ...). With the data as shipped, which the tests cover, it never happens, so
    /// callers can `expect` it once at startup.
    pub fn load() -> Result<Demographics, String> {
        let states = load_states()?;
        let state_weights = Weighted::new("states.csv population", states.iter().map(|s| s.population))?;
        let (male_share, age_bands, age_weights) = load_age_sex()?;
        let first_names = load_first_names()?;
        let (surnames, surname_weights) = load_surnames()?;

        let file = "languages.csv";
        let rows: Vec<LanguageRow> = read_table(embedded!("languages.csv"))?;
        let languages = rows.iter().map(|r| r.language.to_lowercase()).collect();
        let language_weights = [
            Weighted::new(file, rows.iter().map(|r| r.share_nonhispanic))?,
            Weighted::new(file, rows.iter().map(|r| r.share_hispanic))?,
        ];

        let file = "education.csv";
        let rows: Vec<EducationRow> = read_table(embedded!("education.csv"))?;
        let education = rows
            .iter()
            .map(|r| Education::from_code(&r.level).ok_or_else(|| format!("{file}: unknown level `{}`", r.level)))
            .collect::<Result<_, _>>()?;
        let education_weights = Weighted::new(file, rows.iter().map(|r| r.share))?;

        let file = "income.csv";
        let rows: Vec<IncomeRow> = read_table(embedded!("income.csv"))?;
        if let Some(r) = rows.iter().find(|r| r.low > r.high || r.low < 0) {
            return Err(format!("{file}: bad bracket {}-{}", r.low, r.high));
        }
        let income_brackets = rows.iter().map(|r| (r.low, r.high)).collect();
        let income_weights = Weighted::new(file, rows.iter().map(|r| r.share))?;

        let rows: Vec<StreetRow> = read_table(embedded!("streets.csv"))?;
        let streets: Vec<String> = rows.into_iter().map(|r| r.name).collect();
        if streets.is_empty() {
            return Err("streets.csv: no streets".to_owned());
        }
        let rows: Vec<SuffixRow> = read_table(embedded!("street_suffixes.csv"))?;
        let street_suffixes = NameTable {
            weights: Weighted::new("street_suffixes.csv", rows.iter().map(|r| r.weight))?,
            names: rows.into_iter().map(|r| r.suffix).collect(),
        };

        Ok(Demographics {
            states,
            state_weights,
            male_share,
            age_bands,
            age_weights,
            first_names,
            surnames,
            surname_weights,
            languages,
            language_weights,
            education,
            education_weights,
            income_brackets,
            income_weights,
            streets,
            street_suffixes,
            marital: load_marital()?,
        })
    }

    /// Every city of the tables, with its state: where the provider directory puts its
    /// hospitals and clinics.
    pub fn places(&self) -> Vec<Place> {
        let mut out = Vec::new();
        for state in &self.states {
            for city in &state.cities {
                out.push(Place {
                    state: state.name.clone(),
                    state_abbrev: state.abbrev.clone(),
                    city: city.name.clone(),
                    county: city.county.clone(),
                    zip: city.zip.clone(),
                    lat: city.lat,
                    lon: city.lon,
                });
            }
        }
        out
    }

    /// Every text value a profile can carry into an attribute (states, cities, counties, ZIP
    /// codes, languages), so the simulator can intern them before the run starts.
    pub fn interned_values(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for state in &self.states {
            out.push(state.name.clone());
            out.push(state.abbrev.clone());
            for city in &state.cities {
                out.push(city.name.clone());
                out.push(city.county.clone());
                out.push(city.zip.clone());
            }
        }
        out.extend(self.languages.iter().cloned());
        out
    }

    /// Resolves a user-given state, its full name or two-letter code in any case, to the canonical full
    /// name; extra whitespace is ignored.
    ///
    /// # Errors
    ///
    /// For an unknown state, a message for the user such as "unknown state `Texsa`; did you mean
    /// `Texas`?" (the suggestion is the state name closest in edit distance, if at most 2 edits away).
    pub fn resolve_state(&self, given: &str) -> Result<String, String> {
        let wanted = given.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(index) = self.find_state(&wanted) {
            return Ok(self.states[index].name.clone());
        }
        let lower = wanted.to_lowercase();
        let nearest = self
            .states
            .iter()
            .map(|s| (levenshtein(&lower, &s.name.to_lowercase()), s))
            .filter(|&(edits, _)| edits <= MAX_SUGGESTION_EDITS)
            .min_by_key(|&(edits, _)| edits);
        match nearest {
            Some((_, state)) => Err(format!("unknown state `{wanted}`; did you mean `{}`?", state.name)),
            None => Err(format!(
                "unknown state `{wanted}`; give one of the 50 states or DC by name (`Texas`) or code (`TX`)"
            )),
        }
    }

    fn find_state(&self, name_or_code: &str) -> Option<usize> {
        self.states
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name_or_code) || s.abbrev.eq_ignore_ascii_case(name_or_code))
    }

    /// Samples one person; the result depends only on the RNG state and `constraints`.
    ///
    /// Draw order (stable, part of the reproducibility contract): state (by population unless
    /// constrained) → city (by population within the state) → race (state shares) → Hispanic origin
    /// (state share) → sex (national male share unless constrained) → age (pyramid for that sex, or
    /// uniform in the constraint) → first name (group, then name) → middle name → surname → language →
    /// education → income → occupation → coordinates → address → birthplace → SSN, driver's licence,
    /// passport, phone → the five social determinants.
    ///
    /// `constraints.state` must be a name accepted by [`Demographics::resolve_state`] (callers resolve
    /// user input first); an unknown one is a bug in the caller: debug builds panic, release builds draw
    /// the state by population.
    pub fn sample(&self, rng: &mut impl Rng, constraints: &Constraints) -> Profile {
        let constrained_state = constraints.state.as_deref().and_then(|name| self.find_state(name));
        debug_assert!(
            constraints.state.is_none() || constrained_state.is_some(),
            "Constraints::state {:?} was not resolved with Demographics::resolve_state",
            constraints.state
        );
        let state_index = constrained_state.unwrap_or_else(|| self.state_weights.pick(rng));
        let state = &self.states[state_index];
        let city = &state.cities[state.city_weights.pick(rng)];
        let race = Race::ALL[state.race_weights.pick(rng)];
        let hispanic = rng.random_bool(state.hispanic);
        let sex = constraints.sex.unwrap_or_else(|| draw_sex(rng, self.male_share));
        let age_years = match constraints.age {
            Some((a, b)) => uniform_in(rng, f64::from(a.min(b)), f64::from(a.max(b)) + 1.0),
            None => {
                let (low, end) = self.age_bands[self.age_weights[sex_index(sex)].pick(rng)];
                uniform_in(rng, low, end)
            }
        };

        let group = if hispanic {
            if rng.random_bool(HISPANIC_NAME_GROUP_PROBABILITY) { NameGroup::Hispanic } else { NameGroup::General }
        } else if race == Race::Asian && rng.random_bool(ASIAN_NAME_GROUP_PROBABILITY) {
            NameGroup::Asian
        } else {
            NameGroup::General
        };
        let given_names = &self.first_names[group as usize][sex_index(sex)];
        let first = given_names.pick(rng);
        let middle_name = rng.random_bool(MIDDLE_NAME_PROBABILITY).then(|| {
            // A few redraws so that the middle name rarely repeats the first one.
            let mut middle = given_names.pick(rng);
            for _ in 0..3 {
                if middle != first {
                    break;
                }
                middle = given_names.pick(rng);
            }
            given_names.names[middle].clone()
        });
        let last_name = self.surnames[self.surname_weights[surname_pool(race, hispanic)].pick(rng)].clone();
        let language = self.languages[self.language_weights[usize::from(hispanic)].pick(rng)].clone();

        let (education_index, education_level, _) = self.education_weights.pick_with_position(rng);
        let (income_index, income_level, within) = self.income_weights.pick_with_position(rng);
        let (low, high) = self.income_brackets[income_index];
        // Truncation is the intent: `within` < 1 maps onto the whole dollars low..=high.
        let income = (low + (within * (high - low + 1) as f64) as i64).min(high);
        let occupation_level = rng.random::<f64>();
        let socioeconomic_score = 0.2 * income_level + 0.7 * education_level + 0.1 * occupation_level;
        let socioeconomic_category = match socioeconomic_score {
            s if s >= 0.66 => "High",
            s if s >= 0.25 => "Middle",
            _ => "Low",
        };

        let lat = city.lat + uniform_in(rng, -COORDINATE_JITTER, COORDINATE_JITTER);
        let lon = city.lon + uniform_in(rng, -COORDINATE_JITTER, COORDINATE_JITTER);
        let number = rng.random_range(1..=9999_u32);
        let street = &self.streets[rng.random_range(0..self.streets.len())];
        let suffix = &self.street_suffixes.names[self.street_suffixes.pick(rng)];
        let address = if rng.random_bool(APARTMENT_PROBABILITY) {
            format!("{number} {street} {suffix} Apt {}", rng.random_range(1..=500_u32))
        } else {
            format!("{number} {street} {suffix}")
        };
        let birthplace = self.draw_birthplace(rng, state_index);
        let ssn = format!("999-{:02}-{:04}", rng.random_range(1..=99_u32), rng.random_range(1..=9999_u32));
        let drivers_license = format!("S99{:07}", rng.random_range(0..10_000_000_u32));
        let passport = format!("X{:08}X", rng.random_range(0..100_000_000_u32));
        let phone = format!("555-{:03}-{:04}", rng.random_range(0..1000_u32), rng.random_range(0..10_000_u32));
        let [food, housing, unemployment, no_vehicle, uninsured] = state.sdoh;

        Profile {
            sex,
            age_years,
            race,
            hispanic,
            first_name: given_names.names[first].clone(),
            middle_name,
            last_name,
            language,
            education: self.education[education_index],
            education_level,
            income,
            income_level,
            poverty_ratio: income as f64 / POVERTY_GUIDELINE,
            occupation_level,
            socioeconomic_score,
            socioeconomic_category,
            state: state.name.clone(),
            state_abbrev: state.abbrev.clone(),
            city: city.name.clone(),
            county: city.county.clone(),
            zip: city.zip.clone(),
            fips: state.fips.clone(),
            lat,
            lon,
            address,
            birthplace,
            ssn,
            drivers_license,
            passport,
            phone,
            food_insecurity: rng.random_bool(food),
            severe_housing_cost_burden: rng.random_bool(housing),
            unemployed: rng.random_bool(unemployment),
            no_vehicle_access: rng.random_bool(no_vehicle),
            uninsured: rng.random_bool(uninsured),
        }
    }

    /// The state of residence with probability 0.85; otherwise another state drawn by population. Either
    /// way the city is drawn by population within the state.
    fn draw_birthplace(&self, rng: &mut impl Rng, home: usize) -> String {
        let mut index = home;
        if !rng.random_bool(SAME_STATE_BIRTH_PROBABILITY) {
            // Rejection terminates fast (no state holds more than an eighth of the population); the bound
            // only guards against a degenerate table.
            for _ in 0..64 {
                index = self.state_weights.pick(rng);
                if index != home {
                    break;
                }
            }
        }
        let state = &self.states[index];
        format!("{}, {}, US", state.cities[state.city_weights.pick(rng)].name, state.abbrev)
    }

    /// Draws a marital status for a person of this sex and age from `marital.csv` (CPS 2021). Under 15,
    /// the table's lowest age, the person is never married and nothing is drawn. Not part of
    /// [`Demographics::sample`], so calling it does not disturb the profile draw order.
    pub fn marital_status(&self, rng: &mut impl Rng, sex: Sex, age_years: f64) -> MaritalStatus {
        let band = self.marital.iter().filter(|b| b.sex == sex).find(|b| age_years < b.end);
        match band {
            Some(band) if age_years >= band.low => MaritalStatus::ALL[band.weights.pick(rng)],
            Some(_) => MaritalStatus::NeverMarried,
            // Beyond the last band: use the oldest one.
            None => match self.marital.iter().rfind(|b| b.sex == sex) {
                Some(band) => MaritalStatus::ALL[band.weights.pick(rng)],
                None => MaritalStatus::NeverMarried,
            },
        }
    }
}

fn load_states() -> Result<Vec<State>, String> {
    let sdoh_rows: Vec<SdohRow> = read_table(embedded!("sdoh.csv"))?;
    let city_rows: Vec<CityRow> = read_table(embedded!("cities.csv"))?;
    let state_rows: Vec<StateRow> = read_table(embedded!("states.csv"))?;
    if let Some(r) = city_rows.iter().find(|c| !state_rows.iter().any(|s| s.abbrev == c.state)) {
        return Err(format!("cities.csv: {} has unknown state `{}`", r.city, r.state));
    }
    if let Some(r) = sdoh_rows.iter().find(|d| !state_rows.iter().any(|s| s.abbrev == d.state)) {
        return Err(format!("sdoh.csv: unknown state `{}`", r.state));
    }

    let mut states = Vec::with_capacity(state_rows.len());
    for r in state_rows {
        let races = [r.white, r.black, r.asian, r.native, r.hawaiian, r.other];
        for value in races {
            share("states.csv", &r.abbrev, value)?;
        }
        let d = sdoh_rows
            .iter()
            .find(|d| d.state == r.abbrev)
            .ok_or_else(|| format!("sdoh.csv: no row for {}", r.abbrev))?;
        let sdoh = [d.food_insecurity, d.severe_housing_cost_burden, d.unemployed, d.no_vehicle_access, d.uninsured];
        for value in sdoh {
            share("sdoh.csv", &r.abbrev, value)?;
        }
        let rows = || city_rows.iter().filter(|c| c.state == r.abbrev);
        let cities = rows()
            .map(|c| City {
                name: c.city.clone(),
                county: c.county.clone(),
                zip: c.zip.clone(),
                lat: c.lat,
                lon: c.lon,
            })
            .collect();
        let city_weights =
            Weighted::new(&format!("cities.csv, state {}", r.abbrev), rows().map(|c| c.population as f64))?;
        states.push(State {
            race_weights: Weighted::new("states.csv", races)?,
            hispanic: share("states.csv", &r.abbrev, r.hispanic)?,
            population: r.population as f64,
            sdoh,
            cities,
            city_weights,
            name: r.name,
            abbrev: r.abbrev,
            fips: r.fips,
        });
    }
    Ok(states)
}

type AgeTables = (f64, Vec<(f64, f64)>, [Weighted; 2]);

fn load_age_sex() -> Result<AgeTables, String> {
    let file = "age_sex.csv";
    let rows: Vec<AgeSexRow> = read_table(embedded!("age_sex.csv"))?;
    let mut expected_low = 0;
    let mut bands = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        if r.age_low != expected_low || r.age_high < r.age_low {
            return Err(format!("{file}: band {}-{} does not continue from age {expected_low}", r.age_low, r.age_high));
        }
        expected_low = r.age_high + 1;
        let end = if i + 1 == rows.len() {
            OPEN_AGE_BAND_END.max(f64::from(r.age_low) + 1.0)
        } else {
            f64::from(expected_low)
        };
        bands.push((f64::from(r.age_low), end));
    }
    let male: u64 = rows.iter().map(|r| r.male).sum();
    let female: u64 = rows.iter().map(|r| r.female).sum();
    if male + female == 0 {
        return Err(format!("{file}: no people"));
    }
    let weights = [
        Weighted::new(file, rows.iter().map(|r| r.male as f64))?,
        Weighted::new(file, rows.iter().map(|r| r.female as f64))?,
    ];
    Ok((male as f64 / (male + female) as f64, bands, weights))
}

fn load_first_names() -> Result<[[NameTable; 2]; 3], String> {
    let file = "first_names.csv";
    let rows: Vec<FirstNameRow> = read_table(embedded!("first_names.csv"))?;
    let mut names: [[(Vec<String>, Vec<f64>); 2]; 3] = Default::default();
    for r in rows {
        let group = match r.group.as_str() {
            "general" => NameGroup::General,
            "hispanic" => NameGroup::Hispanic,
            "asian" => NameGroup::Asian,
            other => return Err(format!("{file}: unknown group `{other}`")),
        };
        let (list, weights) = &mut names[group as usize][sex_index(parse_sex(file, &r.sex)?)];
        list.push(r.name);
        weights.push(r.weight);
    }
    let table = |(names, weights): (Vec<String>, Vec<f64>)| -> Result<NameTable, String> {
        Ok(NameTable { names, weights: Weighted::new(file, weights)? })
    };
    let [general, hispanic, asian] = names;
    let pair = |[male, female]: [(Vec<String>, Vec<f64>); 2]| -> Result<[NameTable; 2], String> {
        Ok([table(male)?, table(female)?])
    };
    Ok([pair(general)?, pair(hispanic)?, pair(asian)?])
}

fn load_surnames() -> Result<(Vec<String>, [Weighted; SURNAME_POOLS]), String> {
    let file = "surnames.csv";
    let rows: Vec<SurnameRow> = read_table(embedded!("surnames.csv"))?;
    for r in &rows {
        for value in [r.white, r.black, r.asian, r.native, r.hispanic] {
            share(file, &r.name, value)?;
        }
    }
    let pool = |column: fn(&SurnameRow) -> f64| Weighted::new(file, rows.iter().map(|r| r.weight * column(r)));
    let weights = [
        pool(|r| r.white)?,
        pool(|r| r.black)?,
        pool(|r| r.asian)?,
        pool(|r| r.native)?,
        pool(|r| r.hispanic)?,
        pool(|r| 1.0 - r.hispanic)?,
    ];
    Ok((rows.into_iter().map(|r| r.name).collect(), weights))
}

fn load_marital() -> Result<Vec<MaritalBand>, String> {
    let file = "marital.csv";
    let rows: Vec<MaritalRow> = read_table(embedded!("marital.csv"))?;
    let mut bands = Vec::with_capacity(rows.len());
    for r in rows {
        let shares = [r.never_married, r.married, r.divorced, r.widowed];
        for value in shares {
            share(file, "share", value)?;
        }
        bands.push(MaritalBand {
            sex: parse_sex(file, &r.sex)?,
            low: f64::from(r.age_low),
            end: f64::from(r.age_high) + 1.0,
            weights: Weighted::new(file, shares)?,
        });
    }
    // `marital_status` finds a band by its end, so each sex's bands must follow one another without gaps.
    for sex in [Sex::Male, Sex::Female] {
        let mut previous_end = None;
        for band in bands.iter().filter(|b| b.sex == sex) {
            if band.end <= band.low || previous_end.is_some_and(|end| end != band.low) {
                return Err(format!(
                    "{file}: the bands of sex {} are not contiguous at age {}",
                    sex_code(sex),
                    band.low
                ));
            }
            previous_end = Some(band.end);
        }
        if previous_end.is_none() {
            return Err(format!("{file}: no rows for sex {}", sex_code(sex)));
        }
    }
    Ok(bands)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashMap;

    fn demographics() -> Demographics {
        Demographics::load().expect("embedded data")
    }

    fn samples(d: &Demographics, seed: u64, n: usize, constraints: &Constraints) -> Vec<Profile> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| d.sample(&mut rng, constraints)).collect()
    }

    fn share_of(profiles: &[Profile], keep: impl Fn(&Profile) -> bool) -> f64 {
        profiles.iter().filter(|p| keep(p)).count() as f64 / profiles.len() as f64
    }

    #[test]
    fn load_parses_every_table() {
        let d = demographics();
        assert_eq!(d.states.len(), 51);
        let cities: usize = d.states.iter().map(|s| s.cities.len()).sum();
        assert!(cities > 500, "{cities} cities");
        assert_eq!(cities, 631);
        assert!(d.states.iter().all(|s| !s.cities.is_empty() && s.fips.len() == 2));
        assert!(d.states.iter().flat_map(|s| &s.cities).all(|c| c.zip.len() == 5));
        assert_eq!(d.states.iter().find(|s| s.abbrev == "AL").map(|s| s.fips.as_str()), Some("01"));
        assert_eq!(d.age_bands.len(), 18);
        assert_eq!(d.age_bands.last(), Some(&(85.0, 100.0)));
        let name_counts: Vec<[usize; 2]> = d.first_names.iter().map(|g| [g[0].names.len(), g[1].names.len()]).collect();
        assert_eq!(name_counts, [[150, 150], [40, 40], [30, 30]]);
        assert_eq!(d.surnames.len(), 400);
        assert_eq!(d.streets.len(), 150);
        assert_eq!(d.street_suffixes.names.len(), 20);
        assert_eq!(d.income_brackets.len(), 10);
        assert_eq!(d.education.len(), 4);
        assert_eq!(d.languages.len(), 13);
        assert!(d.languages.iter().any(|l| l == "english") && d.languages.iter().any(|l| l == "spanish"));
        assert_eq!(d.marital.len(), 26);
        assert!((0.48..0.51).contains(&d.male_share), "male share {}", d.male_share);
        // Shares that the README says add up to 1 do (the weights are normalised anyway).
        let mut sums: Vec<f64> = d.states.iter().map(|s| s.race_weights.total()).collect();
        sums.extend(d.language_weights.iter().map(Weighted::total));
        sums.extend([d.income_weights.total(), d.education_weights.total()]);
        sums.extend(d.marital.iter().map(|b| b.weights.total()));
        assert!(sums.iter().all(|sum| (sum - 1.0).abs() <= 0.001), "{sums:?}");
        let total_population: f64 = d.states.iter().map(|s| s.population).sum();
        assert_eq!(total_population, 331_449_281.0);
    }

    #[test]
    fn national_shares_match_the_tables() {
        let d = demographics();
        let profiles = samples(&d, 7, 20_000, &Constraints::default());
        let total: f64 = d.states.iter().map(|s| s.population).sum();

        let male = share_of(&profiles, |p| p.sex == Sex::Male);
        assert!((0.47..=0.52).contains(&male), "male share {male}");

        let expected_hispanic: f64 = d.states.iter().map(|s| s.population * s.hispanic).sum::<f64>() / total;
        let hispanic = share_of(&profiles, |p| p.hispanic);
        assert!((hispanic - expected_hispanic).abs() <= 0.02, "hispanic {hispanic} vs {expected_hispanic}");

        let older: f64 = (0..2)
            .map(|sex| {
                let w = &d.age_weights[sex];
                let first_old = d.age_bands.iter().position(|&(low, _)| low >= 65.0).expect("a 65+ band");
                w.total() - w.cumulative[first_old - 1]
            })
            .sum::<f64>()
            / (d.age_weights[0].total() + d.age_weights[1].total());
        let sampled_older = share_of(&profiles, |p| p.age_years >= 65.0);
        assert!((sampled_older - older).abs() <= 0.02, "65+ share {sampled_older} vs {older}");
        assert!(profiles.iter().all(|p| (0.0..100.0).contains(&p.age_years)));

        let mut by_population: Vec<&State> = d.states.iter().collect();
        by_population.sort_by(|a, b| b.population.total_cmp(&a.population));
        for state in &by_population[..5] {
            let expected = state.population / total;
            let sampled = share_of(&profiles, |p| p.state == state.name);
            assert!((sampled - expected).abs() <= 0.01, "{}: {sampled} vs {expected}", state.name);
        }
    }

    #[test]
    fn ethnicity_shapes_names_and_language() {
        let d = demographics();
        let profiles = samples(&d, 11, 20_000, &Constraints::default());
        let hispanic_share_of_surname: HashMap<&str, f64> = {
            let rows: Vec<SurnameRow> = read_table(embedded!("surnames.csv")).expect("embedded data");
            let shares: Vec<(String, f64)> = rows.into_iter().map(|r| (r.name, r.hispanic)).collect();
            d.surnames
                .iter()
                .map(|name| {
                    let share = shares.iter().find(|(n, _)| n == name).map_or(0.0, |&(_, s)| s);
                    (name.as_str(), share)
                })
                .collect()
        };
        let spanish_surname = |p: &Profile| hispanic_share_of_surname[p.last_name.as_str()] > 0.5;
        let hispanic: Vec<Profile> = profiles.iter().filter(|p| p.hispanic).cloned().collect();
        let other: Vec<Profile> = profiles.iter().filter(|p| !p.hispanic).cloned().collect();
        assert!(share_of(&hispanic, spanish_surname) > 0.8);
        assert!(share_of(&other, spanish_surname) < 0.05, "{}", share_of(&other, spanish_surname));
        let spanish = share_of(&hispanic, |p| p.language == "spanish");
        assert!((spanish - 0.71).abs() < 0.03, "Spanish among Hispanic people {spanish}");
        assert!(share_of(&other, |p| p.language == "english") > 0.85);
        let middle = share_of(&profiles, |p| p.middle_name.is_some());
        assert!((middle - 0.8).abs() < 0.02, "middle-name share {middle}");
    }

    #[test]
    fn constraints_are_honoured() {
        let d = demographics();
        let texas = Constraints { state: Some("Texas".to_owned()), ..Constraints::default() };
        let profiles = samples(&d, 1, 2_000, &texas);
        assert!(profiles.iter().all(|p| p.state == "Texas" && p.state_abbrev == "TX" && p.fips == "48"));
        assert!(profiles.iter().any(|p| p.city != "Houston"), "cities vary within the state");

        let female = Constraints { sex: Some(Sex::Female), ..Constraints::default() };
        assert!(samples(&d, 2, 2_000, &female).iter().all(|p| p.sex == Sex::Female));

        let thirties = Constraints { age: Some((30, 40)), ..Constraints::default() };
        let profiles = samples(&d, 3, 2_000, &thirties);
        assert!(profiles.iter().all(|p| (30.0..41.0).contains(&p.age_years)));
        assert!(profiles.iter().any(|p| p.age_years >= 40.0), "the upper year is included");

        let reversed = Constraints { age: Some((40, 30)), ..Constraints::default() };
        assert!(samples(&d, 3, 500, &reversed).iter().all(|p| (30.0..41.0).contains(&p.age_years)));
        let newborn = Constraints { age: Some((0, 0)), ..Constraints::default() };
        assert!(samples(&d, 3, 500, &newborn).iter().all(|p| (0.0..1.0).contains(&p.age_years)));
    }

    #[test]
    fn resolve_state_accepts_names_and_codes() {
        let d = demographics();
        for given in ["tx", "TX", "Texas", "texas", " TEXAS "] {
            assert_eq!(d.resolve_state(given).as_deref(), Ok("Texas"), "{given}");
        }
        assert_eq!(d.resolve_state("new  york").as_deref(), Ok("New York"));
        assert_eq!(d.resolve_state("dc").as_deref(), Ok("District of Columbia"));
        let error = d.resolve_state("Texsa").expect_err("misspelt");
        assert!(error.contains("did you mean `Texas`"), "{error}");
        assert!(error.contains("unknown state `Texsa`"), "{error}");
        let error = d.resolve_state("Atlantis").expect_err("unknown");
        assert!(!error.contains("did you mean"), "{error}");
        assert!(d.resolve_state("").is_err());
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("texsa", "texas"), 2);
        assert_eq!(levenshtein("", "ohio"), 4);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("utah", "utah"), 0);
    }

    #[test]
    fn sampling_is_deterministic() {
        let d = demographics();
        let constraints = Constraints::default();
        assert_eq!(samples(&d, 42, 200, &constraints), samples(&d, 42, 200, &constraints));
        assert_ne!(samples(&d, 42, 20, &constraints), samples(&d, 43, 20, &constraints));
    }

    #[test]
    fn fields_are_well_formed() {
        let d = demographics();
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        for p in samples(&d, 5, 5_000, &Constraints::default()) {
            let (area, rest) = p.ssn.split_at(4);
            assert!(area == "999-" && rest.len() == 7 && digits(&rest[..2]) && digits(&rest[3..]), "{}", p.ssn);
            assert!(p.drivers_license.len() == 10 && p.drivers_license.starts_with("S99"), "{}", p.drivers_license);
            assert!(digits(&p.drivers_license[3..]));
            assert!(p.passport.len() == 10 && p.passport.starts_with('X') && p.passport.ends_with('X'));
            assert!(digits(&p.passport[1..9]), "{}", p.passport);
            assert!(p.phone.len() == 12 && p.phone.starts_with("555-") && digits(&p.phone[4..7]), "{}", p.phone);

            let words: Vec<&str> = p.address.split(' ').collect();
            let number: u32 = words[0].parse().expect("house number");
            assert!((1..=9999).contains(&number) && words.len() >= 3, "{}", p.address);
            assert!(p.birthplace.ends_with(", US") && p.birthplace.matches(", ").count() == 2, "{}", p.birthplace);

            let state = d.states.iter().find(|s| s.name == p.state).expect("known state");
            let city = state.cities.iter().find(|c| c.name == p.city).expect("city of the state");
            assert!((p.lat - city.lat).abs() <= COORDINATE_JITTER && (p.lon - city.lon).abs() <= COORDINATE_JITTER);
            assert_eq!((&p.zip, &p.county), (&city.zip, &city.county));

            assert!((0..=500_000).contains(&p.income));
            assert!((p.poverty_ratio - p.income as f64 / 21_720.0).abs() < 1e-12);
            for level in [p.income_level, p.education_level, p.occupation_level] {
                assert!((0.0..1.0).contains(&level));
            }
            let score = 0.2 * p.income_level + 0.7 * p.education_level + 0.1 * p.occupation_level;
            assert!((p.socioeconomic_score - score).abs() < 1e-12);
            let expected = if score >= 0.66 {
                "High"
            } else if score >= 0.25 {
                "Middle"
            } else {
                "Low"
            };
            assert_eq!(p.socioeconomic_category, expected);
            assert_eq!(p.ethnicity_str(), if p.hispanic { "hispanic" } else { "nonhispanic" });
        }
    }

    #[test]
    fn income_and_education_follow_their_brackets() {
        let d = demographics();
        let profiles = samples(&d, 9, 20_000, &Constraints::default());
        // The levels are the positions that chose the brackets, so they agree with the values.
        for p in &profiles {
            let index = d.income_weights.locate(p.income_level * d.income_weights.total());
            let (low, high) = d.income_brackets[index];
            assert!((low..=high).contains(&p.income), "{} in bracket {low}-{high}", p.income);
            let index = d.education_weights.locate(p.education_level * d.education_weights.total());
            assert_eq!(d.education[index], p.education);
        }
        let bachelors = share_of(&profiles, |p| p.education == Education::Bachelors);
        assert!((bachelors - 0.35).abs() < 0.02, "bachelor's share {bachelors}");
        let mut incomes: Vec<i64> = profiles.iter().map(|p| p.income).collect();
        incomes.sort_unstable();
        let median = incomes[incomes.len() / 2];
        assert!((60_000..80_000).contains(&median), "median income {median}");
    }

    #[test]
    fn marital_status_follows_age() {
        let d = demographics();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        assert_eq!(d.marital_status(&mut rng, Sex::Female, 10.0), MaritalStatus::NeverMarried);
        let draws = |age: f64, status: MaritalStatus, rng: &mut ChaCha8Rng| {
            (0..2_000).filter(|_| d.marital_status(rng, Sex::Female, age) == status).count() as f64 / 2_000.0
        };
        assert!(draws(16.0, MaritalStatus::NeverMarried, &mut rng) > 0.9);
        assert!(draws(90.0, MaritalStatus::Widowed, &mut rng) > 0.6);
        assert!(draws(105.0, MaritalStatus::Widowed, &mut rng) > 0.6);
    }

    #[test]
    fn sampling_is_fast() {
        let d = demographics();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let constraints = Constraints::default();
        let start = std::time::Instant::now();
        let mut uninsured = 0_usize;
        for _ in 0..100_000 {
            uninsured += usize::from(d.sample(&mut rng, &constraints).uninsured);
        }
        let elapsed = start.elapsed();
        println!("100k demographic samples in {elapsed:?} ({uninsured} uninsured)");
        assert!(uninsured > 0);
    }
}
