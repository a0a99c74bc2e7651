//! `refuge backup` and `refuge restore` (docs/backup.md).

use crate::args::RestoreArgs;
use crate::config::Config;
use crate::output_file::OutputFile;
use crate::secrets;
use anyhow::{Context, Result, bail};
use refuge_app::{App, SystemClock, open_backup, read_back};
use std::path::Path;

pub async fn backup(config: &Config<'_>, out: &Path, force: bool) -> Result<()> {
    let app = config.open().await?;
    let mut file = OutputFile::create(out, force, config.db_url())?;
    let directory = file
        .temporary_path()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // The plain copy (sealed values, operational facts) lives beside the backup, readable by
    // its owner only, and goes when this returns, whatever happened.
    let scratch = tempfile::Builder::new()
        .prefix(".refuge-")
        .suffix(".snapshot")
        .tempfile_in(&directory)
        .with_context(|| format!("cannot write into {}", directory.display()))?;
    let written = app.backup(scratch.path(), file.file()).await?;
    drop(scratch);
    file.finish()?;
    let read_back = read_back(out)?;
    if read_back != written {
        bail!(
            "{} does not read back as written ({} bytes written, {} read): the disk may be failing; the backup is not to be trusted",
            out.display(),
            written.bytes,
            read_back.bytes
        );
    }
    outln!(
        "Backup written to {} ({} bytes, read back and checked; SHA-256 {}). It opens with the organisation's recovery code only.",
        out.display(),
        written.bytes,
        written.sha256
    );
    Ok(())
}

pub async fn restore(config: &Config<'_>, args: RestoreArgs) -> Result<()> {
    let RestoreArgs {
        file: backup,
        force,
        code_file,
    } = args;
    let (backup, code_file) = (backup.as_path(), code_file.as_deref());
    let database = refuge_store::SqliteStore::path_of_url(config.db_url()).context(
        "refuge restore writes a SQLite database: give --db PATH (PostgreSQL: docs/backup.md)",
    )?;
    let mut reading = std::io::BufReader::new(
        std::fs::File::open(backup).with_context(|| format!("cannot read {}", backup.display()))?,
    );
    // Not the database in use (it is the destination): only the usual checks of a new file.
    let mut file = OutputFile::create(&database, force, "")?;
    let code = secrets::recovery_code(code_file)?;
    open_backup(&code, &mut reading, file.file())?;
    let scratch = file.temporary_path().to_path_buf();
    let store = refuge_store::open(&format!("sqlite:{}", scratch.display())).await?;
    let app = App::new(store, Box::new(SystemClock));
    let checked = app.check_restored().await;
    app.close().await;
    let restored = checked?;
    for suffix in ["-wal", "-shm"] {
        // What SQLite kept beside the scratch copy (closed: nothing) and beside the database
        // it replaces: an old write-ahead log must never meet the new file.
        for path in [&scratch, &database] {
            let companion = format!("{}{suffix}", path.display());
            match std::fs::remove_file(&companion) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => bail!("cannot remove {companion}: {error}"),
            }
        }
    }
    file.finish()?;
    outln!(
        "Restored {} from {}: {} events and {} people verified (integrity, hash chains, replay). \
         New device epoch: events written from now on are node {}.",
        database.display(),
        backup.display(),
        restored.events,
        restored.people,
        restored.node
    );
    Ok(())
}
