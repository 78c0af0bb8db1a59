//! The module library compiled into the binary (the files of `modules/`), the default when no
//! `--modules-dir` is given.

use crate::load::MemoryTree;

mod files {
    include!(concat!(env!("OUT_DIR"), "/embedded_modules.rs"));
}

/// The embedded library as a tree of files.
pub fn tree() -> MemoryTree {
    MemoryTree::new("<embedded>", files::FILES.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())))
}

/// Number of embedded files.
pub fn file_count() -> usize {
    files::FILES.len()
}
