//! `refuge node`, `refuge peer` and `refuge bundle` (docs/exchange.md).

use super::*;

#[derive(Subcommand)]
pub enum NodeCommand {
    /// This installation's public device key and its fingerprint, to give to a peer and
    /// compare aloud (made the first time it is asked for).
    Keys {
        /// Also write the device's age identity to this file (0600), to open a bundle with
        /// the standard `age` tool in an emergency (logged).
        #[arg(long)]
        age_identity: Option<PathBuf>,
        /// Replace the identity file if it exists.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
pub enum PeerCommand {
    /// Add an installation to exchange bundles with: its key from its `refuge node keys`.
    Add {
        /// A short name for it (letters, digits, '-', '_', '.').
        name: String,
        /// Its device key (refuge-device1:…).
        #[arg(long)]
        key: String,
    },
    /// Every peer, with its fingerprint and the last bundle numbers sent and received.
    List,
    /// Stop exchanging with a peer: nothing more goes to it, its bundles are refused.
    Remove { name: String },
}

#[derive(Subcommand)]
pub enum BundleCommand {
    /// Write the events of the selected people (whole households), households or
    /// locations, sealed to the peer and signed by this installation. Without --reveal the
    /// peer gets codes and operational fields only. Logged.
    Export(BundleExportArgs),
    /// Open and check a bundle received from a peer, and say what it holds (sender, created,
    /// events new and already here) without writing anything of it. Logged.
    Inspect {
        /// The bundle file.
        file: PathBuf,
    },
    /// Check a bundle received from a peer (as `inspect` does) and merge its events: the
    /// same result whatever order bundles come in; concurrent edits and contradictions are
    /// kept for `refuge conflicts`. Logged.
    Import {
        /// The bundle file.
        file: PathBuf,
        /// Check and show what the merge would do (codes renamed, conflicts) without
        /// writing it.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Args)]
pub struct BundleExportArgs {
    /// The peer it goes to.
    #[arg(long)]
    pub to: String,
    /// A person's code (their household goes with them); repeat for more.
    #[arg(long = "person")]
    pub people: Vec<String>,
    /// A household's code; repeat for more.
    #[arg(long = "household")]
    pub households: Vec<String>,
    /// Everyone at this location; repeat for more.
    #[arg(long = "location")]
    pub locations: Vec<String>,
    /// Everyone on this transfer batch's manifest (with their households); repeat for more.
    #[arg(long = "batch")]
    pub batches: Vec<String>,
    /// Only what happened from this day on (YYYY-MM-DD); the peer must hold what came before.
    #[arg(long, value_parser = parse_date)]
    pub since: Option<Date>,
    /// Include what opens the identities (needs the right to reveal them).
    #[arg(long)]
    pub reveal: bool,
    /// Days the peer has to read it (1 to 365).
    #[arg(long, default_value_t = refuge_app::DEFAULT_EXPIRY_DAYS)]
    pub expires_in: u16,
    /// The bundle file to write (0600).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand)]
pub enum ConflictsCommand {
    /// Settle a conflict, on every installation that receives it: keep the value shown, or
    /// the other one (written again, so that it is shown everywhere).
    Resolve {
        /// The event of the value not shown, as `refuge conflicts` lists it.
        event: String,
        /// shown or other.
        #[arg(long)]
        keep: Kept,
    },
}
