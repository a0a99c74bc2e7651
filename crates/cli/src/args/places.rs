//! `refuge location` and `refuge incident`.

use super::*;

#[derive(Subcommand)]
pub enum LocationCommand {
    Add {
        /// A short code such as SHL-BKK-1 (never a real place name: codes are not sealed).
        code: String,
        /// safe_house, shelter, detention, reception or other.
        #[arg(long)]
        kind: LocationKind,
        /// ISO 3166-1 alpha-2 country code, e.g. TH.
        #[arg(long)]
        country: String,
        /// Beds.
        #[arg(long)]
        capacity: u32,
        /// The real name (sealed).
        #[arg(long)]
        name: Option<String>,
        /// The address (sealed).
        #[arg(long)]
        address: Option<String>,
    },
    List {
        /// Show the sealed names and addresses (logged).
        #[arg(long)]
        reveal: bool,
    },
}

#[derive(Subcommand)]
pub enum IncidentCommand {
    Add {
        #[arg(long)]
        location: String,
        /// conflict, self_harm, medical, raid, arrest, abuse, theft or other.
        #[arg(long)]
        kind: IncidentKind,
        /// 1 (minor) to 4 (critical).
        #[arg(long)]
        severity: u8,
        /// People involved, by code, comma-separated.
        #[arg(long, value_delimiter = ',')]
        people: Vec<String>,
        /// What happened (sealed).
        #[arg(long)]
        note: Option<String>,
        /// When (default: today).
        #[arg(long, value_parser = parse_date)]
        date: Option<Date>,
        /// The time of day it happened, HH:MM on the location's clock.
        #[arg(long, value_parser = parse_time)]
        time: Option<time::Time>,
    },
    List {
        /// Open incidents only.
        #[arg(long)]
        open: bool,
        /// Show the sealed narratives (logged).
        #[arg(long)]
        reveal: bool,
    },
    Close {
        code: String,
    },
}
