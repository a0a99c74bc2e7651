//! `refuge plan` and `refuge batch`.

use crate::args::{BatchCommand, PlanArgs, parse_date};
use crate::config::Config;
use crate::output_file::OutputFile;
use anyhow::{Context, Result, bail};
use refuge_app::*;
use refuge_core::{BatchPin, BatchStatus, DestinationWish, TransferBatch};
use refuge_plan::{Decision, Instance, Plan, Policy};
use std::path::Path;
use time::Date;

/// Reads a policy file (TOML); every key is optional and unknown keys are errors.
pub fn read_policy(path: Option<&Path>) -> Result<Policy> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
}

/// Reads a batches file: `[[batch]]` tables with id, date, seats and origins.
fn read_batches(path: &Path) -> Result<Vec<BatchRequest>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: toml::Table =
        toml::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
    let Some(list) = value.get("batch").and_then(|list| list.as_array()) else {
        bail!("{}: expected [[batch]] tables", path.display());
    };
    if let Some(key) = value.keys().find(|key| *key != "batch") {
        bail!(
            "{}: unknown key '{key}' (expected [[batch]] tables)",
            path.display()
        );
    }
    let mut requests = Vec::new();
    for (index, entry) in list.iter().enumerate() {
        let at = |key: &str| format!("{}: batch[{index}].{key}", path.display());
        let table = entry
            .as_table()
            .ok_or_else(|| anyhow::anyhow!("{}", at("")))?;
        for key in table.keys() {
            if !["id", "date", "seats", "origins", "destination"].contains(&key.as_str()) {
                bail!(
                    "{}: unknown key (expected id, date, seats, origins, destination)",
                    at(key)
                );
            }
        }
        let date_text = match table.get("date") {
            Some(toml::Value::Datetime(date)) => date.to_string(),
            Some(toml::Value::String(text)) => text.clone(),
            _ => bail!("{}: missing or not a date (YYYY-MM-DD)", at("date")),
        };
        let date: Date =
            parse_date(&date_text).map_err(|reason| anyhow::anyhow!("{}: {reason}", at("date")))?;
        let seats = table
            .get("seats")
            .and_then(|seats| seats.as_integer())
            .filter(|seats| *seats > 0)
            .ok_or_else(|| anyhow::anyhow!("{}: missing or not a positive number", at("seats")))?;
        let origins = match table.get("origins") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| anyhow::anyhow!("{}: not a location code", at("origins")))
                })
                .collect::<Result<_>>()?,
            Some(_) => bail!("{}: expected a list of location codes", at("origins")),
        };
        // The country the batch goes to: only people who want to go there are seated.
        let destination = match table.get("destination") {
            None => None,
            Some(value) => Some(
                value
                    .as_str()
                    .and_then(|text| text.parse::<DestinationWish>().ok())
                    .and_then(|wish| wish.country().map(str::to_string))
                    .ok_or_else(|| {
                        anyhow::anyhow!("{}: not a two-letter country code", at("destination"))
                    })?,
            ),
        };
        requests.push(BatchRequest {
            destination,
            label: table
                .get("id")
                .and_then(|id| id.as_str())
                .map_or_else(|| format!("batch-{}", index + 1), str::to_string),
            date,
            seats: u32::try_from(seats)?,
            origins,
        });
    }
    Ok(requests)
}

fn print_plan(plan: &Plan, explain: bool) -> std::io::Result<()> {
    outln!(
        "Plan: objective {:.2}, proven bound {:.2}, gap {:.1e}{} ({} search nodes)",
        plan.objective,
        plan.bound,
        plan.gap,
        if plan.optimal {
            ", optimal"
        } else {
            ", NOT proven optimal"
        },
        plan.nodes
    );
    let priority: std::collections::HashMap<&str, f64> = plan
        .explanations
        .iter()
        .map(|e| (e.household.as_str(), e.priority.total))
        .collect();
    let sizes: std::collections::HashMap<&str, (i64, &str)> = plan
        .explanations
        .iter()
        .map(|e| (e.household.as_str(), (e.size, e.origin.as_str())))
        .collect();
    for batch in &plan.batches {
        outln!(
            "\nBatch {} (day {}): {} of {} seats",
            batch.id,
            batch.day,
            batch.used,
            batch.seats
        );
        outln!(
            "  {:<8} {:>4}  {:<12} {:>8}",
            "UNIT",
            "SIZE",
            "FROM",
            "PRIORITY"
        );
        for unit in &batch.households {
            let (size, origin) = sizes.get(unit.as_str()).copied().unwrap_or((0, ""));
            outln!(
                "  {unit:<8} {size:>4}  {origin:<12} {:>8.2}",
                priority.get(unit.as_str()).copied().unwrap_or(0.0)
            );
        }
    }
    let not_selected = plan
        .explanations
        .iter()
        .filter(|e| !matches!(e.decision, Decision::Selected { .. }))
        .count();
    if explain {
        outln!("\nEvery household:");
        for explanation in &plan.explanations {
            let (word, reason) = match &explanation.decision {
                Decision::Selected { reason, .. } => ("selected", reason),
                Decision::Ineligible { reason } => ("ineligible", reason),
                Decision::NotSelected { reason } => ("not selected", reason),
            };
            outln!("  {:<8} {word}: {reason}", explanation.household);
        }
    } else if not_selected > 0 {
        outln!("\n{not_selected} households not selected or ineligible; --explain lists why.");
    }
    Ok(())
}

/// `refuge plan`.
pub async fn plan_command(config: &Config<'_>, args: PlanArgs) -> Result<()> {
    let PlanArgs {
        seats,
        date,
        from,
        batches,
        input,
        policy,
        explain,
        json,
    } = args;
    let (batches, input, policy) = (batches.as_deref(), input.as_deref(), policy.as_deref());
    if let Some(path) = input {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut instance: Instance = serde_json::from_str(&text)
            .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
        if policy.is_some() {
            instance.policy = read_policy(policy)?;
        }
        let plan = refuge_plan::solve(&instance)?;
        if json {
            outln!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            print_plan(&plan, explain)?;
        }
        return Ok(());
    }
    let requests = match (batches, seats, date) {
        (Some(path), _, _) => read_batches(path)?,
        (None, Some(seats), Some(date)) => vec![BatchRequest {
            label: "next".into(),
            date,
            seats,
            origins: from,
            destination: None,
        }],
        _ => bail!("give --seats N --date DATE, or --batches FILE.toml, or --input FILE.json"),
    };
    let policy = read_policy(policy)?;
    let (app, session) = config.sign_in().await?;
    let report = app.plan_preview(&session, &requests, &policy).await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report.plan)?);
    } else {
        print_plan(&report.plan, explain)?;
    }
    Ok(())
}

fn print_batch(view: &BatchView, explain: bool) -> std::io::Result<()> {
    let batch = &view.batch;
    outln!(
        "Batch {} ({}) departs {} with {} seats from {} to {}",
        batch.code,
        batch.status,
        batch.departure,
        batch.seats,
        view.origin_codes.join(","),
        view.destination_code
    );
    outln!("Manifest: {} people", view.manifest.len());
    for (person, household, from) in &view.manifest {
        outln!("  {person:<8} {household:<8} {from}");
    }
    if !batch.pins.is_empty() {
        outln!("Pins: {} household(s)", batch.pins.len());
    }
    if let Some(report) = &view.report {
        outln!();
        print_plan(&report.plan, explain)?;
    }
    Ok(())
}

pub async fn batch_command(config: &Config<'_>, command: BatchCommand) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    match command {
        BatchCommand::Create {
            date,
            seats,
            from,
            to,
            policy,
            json,
        } => {
            let policy = read_policy(policy.as_deref())?;
            let request = BatchRequest::new(date, seats, from);
            create_batch(&app, &session, &request, &to, &policy, json).await
        }
        BatchCommand::List => list_batches(&app, &session).await,
        BatchCommand::Show {
            code,
            policy,
            explain,
            json,
        } => {
            let policy = read_policy(policy.as_deref())?;
            show_batch(&app, &session, &code, &policy, explain, json).await
        }
        BatchCommand::Pin {
            code,
            household,
            pin_in,
            out,
            clear,
            policy,
        } => {
            let pin = pin_of(pin_in, out, clear)?;
            let policy = read_policy(policy.as_deref())?;
            let (batch, report) = app
                .pin_household(&session, &code, &household, pin, &policy)
                .await?;
            print_replanned(&batch, &report)
        }
        BatchCommand::Plan { code, policy } => {
            let policy = read_policy(policy.as_deref())?;
            let (batch, report) = app.replan_batch(&session, &code, &policy).await?;
            print_replanned(&batch, &report)
        }
        BatchCommand::Confirm { code } => {
            status(&app, &session, &code, BatchStatus::Confirmed).await
        }
        BatchCommand::Unconfirm { code } => status(&app, &session, &code, BatchStatus::Draft).await,
        BatchCommand::Depart { code } => status(&app, &session, &code, BatchStatus::Departed).await,
        BatchCommand::Complete { code } => {
            status(&app, &session, &code, BatchStatus::Completed).await
        }
        BatchCommand::Cancel { code } => {
            status(&app, &session, &code, BatchStatus::Cancelled).await
        }
        BatchCommand::Manifest {
            code,
            reveal,
            output,
            force,
        } => {
            manifest(
                config,
                &app,
                &session,
                &code,
                reveal,
                output.as_deref(),
                force,
            )
            .await
        }
    }
}

/// `--in`, `--out` or `--clear`: exactly one.
fn pin_of(pin_in: bool, out: bool, clear: bool) -> Result<Option<BatchPin>> {
    Ok(match (pin_in, out, clear) {
        (true, false, false) => Some(BatchPin::In),
        (false, true, false) => Some(BatchPin::Out),
        (false, false, true) => None,
        _ => bail!("give one of --in, --out or --clear"),
    })
}

/// `refuge batch create`.
async fn create_batch(
    app: &App,
    session: &Session,
    request: &BatchRequest,
    destination: &str,
    policy: &Policy,
    json: bool,
) -> Result<()> {
    let (batch, report) = app
        .create_batch(session, request, destination, policy)
        .await?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "batch": batch.code, "plan": report.plan })
            )?
        );
    } else {
        outln!(
            "Created draft batch {} with {} people planned.",
            batch.code,
            batch.manifest.len()
        );
        print_plan(&report.plan, false)?;
    }
    Ok(())
}

/// `refuge batch list`.
async fn list_batches(app: &App, session: &Session) -> Result<()> {
    outln!(
        "{:<8} {:<10} {:<10} {:>5} {:>8}",
        "CODE",
        "STATUS",
        "DEPARTS",
        "SEATS",
        "MANIFEST"
    );
    for batch in app.batches(session).await? {
        outln!(
            "{:<8} {:<10} {:<10} {:>5} {:>8}",
            batch.code,
            batch.status.as_str(),
            batch.departure,
            batch.seats,
            batch.manifest.len()
        );
    }
    Ok(())
}

/// `refuge batch show`.
async fn show_batch(
    app: &App,
    session: &Session,
    code: &str,
    policy: &Policy,
    explain: bool,
    json: bool,
) -> Result<()> {
    let view = app.show_batch(session, code, policy).await?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "batch": view.batch.code,
                "status": view.batch.status,
                "departure": view.batch.departure.to_string(),
                "seats": view.batch.seats,
                "manifest": view.manifest.iter().map(|(p, h, f)| serde_json::json!({"person": p, "household": h, "from": f})).collect::<Vec<_>>(),
                "plan": view.report.as_ref().map(|report| &report.plan),
            }))?
        );
    } else {
        print_batch(&view, explain)?;
    }
    Ok(())
}

/// After a pin or a re-plan: the new manifest's size and the plan.
fn print_replanned(batch: &TransferBatch, report: &PlanReport) -> Result<()> {
    outln!(
        "Batch {} re-planned: {} people.",
        batch.code,
        batch.manifest.len()
    );
    print_plan(&report.plan, false)?;
    Ok(())
}

/// `refuge batch manifest`: CSV to a new file or to standard output.
async fn manifest(
    config: &Config<'_>,
    app: &App,
    session: &Session,
    code: &str,
    reveal: bool,
    output: Option<&Path>,
    force: bool,
) -> Result<()> {
    let count = match output {
        Some(path) => {
            let mut file = OutputFile::create(path, force, config.db_url())?;
            let count = app.manifest_csv(session, code, reveal, file.file()).await?;
            file.finish()?;
            count
        }
        None => {
            app.manifest_csv(session, code, reveal, std::io::stdout().lock())
                .await?
        }
    };
    eprintln!(
        "{count} people on the manifest{}.",
        if reveal { " with names (logged)" } else { "" }
    );
    Ok(())
}

async fn status(app: &App, session: &Session, code: &str, status: BatchStatus) -> Result<()> {
    let batch = app.set_batch_status(session, code, status).await?;
    outln!(
        "Batch {} is now {} ({} people on the manifest).",
        batch.code,
        batch.status,
        batch.manifest.len()
    );
    Ok(())
}
