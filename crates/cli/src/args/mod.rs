//! Command-line arguments.

mod exchange;
mod people;
mod places;
mod transfers;
mod users;

pub use exchange::*;
pub use people::*;
pub use places::*;
pub use transfers::*;
pub use users::*;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
pub use refuge_app::DateOrder;
use refuge_core::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use time::Date;

#[derive(Parser)]
#[command(
    name = "refuge",
    version,
    about = "Secure case management and transfer logistics for refugee shelters",
    long_about = "Secure case management and transfer logistics for refugee shelters.\n\n\
        Identities are sealed before they reach the disk. Every command acts as a user and \
        unlocks the organisation's key with that user's passphrase (terminal prompt, \
        --passphrase-file or REFUGE_PASSPHRASE)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args)]
pub struct Global {
    /// The database: a file path, sqlite:PATH, or postgres://USER@HOST[:PORT]/DATABASE.
    #[arg(long, global = true, env = "REFUGE_DB", default_value = "refuge.db")]
    pub db: String,
    /// Read the database URL from this file (first line) instead of --db, so that a
    /// PostgreSQL password stays out of the command line and the environment.
    #[arg(long, global = true, env = "REFUGE_DB_URL_FILE")]
    pub db_url_file: Option<PathBuf>,
    /// The user to act as (default: the admin created by init).
    #[arg(long, global = true, env = "REFUGE_USER")]
    pub user: Option<String>,
    /// Read the passphrase from this file (first line) instead of the terminal.
    #[arg(long, global = true, env = "REFUGE_PASSPHRASE_FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Read a new passphrase from this file (user add, user passwd, user duress, recover).
    #[arg(long, global = true)]
    pub new_passphrase_file: Option<PathBuf>,
}

pub fn parse_date(text: &str) -> Result<Date, String> {
    parse_day(text).ok_or_else(|| format!("'{text}' is not a date (YYYY-MM-DD)"))
}

pub fn parse_time(text: &str) -> Result<time::Time, String> {
    parse_time_of_day(text)
        .ok_or_else(|| format!("'{text}' is not a time of day (HH:MM, 00:00 to 23:59)"))
}

/// yes/no.
#[derive(Clone, Copy, Debug)]
pub struct YesNo(pub bool);

impl FromStr for YesNo {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "yes" | "true" | "y" | "1" => Ok(YesNo(true)),
            "no" | "false" | "n" | "0" => Ok(YesNo(false)),
            _ => Err(format!("'{text}' is not yes or no")),
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a new organisation database with its data key and first admin user.
    Init {
        /// Name of the first admin user.
        #[arg(long, default_value = "admin")]
        admin: String,
        /// Roughly how many people the organisation will register; sizes the blind indexes.
        #[arg(long, default_value_t = 10_000)]
        expected_people: u64,
    },
    /// Create a synthetic demo organisation (a new database) for trying refuge out.
    Demo {
        /// How many people to invent.
        #[arg(long, default_value_t = 3_000)]
        people: usize,
        /// Random seed: the same seed gives the same organisation.
        #[arg(long, default_value_t = 2004)]
        seed: u64,
        /// Days of history before today.
        #[arg(long, default_value_t = 548)]
        history_days: i64,
    },
    /// Write an encrypted backup of the database (SQLite) while it stays in use: a consistent
    /// copy, checked, encrypted with age to the organisation's recovery key, read back. Needs
    /// no passphrase; only the recovery code opens it. PostgreSQL: pg_dump (docs/backup.md).
    Backup {
        /// The backup file to write (0600).
        #[arg(long)]
        out: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Restore a backup into the database given by --db (a SQLite file), with the recovery
    /// code (from --code-file, REFUGE_RECOVERY_CODE or the terminal): decrypted beside it,
    /// checked (integrity, every chain, the replay), given a new device epoch, then moved into
    /// place. Refuses to replace an existing database without --force (stop `refuge serve`
    /// first).
    Restore(RestoreArgs),
    /// Destroy the identities of the people who arrived before a date (an admin; the
    /// retention policy, docs/retention.md): their record keys are destroyed, so their
    /// identity, case notes and the narratives of incidents that concerned only them can
    /// never be opened again, in the log too; sex, birth year, dates, stages, locations and
    /// flags stay for reports. Every session ends. Run again after a stop, it goes on.
    Purge {
        /// People who arrived (reached their destination) before this day (YYYY-MM-DD).
        #[arg(long, value_parser = parse_date)]
        arrived_before: Date,
        /// Count what would be destroyed, and destroy nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy a whole organisation, events and all, to another database.
    ///
    /// E.g. from a laptop's SQLite file to the office PostgreSQL server, or back. The
    /// destination must hold no organisation (a new SQLite file, or an empty PostgreSQL
    /// database); every table's row count is compared afterwards.
    Migrate(MigrateArgs),
    /// Users and their roles.
    #[command(subcommand)]
    User(UserCommand),
    /// Compartment keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Upgrade an organisation made before compartment keys (one data key) to them (an
    /// admin): every record gets its own key in its compartment, every sealed value is sealed
    /// again, the log is chained again, and a new recovery code is printed. Other users keep
    /// their passphrases; their keys move at their first login. API tokens are revoked.
    UpgradeKeys,
    /// The organisation recovery code: made at init, kept on paper, opens everything.
    #[command(subcommand)]
    RecoveryCode(RecoveryCodeCommand),
    /// Set a new passphrase for an admin from the organisation recovery code, when no admin
    /// can log in. The code comes from --code-file, REFUGE_RECOVERY_CODE or the terminal;
    /// the new passphrase from --new-passphrase-file, REFUGE_NEW_PASSPHRASE, the terminal, or
    /// is generated and shown once.
    Recover {
        /// The admin whose passphrase is set (default: the admin created by init).
        #[arg(long)]
        admin: Option<String>,
        /// Read the recovery code from this file (first line); without it, from
        /// REFUGE_RECOVERY_CODE, or typed at the terminal.
        #[arg(long)]
        code_file: Option<PathBuf>,
    },
    /// API tokens: credentials for programs that use the JSON API as you.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Safe houses, shelters, detention centres, reception centres.
    #[command(subcommand)]
    Location(LocationCommand),
    /// Households: the units that travel together.
    #[command(subcommand)]
    Household(HouseholdCommand),
    /// Register, show and list people.
    #[command(subcommand)]
    Person(PersonCommand),
    /// Move a person, or a whole household (H-…), to a location.
    Move(MoveArgs),
    /// Set (+flag) or clear (-flag) vulnerability flags, e.g. `refuge flag P-7KQ2M +self_harm_risk`.
    Flag {
        code: String,
        #[arg(required = true, allow_hyphen_values = true)]
        changes: Vec<String>,
    },
    /// Put a person or household on hold (not eligible for transfer), or release it.
    Hold {
        code: String,
        /// medical, legal, security, family, documents or other.
        #[arg(long)]
        reason: Option<HoldReason>,
        #[arg(long)]
        release: bool,
    },
    /// Record transfer readiness of a person or household.
    Ready {
        code: String,
        /// Travel documents ready (yes/no).
        #[arg(long)]
        documents: Option<YesNo>,
        /// Screening done (yes/no).
        #[arg(long)]
        screening: Option<YesNo>,
    },
    /// Record where a person, or every member of a household, wants to go: a two-letter
    /// country code (KR), undecided, or stay (does not want to move on). Transfers seat
    /// only people who want to go where they go.
    Wish { code: String, wish: DestinationWish },
    /// Incidents: conflicts, self-harm, medical, raids, arrests, …
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// Case notes on a person, with follow-ups.
    #[command(subcommand)]
    Note(NoteCommand),
    /// Welfare checks during long waits: record a check-in, list the checks due, see or
    /// set the schedule (docs/welfare.md).
    #[command(subcommand)]
    Welfare(WelfareCommand),
    /// Capacity, occupancy and waiting times at every shelter and detention location.
    Backlog {
        #[arg(long)]
        json: bool,
        /// The target wait in days (default: the organisation's setting, 60).
        #[arg(long)]
        target_wait: Option<i64>,
        /// The people waiting by where they want to go, with the seats planned there,
        /// instead of by location.
        #[arg(long)]
        by_destination: bool,
    },
    /// Import records from a file.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export records.
    #[command(subcommand)]
    Export(ExportCommand),
    /// The event history, of everything or of one person.
    Log {
        #[arg(long)]
        person: Option<String>,
    },
    /// The access log, newest first: logins, unlocks, token use, reveals, exports and what
    /// was refused (admin, auditor).
    AccessLog(AccessLogArgs),
    /// Check every hash chain and replay the event log against the stored tables.
    Verify,
    /// Propose who goes on the next transfer(s): from the database (one batch with --seats
    /// and --date, or several with --batches FILE.toml), or a stand-alone --input FILE.json.
    Plan(PlanArgs),
    /// Transfer batches: create (planned as a draft), pin, re-plan, confirm, depart, complete.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Serve the web application. With --demo, on a fresh synthetic demo organisation.
    Serve(ServeArgs),
    /// Forecast the backlog: a scenario file, or the live database with what-if changes.
    Forecast(ForecastArgs),
    /// This installation's exchange identity.
    #[command(subcommand)]
    Node(NodeCommand),
    /// The installations this one exchanges bundles with.
    #[command(subcommand)]
    Peer(PeerCommand),
    /// Sealed, signed bundles of records for a peer, and checking and merging those received.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// What merges of received bundles left for a person to settle: concurrent edits of one
    /// field on two installations (the value shown everywhere and the other), and events
    /// that contradict the ones before them (admin, coordinator). `conflicts resolve` settles
    /// one.
    Conflicts {
        #[command(subcommand)]
        command: Option<ConflictsCommand>,
    },
}

#[derive(Args)]
pub struct MigrateArgs {
    /// The source database URL.
    #[arg(long, required_unless_present = "from_url_file")]
    pub from: Option<String>,
    /// Read the source database URL from this file (first line).
    #[arg(long, conflicts_with = "from")]
    pub from_url_file: Option<PathBuf>,
    /// The destination database URL.
    #[arg(long, required_unless_present = "to_url_file")]
    pub to: Option<String>,
    /// Read the destination database URL from this file (first line).
    #[arg(long, conflicts_with = "to")]
    pub to_url_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup file.
    pub file: PathBuf,
    /// Replace the database if it exists.
    #[arg(long)]
    pub force: bool,
    /// Read the recovery code from this file (first line).
    #[arg(long)]
    pub code_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct AccessLogArgs {
    /// Only this user's entries (`--user` is who runs the command).
    #[arg(long = "by")]
    pub by: Option<String>,
    /// Only this action (login, unlock, token_used, reveal, export, refused, …).
    #[arg(long)]
    pub action: Option<String>,
    /// Only entries about this record (a person, incident or batch code).
    #[arg(long)]
    pub code: Option<String>,
    /// From this day (UTC).
    #[arg(long, value_parser = parse_date)]
    pub from: Option<Date>,
    /// Up to and including this day (UTC).
    #[arg(long, value_parser = parse_date)]
    pub to: Option<Date>,
    /// At most this many entries (default 100, at most 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Write every matching entry as CSV to this file instead (the export is logged).
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Build a fresh demo organisation (in the system's temporary directory) and serve it.
    #[arg(long)]
    pub demo: bool,
    /// People in the demo organisation.
    #[arg(long, default_value_t = 3_000)]
    pub demo_people: usize,
    /// Address to listen on. Anything but loopback needs TLS (--tls-cert and --tls-key) or
    /// --behind-proxy.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// A TLS-terminating reverse proxy is in front: cookies become __Host- and Secure.
    #[arg(long, conflicts_with = "tls_cert")]
    pub behind_proxy: bool,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// `180`, `180d` or `6m` (months of 30.4375 days).
pub fn parse_horizon(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, unit) = match text.strip_suffix('m') {
        Some(months) => (months, 30.4375),
        None => (text.strip_suffix('d').unwrap_or(text), 1.0),
    };
    match number.parse::<f64>() {
        Ok(value) if value > 0.0 && value.is_finite() => Ok(value * unit),
        _ => Err(format!("'{text}' is not a horizon such as 180d or 6m")),
    }
}

/// `2026-12-15:468`.
pub fn parse_transfer(text: &str) -> Result<(Date, u32), String> {
    let (date, seats) = text
        .split_once(':')
        .ok_or_else(|| format!("'{text}' is not DATE:SEATS"))?;
    let seats: u32 = seats
        .parse()
        .map_err(|_| format!("'{seats}' is not a number of seats"))?;
    if seats == 0 {
        return Err("seats must be positive".into());
    }
    Ok((parse_date(date)?, seats))
}

/// `SHL-1=400`.
pub fn parse_capacity(text: &str) -> Result<(String, u32), String> {
    let (code, beds) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not LOC=BEDS"))?;
    let beds: u32 = beds
        .parse()
        .map_err(|_| format!("'{beds}' is not a number of beds"))?;
    Ok((code.trim().to_string(), beds))
}
