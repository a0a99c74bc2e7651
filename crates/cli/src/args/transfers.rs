//! `refuge batch`.

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
