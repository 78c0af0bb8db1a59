//! Rendering a compiled module's state graph as DOT, Mermaid or SVG.
//!
//! DOT and Mermaid are text written here; SVG is laid out by `layout-rs` from the same DOT, so
//! `ehrsim graph --format svg` works without Graphviz installed. States are coloured by what
//! they do (encounters, diagnoses, treatments, measurements, waiting, control flow).

use crate::compiled::{EdgeLabel, Library, Module, StateKind};
use petgraph::visit::EdgeRef;
use std::fmt::Write as _;

/// Output formats of `ehrsim graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Svg,
    Mermaid,
}

fn fill(kind: &StateKind) -> &'static str {
    match kind {
        StateKind::Initial | StateKind::Terminal => "#d9d9d9",
        StateKind::Encounter { .. } | StateKind::EncounterEnd { .. } => "#cfe2f3",
        StateKind::ConditionOnset(_)
        | StateKind::ConditionEnd(_)
        | StateKind::AllergyOnset { .. }
        | StateKind::AllergyEnd(_) => "#f4cccc",
        StateKind::MedicationOrder { .. }
        | StateKind::MedicationEnd(_)
        | StateKind::CarePlanStart { .. }
        | StateKind::CarePlanEnd(_)
        | StateKind::Procedure { .. }
        | StateKind::Device { .. }
        | StateKind::DeviceEnd(_)
        | StateKind::SupplyList { .. }
        | StateKind::Vaccine { .. }
        | StateKind::ImagingStudy { .. } => "#d9ead3",
        StateKind::Observation(_)
        | StateKind::MultiObservation { .. }
        | StateKind::DiagnosticReport { .. }
        | StateKind::VitalSign { .. }
        | StateKind::Symptom { .. } => "#fff2cc",
        StateKind::Delay { .. } | StateKind::Guard { .. } => "#fce5cd",
        StateKind::Death { .. } => "#999999",
        StateKind::Simple
        | StateKind::SetAttribute { .. }
        | StateKind::Counter { .. }
        | StateKind::CallSubmodule { .. }
        | StateKind::Physiology { .. } => "#ffffff",
    }
}

/// One line under the state's name saying what it does, when that is short to say.
fn detail(lib: &Library, kind: &StateKind) -> Option<String> {
    let first_code = |codes: &[crate::compiled::CodeId]| codes.first().map(|&c| lib.code(c).display.clone());
    match kind {
        StateKind::ConditionOnset(o) | StateKind::AllergyOnset { onset: o, .. } => first_code(&o.codes),
        StateKind::MedicationOrder { codes, .. }
        | StateKind::CarePlanStart { codes, .. }
        | StateKind::Procedure { codes, .. }
        | StateKind::Vaccine { codes, .. } => first_code(codes),
        StateKind::Encounter { wellness: true, .. } => Some("wellness visit".into()),
        StateKind::Encounter { class, .. } => class.map(|c| c.as_str().to_owned()),
        StateKind::CallSubmodule { submodule } => Some(lib.module(*submodule).path.clone()),
        StateKind::SetAttribute { attribute, .. } | StateKind::Counter { attribute, .. } => {
            Some(lib.attributes.name(*attribute).to_owned())
        }
        _ => None,
    }
    .map(|d| shorten(&d, 40))
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn edge_text(label: &EdgeLabel) -> String {
    match label {
        EdgeLabel::Direct => String::new(),
        EdgeLabel::Probability(p) => format!("{}%", (p * 1000.0).round() / 10.0),
        EdgeLabel::Attribute(a) => format!("p = {a}"),
        EdgeLabel::Condition(c) => shorten(c, 48),
        EdgeLabel::Lookup => "lookup".into(),
        EdgeLabel::TypeOfCare(t) => (*t).to_owned(),
        EdgeLabel::Fallback => "fallback".into(),
    }
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The module as a Graphviz DOT digraph.
pub fn to_dot(lib: &Library, module: &Module) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&module.name));
    let _ = writeln!(out, "  rankdir=TB;");
    let _ = writeln!(out, "  node [shape=box, style=filled, fontname=\"Helvetica\", fontsize=11];");
    let _ = writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];");
    for id in module.graph.node_indices() {
        let state = &module.graph[id];
        let mut label = format!("{}\\n({})", dot_escape(&state.name), state.kind.type_name());
        if let Some(d) = detail(lib, &state.kind) {
            let _ = write!(label, "\\n{}", dot_escape(&d));
        }
        let _ = writeln!(out, "  s{} [label=\"{label}\", fillcolor=\"{}\"];", id.index(), fill(&state.kind));
    }
    for e in module.graph.edge_references() {
        let text = edge_text(e.weight());
        if text.is_empty() {
            let _ = writeln!(out, "  s{} -> s{};", e.source().index(), e.target().index());
        } else {
            let _ = writeln!(
                out,
                "  s{} -> s{} [label=\"{}\"];",
                e.source().index(),
                e.target().index(),
                dot_escape(&text)
            );
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;").replace('|', "#124;")
}

/// The module as a Mermaid flowchart (renders on GitHub and in most Markdown viewers).
pub fn to_mermaid(lib: &Library, module: &Module) -> String {
    let mut out = String::from("flowchart TD\n");
    let mut classes: Vec<(&'static str, Vec<usize>)> = Vec::new();
    for id in module.graph.node_indices() {
        let state = &module.graph[id];
        let mut label = format!("{}<br/><i>{}</i>", mermaid_escape(&state.name), state.kind.type_name());
        if let Some(d) = detail(lib, &state.kind) {
            let _ = write!(label, "<br/>{}", mermaid_escape(&d));
        }
        let _ = writeln!(out, "  s{}[\"{label}\"]", id.index());
        let color = fill(&state.kind);
        match classes.iter_mut().find(|(c, _)| *c == color) {
            Some((_, ids)) => ids.push(id.index()),
            None => classes.push((color, vec![id.index()])),
        }
    }
    for e in module.graph.edge_references() {
        let text = edge_text(e.weight());
        if text.is_empty() {
            let _ = writeln!(out, "  s{} --> s{}", e.source().index(), e.target().index());
        } else {
            let _ =
                writeln!(out, "  s{} -->|\"{}\"| s{}", e.source().index(), mermaid_escape(&text), e.target().index());
        }
    }
    for (i, (color, ids)) in classes.iter().enumerate() {
        let _ = writeln!(out, "  classDef c{i} fill:{color},stroke:#666");
        let list = ids.iter().map(|n| format!("s{n}")).collect::<Vec<_>>().join(",");
        let _ = writeln!(out, "  class {list} c{i}");
    }
    out
}

/// The module as a standalone SVG image, laid out without Graphviz.
pub fn to_svg(lib: &Library, module: &Module) -> Result<String, String> {
    let dot = to_dot(lib, module);
    // The layout engine is third-party code working on arbitrary graphs: contain a failure
    // there as an error instead of aborting the command.
    std::panic::catch_unwind(|| {
        let mut parser = layout::gv::DotParser::new(&dot);
        let graph = parser.process().map_err(|e| format!("cannot lay out the graph: {e}"))?;
        let mut builder = layout::gv::GraphBuilder::new();
        builder.visit_graph(&graph);
        let mut visual = builder.get();
        let mut svg = layout::backends::svg::SVGWriter::new();
        visual.do_it(false, false, false, &mut svg);
        Ok(svg.finalize())
    })
    .unwrap_or_else(|_| Err("the layout engine failed on this graph; use `--format dot` with Graphviz instead".into()))
}

/// Renders in the requested format.
pub fn render(lib: &Library, module: &Module, format: GraphFormat) -> Result<String, String> {
    match format {
        GraphFormat::Dot => Ok(to_dot(lib, module)),
        GraphFormat::Mermaid => Ok(to_mermaid(lib, module)),
        GraphFormat::Svg => to_svg(lib, module),
    }
}
