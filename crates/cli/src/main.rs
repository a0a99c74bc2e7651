//! `refuge`: the command-line tool over refuge-app.

// glibc's malloc fragments badly under a large import or demo (millions of short-lived
// strings and records): mimalloc halves the import time of 100,000 people (bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Writes a line to standard output, returning the error (a closed pipe, a full disk)
/// instead of panicking as `println!` does.
macro_rules! outln {
    () => {
        std::io::Write::write_all(&mut std::io::stdout(), b"\n")?
    };
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout(), format_args!("{}\n", format_args!($($arg)*)))?
    };
}

/// `outln!` without the newline.
macro_rules! out {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout(), format_args!($($arg)*))?
    };
}

mod args;
mod outlook;
mod output;
mod planning;
mod secrets;

use anyhow::{Context, Result, bail};
use args::*;
use clap::Parser;
use refuge_app::demo::DemoOptions;
use refuge_app::*;
use refuge_core::*;
use refuge_store::DynStore;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REFUGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let code = exit_code(&error);
            // A reader that stops early (`refuge log | head`) is not an error: leave quietly.
            if code != CLOSED_PIPE {
                eprintln!("error: {error:#}");
            }
            std::process::ExitCode::from(code)
        }
    }
}

/// What a shell sees when a writer's reader went away (128 + SIGPIPE).
const CLOSED_PIPE: u8 = 141;

/// The one mapping from a failure to an exit status: by the kind of a use case's error
/// (sysexits.h numbers), 141 for a closed pipe, 1 for anything else.
fn exit_code(error: &anyhow::Error) -> u8 {
    let closed_pipe = error.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
            cause.downcast_ref::<AppError>().and_then(|app| match app {
                AppError::Output(io) => Some(io),
                _ => None,
            })
        });
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if closed_pipe {
        return CLOSED_PIPE;
    }
    match error.downcast_ref::<AppError>().map(AppError::kind) {
        Some(ErrorKind::Invalid) => 65,
        Some(ErrorKind::NotFound) => 66,
        Some(ErrorKind::Conflict | ErrorKind::Duplicate) => 75,
        Some(ErrorKind::Unauthenticated | ErrorKind::Forbidden) => 77,
        Some(ErrorKind::Internal) => 70,
        None => 1,
    }
}

/// The database URL from `--db-url-file` or `--db`.
fn db_url(global: &Global) -> Result<String> {
    match &global.db_url_file {
        Some(file) => url_argument(None, Some(file)),
        None => Ok(global.db.clone()),
    }
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

pub(crate) async fn open_app(global: &Global) -> Result<App> {
    let store = refuge_store::open(&db_url(global)?).await?;
    Ok(App::new(store, Box::new(SystemClock)))
}

/// Logs in as `--user` (or the admin created by init) with the passphrase from the usual
/// sources.
pub(crate) async fn login(app: &App, global: &Global) -> Result<Session> {
    let user = match &global.user {
        Some(user) => user.clone(),
        None => app
            .store()
            .meta(META_DEFAULT_USER)
            .await?
            .unwrap_or_else(|| "admin".to_string()),
    };
    let passphrase = secrets::passphrase(global, &format!("Passphrase for {user}: "))?;
    Ok(app.login(&user, &passphrase).await?)
}

async fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::Init {
            admin,
            expected_people,
        } => {
            let url = db_url(global)?;
            let passphrase = secrets::new_passphrase(
                global,
                "REFUGE_PASSPHRASE",
                &format!("New passphrase for {admin}"),
            )?;
            let node = NodeId(uuid::Uuid::now_v7());
            let store = refuge_store::create(&url, node).await?;
            let app = App::new(store, Box::new(SystemClock));
            let result = app.init(&admin, passphrase.value(), expected_people).await;
            if let Err(error) = result {
                app.into_store().close().await;
                discard_new_database(&url);
                return Err(error.into());
            }
            passphrase.announce(&admin)?;
            outln!(
                "Created {} with admin user '{admin}'.",
                refuge_store::describe_url(&url)
            );
        }
        Command::Demo {
            people,
            seed,
            history_days,
        } => {
            run_demo(global, people, seed, history_days).await?;
        }
        Command::Migrate {
            from,
            from_url_file,
            to,
            to_url_file,
        } => {
            let from = url_argument(from, from_url_file.as_deref())?;
            let to = url_argument(to, to_url_file.as_deref())?;
            migrate(&from, &to).await?;
        }
        Command::User(command) => user_command(global, command).await?,
        Command::Token(command) => token_command(global, command).await?,
        Command::Location(command) => location_command(global, command).await?,
        Command::Household(command) => household_command(global, command).await?,
        Command::Person(command) => person_command(global, command).await?,
        Command::Move {
            code,
            to,
            stage,
            at,
            over_capacity,
        } => {
            let app = open_app(global).await?;
            let session = login(&app, global).await?;
            let report = app
                .move_to(&session, &code, &to, stage, at, over_capacity)
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
        }
        Command::Flag { code, changes } => {
            let changes = parse_flag_changes(&changes)?;
            let app = open_app(global).await?;
            let session = login(&app, global).await?;
            let person = app.set_flags(&session, &code, &changes).await?;
            outln!("{}: flags {}", person.code, output::flags(&person.flags));
        }
        Command::Hold {
            code,
            reason,
            release,
        } => {
            let reason = match (reason, release) {
                (Some(reason), false) => Some(reason),
                (None, true) => None,
                _ => bail!("give either --reason REASON or --release"),
            };
            let app = open_app(global).await?;
            let session = login(&app, global).await?;
            let people = app.set_hold(&session, &code, reason).await?;
            match reason {
                Some(reason) => outln!("On hold ({reason}): {}", people.join(", ")),
                None => outln!("Hold released: {}", people.join(", ")),
            }
        }
        Command::Ready {
            code,
            documents,
            screening,
        } => {
            if documents.is_none() && screening.is_none() {
                bail!("give --documents yes|no and/or --screening yes|no");
            }
            let app = open_app(global).await?;
            let session = login(&app, global).await?;
            let people = app
                .set_ready(
                    &session,
                    &code,
                    documents.map(|yes| yes.0),
                    screening.map(|yes| yes.0),
                )
                .await?;
            outln!("Readiness recorded for {}", people.join(", "));
        }
        Command::Incident(command) => incident_command(global, command).await?,
        Command::Backlog { json, target_wait } => {
            let app = open_app(global).await?;
            let session = login(&app, global).await?;
            let lines = app.backlog(&session, target_wait).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&lines)?);
            } else {
                output::backlog(&lines)?;
            }
        }
        Command::Import(ImportCommand::People {
            file,
            allow_duplicates,
            over_capacity,
        }) => {
            let app = open_app(global).await?;
            let session = login(&app, global).await?;
            let input = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let mut bar = output::Progress::new();
            let report = app
                .import_people(
                    &session,
                    input,
                    ImportOptions {
                        allow_duplicates,
                        over_capacity,
                    },
                    &mut |step| bar.update(step.phase, step.done, step.total),
                )
                .await;
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
        }
        Command::Export(ExportCommand::People {
            csv: _,
            reveal,
            output,
        }) => {
            let app = open_app(global).await?;
            let session = login(&app, global).await?;
            let count = match &output {
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    app.export_people(&session, reveal, file).await?
                }
                None => {
                    app.export_people(&session, reveal, std::io::stdout().lock())
                        .await?
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
        }
        Command::Log { person } => {
            let app = open_app(global).await?;
            let session = login(&app, global).await?;
            let mut out = std::io::stdout().lock();
            app.history(&session, person.as_deref(), |page| {
                for event in page {
                    writeln!(
                        out,
                        "{}  {:<8} {:>7}  {:<18} {:<10} {}",
                        output::timestamp(event.recorded),
                        event.actor,
                        event.seq,
                        event.kind,
                        event.subject,
                        event.summary
                    )
                    .map_err(|error| AppError::Invalid {
                        field: "output".into(),
                        reason: error.to_string(),
                    })?;
                }
                Ok(())
            })
            .await?;
        }
        Command::AccessLog { limit } => {
            let app = open_app(global).await?;
            let session = login(&app, global).await?;
            for entry in app.access_log(&session, limit).await? {
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
                global,
                seats,
                date,
                from,
                batches.as_deref(),
                input.as_deref(),
                policy.as_deref(),
                explain,
                json,
            )
            .await?;
        }
        Command::Batch(command) => planning::batch_command(global, command).await?,
        Command::Forecast {
            scenario,
            from_db: _,
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
        } => {
            let what_if = WhatIf {
                horizon_days: horizon,
                replications,
                seed,
                extra_transfers: extra_transfer,
                arrival_factor,
                capacities: capacity,
            };
            outlook::forecast_command(
                global,
                outlook::ForecastArgs {
                    scenario,
                    what_if,
                    threads,
                    show_scenario,
                    json,
                    svg,
                },
            )
            .await?;
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
            serve(global, demo, demo_people, listen, behind_proxy, tls).await?;
        }
        Command::Verify => {
            let app = open_app(global).await?;
            let session = login(&app, global).await?;
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
        }
    }
    Ok(())
}

async fn serve(
    global: &Global,
    demo: bool,
    demo_people: usize,
    listen: std::net::SocketAddr,
    behind_proxy: bool,
    tls: Option<refuge_web::Tls>,
) -> Result<()> {
    if !listen.ip().is_loopback() && !behind_proxy && tls.is_none() {
        bail!(
            "refusing to serve on {listen} without TLS: give --tls-cert and --tls-key, or put refuge behind a TLS-terminating proxy and pass --behind-proxy"
        );
    }
    let store = if demo {
        let path =
            std::env::temp_dir().join(format!("refuge-demo-{}.db", uuid::Uuid::now_v7().simple()));
        let passphrase = secrets::new_passphrase(
            global,
            "REFUGE_PASSPHRASE",
            "Passphrase for every demo user",
        )?;
        let store: DynStore =
            Box::new(refuge_store::SqliteStore::create(&path, NodeId(uuid::Uuid::now_v7())).await?);
        let app = App::new(store, Box::new(SystemClock));
        let session = app
            .init("admin", passphrase.value(), demo_people as u64)
            .await?;
        let options = DemoOptions {
            people: demo_people,
            ..DemoOptions::default()
        };
        let report = app
            .populate_demo(&session, &options, passphrase.value(), &mut |_, _| {})
            .await?;
        drop(session);
        outln!(
            "Demo organisation: {} synthetic people in {}",
            report.people,
            path.display()
        );
        outln!("Log in as any of these users:");
        for (name, role, locations) in &report.users {
            let at = if locations.is_empty() {
                String::new()
            } else {
                format!(" at {}", locations.join(", "))
            };
            outln!("  {name:<16} {role}{at}");
        }
        passphrase.announce("every demo user")?;
        app.into_store()
    } else {
        refuge_store::open(&db_url(global)?).await?
    };
    let transport = if behind_proxy || tls.is_some() {
        refuge_web::Transport::Secure
    } else {
        refuge_web::Transport::Loopback
    };
    let state = std::sync::Arc::new(refuge_web::ServerState {
        app: App::new(store, Box::new(SystemClock)),
        sessions: refuge_web::Sessions::new(refuge_web::SessionPolicy::default()),
        transport,
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    outln!(
        "Serving on {scheme}://{} (Ctrl-C to stop)",
        listener.local_addr()?
    );
    let served = async {
        match tls {
            Some(tls) => refuge_web::serve_tls(state, listener, tls).await,
            None => refuge_web::serve(state, listener).await,
        }
    };
    tokio::select! {
        result = served => result?,
        _ = tokio::signal::ctrl_c() => outln!("Stopped."),
    }
    Ok(())
}

/// A database URL given directly or in a file (first line).
fn url_argument(url: Option<String>, file: Option<&Path>) -> Result<String> {
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
async fn migrate(from: &str, to: &str) -> Result<()> {
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

fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        // Absent files (no WAL yet) are fine.
        std::fs::remove_file(PathBuf::from(name)).ok();
    }
}

async fn run_demo(global: &Global, people: usize, seed: u64, history_days: i64) -> Result<()> {
    let url = db_url(global)?;
    let passphrase = secrets::new_passphrase(
        global,
        "REFUGE_PASSPHRASE",
        "Passphrase for every demo user",
    )?;
    let store = refuge_store::create(&url, NodeId(uuid::Uuid::now_v7())).await?;
    let app = App::new(store, Box::new(SystemClock));
    let mut bar = output::Progress::new();
    let result = async {
        let session = app.init("admin", passphrase.value(), people as u64).await?;
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
    }
    .await;
    bar.finish();
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            app.into_store().close().await;
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
    outln!(
        "Try: REFUGE_PASSPHRASE=… refuge --db {} --user coordinator backlog",
        refuge_store::describe_url(&url)
    );
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

async fn token_command(global: &Global, command: TokenCommand) -> Result<()> {
    let app = open_app(global).await?;
    let session = login(&app, global).await?;
    match command {
        TokenCommand::Create { label } => {
            let (token, text) = app.create_token(&session, &label).await?;
            eprintln!(
                "Token {} for {}. It is shown this once; keep it like a passphrase:",
                token.id,
                session.user().name
            );
            outln!("{text}");
        }
        TokenCommand::List => {
            let names: BTreeMap<UserId, String> = app
                .store()
                .users()
                .await?
                .into_iter()
                .map(|user| (user.id, user.name))
                .collect();
            outln!(
                "{:<12} {:<16} {:<26} {:<26} LABEL",
                "ID",
                "USER",
                "CREATED",
                "REVOKED"
            );
            for token in app.tokens(&session).await? {
                outln!(
                    "{:<12} {:<16} {:<26} {:<26} {}",
                    token.id,
                    names.get(&token.user).map_or("?", String::as_str),
                    token.created,
                    token.revoked.as_deref().unwrap_or("-"),
                    token.label
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let token = app.revoke_token(&session, &id).await?;
            outln!("Revoked token {}.", token.id);
        }
    }
    Ok(())
}

async fn user_command(global: &Global, command: UserCommand) -> Result<()> {
    let app = open_app(global).await?;
    match command {
        UserCommand::Add {
            name,
            role,
            location,
        } => {
            let session = login(&app, global).await?;
            let passphrase = secrets::new_passphrase(
                global,
                "REFUGE_NEW_PASSPHRASE",
                &format!("New passphrase for {name}"),
            )?;
            let user = app
                .add_user(
                    &session,
                    NewUser {
                        name: &name,
                        role,
                        location_codes: &location,
                        passphrase: passphrase.value(),
                    },
                )
                .await?;
            passphrase.announce(&user.name)?;
            outln!("Added {} user '{}'.", user.role, user.name);
        }
        UserCommand::List => {
            let session = login(&app, global).await?;
            let users = app.users(&session).await?;
            let locations: BTreeMap<LocationId, String> = app
                .store()
                .locations()
                .await?
                .into_iter()
                .map(|l| (l.id, l.code))
                .collect();
            outln!("{:<20} {:<12} {:<7} LOCATIONS", "NAME", "ROLE", "ACTIVE");
            for user in users {
                let codes: Vec<&str> = user
                    .locations
                    .iter()
                    .filter_map(|id| locations.get(id).map(String::as_str))
                    .collect();
                outln!(
                    "{:<20} {:<12} {:<7} {}",
                    user.name,
                    user.role.as_str(),
                    if user.active { "yes" } else { "no" },
                    codes.join(",")
                );
            }
        }
        UserCommand::Set {
            name,
            role,
            location,
            active,
        } => {
            let session = login(&app, global).await?;
            let user = app
                .change_user(
                    &session,
                    &name,
                    UserChange {
                        role,
                        location_codes: (!location.is_empty()).then_some(location.as_slice()),
                        active: active.map(|YesNo(active)| active),
                    },
                )
                .await?;
            outln!(
                "User '{}' is now {}{}.",
                user.name,
                user.role.as_str(),
                if user.active { "" } else { " (cannot log in)" }
            );
        }
        UserCommand::Passwd { name } => {
            let session = login(&app, global).await?;
            let passphrase = secrets::new_passphrase(
                global,
                "REFUGE_NEW_PASSPHRASE",
                &format!("New passphrase for {name}"),
            )?;
            app.reset_passphrase(&session, &name, passphrase.value())
                .await?;
            passphrase.announce(&name)?;
            outln!("Passphrase of '{name}' changed.");
        }
    }
    Ok(())
}

async fn location_command(global: &Global, command: LocationCommand) -> Result<()> {
    let app = open_app(global).await?;
    let session = login(&app, global).await?;
    match command {
        LocationCommand::Add {
            code,
            kind,
            country,
            capacity,
            name,
            address,
        } => {
            let location = app
                .add_location(
                    &session,
                    &code,
                    kind,
                    &country,
                    capacity,
                    name.as_deref(),
                    address.as_deref(),
                )
                .await?;
            outln!(
                "Added {} {} in {} with {} beds.",
                location.kind,
                location.code,
                location.country,
                location.capacity
            );
        }
        LocationCommand::List { reveal } => {
            let views = app.locations(&session, reveal).await?;
            output::locations(&views)?;
        }
    }
    Ok(())
}

async fn household_command(global: &Global, command: HouseholdCommand) -> Result<()> {
    let app = open_app(global).await?;
    let session = login(&app, global).await?;
    match command {
        HouseholdCommand::Add { split_allowed } => {
            let household = app.add_household(&session, split_allowed).await?;
            outln!("{}", household.code);
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

async fn person_command(global: &Global, command: PersonCommand) -> Result<()> {
    let app = open_app(global).await?;
    match command {
        PersonCommand::Add(add) => {
            let identity = add.identity()?;
            let session = login(&app, global).await?;
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
                    },
                )
                .await?;
            let household = app
                .store()
                .household(person.household)
                .await?
                .map(|h| h.code)
                .unwrap_or_default();
            outln!("Registered {} in household {household}.", person.code);
        }
        PersonCommand::Show { code, reveal, json } => {
            let session = login(&app, global).await?;
            let view = app.show_person(&session, &code, reveal).await?;
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&output::person_json(&view))?
                );
            } else {
                output::person(&view)?;
            }
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
            let session = login(&app, global).await?;
            let people = app
                .list_people(
                    &session,
                    &PeopleQuery {
                        stage,
                        location,
                        flag,
                        household,
                        waiting_longer_than_days: waiting_over,
                        name,
                        limit,
                        any_order: false,
                    },
                )
                .await?;
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&output::people_json(&people))?
                );
            } else {
                output::people(&people)?;
            }
        }
    }
    Ok(())
}

async fn incident_command(global: &Global, command: IncidentCommand) -> Result<()> {
    let app = open_app(global).await?;
    let session = login(&app, global).await?;
    match command {
        IncidentCommand::Add {
            location,
            kind,
            severity,
            people,
            note,
            date,
        } => {
            let incident = app
                .add_incident(
                    &session,
                    &location,
                    kind,
                    severity,
                    &people,
                    note.as_deref(),
                    date,
                )
                .await?;
            outln!("Recorded incident {}.", incident.code);
        }
        IncidentCommand::List { open, reveal } => {
            let incidents = app.incidents(&session, open, reveal).await?;
            output::incidents(&incidents)?;
        }
        IncidentCommand::Close { code } => {
            let incident = app.close_incident(&session, &code).await?;
            outln!("Closed incident {}.", incident.code);
        }
    }
    Ok(())
}

/// Whether standard input is a terminal (for prompts).
pub(crate) fn interactive() -> bool {
    std::io::stdin().is_terminal()
}
