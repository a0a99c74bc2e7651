//! Backups (docs/backup.md): a consistent copy of the database, checked, encrypted with age to
//! the organisation's recovery key pair, so that a backup opens with the recovery code and
//! nothing kept on the laptop; and the checks a backup passes before it is restored.

use crate::keyring::META_RECOVERY_PUBLIC;
use crate::keys::{META_RECOVERY_ESCROW, recovery_code_reason};
use crate::*;
use refuge_crypto::{KeyPair, PublicKey, RecoveryCode, TokenWrappedKey, Written};
use refuge_store::SideWrite;
use std::io::{BufRead, Read, Write};
use std::path::Path;

/// The first line of a backup file: this tag, then the recovery escrow (the recovery key
/// pair's secret wrapped under the recovery code, as `meta` keeps it), so that the file opens
/// with the code alone.
const BACKUP_TAG: &str = "refuge-backup/v1";
/// The longest first line accepted (an escrow is about 120 characters).
const MAX_HEADER_BYTES: u64 = 4_096;
/// Who the access log names for a backup, which needs no login.
const BACKUP_ACTOR: &str = "(backup)";

/// What a restore checked.
pub struct Restored {
    pub events: u64,
    pub people: usize,
    pub node: NodeId,
}

impl App {
    /// Writes a backup to `out`: a consistent copy of the database into `scratch` (an empty
    /// file the caller made, private to its user), `PRAGMA integrity_check` on the copy, then
    /// a first line with the recovery escrow and the copy encrypted to the recovery key pair.
    /// Needs no passphrase (a timer runs it at night); the access log records it.
    pub async fn backup(&self, scratch: &Path, out: &mut dyn Write) -> AppResult<Written> {
        let missing = || AppError::invalid("backup", Reason::new("no-recovery-key"));
        if !self.compartment_model().await? {
            return Err(missing());
        }
        let public = self
            .store
            .meta(META_RECOVERY_PUBLIC)
            .await?
            .ok_or_else(missing)?;
        let escrow = self
            .store
            .meta(META_RECOVERY_ESCROW)
            .await?
            .ok_or_else(missing)?;
        self.store.snapshot_into(scratch).await?;
        // The integrity check of the copy runs on its own task while the copy is encrypted
        // (seconds each on 300,000 people); a copy that fails it is not returned, so the
        // caller never keeps its file.
        let copy = refuge_store::SqliteStore::open(scratch).await?;
        let checking = tokio::spawn(async move {
            let problems = copy.integrity_problems().await;
            copy.close().await;
            problems
        });
        let mut plain = std::fs::File::open(scratch).map_err(|error| file_error(scratch, error))?;
        let header = format!("{BACKUP_TAG} {escrow}\n");
        let written = refuge_crypto::encrypt_backup(
            header.as_bytes(),
            &mut plain,
            out,
            &[PublicKey::decode(&public)?],
        );
        let problems = checking.await.map_err(|_| {
            AppError::Store(StoreError::Corrupt("the integrity check stopped".into()))
        })??;
        if !problems.is_empty() {
            return Err(AppError::Store(StoreError::Corrupt(format!(
                "the copy fails SQLite's integrity check: {}",
                problems.join("; ")
            ))));
        }
        let written = written?;
        self.log(
            BACKUP_ACTOR,
            AccessAction::Backup,
            "database",
            &format!("{} bytes", written.bytes),
        )
        .await?;
        Ok(written)
    }

    /// Checks a database just decrypted from a backup (`open_backup`) before it takes the
    /// place of another: everything `verify` checks (SQLite's integrity check, every
    /// chain, the replay against every table, the keys). When all pass it starts a new device
    /// epoch: a new node id, so events written from now on start a chain of their own and
    /// never reuse a sequence number that a lost copy may have sent on.
    pub async fn check_restored(&self) -> AppResult<Restored> {
        let report = self.check_everything().await?;
        let problems = &report.problems;
        if !problems.is_empty() {
            let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
            return Err(AppError::invalid(
                "backup",
                Reason::new("backup-does-not-verify")
                    .count("problems", problems.len() as u64)
                    .with("shown", shown.join("; ")),
            ));
        }
        let node = NodeId(self.new_uuid()?);
        self.commit(Commit {
            side_writes: vec![SideWrite::Meta {
                key: "node_id".into(),
                value: node.to_string(),
            }],
            access: vec![self.access_entry(
                BACKUP_ACTOR,
                AccessAction::Restored,
                "database",
                &format!("{} events verified; new node {node}", report.events),
            )],
            ..Commit::default()
        })
        .await?;
        Ok(Restored {
            events: report.events,
            people: report.people,
            node,
        })
    }
}

/// Opens a backup file with the recovery code, writing the database it holds to `out`. A
/// mistyped code is named group by group; a file that is not a backup, was altered in any
/// byte, or is cut short is refused (age authenticates every chunk and the end), and `out`
/// is then to be thrown away.
pub fn open_backup(
    code_text: &str,
    backup: &mut dyn BufRead,
    out: &mut dyn Write,
) -> AppResult<u64> {
    let code = RecoveryCode::parse(code_text)
        .map_err(|error| AppError::invalid("recovery code", recovery_code_reason(&error)))?;
    let mut header = String::new();
    backup
        .take(MAX_HEADER_BYTES)
        .read_line(&mut header)
        .map_err(|_| not_a_backup())?;
    let escrow = header
        .strip_suffix('\n')
        .and_then(|line| line.strip_prefix(BACKUP_TAG))
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(not_a_backup)?;
    let escrow = TokenWrappedKey::decode(escrow).map_err(|_| not_a_backup())?;
    let recovery = KeyPair::from_secret(&code.unwrap_key(&escrow).map_err(|_| {
        AppError::invalid(
            "recovery code",
            Reason::new("not-this-backups-recovery-code"),
        )
    })?);
    refuge_crypto::decrypt_backup(backup, out, &recovery).map_err(|error| {
        AppError::invalid(
            "backup",
            Reason::new("backup-damaged").with("detail", error),
        )
    })
}

/// The size and SHA-256 of a backup file as it reads back from the disk.
pub fn read_back(path: &Path) -> AppResult<Written> {
    let mut file = std::fs::File::open(path).map_err(|error| file_error(path, error))?;
    Ok(refuge_crypto::digest(&mut file)?)
}

fn not_a_backup() -> AppError {
    AppError::invalid("backup", Reason::new("not-a-backup"))
}

fn file_error(path: &Path, error: std::io::Error) -> AppError {
    AppError::invalid(
        "backup",
        Reason::new("file-unreadable")
            .with("path", path.display())
            .with("detail", error),
    )
}
