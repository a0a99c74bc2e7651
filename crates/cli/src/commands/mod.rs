//! One module per noun; `run` is the table of contents of the command line.

pub mod audit;
pub mod backup;
pub mod exchange;
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

pub async fn run(cli: Cli) -> Result<()> {
    let config = Config::resolve(&cli.global)?;
    let result = command(&config, cli.command).await;
    // What the role or the compartments refused goes to the access log, failed or not.
    let written = config.write_refusals().await;
    result.and(written)
}

/// One arm per command: the noun modules take it from here.
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
        Command::Migrate(args) => setup::migrate(args).await,
        Command::Backup { out, force } => backup::backup(config, &out, force).await,
        Command::Restore(args) => backup::restore(config, args).await,
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
        Command::Move(args) => people::move_to(config, args).await,
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
        Command::Wish { code, wish } => people::wish(config, code, wish).await,
        Command::Incident(command) => incidents::incident(config, command).await,
        Command::Note(command) => notes::note(config, command).await,
        Command::Welfare(command) => notes::welfare(config, command).await,
        Command::Backlog {
            json,
            target_wait,
            by_destination,
        } => outlook::backlog(config, json, target_wait, by_destination).await,
        Command::Import(ImportCommand::People(args)) => people::import(config, args).await,
        Command::Export(ExportCommand::People(args)) => people::export(config, args).await,
        Command::Log { person } => audit::log(config, person).await,
        Command::AccessLog(args) => audit::access_log(config, args).await,
        Command::Plan(args) => planning::plan_command(config, args).await,
        Command::Batch(command) => planning::batch_command(config, command).await,
        Command::Forecast(args) => outlook::forecast_command(config, args).await,
        Command::Serve(args) => serve::serve(config, args).await,
        Command::Verify => audit::verify(config).await,
        Command::Node(command) => exchange::node(config, command).await,
        Command::Peer(command) => exchange::peer(config, command).await,
        Command::Bundle(command) => exchange::bundle(config, command).await,
        Command::Conflicts { command } => exchange::conflicts(config, command).await,
    }
}
