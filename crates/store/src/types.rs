//! Values that cross the store boundary.

use crate::StoreResult;
use refuge_core::*;
use time::{Date, OffsetDateTime};

/// A new event before the store has placed it in its node's chain.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: EventId,
    pub actor: UserId,
    pub body: EventBody,
}

/// A precondition checked inside the write transaction.
#[derive(Clone, Debug)]
pub enum Guard {
    /// The location has beds for `arriving` more people (people present count against it).
    LocationHasRoom { location: LocationId, arriving: u32 },
    /// The record is still at the version the caller read (optimistic concurrency).
    Version { record: RecordRef, version: i64 },
}

/// A side write that commits with the events.
#[derive(Clone, Debug)]
pub enum SideWrite {
    /// Stores (or replaces) the data key wrapped under a credential.
    KeyWrap {
        credential: String,
        user: UserId,
        wrapped: String,
    },
    /// Deletes the key wrapped under a credential.
    DropKeyWrap { credential: String },
    /// Sets a setting in `meta`.
    Meta { key: String, value: String },
    /// Deletes a setting from `meta`.
    DropMeta { key: String },
    /// Records a new API token's public facts (its wrapped key is a `KeyWrap`).
    ApiToken(ApiToken),
    /// Replaces a token's sealed label (sealed again under its owner's new key).
    TokenLabel { id: String, label: String },
    /// Marks a token revoked and deletes its wrapped copy of the data key.
    RevokeApiToken {
        id: String,
        credential: String,
        at: String,
    },
    /// Stores (or replaces) a user's public key.
    UserKey { user: UserId, public_key: String },
    /// Adds a compartment's key pair of a new generation (its public half).
    Compartment(CompartmentKey),
    /// Stores (or replaces) a compartment's secret wrapped to one holder.
    HolderWrap(HolderWrap),
    /// Deletes every compartment secret wrapped to `holder`.
    DropHolderWraps { holder: String },
    /// Deletes a compartment's generation: its public key and every wrap of its secret.
    DropGeneration {
        compartment: String,
        generation: i64,
    },
    /// Stores (or replaces) a record's key, wrapped to its compartment.
    RecordKey(RecordKey),
    /// Destroys these records' keys (a purge): what was sealed under them cannot be opened.
    DropRecordKeys { records: Vec<String> },
}

/// A compartment's public key of one generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompartmentKey {
    /// A location's id, or `organisation`.
    pub compartment: String,
    pub generation: i64,
    pub public_key: String,
}

/// A compartment's secret wrapped to one holder: a user's id, or `recovery`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolderWrap {
    pub compartment: String,
    pub generation: i64,
    pub holder: String,
    pub wrapped: String,
}

/// A record's key wrapped to the compartment (and generation) it lives in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordKey {
    pub record: String,
    pub compartment: String,
    pub generation: i64,
    pub wrapped: String,
}

/// Every key of the compartment model, for `refuge migrate` and the key tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyTables {
    pub user_keys: Vec<(UserId, String)>,
    pub compartments: Vec<CompartmentKey>,
    pub holder_wraps: Vec<HolderWrap>,
    pub record_keys: Vec<RecordKey>,
}

/// An API token's public facts. Its secret is never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    pub user: UserId,
    pub label: String,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339, when revoked.
    pub revoked: Option<String>,
}

/// Everything one command writes, committed atomically.
#[derive(Clone, Debug, Default)]
pub struct Commit {
    pub events: Vec<NewEvent>,
    pub guards: Vec<Guard>,
    pub side_writes: Vec<SideWrite>,
    pub access: Vec<NewAccessEntry>,
    /// Wall clock in milliseconds, for the hybrid logical clock of the new events.
    pub now_millis: i64,
}

/// Replaces sealed values in place: given a value's slot, seals it again (or leaves it).
pub type ResealValue<'a> = &'a (dyn Fn(SealedSlot<'_>) -> StoreResult<()> + Send + Sync);

/// A re-seal of the whole organisation (`Store::reseal`): every sealed value of the log
/// through `value`, then the side writes and access entries of `commit` (which has no
/// events). `progress` hears (events done, events in all) as it goes.
pub struct Reseal<'a> {
    pub value: ResealValue<'a>,
    pub commit: Commit,
    pub progress: &'a (dyn Fn(u64, u64) + Send + Sync),
}

#[derive(Clone, Debug)]
pub struct NewAccessEntry {
    pub at: OffsetDateTime,
    /// The acting user's name; a failed login under a name that is no account says
    /// "(unknown user)".
    pub actor: String,
    /// `login`, `login_failed`, `reveal`, `export`, `user_added`, …
    pub action: String,
    /// The record concerned, by code (never a protected value).
    pub subject: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AccessEntry {
    /// The bytes the access-log chain covers.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        access_canonical(
            self.seq,
            &self.at,
            &self.actor,
            &self.action,
            &self.subject,
            &self.detail,
        )
    }
}

pub(crate) fn access_canonical(
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<Vec<u8>, CanonicalError> {
    Ok(canonical_json(&serde_json::json!({
        "seq": seq, "at": at, "actor": actor, "action": action, "subject": subject, "detail": detail,
    }))?
    .into_bytes())
}

/// Which access-log entries to read, newest first. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct AccessFilter {
    /// The user's name, exactly.
    pub actor: Option<String>,
    /// The action's word (`reveal`, `refused`, …).
    pub action: Option<String>,
    /// The record's code, exactly.
    pub subject: Option<String>,
    /// From this day on, on the clock of `offset`.
    pub from: Option<Date>,
    /// Up to and including this day, on the clock of `offset`.
    pub to: Option<Date>,
    /// Whose clock `from` and `to` are days of: the reader's time zone (None: UTC).
    pub offset: Option<time::UtcOffset>,
    /// Older than this entry: the next page.
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// Which people to list. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct PersonFilter {
    /// Any of these stages (empty: any stage but `merged`).
    pub stages: Vec<Stage>,
    pub locations: Option<Vec<LocationId>>,
    pub flag: Option<Flag>,
    pub household: Option<HouseholdId>,
    pub name_index: Option<i64>,
    /// Only people waiting since this date or longer.
    pub waiting_since_on_or_before: Option<Date>,
    pub limit: Option<u32>,
    /// Any order: with a limit, the query stops at the first matches instead of sorting all.
    pub unordered: bool,
    /// Only people after this (`Person::queue_since`, code) in the list order: the next page, found by the
    /// index however deep it is.
    pub after: Option<(Date, String)>,
}

/// Which incidents to read. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct IncidentFilter {
    pub open_only: bool,
    /// At least this severity (0 or 1: any).
    pub min_severity: u8,
    /// Only at these locations.
    pub locations: Option<Vec<LocationId>>,
    /// The newest this many (counting ignores it).
    pub limit: Option<u32>,
}

/// Backlog figures for one location as read from the store.
#[derive(Clone, Debug)]
pub struct BacklogRow {
    pub location: Location,
    pub present: u64,
    /// When the people waiting here (sheltered or detained) started waiting for a transfer,
    /// with how many started that day.
    pub waiting_since: Vec<(Date, u64)>,
    /// Open incidents by severity 1..=4.
    pub open_incidents: [u64; 4],
}

/// A position in the event log, in log order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventCursor {
    pub hlc: i64,
    pub node: NodeId,
    pub seq: i64,
}

impl EventCursor {
    pub fn of(event: &Event) -> Self {
        EventCursor {
            hlc: event.hlc,
            node: event.node,
            seq: event.seq,
        }
    }
}

/// The waiting people due a welfare check: the first of each way a check falls due (the
/// caller orders them by the schedule), and how many are due at each location.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WelfareDue {
    pub people: Vec<Person>,
    pub per_location: std::collections::BTreeMap<LocationId, u64>,
}

/// The few facts of a person a purge selects by, without the sealed fields: a purge of a
/// history of 300,000 reads 200,000 of these, not whole records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PersonFacts {
    pub id: PersonId,
    pub since: Date,
    pub purged: Option<Date>,
    pub merged_into: Option<PersonId>,
}

/// How far the log was when a merge read it: a merge is written only onto the log it was
/// computed from (else `StoreError::Conflict`, and the merge is computed again).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogMark {
    pub events: u64,
    pub last_hlc: i64,
}

/// Since `hlc` (a value of its clock), `node` held `event`, written elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    pub node: NodeId,
    pub event: EventId,
    pub hlc: i64,
}

/// The field given to a contradiction: an event that does not apply in the merged order.
pub const CONTRADICTION: &str = "contradiction";

/// What a merge left for a person to settle (docs/exchange.md): the edit `other`, replaced by
/// the concurrent `shown` from another node, or (`shown` none, field `contradiction`) an event
/// that does not apply where the merged order puts it, `detail` saying why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredConflict {
    pub other: EventId,
    pub record: uuid::Uuid,
    pub field: String,
    pub shown: Option<EventId>,
    pub detail: String,
}

/// Received events merged into the log (`Store::receive`), as refuge-app computed the merge:
/// the events verbatim, the records before and after, and what goes with them, all or
/// nothing.
#[derive(Debug, Default)]
pub struct Received {
    /// The log the merge was computed from.
    pub expected: LogMark,
    pub events: Vec<Event>,
    /// The records as stored (those that may change) and as the merge leaves them.
    pub before: State,
    pub after: State,
    /// Whether the whole projection was folded again (received events older than the
    /// newest held): then the monthly flow and the conflicts are replaced by `flow` and
    /// `conflicts`; otherwise `flow` is added, the edit conflicts of `edited` are replaced
    /// and `conflicts` added.
    pub refolded: bool,
    pub flow: std::collections::BTreeMap<String, (i64, i64)>,
    pub edited: Vec<uuid::Uuid>,
    pub conflicts: Vec<StoredConflict>,
    pub local_codes: Vec<(uuid::Uuid, String)>,
    /// Since when this installation holds the received events (its clock value).
    pub received_hlc: i64,
    /// What other nodes held since when, as the bundle said.
    pub receipts: Vec<Receipt>,
    pub side_writes: Vec<SideWrite>,
    pub access: Vec<NewAccessEntry>,
}

/// What exchange keeps besides the log, for `refuge migrate`.
#[derive(Debug, Default)]
pub struct ExchangeTables {
    pub local_codes: Vec<(uuid::Uuid, String)>,
    /// This installation's own (events it received) and other nodes'.
    pub receipts: Vec<Receipt>,
    pub conflicts: Vec<StoredConflict>,
}
