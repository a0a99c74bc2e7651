//! Files the command line writes (exports, manifests, charts). A revealed export holds
//! identities in plaintext, and a mistyped path once truncated the database to 0 bytes, so:
//! never the database or its write-ahead log and shared memory, never through a symbolic
//! link, never over an existing file without `--force`; readable by its owner only (0600,
//! whatever the umask); written beside the destination under a temporary name and renamed
//! into place only when complete, so a failed write leaves nothing behind.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::path::{Path, PathBuf};

pub struct OutputFile {
    temporary: tempfile::NamedTempFile,
    destination: PathBuf,
    force: bool,
}

impl OutputFile {
    /// Checks `path` and opens a temporary file beside it. `database` is the database URL
    /// in use (a SQLite file and its companions are refused as outputs).
    pub fn create(path: &Path, force: bool, database: &str) -> Result<OutputFile> {
        if let Ok(metadata) = std::fs::symlink_metadata(path) {
            if metadata.file_type().is_symlink() {
                bail!(
                    "{} is a symbolic link: give the real path of a new file",
                    path.display()
                );
            }
            if !force {
                bail!("{} exists; give --force to replace it", path.display());
            }
            if !metadata.is_file() {
                bail!("{} is not a file", path.display());
            }
        }
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .with_context(|| format!("{} names no file", path.display()))?;
        let real = std::fs::canonicalize(&directory)
            .with_context(|| format!("cannot write into {}", directory.display()))?
            .join(name);
        if is_database_file(&real, database) {
            bail!(
                "{} is the database (or its journal): choose another file",
                path.display()
            );
        }
        let temporary = tempfile::Builder::new()
            .prefix(".refuge-")
            .suffix(".partial")
            .tempfile_in(&directory)
            .with_context(|| format!("cannot write into {}", directory.display()))?;
        Ok(OutputFile {
            temporary,
            destination: path.to_path_buf(),
            force,
        })
    }

    pub fn file(&mut self) -> &mut File {
        self.temporary.as_file_mut()
    }

    /// Where the file is written until `finish`.
    pub fn temporary_path(&self) -> &Path {
        self.temporary.path()
    }

    /// Moves the complete file into place (replacing the old one only with `--force`).
    pub fn finish(self) -> Result<()> {
        self.temporary
            .as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", self.destination.display()))?;
        let result = if self.force {
            self.temporary.persist(&self.destination).map(drop)
        } else {
            self.temporary
                .persist_noclobber(&self.destination)
                .map(drop)
        };
        result.map_err(|error| {
            anyhow::anyhow!(
                "cannot write {}: {}",
                self.destination.display(),
                error.error
            )
        })
    }
}

/// Whether `real` (a canonical path) is the SQLite database named by `database`, or one of
/// the files SQLite keeps beside it.
fn is_database_file(real: &Path, database: &str) -> bool {
    let Ok(path) = refuge_store::SqliteStore::path_of_url(database) else {
        return false;
    };
    let Ok(database) = std::fs::canonicalize(&path) else {
        return false;
    };
    ["", "-wal", "-shm", "-journal"].iter().any(|suffix| {
        let mut companion = database.clone().into_os_string();
        companion.push(suffix);
        Path::new(&companion) == real
    })
}
