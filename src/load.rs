//! Loading module libraries: files and directory trees in, parsed modules and tables out.
//!
//! A library is one or more [`Tree`]s: a directory on disk or the library embedded in the
//! binary. Inside a tree, files directly at the root are top-level modules; files in
//! subfolders are submodules, called by their relative path without extension
//! (`medications/statin`); `lookup_tables/*.csv` are lookup tables. When only some files of a
//! tree are asked for, the submodules and tables they use are loaded from the tree on demand,
//! so `ehrsim check one_module.json` checks its dependencies too.
//!
//! Architecture invariant: this is the only module of the compiler that does I/O.

use crate::ast;
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::lookup::{RawTable, read_table};
use crate::parse::parse_module;
use crate::source::Sources;
use crate::syntax::{self, Format};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// File extensions of module files.
pub const MODULE_EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// Folder of lookup tables inside a tree.
pub const LOOKUP_DIR: &str = "lookup_tables";

/// A tree of module files: a directory, or the library compiled into the binary.
pub trait Tree: std::fmt::Debug + Sync {
    /// Relative paths (with `/` and extension) of every module file, sorted.
    fn module_files(&self) -> Vec<String>;
    /// File names of every lookup table (in `lookup_tables/`), sorted.
    fn table_files(&self) -> Vec<String>;
    /// Reads a file by relative path.
    fn read(&self, rel: &str) -> std::io::Result<String>;
    fn exists(&self, rel: &str) -> bool;
    /// How to show a file's name in diagnostics.
    fn display(&self, rel: &str) -> String;
}

/// A directory on disk.
#[derive(Debug, Clone)]
pub struct DirTree {
    pub root: PathBuf,
}

impl Tree for DirTree {
    fn module_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if path.is_dir() {
                    if name != LOOKUP_DIR && !name.starts_with('.') {
                        stack.push((path, format!("{prefix}{name}/")));
                    }
                } else if has_module_extension(&name) {
                    out.push(format!("{prefix}{name}"));
                }
            }
        }
        out.sort();
        out
    }

    fn table_files(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.root.join(LOOKUP_DIR))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.to_ascii_lowercase().ends_with(".csv"))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    fn read(&self, rel: &str) -> std::io::Result<String> {
        let bytes = std::fs::read(self.root.join(rel))?;
        String::from_utf8(bytes)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "the file is not UTF-8 text"))
    }

    fn exists(&self, rel: &str) -> bool {
        self.root.join(rel).is_file()
    }

    fn display(&self, rel: &str) -> String {
        self.root.join(rel).display().to_string()
    }
}

/// Files held in memory as `(relative path, text)` pairs: the library compiled into the
/// binary, or modules a test or tool builds on the fly.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    /// Shown before relative paths in diagnostics, e.g. `<embedded>`.
    pub label: String,
    pub files: Vec<(String, String)>,
}

impl MemoryTree {
    pub fn new(label: impl Into<String>, files: impl IntoIterator<Item = (String, String)>) -> MemoryTree {
        MemoryTree { label: label.into(), files: files.into_iter().collect() }
    }
}

impl Tree for MemoryTree {
    fn module_files(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .files
            .iter()
            .map(|(p, _)| p.clone())
            .filter(|p| has_module_extension(p) && !p.starts_with(LOOKUP_DIR))
            .collect();
        out.sort();
        out
    }

    fn table_files(&self) -> Vec<String> {
        let prefix = format!("{LOOKUP_DIR}/");
        let mut out: Vec<String> =
            self.files.iter().filter_map(|(p, _)| p.strip_prefix(&prefix)).map(str::to_owned).collect();
        out.sort();
        out
    }

    fn read(&self, rel: &str) -> std::io::Result<String> {
        self.files
            .iter()
            .find(|(p, _)| p == rel)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file in memory"))
    }

    fn exists(&self, rel: &str) -> bool {
        self.files.iter().any(|(p, _)| p == rel)
    }

    fn display(&self, rel: &str) -> String {
        if self.label.is_empty() { rel.to_owned() } else { format!("{}/{rel}", self.label) }
    }
}

fn has_module_extension(name: &str) -> bool {
    Path::new(name).extension().and_then(|e| e.to_str()).is_some_and(|e| MODULE_EXTENSIONS.contains(&e))
}

fn strip_module_extension(rel: &str) -> &str {
    MODULE_EXTENSIONS.iter().find_map(|ext| rel.strip_suffix(ext).and_then(|r| r.strip_suffix('.'))).unwrap_or(rel)
}

/// What to load from one tree.
#[derive(Debug)]
pub struct Request {
    pub tree: Box<dyn Tree>,
    /// Relative file paths to load; `None` loads every module file of the tree.
    pub only: Option<Vec<String>>,
}

impl Request {
    /// A request for a path given on the command line: a directory loads the whole tree; a
    /// file loads that file, with the nearest ancestor holding `lookup_tables/` as its root.
    pub fn for_path(path: &Path) -> std::io::Result<Request> {
        let meta = std::fs::metadata(path)?;
        if meta.is_dir() {
            return Ok(Request { tree: Box::new(DirTree { root: path.to_path_buf() }), only: None });
        }
        let parent = path.parent().map_or_else(
            || PathBuf::from("."),
            |p| {
                if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() }
            },
        );
        let root =
            parent.ancestors().take(4).find(|a| a.join(LOOKUP_DIR).is_dir()).map_or(parent.clone(), Path::to_path_buf);
        let rel = path.strip_prefix(&root).unwrap_or(path);
        let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        Ok(Request { tree: Box::new(DirTree { root }), only: Some(vec![rel]) })
    }
}

/// Everything read from the requested trees, before validation.
#[derive(Debug, Default)]
pub struct ModuleSet {
    pub sources: Sources,
    /// Parsed modules, sorted by path.
    pub modules: Vec<ast::Module>,
    /// Lookup tables by name.
    pub tables: BTreeMap<String, RawTable>,
    /// Problems found while reading and parsing.
    pub diagnostics: Diagnostics,
    /// Number of files read (modules and tables).
    pub files_read: usize,
}

impl ModuleSet {
    pub fn module(&self, path: &str) -> Option<&ast::Module> {
        self.modules.binary_search_by(|m| m.path.as_str().cmp(path)).ok().map(|i| &self.modules[i])
    }

    pub fn top_level(&self) -> impl Iterator<Item = &ast::Module> {
        self.modules.iter().filter(|m| !m.path.contains('/'))
    }
}

/// Reads and parses the requested modules, their submodules and lookup tables.
pub fn load(requests: &[Request]) -> ModuleSet {
    let mut set = ModuleSet::default();
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for request in requests {
        let tree = request.tree.as_ref();
        let mut queue: Vec<String> = match &request.only {
            Some(files) => files.clone(),
            None => tree.module_files(),
        };
        queue.reverse();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut wanted_tables: BTreeSet<String> = match &request.only {
            Some(_) => BTreeSet::new(),
            None => tree.table_files().into_iter().collect(),
        };
        while let Some(rel) = queue.pop() {
            if !seen.insert(rel.clone()) {
                continue;
            }
            let path = strip_module_extension(&rel).to_owned();
            let display = tree.display(&rel);
            if let Some(first) = owner.get(&path) {
                set.diagnostics.push(
                    Diagnostic::unlocated(
                        Kind::DuplicateModule,
                        format!("module `{path}` is defined twice: {first} and {display}"),
                    )
                    .help("give one of them another file name"),
                );
                continue;
            }
            let text = match tree.read(&rel) {
                Ok(t) => t,
                Err(e) => {
                    set.diagnostics.push(Diagnostic::unlocated(Kind::Io, format!("cannot read {display}: {e}")));
                    continue;
                }
            };
            set.files_read += 1;
            owner.insert(path.clone(), display.clone());
            let file = set.sources.add(display, text);
            let Some(root) = syntax::parse(&set.sources, file, Format::from_path(&rel), &mut set.diagnostics) else {
                continue;
            };
            let format = Format::from_path(&rel);
            let dialect = if format == Format::Json { ast::Dialect::Synthea } else { ast::Dialect::Strict };
            let Some(module) = parse_module(&root, &path, dialect, &mut set.diagnostics) else {
                continue;
            };
            for state in &module.states {
                if let ast::StateKind::CallSubmodule { submodule } = &state.kind
                    && let Some(file) =
                        MODULE_EXTENSIONS.iter().map(|e| format!("{}.{e}", submodule.name)).find(|f| tree.exists(f))
                {
                    queue.push(file);
                }
                if let Some(ast::Transition::LookupTable(t)) = &state.transition {
                    wanted_tables.insert(t.table.name.clone());
                }
            }
            let at = set.modules.partition_point(|m| m.path < module.path);
            set.modules.insert(at, module);
        }
        for name in wanted_tables {
            if set.tables.contains_key(&name) {
                continue;
            }
            let rel = format!("{LOOKUP_DIR}/{name}");
            if !tree.exists(&rel) {
                continue; // reported by validation, at the transition that names it
            }
            match tree.read(&rel) {
                Ok(text) => {
                    set.files_read += 1;
                    let file = set.sources.add(tree.display(&rel), text);
                    let text = set.sources.text(file).to_owned();
                    if let Some(table) = read_table(&name, file, &text, &mut set.diagnostics) {
                        set.tables.insert(name, table);
                    }
                }
                Err(e) => set
                    .diagnostics
                    .push(Diagnostic::unlocated(Kind::Io, format!("cannot read {}: {e}", tree.display(&rel)))),
            }
        }
    }
    set
}
