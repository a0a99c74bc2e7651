//! One module per noun; `run` is the table of contents of the command line.

pub mod audit;
pub mod backup;
pub mod incidents;
pub mod locations;
pub mod notes;
pub mod outlook;
pub mod people;
pub mod planning;
pub mod serve;
pub mod setup;
pub mod users;

use crate::args::*;
use crate::config::Config;
use anyhow::Result;
use refuge_app::{AccessFilter, WhatIf};

pub async fn run(cli: Cli) -> Result<()> {
    let config = Config::resolve(&cli.global)?;
    let result = command(&config, cli.command).await;
    // What the role or the compartments refused goes to the access log, failed or not.
    let written = config.write_refusals().await;
    result.and(written)
}

#[expect(
    clippy::too_many_lines,
    reason = "one arm per command: the table of contents of the command line"
)]
async fn command(config: &Config<'_>, command: Command) -> Result<()> {
    match command {
        Command::Init {
            admin,
            expected_people,
        } => setup::init(config, admin, expected_people).await,
        Command::Demo {
            people,
            seed,
            history_days,
        } => setup::demo(config, people, seed, history_days).await,
        Command::Migrate {
            from,
            from_url_file,
            to,
            to_url_file,
        } => {
            let from = setup::url_argument(from, from_url_file.as_deref())?;
            let to = setup::url_argument(to, to_url_file.as_deref())?;
            setup::migrate(&from, &to).await
        }
        Command::Backup { out, force } => backup::backup(config, &out, force).await,
        Command::Restore {
            file,
            force,
            code_file,
        } => backup::restore(config, &file, force, code_file.as_deref()).await,
        Command::User(command) => users::user(config, command).await,
        Command::Token(command) => users::token(config, command).await,
        Command::RecoveryCode(command) => users::recovery_code(config, command).await,
        Command::Key(KeyCommand::Rotate { location, reseal }) => {
            users::rotate_keys(config, location.as_deref(), reseal).await
        }
        Command::UpgradeKeys => users::upgrade_keys(config).await,
        Command::Purge {
            arrived_before,
            dry_run,
        } => people::purge(config, arrived_before, dry_run).await,
        Command::Recover { admin, code_file } => {
            users::recover(config, admin, code_file.as_deref()).await
        }
        Command::Location(command) => locations::location(config, command).await,
        Command::Household(command) => people::household(config, command).await,
        Command::Person(command) => people::person(config, command).await,
        Command::Move {
            code,
            to,
            stage,
            at,
            over_capacity,
        } => people::move_to(config, code, to, stage, at, over_capacity).await,
        Command::Flag { code, changes } => people::flag(config, code, changes).await,
        Command::Hold {
            code,
            reason,
            release,
        } => people::hold(config, code, reason, release).await,
        Command::Ready {
            code,
            documents,
            screening,
        } => people::ready(config, code, documents, screening).await,
        Command::Incident(command) => incidents::incident(config, command).await,
        Command::Note(command) => notes::note(config, command).await,
        Command::Backlog { json, target_wait } => outlook::backlog(config, json, target_wait).await,
        Command::Import(ImportCommand::People {
            file,
            allow_duplicates,
            over_capacity,
            ignore_columns,
            date_order,
            codes_out,
        }) => {
            let options = refuge_app::ImportOptions {
                allow_duplicates,
                over_capacity,
                ignore_columns,
                date_order,
            };
            people::import(config, file, options, codes_out.as_deref()).await
        }
        Command::Export(ExportCommand::People {
            reveal,
            output,
            force,
            bom,
        }) => people::export(config, reveal, output, force, bom).await,
        Command::Log { person } => audit::log(config, person).await,
        Command::AccessLog {
            by,
            action,
            code,
            from,
            to,
            limit,
            csv,
        } => {
            let filter = AccessFilter {
                actor: by,
                action,
                subject: code,
                from,
                to,
                before_seq: None,
                limit,
            };
            audit::access_log(config, &filter, csv.as_deref()).await
        }
        Command::Plan {
            seats,
            date,
            from,
            batches,
            input,
            policy,
            explain,
            json,
        } => {
            planning::plan_command(
                config,
                seats,
                date,
                from,
                batches.as_deref(),
                input.as_deref(),
                policy.as_deref(),
                explain,
                json,
            )
            .await
        }
        Command::Batch(command) => planning::batch_command(config, command).await,
        Command::Forecast {
            scenario,
            from_db,
            horizon,
            extra_transfer,
            arrival_factor,
            capacity,
            replications,
            seed,
            threads,
            show_scenario,
            json,
            svg,
            force,
        } => {
            let what_if = WhatIf {
                horizon_days: horizon,
                replications,
                seed,
                extra_transfers: extra_transfer,
                arrival_factor,
                capacities: capacity,
            };
            let source = if from_db {
                outlook::Source::Database(what_if)
            } else {
                match scenario {
                    Some(path) => outlook::Source::File(path),
                    None => anyhow::bail!("give --scenario FILE or --from-db"),
                }
            };
            outlook::forecast_command(
                config,
                outlook::ForecastArgs {
                    source,
                    threads,
                    show_scenario,
                    json,
                    svg,
                    force,
                },
            )
            .await
        }
        Command::Serve {
            demo,
            demo_people,
            listen,
            behind_proxy,
            tls_cert,
            tls_key,
        } => {
            let tls = match (tls_cert, tls_key) {
                (Some(certificate), Some(key)) => Some(
                    refuge_web::Tls::from_pem_files(&certificate, &key)
                        .map_err(|problem| anyhow::anyhow!("TLS: {problem}"))?,
                ),
                _ => None,
            };
            serve::serve(config, demo, demo_people, listen, behind_proxy, tls).await
        }
        Command::Verify => audit::verify(config).await,
    }
}
