//! Calibration: fitting tunable probabilities to published targets.
//!
//! The simulator is noisy, so every evaluation uses the same seed and patients (common random
//! numbers): between two parameter vectors only the patients whose path crosses a changed
//! probability change, and differences of the objective are differences of the model, not
//! sampling noise. On that fixed sample the fit is a small bounded nonlinear least-squares
//! problem, solved by Levenberg-Marquardt in log-factor space:
//!
//! * residual of target i: `sqrt(w_i) (measured_i − value_i) / tolerance_i`, plus a small ridge
//!   `sqrt(μ) ln(factor_j)` per parameter, which keeps directions the targets do not identify
//!   at the module's own numbers (factor 1) and makes the solution unique;
//! * the Jacobian by forward differences once (P + 1 runs for P parameters), then Broyden
//!   rank-one updates (one run per step), recomputed if a step fails twice;
//! * factors are kept inside the declared bounds and below the value that would make a
//!   distribution's remainder negative.
//!
//! It stops as soon as every target is within its tolerance. The method and its choice over
//! Bayesian optimisation or ABC are argued in ARCHITECTURE.md.

pub mod overlay;

use crate::run::RunConfig;
use crate::sim::Options;
use crate::sim::world::World;
use crate::stats::{Spec, Tally};
use overlay::Bound;
use std::sync::Arc;

/// One evaluation of the model.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Log factors.
    pub x: Vec<f64>,
    /// Measured value of each target measure (in the spec's measure order).
    pub measured: Vec<Option<f64>>,
    pub objective: f64,
    pub passed: usize,
    pub tally: Tally,
}

/// What the calibrator needs.
#[derive(Debug)]
pub struct Problem<'a> {
    pub world: &'a mut World,
    pub options: &'a Options,
    pub config: RunConfig,
    pub spec: Spec,
    pub bounds: Vec<Bound>,
    /// Ridge weight pulling log factors to 0.
    pub ridge: f64,
}

/// Progress reports.
pub trait Progress {
    fn evaluation(&mut self, n: usize, e: &Evaluation, what: &str);
}

impl Problem<'_> {
    fn lower_upper(&self) -> Vec<(f64, f64)> {
        self.bounds
            .iter()
            .map(|b| {
                let hi = b.param.max.min(b.feasible_max()).max(b.param.min.max(1e-6));
                (b.param.min.max(1e-6).ln(), hi.ln())
            })
            .collect()
    }

    /// Runs the population with these log factors.
    pub fn evaluate(&mut self, x: &[f64]) -> std::io::Result<Evaluation> {
        let factors: Vec<f64> = x.iter().map(|v| v.exp()).collect();
        overlay::apply_all(&mut self.world.lib, &self.bounds, &factors);
        let summary = crate::run::run(self.world, self.options, &self.config)?;
        let tally = summary.stats.unwrap_or_else(|| Tally::new(&self.spec));
        let outcomes = crate::stats::report::outcomes(&self.spec, &tally);
        let measured: Vec<Option<f64>> = outcomes.iter().map(|o| o.measured).collect();
        let passed = outcomes.iter().filter(|o| o.pass == Some(true)).count();
        let r = self.residuals(x, &measured);
        Ok(Evaluation { x: x.to_vec(), measured, objective: r.iter().map(|v| v * v).sum(), passed, tally })
    }

    fn residuals(&self, x: &[f64], measured: &[Option<f64>]) -> Vec<f64> {
        let mut r = Vec::new();
        for (m, v) in self.spec.measures.iter().zip(measured) {
            if let Some(t) = &m.target {
                let tol = t.tolerance.max(1e-6);
                r.push(t.weight.sqrt() * (v.unwrap_or(0.0) - t.value) / tol);
            }
        }
        r.extend(x.iter().map(|xi| self.ridge.sqrt() * xi));
        r
    }

    fn targets(&self) -> usize {
        self.spec.measures.iter().filter(|m| m.target.is_some()).count()
    }
}

/// The result of a calibration.
#[derive(Debug, Clone)]
pub struct Fit {
    pub before: Evaluation,
    pub after: Evaluation,
    pub evaluations: usize,
    pub iterations: usize,
}

/// Fits the parameters; `max_iterations` bounds the Levenberg-Marquardt steps.
pub fn calibrate(p: &mut Problem, max_iterations: usize, progress: &mut (dyn Progress + Send)) -> std::io::Result<Fit> {
    let n = p.bounds.len();
    let bounds = p.lower_upper();
    let clamp = |x: &mut [f64]| {
        for (xi, (lo, hi)) in x.iter_mut().zip(&bounds) {
            *xi = xi.clamp(*lo, *hi);
        }
    };
    let mut count = 0;
    let mut x = vec![0.0; n];
    clamp(&mut x);
    let before = p.evaluate(&x)?;
    count += 1;
    progress.evaluation(count, &before, "start");
    let total = p.targets();
    let mut best = before.clone();
    let mut jacobian: Option<Vec<Vec<f64>>> = None;
    let mut lambda = 1e-2;
    let mut failures = 0;
    let mut iterations = 0;
    // Large enough that a step moves whole patients across a threshold even in small strata
    // (with common random numbers a tiny step often changes nobody).
    let h = 0.2;
    while best.passed < total && iterations < max_iterations {
        iterations += 1;
        let r0 = p.residuals(&best.x, &best.measured);
        let j = match &jacobian {
            Some(j) => j.clone(),
            None => {
                // Forward differences, stepping inward at an upper bound.
                let mut cols = Vec::with_capacity(n);
                for k in 0..n {
                    let mut xk = best.x.clone();
                    let step = if xk[k] + h > bounds[k].1 { -h } else { h };
                    xk[k] += step;
                    let e = p.evaluate(&xk)?;
                    count += 1;
                    progress.evaluation(count, &e, &format!("slope of {}", p.bounds[k].param.id));
                    let rk = p.residuals(&xk, &e.measured);
                    cols.push(rk.iter().zip(&r0).map(|(a, b)| (a - b) / step).collect::<Vec<f64>>());
                }
                // Stored row-major: m rows × n columns.
                let m = r0.len();
                let j: Vec<Vec<f64>> = (0..m).map(|i| (0..n).map(|k| cols[k][i]).collect()).collect();
                jacobian = Some(j.clone());
                j
            }
        };
        // (JᵀJ + λ diag(JᵀJ)) δ = −Jᵀ r  (the ridge is already part of r and J's identity rows).
        let mut jtj = vec![vec![0.0; n]; n];
        let mut jtr = vec![0.0; n];
        for (row, ri) in j.iter().zip(&r0) {
            for a in 0..n {
                jtr[a] += row[a] * ri;
                for b in 0..n {
                    jtj[a][b] += row[a] * row[b];
                }
            }
        }
        for (a, row) in jtj.iter_mut().enumerate() {
            row[a] += lambda * row[a].max(1e-9);
        }
        let Some(delta) = solve(jtj, jtr.iter().map(|v| -v).collect()) else { break };
        // A trust region: no factor moves by more than e^0.7 ≈ 2× in one step.
        let mut x1: Vec<f64> = best.x.iter().zip(&delta).map(|(a, d)| a + d.clamp(-0.7, 0.7)).collect();
        clamp(&mut x1);
        let step: Vec<f64> = x1.iter().zip(&best.x).map(|(a, b)| a - b).collect();
        if step.iter().all(|s| s.abs() < 1e-6) {
            break;
        }
        let e = p.evaluate(&x1)?;
        count += 1;
        progress.evaluation(count, &e, &format!("step {iterations}"));
        let r1 = p.residuals(&x1, &e.measured);
        // Broyden's update of the Jacobian along the step taken.
        if let Some(jm) = &mut jacobian {
            let ss: f64 = step.iter().map(|s| s * s).sum();
            if ss > 0.0 {
                for (i, row) in jm.iter_mut().enumerate() {
                    let pred: f64 = row.iter().zip(&step).map(|(a, s)| a * s).sum();
                    let diff = r1[i] - r0[i] - pred;
                    for (a, s) in row.iter_mut().zip(&step) {
                        *a += diff * s / ss;
                    }
                }
            }
        }
        if e.objective < best.objective || e.passed > best.passed {
            best = e;
            lambda = (lambda / 3.0).max(1e-6);
            failures = 0;
        } else {
            lambda *= 4.0;
            failures += 1;
            if failures >= 2 {
                jacobian = None;
                failures = 0;
            }
        }
    }
    Ok(Fit { before, after: best, evaluations: count, iterations })
}

/// Solves a small dense system by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let pivot = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[pivot][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, pivot);
        b.swap(c, pivot);
        for r in c + 1..n {
            let f = a[r][c] / a[c][c];
            if f != 0.0 {
                let (top, bottom) = a.split_at_mut(r);
                for (x, y) in bottom[0][c..].iter_mut().zip(&top[c][c..]) {
                    *x -= f * y;
                }
                b[r] -= f * b[c];
            }
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// A run configuration that computes `spec` in memory and writes nothing.
pub fn dry_config(population: u64, spec: &Spec) -> RunConfig {
    RunConfig {
        population,
        shard: (0, 1),
        output: std::path::PathBuf::new(),
        formats: Vec::new(),
        years_of_history: 0,
        progress: false,
        gzip: false,
        stats: Some(Arc::new(spec.clone())),
        dry: true,
    }
}

#[cfg(test)]
mod tests {
    use super::solve;

    #[test]
    fn solves_a_small_system() {
        let x = solve(vec![vec![2.0, 1.0], vec![1.0, 3.0]], vec![3.0, 5.0]).expect("regular");
        assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12, "{x:?}");
        assert!(solve(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]).is_none());
    }
}
