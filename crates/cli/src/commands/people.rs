//! People and households: `person`, `household`, `move`, `flag`, `hold`, `ready`, `import`,
//! `export`, `purge`.

use crate::args::*;
use crate::config::Config;
use crate::output;
use crate::output_file::OutputFile;
use anyhow::{Context, Result, bail};
use refuge_app::*;
use refuge_core::*;

pub async fn person(config: &Config<'_>, command: PersonCommand) -> Result<()> {
    let app = config.open().await?;
    match command {
        PersonCommand::Add(add) => add_person(config, &app, *add).await,
        PersonCommand::Correct {
            code,
            sex,
            birth_year,
            identity_file,
        } => {
            let identity = match &identity_file {
                Some(path) => read_identity_file(path)?,
                None => Default::default(),
            };
            let correction = CorrectionRequest {
                sex,
                birth_year,
                identity,
            };
            correct_person(config, &app, &code, &correction).await
        }
        PersonCommand::Merge { code, into } => {
            let session = config.login(&app).await?;
            let kept = app.merge_person(&session, &code, &into).await?;
            outln!("Merged {} into {kept}.", code.trim());
            Ok(())
        }
        PersonCommand::Show { code, reveal, json } => {
            show_person(config, &app, &code, reveal, json).await
        }
        PersonCommand::List {
            stage,
            location,
            flag,
            household,
            waiting_over,
            name,
            limit,
            json,
        } => {
            let query = PeopleQuery {
                stage,
                location,
                flag,
                household,
                waiting_longer_than_days: waiting_over,
                name,
                limit,
                any_order: false,
                ..PeopleQuery::default()
            };
            list_people(config, &app, &query, json).await
        }
    }
}

/// `refuge person add`.
async fn add_person(config: &Config<'_>, app: &App, add: PersonAdd) -> Result<()> {
    let identity = add.identity()?;
    let session = config.login(app).await?;
    let person = app
        .add_person(
            &session,
            NewPerson {
                household: add.household,
                split_allowed: add.split_allowed,
                sex: add.sex,
                birth_year: add.birth_year,
                location: add.location,
                stage: add.stage,
                since: add.since,
                entered: add.entered,
                flags: add.flag,
                identity,
                allow_duplicate: add.allow_duplicate,
            },
        )
        .await?;
    let household = app
        .show_person(&session, &person.code, false)
        .await?
        .household_code;
    outln!("Registered {} in household {household}.", person.code);
    Ok(())
}

/// `refuge person correct`.
async fn correct_person(
    config: &Config<'_>,
    app: &App,
    code: &str,
    correction: &CorrectionRequest,
) -> Result<()> {
    let session = config.login(app).await?;
    let fields = app.correct_person(&session, code, correction).await?;
    outln!("Corrected {}: {}.", code.trim(), fields.join(", "));
    Ok(())
}

/// `refuge person show`.
async fn show_person(
    config: &Config<'_>,
    app: &App,
    code: &str,
    reveal: bool,
    json: bool,
) -> Result<()> {
    let session = config.login(app).await?;
    let view = app.show_person(&session, code, reveal).await?;
    if let Some(asked) = &view.reached_from {
        eprintln!(
            "{asked} was merged into {}; showing that record.",
            view.person.code
        );
    }
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&output::person_json(&view))?
        );
    } else {
        output::person(&view)?;
    }
    Ok(())
}

/// `refuge person list`.
async fn list_people(
    config: &Config<'_>,
    app: &App,
    query: &PeopleQuery,
    json: bool,
) -> Result<()> {
    let session = config.login(app).await?;
    let people = app.list_people(&session, query).await?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&output::people_json(&people))?
        );
    } else {
        output::people(&people)?;
    }
    Ok(())
}

pub async fn household(config: &Config<'_>, command: HouseholdCommand) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    match command {
        HouseholdCommand::Add { split_allowed } => {
            let household = app.add_household(&session, split_allowed).await?;
            outln!("{}", household.code);
        }
        HouseholdCommand::Join { code, to } => {
            let household = app.rehouse(&session, &code, to.as_deref()).await?;
            outln!("{} is now in household {household}.", code.trim());
        }
        HouseholdCommand::Merge { from, into } => {
            let moved = app.merge_households(&session, &from, &into).await?;
            outln!(
                "Moved {moved} people from {} into {}.",
                from.trim(),
                into.trim()
            );
        }
        HouseholdCommand::SplitAllowed { code, allowed } => {
            app.set_split_allowed(&session, &code, allowed.0).await?;
            outln!(
                "Household {}: split allowed {}.",
                code.trim(),
                if allowed.0 { "yes" } else { "no" }
            );
        }
        HouseholdCommand::Show { code, json } => {
            let people = app
                .list_people(
                    &session,
                    &PeopleQuery {
                        household: Some(code.clone()),
                        ..PeopleQuery::default()
                    },
                )
                .await?;
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&output::people_json(&people))?
                );
            } else {
                outln!(
                    "Household {} ({} members)",
                    normalize_code(&code),
                    people.len()
                );
                output::people(&people)?;
            }
        }
    }
    Ok(())
}

/// `refuge move`.
pub async fn move_to(config: &Config<'_>, args: MoveArgs) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    let report = app
        .move_to(
            &session,
            &args.code,
            &args.to,
            args.stage,
            args.at,
            args.over_capacity,
        )
        .await?;
    outln!(
        "Moved {} to {}{}.",
        report.moved.join(", "),
        report.location,
        if report.over_capacity {
            " (over capacity, recorded)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `refuge flag`.
pub async fn flag(config: &Config<'_>, code: String, changes: Vec<String>) -> Result<()> {
    let changes = parse_flag_changes(&changes)?;
    let (app, session) = config.sign_in().await?;
    let person = app.set_flags(&session, &code, &changes).await?;
    outln!("{}: flags {}", person.code, output::flags(&person.flags));
    Ok(())
}

fn parse_flag_changes(changes: &[String]) -> Result<Vec<(Flag, bool)>> {
    changes
        .iter()
        .map(|change| {
            let (on, name) = match change.split_at_checked(1) {
                Some(("+", name)) => (true, name),
                Some(("-", name)) => (false, name),
                _ => bail!("flag change '{change}' must start with + (set) or - (clear), e.g. +self_harm_risk"),
            };
            Ok((name.parse::<Flag>()?, on))
        })
        .collect()
}

/// `refuge hold`.
pub async fn hold(
    config: &Config<'_>,
    code: String,
    reason: Option<HoldReason>,
    release: bool,
) -> Result<()> {
    let reason = match (reason, release) {
        (Some(reason), false) => Some(reason),
        (None, true) => None,
        _ => bail!("give either --reason REASON or --release"),
    };
    let (app, session) = config.sign_in().await?;
    let people = app.set_hold(&session, &code, reason).await?;
    match reason {
        Some(reason) => outln!("On hold ({reason}): {}", people.join(", ")),
        None => outln!("Hold released: {}", people.join(", ")),
    }
    Ok(())
}

/// `refuge wish`.
pub async fn wish(config: &Config<'_>, code: String, wish: DestinationWish) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    let people = app.set_wish(&session, &code, wish).await?;
    outln!("Wants to go: {wish}: {}", people.join(", "));
    Ok(())
}

/// `refuge ready`.
pub async fn ready(
    config: &Config<'_>,
    code: String,
    documents: Option<YesNo>,
    screening: Option<YesNo>,
) -> Result<()> {
    if documents.is_none() && screening.is_none() {
        bail!("give --documents yes|no and/or --screening yes|no");
    }
    let (app, session) = config.sign_in().await?;
    let people = app
        .set_ready(
            &session,
            &code,
            documents.map(|yes| yes.0),
            screening.map(|yes| yes.0),
        )
        .await?;
    outln!("Readiness recorded for {}", people.join(", "));
    Ok(())
}

/// `refuge import people`.
pub async fn import(config: &Config<'_>, args: ImportPeopleArgs) -> Result<()> {
    let ImportPeopleArgs {
        file,
        allow_duplicates,
        over_capacity,
        ignore_columns,
        date_order,
        codes_out,
    } = args;
    let options = ImportOptions {
        allow_duplicates,
        over_capacity,
        ignore_columns,
        date_order,
    };
    let codes_out = codes_out.as_deref();
    let (app, session) = config.sign_in().await?;
    let mut input =
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    // An XLSX workbook (a zip file) by its first bytes, whatever its name.
    let mut start = [0u8; 4];
    let is_workbook = std::io::Read::read(&mut input, &mut start)? == 4 && start == *b"PK\x03\x04";
    std::io::Seek::rewind(&mut input)?;
    let workbook = if is_workbook {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(&mut input, MAX_XLSX_BYTES as u64 + 1),
            &mut bytes,
        )?;
        Some(bytes)
    } else {
        None
    };
    // Made before the import, so that a file that cannot be written stops it first.
    let mut codes_file = codes_out
        .map(|path| OutputFile::create(path, false, config.db_url()))
        .transpose()?;
    let mut bar = output::Progress::new();
    let mut step = |step: ImportProgress| bar.update(step.phase, step.done, step.total);
    let report = match &workbook {
        Some(bytes) => {
            app.import_people_xlsx(&session, bytes, options, &mut step)
                .await
        }
        None => app.import_people(&session, input, options, &mut step).await,
    };
    bar.finish();
    let report = report?;
    for duplicate in &report.duplicates {
        outln!("warning: {duplicate} (imported with --allow-duplicates)");
    }
    outln!(
        "Imported {} people in {} new households.",
        report.people,
        report.households
    );
    if let (Some(mut codes_file), Some(path)) = (codes_file.take(), codes_out) {
        let mut text = String::from("line,person,household\n");
        for code in &report.codes {
            text.push_str(&format!(
                "{},{},{}\n",
                code.line, code.person, code.household
            ));
        }
        std::io::Write::write_all(codes_file.file(), text.as_bytes())?;
        codes_file.finish()?;
        outln!("Wrote the codes of every line to {}.", path.display());
    }
    Ok(())
}

/// `refuge export people`.
pub async fn export(config: &Config<'_>, args: ExportPeopleArgs) -> Result<()> {
    let ExportPeopleArgs {
        reveal,
        output,
        force,
        bom,
    } = args;
    let (app, session) = config.sign_in().await?;
    let mark: &[u8] = if bom { "\u{feff}".as_bytes() } else { b"" };
    let count = match &output {
        Some(path) => {
            let mut file = OutputFile::create(path, force, config.db_url())?;
            std::io::Write::write_all(file.file(), mark)?;
            let count = app.export_people(&session, reveal, file.file()).await?;
            file.finish()?;
            count
        }
        None => {
            let mut out = std::io::stdout().lock();
            std::io::Write::write_all(&mut out, mark)?;
            app.export_people(&session, reveal, out).await?
        }
    };
    eprintln!(
        "Exported {count} people{}.",
        if reveal {
            " with identities (logged)"
        } else {
            ""
        }
    );
    Ok(())
}

pub async fn purge(config: &Config<'_>, arrived_before: time::Date, dry_run: bool) -> Result<()> {
    let app = config.open().await?;
    let session = config.login(&app).await?;
    let purged = app.purge(&session, arrived_before, dry_run).await?;
    let what = format!(
        "{} people who arrived before {arrived_before}, {} duplicate records merged into them, {} incident narratives",
        purged.people, purged.duplicates, purged.narratives
    );
    if purged.dry_run {
        outln!("Would destroy the identities of {what}. Nothing was changed.");
    } else if purged.people + purged.duplicates + purged.narratives == 0 {
        outln!(
            "Nothing to purge: no one arrived before {arrived_before} who is not purged already."
        );
    } else {
        outln!("Destroyed the identities of {what}. Every session has ended: log in again.");
    }
    Ok(())
}
