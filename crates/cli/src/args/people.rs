//! `refuge household`, `refuge person`, `refuge import` and `refuge export`.

use super::*;

#[derive(Subcommand)]
pub enum HouseholdCommand {
    /// Create an empty household; add people to it with `person add --household CODE`.
    Add {
        /// Members may travel on different transfers.
        #[arg(long)]
        split_allowed: bool,
    },
    /// Move a person into another household, or (without --to) a household of their own.
    Join {
        /// The person (P-…).
        code: String,
        #[arg(long)]
        to: Option<String>,
    },
    /// Move every member of one household into another.
    Merge {
        from: String,
        #[arg(long)]
        into: String,
    },
    /// Whether a household's members may travel on different transfers.
    SplitAllowed { code: String, allowed: YesNo },
    /// The members of a household.
    Show {
        code: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct PersonAdd {
    /// Location code where the person is now.
    #[arg(long)]
    pub location: String,
    /// Household code to join (default: a new household).
    #[arg(long)]
    pub household: Option<String>,
    /// For a new household: members may travel separately.
    #[arg(long)]
    pub split_allowed: bool,
    /// Register even if someone with the same name and birth year is registered already.
    #[arg(long)]
    pub allow_duplicate: bool,
    /// hiding, transit, sheltered (default) or detained.
    #[arg(long)]
    pub stage: Option<Stage>,
    /// Arrival at the current location (default: today).
    #[arg(long, value_parser = parse_date)]
    pub since: Option<Date>,
    /// Entry into the network's care (default: since).
    #[arg(long, value_parser = parse_date)]
    pub entered: Option<Date>,
    /// female, male, other or unknown.
    #[arg(long)]
    pub sex: Option<Sex>,
    #[arg(long)]
    pub birth_year: Option<i32>,
    /// A vulnerability flag (repeatable).
    #[arg(long)]
    pub flag: Vec<Flag>,
    /// Protected fields, one `field=value` per line (name, name_romanized, aliases,
    /// date_of_birth, origin, relatives, contact, notes). Keeps identities out of the shell
    /// history; the file is read, not kept.
    #[arg(long)]
    pub identity_file: Option<PathBuf>,
    /// Name (sealed). Prefer --identity-file: command lines can be seen by other users.
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub name_romanized: Option<String>,
    #[arg(long, value_parser = parse_date)]
    pub date_of_birth: Option<Date>,
    #[arg(long)]
    pub origin: Option<String>,
    #[arg(long)]
    pub contact: Option<String>,
    #[arg(long)]
    pub notes: Option<String>,
}

impl PersonAdd {
    /// The protected fields from the flags and the identity file.
    pub fn identity(&self) -> Result<BTreeMap<PersonField, String>> {
        let mut identity = match &self.identity_file {
            Some(path) => read_identity_file(path)?,
            None => BTreeMap::new(),
        };
        let given = [
            (PersonField::Name, self.name.clone()),
            (PersonField::NameRomanized, self.name_romanized.clone()),
            (
                PersonField::DateOfBirth,
                self.date_of_birth.map(|date| date.to_string()),
            ),
            (PersonField::Origin, self.origin.clone()),
            (PersonField::Contact, self.contact.clone()),
            (PersonField::Notes, self.notes.clone()),
        ];
        for (field, value) in given {
            if let Some(value) = value {
                identity.insert(field, value);
            }
        }
        Ok(identity)
    }
}

#[derive(Subcommand)]
pub enum PersonCommand {
    /// Register a person.
    Add(Box<PersonAdd>),
    /// Correct what was registered: only what differs is written; the old values stay
    /// sealed in the history.
    Correct {
        code: String,
        #[arg(long)]
        sex: Option<Sex>,
        #[arg(long)]
        birth_year: Option<i32>,
        /// New protected values, one `field=value` per line (as for `person add`).
        #[arg(long)]
        identity_file: Option<PathBuf>,
    },
    /// Merge a duplicate record into the person's other record (kept): flags, readiness and
    /// the earlier waiting start go to it, the duplicate's code leads to it. Not undone.
    Merge {
        /// The duplicate record.
        code: String,
        /// The record to keep.
        #[arg(long)]
        into: String,
    },
    /// One person; identity only with --reveal (logged).
    Show {
        code: String,
        #[arg(long)]
        reveal: bool,
        #[arg(long)]
        json: bool,
    },
    /// People, filtered; operational fields only.
    List {
        #[arg(long)]
        stage: Option<Stage>,
        #[arg(long)]
        location: Option<String>,
        #[arg(long)]
        flag: Option<Flag>,
        #[arg(long)]
        household: Option<String>,
        /// Only people waiting at their location for more than this many days.
        #[arg(long)]
        waiting_over: Option<i64>,
        /// Exact name (through the blind index).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import people from CSV (see docs/import.md for the columns). All or nothing.
    People(ImportPeopleArgs),
}

#[derive(Args)]
pub struct ImportPeopleArgs {
    pub file: PathBuf,
    /// Import rows that look like people already registered.
    #[arg(long)]
    pub allow_duplicates: bool,
    /// Import even where a location goes over capacity.
    #[arg(long)]
    pub over_capacity: bool,
    /// Columns of the file to leave out, comma-separated (e.g. phone,remarks).
    #[arg(long, value_delimiter = ',')]
    pub ignore_columns: Vec<String>,
    /// Dates besides ISO: dmy (01/06/2026 is 1 June) or mdy (6 January); never guessed.
    #[arg(long)]
    pub date_order: Option<DateOrder>,
    /// Write each line's new person and household codes here (CSV: line, person,
    /// household), to update the sheet without names.
    #[arg(long)]
    pub codes_out: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Export people as CSV (codes and operational fields; identities with --reveal).
    People(ExportPeopleArgs),
}

#[derive(Args)]
pub struct ExportPeopleArgs {
    /// Include identities (logged; the output is plaintext: keep it off shared disks).
    #[arg(long)]
    pub reveal: bool,
    /// Write to this file instead of standard output (a new file, 0600).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Replace the --output file if it exists.
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Begin with a UTF-8 byte-order mark, so that Excel on Korean Windows reads Hangul.
    #[arg(long)]
    pub bom: bool,
}

#[derive(Subcommand)]
pub enum WelfareCommand {
    /// Record a welfare check-in on a person: how they are, what they need, and what was
    /// said (sealed; from --text-file only, never the command line).
    CheckIn {
        /// The person (P-…).
        code: String,
        /// well, strained, struggling or crisis.
        #[arg(long)]
        wellbeing: Wellbeing,
        /// A need (medical, mental_health, food_or_clothing, family_contact, legal, safety,
        /// other); repeat for several.
        #[arg(long = "need")]
        needs: Vec<Need>,
        /// What was said, read from this file (sealed like a case note).
        #[arg(long)]
        text_file: Option<PathBuf>,
        /// Ask for a follow-up by this date (today or later).
        #[arg(long, value_parser = parse_date)]
        follow_up: Option<Date>,
    },
    /// The welfare checks due today or earlier, the most pressing first.
    Due {
        #[arg(long)]
        json: bool,
        /// List at most this many (the count is of all).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
    /// Show the schedule, or change the intervals given (in days).
    Schedule {
        /// The first check, this many days after the wait began.
        #[arg(long)]
        first_after_days: Option<u16>,
        /// Then every this many days.
        #[arg(long)]
        every_days: Option<u16>,
        /// Every this many days while flagged self_harm_risk.
        #[arg(long)]
        flagged_every_days: Option<u16>,
        /// This many days after a self-harm incident (0: the same day).
        #[arg(long)]
        after_self_harm_days: Option<u16>,
    },
}

#[derive(Subcommand)]
pub enum NoteCommand {
    /// Write a case note on a person. The text (sealed) is read from --text-file or from
    /// standard input, never from the command line, which other users can see.
    Add {
        /// The person (P-…).
        code: String,
        /// Ask for a follow-up by this date (today or later).
        #[arg(long, value_parser = parse_date)]
        follow_up: Option<Date>,
        /// Read the note from this file instead of standard input.
        #[arg(long)]
        text_file: Option<PathBuf>,
    },
    /// A person's notes, newest first (texts with --reveal, logged).
    List {
        code: String,
        #[arg(long)]
        reveal: bool,
    },
    /// Mark a note's follow-up done.
    Done {
        /// The person (P-…).
        code: String,
        /// The note's id, as `note list` shows it.
        note: String,
    },
    /// Follow-ups due today or earlier where you work, soonest first.
    Due,
}

/// Protected fields from a file, one `field=value` per line (blank lines and `#` comments
/// skipped). An error names the line, never what it holds.
pub fn read_identity_file(path: &std::path::Path) -> Result<BTreeMap<PersonField, String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", path.display()))?;
    parse_identity_text(&text).map_err(|wrong| {
        anyhow::anyhow!("{} line {}: {}", path.display(), wrong.line, wrong.problem)
    })
}

#[derive(Args)]
pub struct MoveArgs {
    /// A person (P-…) or household (H-…) code.
    pub code: String,
    /// The location code to move to.
    #[arg(long)]
    pub to: String,
    /// The new stage (default: unchanged).
    #[arg(long)]
    pub stage: Option<Stage>,
    /// The date of the move (default: today).
    #[arg(long, value_parser = parse_date)]
    pub at: Option<Date>,
    /// Move even if the location is full (recorded in the event).
    #[arg(long)]
    pub over_capacity: bool,
}
