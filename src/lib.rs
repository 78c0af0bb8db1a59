//! ehrsim: a declarative, rule-based synthetic EHR simulator.
//!
//! The crate is a compiler and a runtime. Module files (GMF state machines in YAML or JSON)
//! go through the stages `syntax` (text → positioned tree), `parse` (tree → [`ast`]),
//! `validate` (semantic checks), and `compile` (→ [`compiled`] petgraph state graphs). Every
//! stage reports [`diagnostic`]s with file, line and column instead of failing fast. The
//! command-line front end lives in `cli`; `main.rs` only calls it.
//!
//! See ARCHITECTURE.md for the code map and the invariants.

pub mod ast;
pub mod atomic;
pub mod calibrate;
pub mod cli;
pub mod compile;
pub mod compiled;
pub mod config;
pub mod core;
pub mod diagnostic;
pub mod embedded;
pub mod export;
pub mod graph;
pub mod load;
pub mod lookup;
pub mod marginals;
pub mod parse;
pub mod report;
pub mod run;
pub mod sim;
pub mod source;
pub mod stats;
pub mod syntax;
pub mod upload;
pub mod validate;
pub mod world;
