//! Creating and copying organisations: `init`, `demo`, `migrate`.

use crate::args::MigrateArgs;
use crate::config::Config;
use crate::{output, secrets};
use anyhow::{Context, Result, bail};
use refuge_app::demo::DemoOptions;
use refuge_app::{App, SystemClock};
use refuge_core::NodeId;
use std::path::{Path, PathBuf};

/// `refuge init`.
pub async fn init(config: &Config<'_>, admin: String, expected_people: u64) -> Result<()> {
    let url = config.db_url().to_string();
    let passphrase = secrets::new_passphrase(
        config.global,
        "REFUGE_PASSPHRASE",
        &format!("New passphrase for {admin}"),
    )?;
    let node = NodeId(uuid::Uuid::now_v7());
    let store = refuge_store::create(&url, node).await?;
    let app = App::new(store, Box::new(SystemClock));
    let result = match app.init(&admin, passphrase.value(), expected_people).await {
        Ok(session) => app.new_recovery_code(&session).await,
        Err(error) => Err(error),
    };
    let code = match result {
        Ok(code) => code,
        Err(error) => {
            app.close().await;
            discard_new_database(&url);
            return Err(error.into());
        }
    };
    passphrase.announce(&admin)?;
    super::users::announce_recovery_code(&code)?;
    outln!(
        "Created {} with admin user '{admin}'.",
        refuge_store::describe_url(&url)
    );
    Ok(())
}

/// `refuge demo`.
pub async fn demo(config: &Config<'_>, people: usize, seed: u64, history_days: i64) -> Result<()> {
    let url = config.db_url().to_string();
    let passphrase = secrets::new_passphrase(
        config.global,
        "REFUGE_PASSPHRASE",
        "Passphrase for every demo user",
    )?;
    let store = refuge_store::create(&url, NodeId(uuid::Uuid::now_v7())).await?;
    let app = App::new(store, Box::new(SystemClock));
    let mut bar = output::Progress::new();
    let result = async {
        let session = app.init("admin", passphrase.value(), people as u64).await?;
        let code = app.new_recovery_code(&session).await?;
        let options = DemoOptions {
            people,
            seed,
            history_days,
        };
        app.populate_demo(
            &session,
            &options,
            passphrase.value(),
            &mut |done, total| bar.update("people", done as u64, total as u64),
        )
        .await
        .map(|report| (report, code))
    }
    .await;
    bar.finish();
    let (report, code) = match result {
        Ok(done) => done,
        Err(error) => {
            app.close().await;
            discard_new_database(&url);
            return Err(error.into());
        }
    };
    outln!(
        "Demo organisation in {}: {} people in {} households, {} locations, {} incidents, {} events.",
        refuge_store::describe_url(&url),
        report.people,
        report.households,
        report.locations,
        report.incidents,
        report.events
    );
    outln!("Users (all with the same passphrase):");
    for (name, role, locations) in &report.users {
        let compartments = if locations.is_empty() {
            String::new()
        } else {
            format!(" at {}", locations.join(", "))
        };
        outln!("  {name:<16} {role}{compartments}");
    }
    passphrase.announce("every demo user")?;
    super::users::announce_recovery_code(&code)?;
    outln!(
        "Try: REFUGE_PASSPHRASE=… refuge --db {} --user coordinator backlog",
        refuge_store::describe_url(&url)
    );
    Ok(())
}

/// A database URL given directly or in a file (first line).
pub fn url_argument(url: Option<String>, file: Option<&Path>) -> Result<String> {
    match (url, file) {
        (Some(url), None) => Ok(url),
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the database URL from {}", file.display()))?;
            let url = text.lines().next().unwrap_or_default().trim().to_string();
            if url.is_empty() {
                bail!("{} holds no database URL on its first line", file.display());
            }
            Ok(url)
        }
        _ => bail!("give the database as a URL or as a file holding the URL, not both"),
    }
}

/// `refuge migrate`: copies an organisation, events and all, into a new database and checks
/// that every table holds as many rows as the source's.
/// `refuge migrate`.
pub async fn migrate(args: MigrateArgs) -> Result<()> {
    let from = url_argument(args.from, args.from_url_file.as_deref())?;
    let to = url_argument(args.to, args.to_url_file.as_deref())?;
    copy_organisation(&from, &to).await
}

async fn copy_organisation(from: &str, to: &str) -> Result<()> {
    let source = refuge_store::open(from).await?;
    let node = source
        .meta("node_id")
        .await?
        .and_then(|text| uuid::Uuid::parse_str(&text).ok())
        .map(NodeId)
        .context("the source database has no node id")?;
    let destination = refuge_store::create(to, node).await?;
    let copied = match destination.copy_from(&*source).await {
        Ok(copied) => copied,
        Err(error) => {
            destination.close().await;
            discard_new_database(to);
            return Err(error.into());
        }
    };
    let before = source.table_counts().await?;
    let after = destination.table_counts().await?;
    outln!(
        "Copied {copied} events from {} ({}) to {} ({}).",
        refuge_store::describe_url(from),
        source.backend(),
        refuge_store::describe_url(to),
        destination.backend()
    );
    outln!("{:<16} {:>10} {:>10}", "table", "source", "copy");
    let mut mismatched = Vec::new();
    for ((table, source_rows), (_, copy_rows)) in before.iter().zip(&after) {
        outln!("{table:<16} {source_rows:>10} {copy_rows:>10}");
        if source_rows != copy_rows {
            mismatched.push(table.as_str());
        }
    }
    source.close().await;
    destination.close().await;
    if !mismatched.is_empty() {
        bail!("row counts differ in {}", mismatched.join(", "));
    }
    outln!(
        "Every table matches. Check the copy with: refuge --db {} verify",
        refuge_store::describe_url(to)
    );
    Ok(())
}

/// Removes what a failed `init` or `demo` created: a SQLite file. (A PostgreSQL database
/// belongs to its operator; a failed init there leaves only the schema, which the next init
/// reuses.)
fn discard_new_database(url: &str) {
    if !refuge_store::PostgresStore::is_url(url)
        && let Ok(path) = refuge_store::SqliteStore::path_of_url(url)
    {
        remove_database(&path);
    }
}

pub fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        // Absent files (no WAL yet) are fine.
        std::fs::remove_file(PathBuf::from(name)).ok();
    }
}
