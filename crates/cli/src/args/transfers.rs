//! `refuge plan`, `refuge batch` and `refuge forecast`.

use super::*;

#[derive(Subcommand)]
pub enum BatchCommand {
    /// Create a draft batch and plan its manifest.
    Create {
        #[arg(long, value_parser = parse_date)]
        date: Date,
        #[arg(long)]
        seats: u32,
        #[arg(long, value_delimiter = ',')]
        from: Vec<String>,
        /// Destination location code (a reception centre).
        #[arg(long)]
        to: String,
        #[arg(long)]
        policy: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    List,
    /// A batch, its manifest and (for a draft) the planner's explanations.
    Show {
        code: String,
        #[arg(long)]
        policy: Option<PathBuf>,
        #[arg(long)]
        explain: bool,
        #[arg(long)]
        json: bool,
    },
    /// Pin a household (or a person's household) in or out of a draft, or clear its pin;
    /// the draft is re-planned.
    Pin {
        code: String,
        household: String,
        #[arg(long = "in", conflicts_with_all = ["out", "clear"])]
        pin_in: bool,
        #[arg(long, conflicts_with = "clear")]
        out: bool,
        #[arg(long)]
        clear: bool,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Re-plan a draft with the people waiting now.
    Plan {
        code: String,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    Confirm {
        code: String,
    },
    /// Return a confirmed batch to draft.
    Unconfirm {
        code: String,
    },
    /// Mark departed: everyone on the manifest moves to the destination as departed.
    Depart {
        code: String,
    },
    /// Mark completed: everyone departed on it has arrived.
    Complete {
        code: String,
    },
    Cancel {
        code: String,
    },
    /// The printable manifest as CSV (codes; names with --reveal, logged).
    Manifest {
        code: String,
        #[arg(long)]
        reveal: bool,
        /// Write to this file instead of standard output (a new file, 0600).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Replace the --output file if it exists.
        #[arg(long, requires = "output")]
        force: bool,
    },
}

#[derive(Args)]
pub struct PlanArgs {
    #[arg(long)]
    pub seats: Option<u32>,
    #[arg(long, value_parser = parse_date)]
    pub date: Option<Date>,
    /// Origin location codes (default: every shelter and detention location).
    #[arg(long, value_delimiter = ',')]
    pub from: Vec<String>,
    /// Several batches: a TOML file of [[batch]] tables (id, date, seats, origins).
    #[arg(long, conflicts_with_all = ["seats", "input"])]
    pub batches: Option<PathBuf>,
    /// A planning instance as JSON (docs/planner.md); needs no database.
    #[arg(long, conflicts_with_all = ["seats", "batches", "from"])]
    pub input: Option<PathBuf>,
    /// Policy weights and limits as TOML (docs/planner.md).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Explain every household, not only those selected.
    #[arg(long)]
    pub explain: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ForecastArgs {
    /// A scenario as TOML (docs/forecast.md); needs no database.
    #[arg(long, conflicts_with = "from_db", required_unless_present = "from_db")]
    pub scenario: Option<PathBuf>,
    /// Build the scenario from the database: occupants, recent rates, planned batches.
    #[arg(long)]
    pub from_db: bool,
    /// Horizon: days (180 or 180d) or months (6m).
    #[arg(long, value_parser = parse_horizon, default_value = "180d")]
    pub horizon: f64,
    /// What-if: a one-off transfer, DATE:SEATS (repeatable).
    #[arg(long = "extra-transfer", value_parser = parse_transfer)]
    pub extra_transfer: Vec<(Date, u32)>,
    /// What-if: multiply every arrival rate.
    #[arg(long, default_value_t = 1.0)]
    pub arrival_factor: f64,
    /// What-if: a shelter's capacity, LOC=BEDS (repeatable).
    #[arg(long = "capacity", value_parser = parse_capacity)]
    pub capacity: Vec<(String, u32)>,
    /// One destination country's queue (e.g. KR): the people whose wish allows it and the
    /// transfers going there (with --from-db).
    #[arg(long, requires = "from_db")]
    pub destination: Option<String>,
    #[arg(long, default_value_t = 200)]
    pub replications: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: the machine's cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the scenario built from the database (TOML) as well.
    #[arg(long)]
    pub show_scenario: bool,
    #[arg(long)]
    pub json: bool,
    /// Write the chart here as SVG (a new file).
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Replace the --svg file if it exists.
    #[arg(long, requires = "svg")]
    pub force: bool,
}
