//! Benchmarks behind refuge's performance targets. Each prints its figures; none is a test.
//!
//! - `import`: refuge's CSV import (sealing, blind indexes, events, projection) against a bare
//!   SQLite insert of the same operational rows, alternating A/B in one run.
//! - `backlog`: the backlog query on a small and a large demo database, alternating.
//! - `duress`: a login against a duress login (which erases the organisation), pair by pair.
//!
//! Build with `cargo build --release -p refuge-bench`; see bench/README.md.

// The same allocator as the refuge binary (see crates/cli/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use refuge_app::{App, FixedClock, ImportOptions, Session, WhatIf};
use refuge_core::{Flag, LocationKind, NodeId, Stage};
use refuge_store::SqliteStore;
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PASSPHRASE: &str = "synthetic bench passphrase";
const LOCATIONS: &[&str] = &["SHL-1", "SHL-2", "SHL-3", "IDC-1"];

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// refuge import vs a bare SQLite insert of the same operational rows.
    Import {
        #[arg(long, default_value_t = 300_000)]
        people: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Scratch directory for the databases (removed between rounds).
        #[arg(long, default_value = "bench/out")]
        dir: PathBuf,
        /// Also import into a fresh PostgreSQL database on this server each round (a URL
        /// allowed to create databases, e.g. from scripts/with-postgres --durable).
        #[arg(long)]
        postgres: Option<String>,
    },
    /// The backlog on two existing databases (made with `refuge demo`), alternating.
    Backlog {
        small: PathBuf,
        large: PathBuf,
        #[arg(long, default_value_t = 20)]
        rounds: usize,
    },
    /// The planner on a generated instance; writes the instance as JSON for the MILP peer.
    Plan {
        #[arg(long, default_value_t = 10_000)]
        households: usize,
        #[arg(long, default_value_t = 12)]
        batches: usize,
        #[arg(long, default_value_t = 8)]
        origins: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Give every batch this many seats (e.g. 468, the July 2004 airlift).
        #[arg(long)]
        seats: Option<i64>,
        /// Write the instance here (JSON, the `refuge plan --input` format).
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// The simulator on a scenario file: wall time, customers per second, results to compare
    /// with the SimPy model (bench/sim_peer.py).
    Sim {
        scenario: PathBuf,
        #[arg(long)]
        replications: Option<u32>,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// The dashboard's queries (backlog, waiting histogram, monthly flow, open incidents,
    /// batches, first page of people) on two databases given by URL, alternating: e.g. the
    /// same organisation on SQLite and on PostgreSQL (`refuge migrate`).
    Dashboard {
        a: String,
        b: String,
        #[arg(long, default_value_t = 20)]
        rounds: usize,
    },
    /// Writes per second with N concurrent writers (moves of people between shelters) on an
    /// organisation made with `refuge demo`; prints acknowledged and refused writes.
    Writers {
        url: String,
        /// Writer counts to run, one after the other.
        #[arg(long, value_delimiter = ',', default_value = "1,8,50")]
        writers: Vec<usize>,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// The largest forecast the budget allows, on an organisation made with `refuge demo`:
    /// its wall time and the process's peak memory, and how fast the backlog answers other
    /// users meanwhile (against before it started).
    Forecast {
        url: String,
        /// Backlog queries timed before the forecast, for comparison.
        #[arg(long, default_value_t = 50)]
        rounds: usize,
    },
    /// A login with the passphrase against a login with the duress passphrase (which erases
    /// the organisation first), pair by pair, each round on a fresh copy of a database made
    /// with `refuge demo`.
    Duress {
        db: PathBuf,
        #[arg(long, default_value_t = 9)]
        rounds: usize,
        /// Scratch directory for the copies.
        #[arg(long, default_value = "bench/out")]
        dir: PathBuf,
    },
    /// `refuge key rotate --location` on a compartment of N people (imported first, each
    /// round in a fresh database): every record key re-wrapped to a new generation.
    Rotate {
        #[arg(long, default_value_t = 100_000)]
        people: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long, default_value = "bench/out")]
        dir: PathBuf,
    },
    /// On copies of a database made with `refuge demo` by the release before compartment keys
    /// (one data key): `refuge upgrade-keys`, then on the upgraded copy `key rotate`
    /// (re-wrap) and `key rotate --reseal` of every compartment, round by round.
    Reseal {
        db: PathBuf,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Scratch directory for the copies.
        #[arg(long, default_value = "bench/out")]
        dir: PathBuf,
    },
    /// Writes a synthetic people CSV (for trying the import by hand).
    PeopleCsv {
        #[arg(long, default_value_t = 300_000)]
        people: usize,
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Import {
                people,
                rounds,
                dir,
                postgres,
            } => import(people, rounds, &dir, postgres.as_deref()).await,
            Command::Dashboard { a, b, rounds } => dashboard(&a, &b, rounds).await,
            Command::Duress { db, rounds, dir } => duress(&db, rounds, &dir).await,
            Command::Reseal { db, rounds, dir } => reseal(&db, rounds, &dir).await,
            Command::Rotate {
                people,
                rounds,
                dir,
            } => rotate(people, rounds, &dir).await,
            Command::Writers {
                url,
                writers,
                seconds,
            } => concurrent_writers(&url, &writers, seconds).await,
            Command::Backlog {
                small,
                large,
                rounds,
            } => backlog(&small, &large, rounds).await,
            Command::Plan {
                households,
                batches,
                origins,
                seed,
                rounds,
                seats,
                write,
            } => {
                let mut instance = plan_instance(households, batches, origins, seed);
                if let Some(seats) = seats {
                    for batch in &mut instance.batches {
                        batch.seats = seats;
                    }
                }
                plan(&instance, seed, rounds, write.as_deref())
            }
            Command::Sim {
                scenario,
                replications,
                threads,
                rounds,
            } => sim(&scenario, replications, threads, rounds),
            Command::Forecast { url, rounds } => largest_forecast(&url, rounds).await,
            Command::PeopleCsv { people, out } => {
                std::fs::write(&out, people_csv(people))
                    .with_context(|| format!("writing {}", out.display()))?;
                println!("wrote {people} synthetic people to {}", out.display());
                Ok(())
            }
        }
    })
}

/// Synthetic people with every protected column filled; households of one to four.
fn people_csv(people: usize) -> String {
    people_csv_at(people, None)
}

/// `people_csv`, everyone at `only` when given.
fn people_csv_at(people: usize, only: Option<&str>) -> String {
    let mut out = String::from(
        "household_ref,name,sex,birth_year,location,stage,since,flags,name_romanized,date_of_birth,origin,contact,notes\n",
    );
    for index in 0..people {
        let household = index / 3 + index % 2;
        let year = 1950 + (index % 60) as i32;
        let sex = if index % 4 == 0 { "male" } else { "female" };
        let stage = if index % 3 == 0 {
            "detained"
        } else {
            "sheltered"
        };
        let location = only.unwrap_or(LOCATIONS[index % LOCATIONS.len()]);
        let flags = match index % 10 {
            0 => "minor",
            1 => "elderly;chronic_illness",
            2 => "self_harm_risk",
            _ => "",
        };
        out.push_str(&format!(
            "hh-{household},벤치사람{index:06},{sex},{year},{location},{stage},2026-{:02}-{:02},{flags},\
             Bench Person {index:06},{year}-0{}-1{},Synthetic county {},Synthetic contact {index},Synthetic bench note {index}\n",
            1 + index % 9,
            1 + index % 28,
            1 + index % 9,
            index % 9,
            index % 40
        ));
    }
    out
}

fn stats(label: &str, samples: &[Duration]) -> f64 {
    let mut sorted: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    println!(
        "{label:<34} min {:>9.4}s  median {:>9.4}s  max {:>9.4}s",
        sorted[0],
        median,
        sorted[sorted.len() - 1]
    );
    median
}

fn ratio_stats(label: &str, numerators: &[Duration], denominators: &[Duration]) {
    let mut ratios: Vec<f64> = numerators
        .iter()
        .zip(denominators)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "{label:<34} min {:>9.3}   median {:>9.3}   max {:>9.3}",
        ratios[0],
        ratios[ratios.len() / 2],
        ratios[ratios.len() - 1]
    );
}

/// Times `rotate` (see the command's help).
async fn rotate(people: usize, rounds: usize, dir: &Path) -> Result<()> {
    let csv_text = people_csv_at(people, Some(LOCATIONS[0]));
    let path = dir.join("rotate.db");
    let mut times = Vec::new();
    for _ in 0..rounds {
        remove_db(&path);
        let url = format!("sqlite:{}", path.display());
        let (app, admin) = fresh_org(&url, people).await?;
        app.import_people(
            &admin,
            csv_text.as_bytes(),
            ImportOptions {
                allow_duplicates: true,
                over_capacity: true,
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await?;
        let started = Instant::now();
        let (_, records) = app.rotate_keys(&admin, Some(LOCATIONS[0])).await?;
        times.push(started.elapsed());
        anyhow::ensure!(records >= people, "{records} record keys re-wrapped");
        app.close().await;
    }
    remove_db(&path);
    let median = stats(&format!("rotate a {people}-person compartment"), &times);
    println!(
        "{:.0} record keys re-wrapped per second (median)",
        people as f64 / median
    );
    Ok(())
}

/// Copies a SQLite database file (and its WAL) to `copy`.
fn copy_db(db: &Path, copy: &Path) -> Result<()> {
    remove_db(copy);
    for suffix in ["", "-wal"] {
        let from = format!("{}{suffix}", db.display());
        if Path::new(&from).exists() {
            std::fs::copy(&from, format!("{}{suffix}", copy.display()))
                .with_context(|| format!("copying {from}"))?;
        }
    }
    Ok(())
}

/// Times `reseal` (see the command's help).
async fn reseal(db: &Path, rounds: usize, dir: &Path) -> Result<()> {
    let copy = dir.join("reseal.db");
    let (mut upgrading, mut rewrapping, mut resealing) = (Vec::new(), Vec::new(), Vec::new());
    let mut records = 0;
    let mut events = 0;
    for _ in 0..rounds {
        copy_db(db, &copy)?;
        let store = refuge_store::open(&copy.display().to_string()).await?;
        let app = App::new(store, Box::new(refuge_app::SystemClock));
        let admin = app.login("admin", PASSPHRASE).await?;
        let started = Instant::now();
        let upgraded = app.upgrade_keys(&admin, PASSPHRASE, &|_, _| {}).await?;
        upgrading.push(started.elapsed());
        let admin = app.login("admin", PASSPHRASE).await?;
        let started = Instant::now();
        app.rotate_keys(&admin, None).await?;
        rewrapping.push(started.elapsed());
        let started = Instant::now();
        let resealed = app.reseal_keys(&admin, None, &|_, _| {}).await?;
        resealing.push(started.elapsed());
        anyhow::ensure!(resealed.records == upgraded.records, "records resealed");
        anyhow::ensure!(app.verify(&admin).await?.ok(), "verify after the reseal");
        (records, events) = (resealed.records, resealed.events);
        app.close().await;
    }
    remove_db(&copy);
    println!(
        "{rounds} rounds on copies of {}: {records} records, {events} events",
        db.display()
    );
    stats("upgrade-keys (one data key to compartments)", &upgrading);
    stats("key rotate (every compartment, re-wrap)", &rewrapping);
    stats("key rotate --reseal (every compartment)", &resealing);
    ratio_stats("reseal / upgrade", &resealing, &upgrading);
    Ok(())
}

/// Times the two logins of `duress` (see the command's help).
async fn duress(db: &Path, rounds: usize, dir: &Path) -> Result<()> {
    const DURESS: &str = "synthetic bench duress phrase";
    let copy = dir.join("duress.db");
    let mut normal = Vec::new();
    let mut erasing = Vec::new();
    let mut compacting = Vec::new();
    for _ in 0..rounds {
        copy_db(db, &copy)?;
        let store = refuge_store::open(&copy.display().to_string()).await?;
        let app = App::new(store, Box::new(refuge_app::SystemClock));
        let session = app.login("coordinator", PASSPHRASE).await?;
        app.set_duress_passphrase(&session, PASSPHRASE, Some(DURESS))
            .await?;
        let started = Instant::now();
        app.login("coordinator", PASSPHRASE).await?;
        normal.push(started.elapsed());
        let started = Instant::now();
        let empty = app.login("coordinator", DURESS).await?;
        erasing.push(started.elapsed());
        anyhow::ensure!(empty.opened_after_erase(), "the duress login did not erase");
        let started = Instant::now();
        app.compact_after_erase().await?;
        compacting.push(started.elapsed());
        app.close().await;
    }
    remove_db(&copy);
    println!("{} rounds on copies of {}", rounds, db.display());
    stats("login with the passphrase", &normal);
    stats("login with the duress passphrase", &erasing);
    ratio_stats("duress / normal", &erasing, &normal);
    stats("compaction after it (background)", &compacting);
    Ok(())
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        // Absent files (no WAL yet) are fine.
        std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
    }
}

/// A fresh organisation with the benchmark's locations; returns the app and admin session.
async fn fresh_org(url: &str, people: usize) -> Result<(App, Session)> {
    let store = refuge_store::create(url, NodeId(uuid::Uuid::now_v7())).await?;
    let app = App::new(
        store,
        Box::new(FixedClock(time::macros::datetime!(2026-11-29 09:00 UTC))),
    );
    let admin = app.init("admin", PASSPHRASE, people as u64).await?;
    for code in LOCATIONS {
        let kind = if code.starts_with("IDC") {
            LocationKind::Detention
        } else {
            LocationKind::Shelter
        };
        app.add_location(
            &admin,
            code,
            kind,
            "TH",
            u32::try_from(people).unwrap_or(u32::MAX),
            None,
            None,
        )
        .await?;
    }
    Ok((app, admin))
}

/// The baseline: the same operational rows, one prepared INSERT each, one transaction, the
/// same pragmas (WAL, synchronous=FULL), no sealing, no indexes beyond the key, no log.
async fn bare_insert(path: &Path, csv_text: &str, multi_row: bool) -> Result<Duration> {
    remove_db(path);
    let url = format!("sqlite:{}?mode=rwc", path.display());
    let mut connection = sqlx::SqliteConnection::connect(&url).await?;
    sqlx::raw_sql(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE people (id TEXT PRIMARY KEY, household TEXT NOT NULL, sex TEXT NOT NULL,
           birth_year INTEGER, location TEXT NOT NULL, stage TEXT NOT NULL, since TEXT NOT NULL,
           flags TEXT NOT NULL) STRICT;",
    )
    .execute(&mut connection)
    .await?;
    let start = Instant::now();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        rows.push((
            uuid::Uuid::now_v7().to_string(),
            record[0].to_string(),
            record[2].to_string(),
            record[3].parse::<i64>()?,
            record[4].to_string(),
            record[5].to_string(),
            record[6].to_string(),
            record[7].to_string(),
        ));
    }
    let mut tx = connection.begin().await?;
    if multi_row {
        for chunk in rows.chunks(1_000) {
            let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO people (id, household, sex, birth_year, location, stage, since, flags) VALUES {values}"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                query = query
                    .bind(&row.0)
                    .bind(&row.1)
                    .bind(&row.2)
                    .bind(row.3)
                    .bind(&row.4)
                    .bind(&row.5)
                    .bind(&row.6)
                    .bind(&row.7);
            }
            query.execute(&mut *tx).await?;
        }
    } else {
        for row in &rows {
            sqlx::query(
                "INSERT INTO people (id, household, sex, birth_year, location, stage, since, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&row.0)
            .bind(&row.1)
            .bind(&row.2)
            .bind(row.3)
            .bind(&row.4)
            .bind(&row.5)
            .bind(&row.6)
            .bind(&row.7)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    let elapsed = start.elapsed();
    connection.close().await?;
    Ok(elapsed)
}

/// One timed `refuge import` of `csv_text` into a fresh organisation at `url`.
async fn refuge_import(url: &str, people: usize, csv_text: &str) -> Result<Duration> {
    let (app, admin) = fresh_org(url, people).await?;
    let start = Instant::now();
    let mut phases: Vec<(&'static str, Duration)> = Vec::new();
    let report = app
        .import_people(
            &admin,
            csv_text.as_bytes(),
            ImportOptions {
                allow_duplicates: true,
                ..ImportOptions::default()
            },
            &mut |step| {
                if phases.last().is_none_or(|(phase, _)| *phase != step.phase) {
                    phases.push((step.phase, start.elapsed()));
                }
            },
        )
        .await?;
    let elapsed = start.elapsed();
    let phase_text: Vec<String> = phases
        .iter()
        .map(|(phase, at)| format!("{phase} from {:.2}s", at.as_secs_f64()))
        .collect();
    println!("  {}: phases {}", app.backend(), phase_text.join(", "));
    assert_eq!(report.people, people);
    app.close().await;
    Ok(elapsed)
}

/// A fresh database on a PostgreSQL server; returns its URL.
async fn postgres_database(admin: &str) -> Result<String> {
    let name = format!("refuge_bench_{}", uuid::Uuid::now_v7().simple());
    let mut connection = sqlx::PgConnection::connect(admin).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

async fn import(people: usize, rounds: usize, dir: &Path, postgres: Option<&str>) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let csv_text = people_csv(people);
    println!(
        "import benchmark: {people} people with protected fields, {rounds} rounds, A/B alternating"
    );
    let refuge_db = dir.join("import-refuge.db");
    let bare_db = dir.join("import-bare.db");
    let (mut refuge_times, mut single_times, mut multi_times, mut postgres_times) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        remove_db(&refuge_db);
        refuge_times
            .push(refuge_import(&refuge_db.display().to_string(), people, &csv_text).await?);
        single_times.push(bare_insert(&bare_db, &csv_text, false).await?);
        multi_times.push(bare_insert(&bare_db, &csv_text, true).await?);
        if let Some(admin) = postgres {
            let url = postgres_database(admin).await?;
            postgres_times.push(refuge_import(&url, people, &csv_text).await?);
        }
        println!(
            "round {}: refuge {:.3}s, bare single-row {:.3}s, bare multi-row {:.3}s{}",
            round + 1,
            refuge_times[round].as_secs_f64(),
            single_times[round].as_secs_f64(),
            multi_times[round].as_secs_f64(),
            postgres_times
                .get(round)
                .map(|time| format!(", refuge on PostgreSQL {:.3}s", time.as_secs_f64()))
                .unwrap_or_default()
        );
    }
    let refuge_median = stats("refuge import (A)", &refuge_times);
    let single_median = stats("bare insert, single-row (B1)", &single_times);
    let multi_median = stats("bare insert, multi-row (B2)", &multi_times);
    ratio_stats("time ratio A/B1", &refuge_times, &single_times);
    ratio_stats("time ratio A/B2", &refuge_times, &multi_times);
    if !postgres_times.is_empty() {
        let postgres_median = stats("refuge import on PostgreSQL (P)", &postgres_times);
        ratio_stats("time ratio P/A", &postgres_times, &refuge_times);
        println!(
            "PostgreSQL rate (median): {:.0} people/s",
            people as f64 / postgres_median
        );
    }
    println!(
        "rates (median): refuge {:.0} people/s; bare {:.0} rows/s single-row, {:.0} rows/s multi-row",
        people as f64 / refuge_median,
        people as f64 / single_median,
        people as f64 / multi_median
    );
    // The target compares with the bare insert of one row per statement (B1), as an import
    // program would write it; the multi-row insert (B2) is shown beside it.
    println!(
        "refuge's rate as a fraction of the bare single-row insert: {:.2} (target: at least 0.33); \
         of the bare multi-row insert: {:.2}",
        single_median / refuge_median,
        multi_median / refuge_median
    );
    remove_db(&refuge_db);
    remove_db(&bare_db);
    Ok(())
}

/// Opens an organisation by URL and logs in as its coordinator.
async fn open_as_coordinator(url: &str) -> Result<(App, Session)> {
    let store = refuge_store::open(url).await?;
    let app = App::new(store, Box::new(refuge_app::SystemClock));
    let session = app
        .login(
            "coordinator",
            &std::env::var("REFUGE_PASSPHRASE").unwrap_or_else(|_| PASSPHRASE.into()),
        )
        .await?;
    Ok((app, session))
}

/// Every query behind the dashboard page, and the people page's first screen, each timed.
async fn dashboard_queries(app: &App, session: &Session) -> Result<Vec<(&'static str, Duration)>> {
    let mut times = Vec::new();
    let mut start = Instant::now();
    let mut lap = |name: &'static str, times: &mut Vec<(&'static str, Duration)>| {
        times.push((name, start.elapsed()));
        start = Instant::now();
    };
    app.backlog(session, None).await?;
    lap("backlog + histogram", &mut times);
    app.backlog_by_destination(session, None).await?;
    lap("waiting by destination", &mut times);
    app.monthly_flow(session, 12).await?;
    lap("monthly flow", &mut times);
    app.open_incidents_at_least(session, 3, 20).await?;
    lap("severe incidents", &mut times);
    app.batches(session).await?;
    lap("batches", &mut times);
    for flag in [Flag::SelfHarmRisk, Flag::MedicalUrgent] {
        app.list_people(
            session,
            &refuge_app::PeopleQuery {
                flag: Some(flag),
                waiting_longer_than_days: Some(-1),
                limit: Some(21),
                ..Default::default()
            },
        )
        .await?;
    }
    lap("urgent people", &mut times);
    app.due_follow_ups(session, 20).await?;
    lap("due follow-ups", &mut times);
    app.checks_due(session, 20).await?;
    lap("welfare checks due", &mut times);
    app.list_people(
        session,
        &refuge_app::PeopleQuery {
            limit: Some(200),
            ..Default::default()
        },
    )
    .await?;
    lap("people page", &mut times);
    Ok(times)
}

async fn dashboard(a: &str, b: &str, rounds: usize) -> Result<()> {
    let (a_app, a_session) = open_as_coordinator(a).await?;
    let (b_app, b_session) = open_as_coordinator(b).await?;
    println!(
        "dashboard benchmark: A = {} ({}), B = {} ({}), {rounds} rounds alternating",
        refuge_store::describe_url(a),
        a_app.backend(),
        refuge_store::describe_url(b),
        b_app.backend()
    );
    let total = |times: &[(&str, Duration)]| times.iter().map(|(_, time)| *time).sum::<Duration>();
    let (mut a_rounds, mut b_rounds) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        a_rounds.push(dashboard_queries(&a_app, &a_session).await?);
        b_rounds.push(dashboard_queries(&b_app, &b_session).await?);
    }
    let a_times: Vec<Duration> = a_rounds.iter().map(|times| total(times)).collect();
    let b_times: Vec<Duration> = b_rounds.iter().map(|times| total(times)).collect();
    stats("all queries, A", &a_times);
    stats("all queries, B", &b_times);
    ratio_stats("time ratio B/A", &b_times, &a_times);
    for (index, (name, _)) in a_rounds[0].iter().enumerate() {
        let median = |rounds: &[Vec<(&str, Duration)>]| {
            let mut times: Vec<Duration> = rounds.iter().map(|times| times[index].1).collect();
            times.sort();
            times[times.len() / 2].as_secs_f64() * 1000.0
        };
        println!(
            "  {name:<20} median A {:>8.2} ms  B {:>8.2} ms",
            median(&a_rounds),
            median(&b_rounds)
        );
    }
    Ok(())
}

async fn concurrent_writers(url: &str, counts: &[usize], seconds: u64) -> Result<()> {
    let (app, session) = open_as_coordinator(url).await?;
    let app = std::sync::Arc::new(app);
    let session = std::sync::Arc::new(session);
    let codes: Vec<String> = app
        .list_people(
            &session,
            &refuge_app::PeopleQuery {
                stage: Some(Stage::Sheltered),
                ..Default::default()
            },
        )
        .await?
        .into_iter()
        .map(|view| view.person.code)
        .collect();
    anyhow::ensure!(
        codes.len() >= 50,
        "the organisation needs 50 sheltered people"
    );
    let codes = std::sync::Arc::new(codes);
    let shelters = ["SHL-BKK-1", "SHL-BKK-2", "SHL-CNX-3"];
    println!(
        "writers benchmark on {} ({}): moves between shelters, {seconds} s per run",
        refuge_store::describe_url(url),
        app.backend()
    );
    for &writers in counts {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..writers)
            .map(|writer| {
                let (app, session, codes) = (app.clone(), session.clone(), codes.clone());
                tokio::spawn(async move {
                    let (mut acknowledged, mut refused) = (0u64, 0u64);
                    let mut round = writer;
                    while Instant::now() < deadline {
                        round += writers;
                        // Each writer its own people, so refusals measure contention only.
                        let code = &codes[(writer + round * 50) % codes.len()];
                        let to = shelters[round % shelters.len()];
                        match app
                            .move_to(&session, code, to, Some(Stage::Sheltered), None, true)
                            .await
                        {
                            Ok(_) => acknowledged += 1,
                            Err(refuge_app::AppError::Store(_)) => refused += 1,
                            Err(error) => return Err(anyhow::Error::from(error)),
                        }
                    }
                    anyhow::Ok((acknowledged, refused))
                })
            })
            .collect();
        let (mut acknowledged, mut refused) = (0, 0);
        for task in tasks {
            let (done, failed) = task.await??;
            acknowledged += done;
            refused += failed;
        }
        println!(
            "  {writers:>3} writers: {:.1} writes/s acknowledged ({acknowledged} in {seconds} s), {refused} refused",
            acknowledged as f64 / seconds as f64
        );
    }
    Ok(())
}

async fn backlog(small: &Path, large: &Path, rounds: usize) -> Result<()> {
    let open = |path: PathBuf| async move {
        let store = SqliteStore::open(&path).await?;
        let app = App::new(
            Box::new(store) as refuge_store::DynStore,
            Box::new(refuge_app::SystemClock),
        );
        let session = app
            .login(
                "coordinator",
                &std::env::var("REFUGE_PASSPHRASE").unwrap_or_else(|_| PASSPHRASE.into()),
            )
            .await?;
        anyhow::Ok((app, session))
    };
    let (small_app, small_session) = open(small.to_path_buf()).await?;
    let (large_app, large_session) = open(large.to_path_buf()).await?;
    let present =
        |lines: Vec<refuge_app::BacklogLine>| lines.iter().map(|line| line.present).sum::<u64>();
    println!(
        "backlog benchmark: {} ({} people at shelters and detention) vs {} ({}), {rounds} rounds alternating",
        small.display(),
        present(small_app.backlog(&small_session, None).await?),
        large.display(),
        present(large_app.backlog(&large_session, None).await?),
    );
    let (mut small_times, mut large_times) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        small_app.backlog(&small_session, None).await?;
        small_times.push(start.elapsed());
        let start = Instant::now();
        large_app.backlog(&large_session, None).await?;
        large_times.push(start.elapsed());
    }
    stats("backlog, small database", &small_times);
    stats("backlog, large database", &large_times);
    ratio_stats("time ratio large/small", &large_times, &small_times);
    Ok(())
}

/// A planning instance shaped like the corridor: mixed batch sizes (20–470 seats, charters
/// among regular flights), several origin shelters per batch, households of one to five.
fn plan_instance(
    households: usize,
    batches: usize,
    origins: usize,
    seed: u64,
) -> refuge_plan::Instance {
    use refuge_core::Flag;
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).max(1);
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let origin_names: Vec<String> = (0..origins).map(|o| format!("SHL-{o:02}")).collect();
    let batch_list = (0..batches)
        .map(|index| {
            let mut allowed: Vec<String> = origin_names
                .iter()
                .filter(|_| next(2) == 0)
                .cloned()
                .collect();
            if allowed.is_empty() {
                allowed.push(origin_names[index % origins].clone());
            }
            let seats = if next(4) == 0 {
                300 + next(171)
            } else {
                20 + next(180)
            };
            refuge_plan::Batch {
                id: format!("B{index:02}"),
                day: 7 * index as i64 + next(5) as i64,
                seats: seats as i64,
                origins: allowed,
            }
        })
        .collect();
    let flags = [
        Flag::Minor,
        Flag::SelfHarmRisk,
        Flag::Elderly,
        Flag::Pregnant,
        Flag::MedicalUrgent,
    ];
    let household_list = (0..households)
        .map(|index| refuge_plan::Household {
            id: format!("H-{index:05}"),
            size: [1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5][next(12) as usize],
            origin: origin_names[next(origins as u64) as usize].clone(),
            waiting_days: next(240) as f64,
            flags: if next(4) == 0 {
                vec![flags[next(5) as usize]]
            } else {
                Vec::new()
            },
            eligible: next(20) > 0,
            ineligible_reason: None,
            priority: None,
            pin: None,
        })
        .collect();
    refuge_plan::Instance {
        end_day: None,
        batches: batch_list,
        households: household_list,
        policy: refuge_plan::Policy::default(),
    }
}

fn plan(
    instance: &refuge_plan::Instance,
    seed: u64,
    rounds: usize,
    write: Option<&Path>,
) -> Result<()> {
    if let Some(path) = write {
        std::fs::write(path, serde_json::to_string(instance)?)?;
    }
    let seats: i64 = instance.batches.iter().map(|batch| batch.seats).sum();
    println!(
        "planner benchmark: {} households, {} batches, {seats} seats, seed {seed}",
        instance.households.len(),
        instance.batches.len()
    );
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..rounds {
        let start = Instant::now();
        let plan = refuge_plan::solve(instance)?;
        times.push(start.elapsed());
        last = Some(plan);
    }
    if let Some(plan) = last {
        println!(
            "objective {:.6}  bound {:.6}  gap {:.2e}  optimal {}  nodes {}",
            plan.objective, plan.bound, plan.gap, plan.optimal, plan.nodes
        );
    }
    stats("solve", &times);
    Ok(())
}

fn sim(path: &Path, replications: Option<u32>, threads: usize, rounds: usize) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut scenario: refuge_sim::Scenario = toml::from_str(&text)?;
    if let Some(replications) = replications {
        scenario.replications = replications;
    }
    scenario.validate()?;
    let mut times = Vec::new();
    let mut summary = None;
    for _ in 0..rounds {
        let start = Instant::now();
        let runs = refuge_sim::run(&scenario, threads);
        let simulated = start.elapsed();
        let forecast = refuge_sim::summarize(&scenario, &runs);
        times.push(start.elapsed());
        eprintln!(
            "  simulate {:.3}s, summarise {:.3}s",
            simulated.as_secs_f64(),
            (start.elapsed() - simulated).as_secs_f64()
        );
        let shelters = scenario.shelters.len();
        let last = runs[0].backlog_age.len() - 1;
        let waiting_at_end: f64 = runs
            .iter()
            .map(|run| {
                (0..shelters)
                    .map(|s| {
                        f64::from(
                            run.occupancy[last * shelters + s]
                                + run.waiting_list[last * shelters + s],
                        )
                    })
                    .sum::<f64>()
            })
            .sum::<f64>()
            / runs.len() as f64;
        summary = Some((forecast, waiting_at_end));
    }
    let Some((forecast, waiting_at_end)) = summary else {
        return Ok(());
    };
    println!(
        "refuge-sim: {} replications of {} days on {threads} threads, {} customers",
        scenario.replications, scenario.horizon_days, forecast.arrivals
    );
    let median = stats("simulate and summarise", &times);
    println!(
        "{:.0} customers/s (median)",
        forecast.arrivals as f64 / median
    );
    println!(
        "mean wait {:.2} days over {} departures; mean people waiting at the horizon {:.1}",
        forecast.wait.mean, forecast.wait.departed, waiting_at_end
    );
    Ok(())
}

/// The process's peak resident memory so far (Linux `VmHWM`), in MiB.
fn peak_memory_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// See `Command::Forecast`.
async fn largest_forecast(url: &str, rounds: usize) -> Result<()> {
    let (app, session) = open_as_coordinator(url).await?;
    let app = std::sync::Arc::new(app);
    let session = std::sync::Arc::new(session);
    // Every what-if input at its bound; then as many replications as the budget allows.
    let mut what_if = WhatIf {
        horizon_days: refuge_app::MAX_HORIZON_DAYS,
        arrival_factor: refuge_app::MAX_ARRIVAL_FACTOR,
        replications: refuge_app::MAX_REPLICATIONS,
        ..WhatIf::default()
    };
    let scenario = loop {
        let scenario = app.scenario_from_db(&session, &what_if).await?;
        if refuge_app::FORECAST_BUDGET.check(&scenario).is_ok() || what_if.replications == 1 {
            break scenario;
        }
        what_if.replications = (what_if.replications / 2).max(1);
    };
    let work = scenario.work();
    println!(
        "largest allowed forecast: {} days, arrival factor {}, {} replications, about {:.0} arrivals",
        what_if.horizon_days, what_if.arrival_factor, what_if.replications, work.total_arrivals
    );
    let mut before = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        app.backlog(&session, None).await?;
        before.push(start.elapsed());
    }
    let memory_before = peak_memory_mib();
    let started = Instant::now();
    let forecast = {
        let app = app.clone();
        let session = session.clone();
        tokio::task::spawn_blocking(move || app.forecast(&session, &scenario, 2))
    };
    let mut during = Vec::new();
    while !forecast.is_finished() {
        let start = Instant::now();
        app.backlog(&session, None).await?;
        during.push(start.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let result = forecast.await??;
    println!(
        "forecast wall time {:.2}s, {} arrivals simulated; peak memory {:.0} MiB (before it: {memory_before:.0} MiB)",
        started.elapsed().as_secs_f64(),
        result.arrivals,
        peak_memory_mib()
    );
    stats("backlog for others, before", &before);
    if !during.is_empty() {
        stats("backlog for others, during", &during);
    }
    Ok(())
}
