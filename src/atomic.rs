//! Files that appear whole or not at all.
//!
//! Every output file is written under a temporary name in its final directory and renamed
//! into place only when complete, so an interrupted or failed run never leaves a half-written
//! file behind. Dropping an [`AtomicFile`] without calling [`AtomicFile::commit`] removes the
//! temporary file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug)]
enum Sink {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
}

#[derive(Debug)]
pub struct AtomicFile {
    temp: PathBuf,
    target: PathBuf,
    writer: Option<Sink>,
}

/// The temporary name used while `target` is being written.
pub fn temp_name(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    target.with_file_name(format!(".{name}.partial"))
}

impl AtomicFile {
    pub fn create(target: impl AsRef<Path>) -> io::Result<AtomicFile> {
        AtomicFile::create_with(target, false)
    }

    /// Creates the file, gzip-compressed when `gzip` is set (the caller names it `.gz`).
    pub fn create_with(target: impl AsRef<Path>, gzip: bool) -> io::Result<AtomicFile> {
        let target = target.as_ref().to_path_buf();
        let temp = temp_name(&target);
        let file = BufWriter::with_capacity(256 * 1024, File::create(&temp)?);
        let sink = if gzip {
            Sink::Gzip(flate2::write::GzEncoder::new(file, flate2::Compression::fast()))
        } else {
            Sink::Plain(file)
        };
        Ok(AtomicFile { temp, target, writer: Some(sink) })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(sink) = self.writer.take() {
            let buffered = match sink {
                Sink::Plain(w) => w,
                Sink::Gzip(gz) => gz.finish()?,
            };
            let file = buffered.into_inner().map_err(io::IntoInnerError::into_error)?;
            file.sync_all()?;
        }
        std::fs::rename(&self.temp, &self.target)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.writer {
            Some(Sink::Plain(w)) => w.write(buf),
            Some(Sink::Gzip(w)) => w.write(buf),
            None => Err(io::Error::other("file already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Some(Sink::Plain(w)) => w.flush(),
            Some(Sink::Gzip(w)) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.writer = None;
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes a whole file atomically.
pub fn write(target: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
    write_with(target, bytes, false)
}

/// Writes a whole file atomically, gzip-compressed if asked.
pub fn write_with(target: impl AsRef<Path>, bytes: &[u8], gzip: bool) -> io::Result<()> {
    let mut f = AtomicFile::create_with(target, gzip)?;
    f.write_all(bytes)?;
    f.commit()
}
