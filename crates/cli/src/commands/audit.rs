//! The record of what happened and who looked: `log`, `access-log`, `verify`.

use crate::args::AccessLogArgs;
use crate::config::Config;
use crate::output;
use crate::output_file::OutputFile;
use anyhow::{Result, bail};
use refuge_app::{AccessFilter, AppError};
use std::io::Write;

/// `refuge log`.
pub async fn log(config: &Config<'_>, person: Option<String>) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    let mut out = std::io::stdout().lock();
    app.history(&session, person.as_deref(), |page| {
        for event in page {
            let line = format!(
                "{}  {:<8} {:>7}  {:<18} {:<10} {}\n",
                output::timestamp(event.recorded),
                event.actor,
                event.seq,
                event.kind,
                event.subject,
                event.change
            );
            out.write_all(output::for_terminal(&line).as_bytes())
                .map_err(AppError::Output)?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// `refuge access-log`.
pub async fn access_log(config: &Config<'_>, args: AccessLogArgs) -> Result<()> {
    let filter = &AccessFilter {
        actor: args.by,
        action: args.action,
        subject: args.code,
        from: args.from,
        to: args.to,
        offset: None,
        before_seq: None,
        limit: args.limit,
    };
    let csv = args.csv.as_deref();
    let (app, session) = config.sign_in().await?;
    if let Some(path) = csv {
        let mut file = OutputFile::create(path, false, config.db_url())?;
        let written = app.access_log_csv(&session, filter, file.file()).await?;
        file.finish()?;
        outln!("Wrote {written} access-log entries to {}.", path.display());
        return Ok(());
    }
    for entry in app.access_log_page(&session, filter).await? {
        outln!(
            "{:>6}  {}  {:<14} {:<16} {:<12} {}",
            entry.seq,
            entry.at,
            entry.actor,
            entry.action,
            entry.subject,
            entry.detail
        );
    }
    Ok(())
}

/// `refuge verify`.
pub async fn verify(config: &Config<'_>) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    let report = app.verify(&session).await?;
    outln!(
        "{} events from {} node(s), {} people, {} access-log entries checked.",
        report.events,
        report.nodes,
        report.people,
        report.access_entries
    );
    if !report.ok() {
        for problem in &report.problems {
            outln!("PROBLEM: {problem}");
        }
        bail!("verification failed: {} problem(s)", report.problems.len());
    }
    outln!("OK: hash chains intact; replaying the log reproduces every table.");
    Ok(())
}
