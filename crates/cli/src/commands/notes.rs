//! `refuge note` and `refuge welfare`.

use crate::args::*;
use crate::config::Config;
use crate::output;
use anyhow::{Context, Result, bail};
use std::io::{IsTerminal, Read};

pub async fn note(config: &Config<'_>, command: NoteCommand) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    match command {
        NoteCommand::Add {
            code,
            follow_up,
            text_file,
        } => {
            let text = read_note(text_file.as_deref())?;
            app.add_note(&session, &code, &text, follow_up).await?;
            match follow_up {
                Some(date) => outln!("Note written on {}; follow up by {date}.", code.trim()),
                None => outln!("Note written on {}.", code.trim()),
            }
        }
        NoteCommand::List { code, reveal } => {
            let notes = app.notes(&session, &code, reveal).await?;
            output::notes(&notes, app.today())?;
        }
        NoteCommand::Done { code, note } => {
            app.complete_follow_up(&session, &code, &note).await?;
            outln!("Follow-up done.");
        }
        NoteCommand::Due => {
            let (due, total) = app.due_follow_ups(&session, 1_000).await?;
            for follow_up in &due {
                outln!("{}  {}", follow_up.due, follow_up.person_code);
            }
            outln!("{total} follow-ups due.");
        }
    }
    Ok(())
}

pub async fn welfare(config: &Config<'_>, command: WelfareCommand) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    match command {
        WelfareCommand::CheckIn {
            code,
            wellbeing,
            needs,
            text_file,
            follow_up,
        } => {
            let note = match text_file {
                Some(path) => read_note(Some(&path))?,
                None => String::new(),
            };
            let check_in = refuge_app::NewCheckIn {
                wellbeing,
                needs: needs.into_iter().collect(),
                note,
                follow_up,
            };
            app.record_check_in(&session, &code, check_in).await?;
            outln!("Welfare check-in recorded on {}: {wellbeing}.", code.trim());
        }
        WelfareCommand::Due { json, limit } => {
            let due = app.checks_due(&session, limit).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&due)?);
            } else {
                for check in &due.checks {
                    outln!(
                        "{}  {:<10} {:<12} {:<16} last {}",
                        check.due,
                        check.person,
                        check.location,
                        check.reason,
                        check
                            .last_check_in
                            .map_or("never".to_string(), |date| date.to_string())
                    );
                }
                outln!("{} welfare checks due.", due.total);
            }
        }
        WelfareCommand::Schedule {
            first_after_days,
            every_days,
            flagged_every_days,
            after_self_harm_days,
        } => {
            let mut schedule = app.welfare_schedule().await?;
            let given = [
                first_after_days,
                every_days,
                flagged_every_days,
                after_self_harm_days,
            ];
            if given.iter().any(Option::is_some) {
                schedule.first_after_days = first_after_days.unwrap_or(schedule.first_after_days);
                schedule.every_days = every_days.unwrap_or(schedule.every_days);
                schedule.flagged_every_days =
                    flagged_every_days.unwrap_or(schedule.flagged_every_days);
                schedule.after_self_harm_days =
                    after_self_harm_days.unwrap_or(schedule.after_self_harm_days);
                app.set_welfare_schedule(&session, schedule).await?;
                outln!("Welfare schedule set.");
            }
            for (name, days) in schedule.fields() {
                outln!("{name:<22} {days}");
            }
        }
    }
    Ok(())
}

/// The note's text from a file or standard input, read no further than the longest text a
/// note may hold (so the use case names the limit instead of memory running out).
fn read_note(file: Option<&std::path::Path>) -> Result<String> {
    let limit = refuge_app::MAX_TEXT_BYTES as u64 + 1;
    let mut bytes = Vec::new();
    match file {
        Some(path) => {
            std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?
                .take(limit)
                .read_to_end(&mut bytes)
                .with_context(|| format!("cannot read {}", path.display()))?;
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("Type the note, then Ctrl-D on a line of its own:");
            }
            stdin
                .lock()
                .take(limit)
                .read_to_end(&mut bytes)
                .context("cannot read the note from standard input")?;
        }
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text.trim_end_matches(['\n', '\r']).to_string()),
        Err(_) => bail!("the note is not UTF-8 text"),
    }
}
