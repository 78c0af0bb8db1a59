//! The privacy ledger: a JSON file that records every release made from one extract, so that
//! the ε spent adds up across invocations and a budget can refuse the release that would
//! exceed it.
//!
//! Under sequential composition the privacy loss of several releases from the same data is
//! the sum of their ε (and δ). The ledger holds that sum and the budget; a budget, once
//! recorded, can be lowered by a later `--budget` but never raised.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Slack for comparing sums of decimal ε (0.1 + 0.2 is not exactly 0.3 in binary).
const SLACK: f64 = 1e-9;

/// One query of a release, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Query {
    pub id: String,
    pub epsilon: f64,
    pub delta: f64,
}

/// One release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// When it was made (UTC).
    pub at: String,
    /// The targets file written.
    pub output: String,
    pub mechanism: String,
    pub epsilon: f64,
    pub delta: f64,
    /// Made with `--seed`: the noise can be recomputed, so nothing was protected.
    #[serde(default)]
    pub seeded: bool,
    pub queries: Vec<Query>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// The extract's file name.
    pub extract: String,
    /// The total ε allowed, if a budget was ever given.
    pub budget: Option<f64>,
    pub epsilon_spent: f64,
    pub delta_spent: f64,
    pub releases: Vec<Release>,
}

impl Ledger {
    pub fn new(extract: &str) -> Ledger {
        Ledger { extract: extract.to_owned(), budget: None, epsilon_spent: 0.0, delta_spent: 0.0, releases: Vec::new() }
    }

    /// Reads the ledger at `path` (a new one when there is none) for `extract`.
    pub fn load(path: &Path, extract: &str) -> Result<Ledger, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ledger::new(extract)),
            Err(e) => return Err(format!("cannot read the ledger `{}`: {e}", path.display())),
        };
        let ledger: Ledger = serde_json::from_str(&text).map_err(|e| {
            format!(
                "the ledger `{}` is not a privacy ledger ({e}); it records the ε already spent, so it is not \
                 overwritten: repair it, or give another --ledger",
                path.display()
            )
        })?;
        if ledger.extract != extract {
            return Err(format!(
                "the ledger `{}` records releases from `{}`, not `{extract}`: give this extract its own --ledger",
                path.display(),
                ledger.extract
            ));
        }
        let sum: f64 = ledger.releases.iter().map(|r| r.epsilon).sum();
        if (sum - ledger.epsilon_spent).abs() > SLACK * (1.0 + sum) {
            return Err(format!(
                "the ledger `{}` is inconsistent: its releases add up to ε = {sum}, but it says ε = {} was spent",
                path.display(),
                ledger.epsilon_spent
            ));
        }
        Ok(ledger)
    }

    /// The budget in force: the smallest of the one recorded and the one given.
    pub fn effective_budget(&self, given: Option<f64>) -> Option<f64> {
        match (self.budget, given) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Refuses a release of `epsilon` that would take the total past the budget.
    pub fn check(&self, epsilon: f64, given: Option<f64>) -> Result<(), OverBudget> {
        match self.effective_budget(given) {
            Some(budget) if self.epsilon_spent + epsilon > budget + SLACK * (1.0 + budget) => {
                Err(OverBudget { needed: epsilon, spent: self.epsilon_spent, budget })
            }
            _ => Ok(()),
        }
    }

    /// Adds a release (and the budget, lowered if `given` is smaller).
    pub fn record(&mut self, release: Release, given: Option<f64>) {
        self.budget = self.effective_budget(given);
        self.epsilon_spent += release.epsilon;
        self.delta_spent += release.delta;
        self.releases.push(release);
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)? + "\n";
        crate::atomic::write(path, text.as_bytes())
    }
}

/// A release refused by the budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverBudget {
    pub needed: f64,
    pub spent: f64,
    pub budget: f64,
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (y, m, d) = crate::sim::time::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(epsilon: f64) -> Release {
        Release {
            at: now_utc(),
            output: "t.yaml".into(),
            mechanism: "discrete Laplace".into(),
            epsilon,
            delta: 0.0,
            seeded: false,
            queries: vec![Query { id: "persons".into(), epsilon, delta: 0.0 }],
        }
    }

    #[test]
    fn budgets_add_up_and_can_only_be_lowered() {
        let mut l = Ledger::new("x.csv");
        assert!(l.check(0.7, Some(1.0)).is_ok());
        l.record(release(0.7), Some(1.0));
        assert_eq!(l.check(0.3, None), Ok(()));
        assert_eq!(l.check(0.31, None), Err(OverBudget { needed: 0.31, spent: 0.7, budget: 1.0 }));
        // A larger budget given later does not raise the recorded one.
        assert!(l.check(0.31, Some(5.0)).is_err());
        l.record(release(0.1), Some(0.9));
        assert_eq!(l.budget, Some(0.9));
        assert!(l.check(0.1, None).is_ok(), "0.7 + 0.1 + 0.1 = 0.9 within float slack");
        assert!((l.epsilon_spent - 0.8).abs() < 1e-12);
    }

    #[test]
    fn a_ledger_for_another_extract_or_a_tampered_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("ehrsim-ledger-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("l.json");
        let mut l = Ledger::new("a.csv");
        l.record(release(0.5), None);
        l.save(&path).unwrap();
        assert_eq!(Ledger::load(&path, "a.csv").unwrap(), l);
        assert!(Ledger::load(&path, "b.csv").unwrap_err().contains("not `b.csv`"));
        l.epsilon_spent = 0.0;
        l.save(&path).unwrap();
        assert!(Ledger::load(&path, "a.csv").unwrap_err().contains("inconsistent"));
        std::fs::write(&path, "{").unwrap();
        assert!(Ledger::load(&path, "a.csv").unwrap_err().contains("not a privacy ledger"));
        assert_eq!(Ledger::load(&dir.join("none.json"), "a.csv").unwrap(), Ledger::new("a.csv"));
        assert_eq!(now_utc().len(), 20);
    }
}
