//! The temporary file an output is written to, renamed into place when complete.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::writer::{Encoding, WriteOptions, Writer};

/// An output being written: a temporary file beside its final name (so an interrupted run never
/// leaves a partial file under that name), renamed into place by [`PendingFile::finish`] or,
/// with the other files of its group, by [`commit`].
/// Dropped unfinished (an error, or Ctrl-C, which the CLI turns into an error) it is removed.
pub struct PendingFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl PendingFile {
    /// Creates the temporary file now, so an unwritable directory fails before any work.
    pub fn create(path: &Path) -> Result<Self, String> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".crn-denoise-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|e| format!("cannot create a file in {}: {e}", dir.display()))?;
        Ok(Self { tmp, path: path.to_path_buf() })
    }

    /// Starts the encoder on the temporary file.
    pub fn writer(&self, channels: usize, sample_rate: u32, enc: Encoding) -> Result<Writer<File>, String> {
        self.writer_with(channels, sample_rate, enc, &WriteOptions::default())
    }

    /// [`PendingFile::writer`] with options.
    pub fn writer_with(&self, channels: usize, sample_rate: u32, enc: Encoding, opts: &WriteOptions) -> Result<Writer<File>, String> {
        let file = self.tmp.as_file().try_clone().map_err(|e| format!("cannot write: {e}"))?;
        Writer::with_options(file, channels, sample_rate, enc, opts)
    }

    /// Completes `writer`'s file and moves it to its final name: [`commit`] of one file.
    pub fn finish(self, writer: Writer<File>, replace: bool) -> Result<(), FinishError> {
        commit(vec![(self, writer)], replace)
    }

    /// Completes the file: encoder finished, data on disk, a new file's permissions.
    fn complete(self, writer: Writer<File>) -> Result<Self, String> {
        writer.finish()?;
        self.tmp.as_file().sync_all().map_err(|e| format!("cannot write: {e}"))?;
        // Temporary files are private (0600); an output gets what a new file gets: 0666 less
        // the umask, as `cp` or a shell redirection would give it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = 0o666 & !crate::interrupt::umask();
            let _ = self.tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode));
        }
        Ok(self)
    }

    /// Moves the completed file to its final name. Unless `replace`, an existing file there
    /// (even one that appeared while this one was written) is left as it is: the rename refuses
    /// atomically (renameat2 with RENAME_NOREPLACE, or a hard link where that is unsupported),
    /// so no earlier check can go stale.
    fn place(self, replace: bool) -> Result<PathBuf, FinishError> {
        let persisted = if replace { self.tmp.persist(&self.path) } else { self.tmp.persist_noclobber(&self.path) };
        match persisted {
            Ok(_) => Ok(self.path),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Err(FinishError::Exists(self.path)),
            Err(e) => Err(FinishError::Other(format!("cannot write {}: {}", self.path.display(), e.error))),
        }
    }
}

/// Completes several files that belong together (the two stems of `--output both`) and moves
/// them to their final names: all of them or none. Every file is completed before any is renamed,
/// so what can fail while writing (a full disk) fails with nothing in place; if a rename then
/// fails (a file appeared under a name meanwhile), the files already placed are removed again.
/// Without `replace` nothing that existed is touched; with it, a file already replaced by an
/// earlier rename of the group is gone, which is why the renames come last. Temporary files are
/// removed on every failure.
pub fn commit(files: Vec<(PendingFile, Writer<File>)>, replace: bool) -> Result<(), FinishError> {
    let mut done = Vec::with_capacity(files.len());
    for (pending, writer) in files {
        done.push(pending.complete(writer)?);
    }
    let mut placed: Vec<PathBuf> = Vec::with_capacity(done.len());
    for pending in done {
        match pending.place(replace) {
            Ok(path) => placed.push(path),
            Err(e) => {
                for p in &placed {
                    let _ = std::fs::remove_file(p);
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Why [`commit`] failed; the temporary file is removed either way.
#[derive(Debug)]
pub enum FinishError {
    /// The final name exists and replacing was not asked for: that file is untouched.
    Exists(PathBuf),
    Other(String),
}

impl From<String> for FinishError {
    fn from(e: String) -> Self {
        FinishError::Other(e)
    }
}

impl std::fmt::Display for FinishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FinishError::Exists(p) => write!(f, "{} already exists; not replaced", p.display()),
            FinishError::Other(e) => f.write_str(e),
        }
    }
}

/// Writes whole `channels` to `path` through a [`PendingFile`].
pub fn write_file(path: &Path, channels: &[Vec<f32>], sample_rate: u32, enc: Encoding) -> Result<(), String> {
    let pending = PendingFile::create(path)?;
    let mut w = pending.writer(channels.len(), sample_rate, enc)?;
    let piece: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    w.write(&piece)?;
    pending.finish(w, false).map_err(|e| e.to_string())
}
