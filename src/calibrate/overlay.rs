//! Overlays: tuned numbers applied to a compiled library without editing any module.
//!
//! A parameter scales a group of transition probabilities: the distributed options of one
//! state (of one branch of a complex transition, or of all its branches). Every option but the
//! last of each distribution is multiplied by the factor, and the last option takes up the
//! difference, so each distribution still sums to what it summed to before. Factors always
//! apply to the numbers the module was compiled with (the base), never to already-scaled
//! ones, so applying an overlay twice gives the same library.

use crate::compiled::{ComplexThen, Library, ModuleId, Prob, StateId, Transition};
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::source::{FileId, Sources};
use crate::syntax::Node;

/// A tunable group of probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub id: String,
    /// Module path (`diabetes`, `medications/statins`).
    pub module: String,
    pub state: String,
    pub branch: Option<usize>,
    /// Which options of each distribution are scaled (0-based; default: all but the last).
    pub options: Option<Vec<usize>>,
    pub min: f64,
    pub max: f64,
}

impl Param {
    fn scales(&self, i: usize, n: usize) -> bool {
        i + 1 < n && self.options.as_ref().is_none_or(|o| o.contains(&i))
    }
}

/// A parameter resolved in a library, with the base probabilities of every distribution it
/// scales.
#[derive(Debug, Clone)]
pub struct Bound {
    pub param: Param,
    module: ModuleId,
    state: StateId,
    /// `(branch or None for a plain distributed transition, base probabilities)`.
    bases: Vec<(Option<usize>, Vec<f64>)>,
}

impl Bound {
    /// The largest factor that keeps every remainder at or above zero.
    pub fn feasible_max(&self) -> f64 {
        let mut m = f64::INFINITY;
        for (_, base) in &self.bases {
            let n = base.len();
            let last = base.last().copied().unwrap_or(0.0);
            let s: f64 = base.iter().enumerate().filter(|(i, _)| self.param.scales(*i, n)).map(|(_, b)| b).sum();
            if s > 0.0 {
                m = m.min((s + last) / s);
            }
        }
        m
    }
}

/// The module tunables of a library (the modules' `tunable:` sections).
pub fn declared(lib: &Library, modules: &[ModuleId]) -> Vec<Param> {
    let mut out = Vec::new();
    for &id in modules {
        let m = lib.module(id);
        for t in &m.tunable {
            out.push(Param {
                id: format!("{}/{}", m.path, t.id),
                module: m.path.clone(),
                state: t.state.clone(),
                branch: t.branch,
                options: t.options.clone(),
                min: t.min,
                max: t.max,
            });
        }
    }
    out
}

/// Finds a parameter's probabilities in the library.
pub fn bind(lib: &Library, param: &Param) -> Result<Bound, String> {
    let module = lib
        .module_by_path(&param.module)
        .ok_or_else(|| format!("parameter `{}`: there is no module `{}`", param.id, param.module))?;
    let m = lib.module(module);
    let state = m
        .state_by_name(&param.state)
        .ok_or_else(|| format!("parameter `{}`: module `{}` has no state `{}`", param.id, param.module, param.state))?;
    let fixed = |opts: &[(Prob, StateId)]| -> Option<Vec<f64>> {
        opts.iter()
            .map(|(p, _)| match p {
                Prob::Fixed(x) => Some(*x),
                Prob::Attribute { .. } => None,
            })
            .collect()
    };
    let mut bases = Vec::new();
    match &m.state(state).transition {
        Transition::Distributed(opts) if param.branch.is_none() => bases.extend(fixed(opts).map(|b| (None, b))),
        Transition::Complex(branches) => {
            for (i, (_, then)) in branches.iter().enumerate() {
                if param.branch.is_some_and(|b| b != i) {
                    continue;
                }
                if let ComplexThen::Distributed(opts) = then {
                    bases.extend(fixed(opts).map(|b| (Some(i), b)));
                }
            }
        }
        _ => {}
    }
    if bases.iter().all(|(_, b)| b.len() < 2) {
        return Err(format!(
            "parameter `{}`: state `{}` of `{}` has no distributed transition with fixed probabilities{}",
            param.id,
            param.state,
            param.module,
            param.branch.map_or_else(String::new, |b| format!(" in branch {b}"))
        ));
    }
    Ok(Bound { param: param.clone(), module, state, bases })
}

/// Sets every bound parameter's probabilities: first back to the base, then each factor in
/// turn on the current values, so parameters that share a state compose (an option scaled by
/// two parameters gets both factors) and the last option of each distribution takes up the
/// difference.
pub fn apply_all(lib: &mut Library, bounds: &[Bound], factors: &[f64]) {
    for b in bounds {
        rewrite(lib, b, |_, base, current| current.copy_from_slice(base));
    }
    for (b, &f) in bounds.iter().zip(factors) {
        let factor = f.clamp(0.0, b.feasible_max());
        rewrite(lib, b, |param, _, current| {
            let n = current.len();
            let mut moved = 0.0;
            for (i, v) in current.iter_mut().enumerate().take(n.saturating_sub(1)) {
                if param.scales(i, n) {
                    let new = *v * factor;
                    moved += new - *v;
                    *v = new;
                }
            }
            if let Some(last) = current.last_mut() {
                *last = (*last - moved).max(0.0);
            }
        });
    }
}

/// Calls `f(param, base, current)` on every distribution of a bound parameter and writes the
/// current values back.
fn rewrite(lib: &mut Library, bound: &Bound, mut f: impl FnMut(&Param, &[f64], &mut [f64])) {
    let graph = &mut lib.modules[bound.module.0 as usize].graph;
    let transition = &mut graph[bound.state].transition;
    let mut one = |opts: &mut Vec<(Prob, StateId)>, base: &[f64]| {
        if opts.len() != base.len() {
            return;
        }
        let mut current: Vec<f64> = opts
            .iter()
            .map(|(p, _)| match p {
                Prob::Fixed(x) => *x,
                Prob::Attribute { default, .. } => *default,
            })
            .collect();
        f(&bound.param, base, &mut current);
        for (o, v) in opts.iter_mut().zip(current) {
            o.0 = Prob::Fixed(v);
        }
    };
    match transition {
        Transition::Distributed(opts) => {
            if let Some((None, base)) = bound.bases.first() {
                one(opts, base);
            }
        }
        Transition::Complex(branches) => {
            for (branch, base) in &bound.bases {
                if let Some(i) = branch
                    && let Some((_, ComplexThen::Distributed(opts))) = branches.get_mut(*i)
                {
                    one(opts, base);
                }
            }
        }
        _ => {}
    }
}

/// An overlay: factors for named parameters.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    pub entries: Vec<(Param, f64)>,
}

impl Overlay {
    /// Applies the overlay to a library.
    pub fn apply(&self, lib: &mut Library) -> Result<(), String> {
        let bounds: Vec<Bound> = self.entries.iter().map(|(p, _)| bind(lib, p)).collect::<Result<_, _>>()?;
        let factors: Vec<f64> = self.entries.iter().map(|(_, f)| *f).collect();
        apply_all(lib, &bounds, &factors);
        Ok(())
    }

    /// The overlay as YAML (what `calibrate` writes).
    pub fn to_yaml(&self, header: &str) -> String {
        let mut o = String::new();
        for line in header.lines() {
            o.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
        }
        o.push_str("overlay: 1\nparameters:\n");
        for (p, f) in &self.entries {
            o.push_str(&format!("  - id: {}\n", yaml_str(&p.id)));
            o.push_str(&format!("    module: {}\n", yaml_str(&p.module)));
            o.push_str(&format!("    state: {}\n", yaml_str(&p.state)));
            if let Some(b) = p.branch {
                o.push_str(&format!("    branch: {b}\n"));
            }
            if let Some(opts) = &p.options {
                let list: Vec<String> = opts.iter().map(usize::to_string).collect();
                o.push_str(&format!("    options: [{}]\n", list.join(", ")));
            }
            o.push_str(&format!("    factor: {f:.6}\n"));
        }
        o
    }
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Reads an overlay file (problems go to `diags`).
pub fn parse(sources: &Sources, file: FileId, diags: &mut Diagnostics) -> Option<Overlay> {
    let format = crate::syntax::Format::from_path(sources.name(file));
    let root = crate::syntax::parse(sources, file, format, diags)?;
    let before = diags.errors();
    let mut out = Overlay::default();
    let Some(params) = root.get("parameters").and_then(Node::as_seq) else {
        diags.push(
            Diagnostic::new(Kind::MissingField, root.span, "an overlay needs a `parameters:` list")
                .help("overlays are written by `ehrsim calibrate`"),
        );
        return None;
    };
    for n in params {
        let text = |k: &str| n.get(k).and_then(Node::as_str).map(str::to_owned);
        let (Some(module), Some(state)) = (text("module"), text("state")) else {
            diags.push(Diagnostic::new(Kind::MissingField, n.span, "an overlay parameter needs `module` and `state`"));
            continue;
        };
        let Some(factor) = n.get("factor").and_then(Node::as_f64).filter(|f| f.is_finite() && *f >= 0.0) else {
            diags.push(Diagnostic::new(Kind::MissingField, n.span, "an overlay parameter needs a `factor` ≥ 0"));
            continue;
        };
        let branch = n.get("branch").and_then(Node::as_f64).map(|b| b.max(0.0) as usize);
        let options = options_of(n);
        let id = text("id").unwrap_or_else(|| format!("{module}/{state}"));
        out.entries.push((Param { id, module, state, branch, options, min: 0.0, max: f64::INFINITY }, factor));
    }
    if diags.errors() > before { None } else { Some(out) }
}

/// `options: [0, 2]` of a parameter node.
pub fn options_of(n: &Node) -> Option<Vec<usize>> {
    n.get("options")
        .and_then(Node::as_seq)
        .map(|s| s.iter().filter_map(Node::as_f64).map(|x| x.max(0.0) as usize).collect())
}
