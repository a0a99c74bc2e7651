//! refuge-app: the use cases. Authorization is decided here and only here; identities are
//! sealed here before anything reaches the store, and opened here only for an actor allowed
//! to see them.

mod access;
mod backlog;
mod backup;
mod compartments;
mod dashboard;
pub mod demo;
mod error;
mod exchange;
mod export;
mod history;
mod import;
mod incidents;
mod keyring;
mod keys;
mod locations;
mod outlook;
mod people;
mod purge;
pub mod reason;
mod reseal;
mod session;
mod tokens;
mod transfers;
mod users;
mod verify;
mod welfare;

pub use access::{AccessAction, Action, allowed};
pub use backlog::{BacklogLine, DestinationBacklog};
pub use dashboard::{ALERT_SEVERITY, ALERTS_SHOWN, Alert, Dashboard};
pub use error::{AppError, AppResult, ErrorKind, ImportProblems, MAX_LISTED_PROBLEMS, RowError};
pub use exchange::{
    BundleReport, BundleRequest, BundleSummary, Conflict, ConflictSide, DEFAULT_EXPIRY_DAYS,
    MAX_BUNDLE_BYTES, MAX_EXPIRY_DAYS, MergeReport, NodeIdentity, Peer, Resolved,
    check_bundle_envelope,
};
pub use history::{Change, EventView, MAX_ACCESS_PAGE};
pub use import::{
    DateOrder, IMPORT_OPTIONAL, IMPORT_REQUIRED, ImportOptions, ImportProgress, ImportReport,
    ImportedCode, MAX_IMPORT_ROWS, MAX_LINE_BYTES, MAX_XLSX_BYTES,
};
pub use incidents::{IncidentView, MAX_PEOPLE_IN_INCIDENT, NewIncident};
pub use outlook::{
    Budget, FORECAST_BUDGET, MAX_ARRIVAL_FACTOR, MAX_BEDS, MAX_CAPACITY_OVERRIDES,
    MAX_EXTRA_TRANSFERS, MAX_HORIZON_DAYS, MAX_REPLICATIONS, MAX_RUNNING_FORECASTS,
    MAX_TRANSFER_SEATS, RATE_WINDOW_DAYS, WhatIf, month_ticks,
};
pub use people::{
    CorrectionRequest, DueFollowUp, MAX_WAITING_DAYS, MoveReport, NewPerson, NoteView, PeopleQuery,
    PersonView,
};
pub(crate) use people::{check_birth_year, seal_identity};
pub use reason::Reason;
pub use refuge_crypto::{RecoveryCode, Revealed};

/// A request's fingerprint (SHA-256 of its parts, hex): the web's idempotency keys compare
/// them, in memory only.
pub fn request_fingerprint(parts: &[&[u8]]) -> String {
    refuge_crypto::sha256_hex(&parts.join(&b"\n"[..]))
}
pub use backup::{Restored, open_backup, read_back};
pub use locations::LocationView;
pub use purge::Purged;
pub use refuge_plan::{BatchRoom, Decision, Plan, Policy as PlanPolicy, Why};
/// The forecast chart (SVG), for the edges that show a forecast.
pub use refuge_sim::Forecast;
pub use refuge_sim::chart as forecast_chart;
pub use refuge_store::ApiToken;
pub use refuge_store::{AccessEntry, AccessFilter, StoreError};
pub use reseal::{ResealProgress, Resealed, Upgraded};
pub use session::{OUTSIDE_COMPARTMENTS, Session};
pub use transfers::{
    BatchRequest, BatchView, Blocker, MAX_BATCH_SEATS, MAX_BATCHES_PER_PLAN, MAX_NODE_LIMIT,
    MAX_RUNNING_PLANS, PLAN_PATIENCE, PlanReport, PlanUnit,
};
pub use users::{NewUser, UserChange};
pub use verify::VerifyReport;
pub use welfare::{CheckDue, ChecksDue, META_WELFARE_SCHEDULE, NewCheckIn};

use refuge_core::*;
use refuge_crypto::{FieldContext, Sealer};
use refuge_store::{ChainHasher, Commit, NewAccessEntry, NewEvent, Store};
use std::sync::Arc;
use time::{Date, OffsetDateTime, Time};
use uuid::Uuid;

/// The wall clock, injected so that tests control time.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the one reading of the wall clock"
    )]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock fixed at one instant (tests, reproducible demos).
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// A clock that moves only when told to: tests of timeouts share it (`Arc<ManualClock>`)
/// with the app instead of sleeping.
pub struct ManualClock(std::sync::Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(std::sync::Mutex::new(start))
    }

    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}

/// At most `limit` of one kind of heavy work at once; `take` refuses when every slot is taken
/// (the caller says "busy, try again") rather than queueing work nobody may wait for.
pub(crate) struct Slots {
    what: &'static str,
    limit: usize,
    taken: std::sync::atomic::AtomicUsize,
}

/// A taken slot, given back when dropped.
pub(crate) struct Slot<'a>(&'a Slots);

impl Slots {
    pub(crate) const fn new(what: &'static str, limit: usize) -> Self {
        Slots {
            what,
            limit,
            taken: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub(crate) fn take(&self) -> AppResult<Slot<'_>> {
        use std::sync::atomic::Ordering;
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                (taken < self.limit).then_some(taken + 1)
            })
            .map(|_| Slot(self))
            .map_err(|_| AppError::Busy { what: self.what })
    }

    /// `take`, waiting up to `patience` for a slot to free: for short work (a plan) that
    /// many users start at once.
    pub(crate) async fn take_within(&self, patience: std::time::Duration) -> AppResult<Slot<'_>> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            match self.take() {
                Err(AppError::Busy { .. }) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                taken => return taken,
            }
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0
            .taken
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Settings kept in the database.
pub const META_NAME_INDEX_BITS: &str = "name_index_bits";
pub const META_TARGET_WAIT_DAYS: &str = "target_wait_days";
pub const DEFAULT_TARGET_WAIT_DAYS: i64 = 60;
/// The user commands act as when none is named: the admin created by `init`.
pub const META_DEFAULT_USER: &str = "default_user";

pub(crate) const HASHER: ChainHasher = refuge_crypto::chain_hash;

/// One organisation's application: a store and a clock. The store is reached only through
/// the use cases, which check the session; nothing hands it out.
pub struct App {
    store: Arc<dyn Store>,
    clock: Box<dyn Clock>,
    /// The last id handed out: ids rise in creation order (see `new_uuid`).
    last_uuid: std::sync::Mutex<u128>,
    running_forecasts: Slots,
    running_plans: Slots,
    /// Refusals found by sessions, waiting for `log_refusals`.
    refusals: session::Refusals,
    /// The day each API token was last logged as used (bounded by the tokens that exist).
    tokens_used: std::sync::Mutex<std::collections::HashMap<String, Date>>,
}

/// Writes queued refusals to the access log (see `App::refusal_log`).
pub struct RefusalLog {
    store: Arc<dyn Store>,
    refusals: session::Refusals,
}

impl RefusalLog {
    /// Writes what was refused since the last write, stamped `at`.
    pub async fn write(&self, at: OffsetDateTime) -> AppResult<()> {
        let refused: Vec<(String, String, String)> = std::mem::take(
            &mut *self
                .refusals
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if refused.is_empty() {
            return Ok(());
        }
        let entries = refused
            .into_iter()
            .map(|(actor, subject, detail)| NewAccessEntry {
                at,
                actor,
                action: AccessAction::Refused.to_string(),
                subject,
                detail,
            })
            .collect();
        Ok(self.store.log_access(entries, HASHER).await?)
    }
}

/// The way a user came in, as the access log names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// The web login form.
    Web,
    /// The command line, unlocking the database.
    CommandLine,
}

impl Channel {
    /// What the access log calls a successful way in.
    pub(crate) fn access_action(self) -> AccessAction {
        match self {
            Channel::Web => AccessAction::Login,
            Channel::CommandLine => AccessAction::Unlock,
        }
    }
}

impl App {
    /// `store` is a `DynStore`, or an `Arc` of one that a test keeps to look underneath.
    pub fn new(store: impl Into<Arc<dyn Store>>, clock: Box<dyn Clock>) -> Self {
        App {
            store: store.into(),
            clock,
            last_uuid: std::sync::Mutex::new(0),
            running_forecasts: Slots::new("the forecast", MAX_RUNNING_FORECASTS),
            running_plans: Slots::new("the planner", MAX_RUNNING_PLANS),
            refusals: Default::default(),
            tokens_used: Default::default(),
        }
    }

    /// Writes the refusals the sessions found since the last call to the access log: who,
    /// which record (by code), why. The web calls it after every request.
    pub async fn log_refusals(&self) -> AppResult<()> {
        self.refusal_log().write(self.now()).await
    }

    /// A handle that writes this app's refusals later, when the app itself may be gone (the
    /// command line writes them after a command, whether it failed or not).
    pub fn refusal_log(&self) -> RefusalLog {
        RefusalLog {
            store: self.store.clone(),
            refusals: self.refusals.clone(),
        }
    }

    /// The database's kind ("SQLite", "PostgreSQL"), for messages.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Closes the database (SQLite checkpoints its write-ahead log).
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Whom commands act as when no user is named: the admin `init` created. Not secret:
    /// knowing it opens nothing without that user's passphrase.
    pub async fn default_user(&self) -> AppResult<String> {
        Ok(self
            .store
            .meta(META_DEFAULT_USER)
            .await?
            .unwrap_or_else(|| "admin".to_string()))
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub fn today(&self) -> Date {
        self.clock.now().date()
    }

    /// The latest day a user may date a record: tomorrow in UTC, since a user's own day
    /// (East Asia, UTC+9) runs ahead of the server's.
    pub fn latest_day(&self) -> Date {
        self.today().next_day().unwrap_or(self.today())
    }

    /// A UUIDv7 from this app's clock, greater than every id this app handed out before.
    /// Within one millisecond the 74 random bits count up by a random step (RFC 9562 §6.2,
    /// method 2), so the indexes on ids grow at their ends instead of splitting pages at
    /// random: an import creates hundreds of thousands of ids in a few milliseconds (all in
    /// one, under a fixed clock).
    pub(crate) fn new_uuid(&self) -> AppResult<Uuid> {
        let millis = u64::try_from(self.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let random = refuge_crypto::generated_bytes::<10>()?;
        let fresh = uuid::Builder::from_unix_timestamp_millis(millis, &random)
            .into_uuid()
            .as_u128();
        let mut last = self
            .last_uuid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = if fresh > *last {
            fresh
        } else {
            let step = u128::from(u32::from_be_bytes([
                random[0], random[1], random[2], random[3],
            ])) + 1;
            uuid_v7_after(*last, step)
        };
        *last = next;
        Ok(Uuid::from_u128(next))
    }

    pub(crate) fn now_millis(&self) -> i64 {
        i64::try_from(self.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }

    pub(crate) fn new_event(&self, session: &Session, body: EventBody) -> AppResult<NewEvent> {
        self.new_event_by(session.user().id, body)
    }

    /// An event by `actor` before any session exists (the founding of an organisation).
    pub(crate) fn new_event_by(&self, actor: UserId, body: EventBody) -> AppResult<NewEvent> {
        Ok(NewEvent {
            id: EventId(self.new_uuid()?),
            actor,
            body,
        })
    }

    pub(crate) fn access_entry(
        &self,
        actor: &str,
        action: AccessAction,
        subject: &str,
        detail: &str,
    ) -> NewAccessEntry {
        NewAccessEntry {
            at: self.now(),
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.to_string(),
            detail: detail.to_string(),
        }
    }

    /// Appends one entry to the access log, now (a reveal, an export, a login).
    pub(crate) async fn log(
        &self,
        actor: &str,
        action: AccessAction,
        subject: &str,
        detail: &str,
    ) -> AppResult<()> {
        let entry = self.access_entry(actor, action, subject, detail);
        Ok(self.store.log_access(vec![entry], HASHER).await?)
    }

    /// Commits events and side writes with this app's clock.
    pub(crate) async fn commit(&self, mut commit: Commit) -> AppResult<Vec<Event>> {
        commit.now_millis = self.now_millis();
        Ok(self.store.commit(commit, HASHER).await?)
    }

    /// Fresh short codes of `kind` that no record has yet.
    pub(crate) async fn fresh_codes(&self, kind: CodeKind, count: usize) -> AppResult<Vec<String>> {
        // Codes are kept in the order they were drawn (random), never sorted: a code must say
        // nothing about when its record was registered.
        let mut codes = Vec::with_capacity(count);
        let mut drawn = std::collections::HashSet::with_capacity(count);
        while codes.len() < count {
            let mut random = vec![0u8; (count - codes.len()) * CODE_LEN];
            refuge_crypto::fill_random(&mut random)?;
            let mut wanted = Vec::with_capacity(count - codes.len());
            for chunk in random.chunks_exact(CODE_LEN) {
                let mut bytes = [0u8; CODE_LEN];
                bytes.copy_from_slice(chunk);
                let code = kind.code_from_random(bytes);
                if drawn.insert(code.clone()) {
                    wanted.push(code);
                }
            }
            let taken: std::collections::HashSet<String> =
                self.store.taken_codes(&wanted).await?.into_iter().collect();
            codes.extend(wanted.into_iter().filter(|code| !taken.contains(code)));
        }
        Ok(codes)
    }

    /// Every location's code by id (locations are few: one query). Codes are not protected.
    pub async fn location_codes(&self) -> AppResult<std::collections::HashMap<LocationId, String>> {
        Ok(self
            .store
            .locations()
            .await?
            .into_iter()
            .map(|location| (location.id, location.code))
            .collect())
    }

    pub(crate) async fn target_wait_days(&self) -> AppResult<i64> {
        Ok(self
            .store
            .meta(META_TARGET_WAIT_DAYS)
            .await?
            .and_then(|text| text.parse().ok())
            .unwrap_or(DEFAULT_TARGET_WAIT_DAYS))
    }

    pub(crate) async fn name_index_bits(&self) -> AppResult<u32> {
        Ok(self
            .store
            .meta(META_NAME_INDEX_BITS)
            .await?
            .and_then(|text| text.parse().ok())
            .unwrap_or(12))
    }
}

/// Blind-index width for an expected number of people, by CipherSweet's rule
/// `2 ≤ R / 2^bits < √R`: each index value matches several records.
pub fn name_index_bits_for(expected_people: u64) -> u32 {
    let expected = expected_people.max(16) as f64;
    let bits = (expected / 2.0).log2().floor();
    // The lower bound √R < R / 2^bits holds when bits > log2(√R).
    bits.clamp(1.0, 40.0) as u32
}

/// Whether two tokens are equal, compared in constant time (refuge-crypto).
pub fn tokens_equal(a: &str, b: &str) -> bool {
    refuge_crypto::constant_time_eq(a.as_bytes(), b.as_bytes())
}

/// 32 random bytes from the operating system (session ids, CSRF tokens).
pub fn random_token_bytes() -> AppResult<[u8; 32]> {
    Ok(refuge_crypto::random_bytes::<32>()?)
}

/// A new random passphrase: 5 groups of 5 characters from the code alphabet (125 bits).
pub fn generate_passphrase() -> AppResult<String> {
    let random = refuge_crypto::random_bytes::<25>()?;
    let groups: Vec<String> = random
        .chunks(5)
        .map(|chunk| {
            chunk
                .iter()
                .map(|byte| CODE_ALPHABET[usize::from(byte & 31)] as char)
                .collect()
        })
        .collect();
    Ok(groups.join("-"))
}

/// The UUIDv7 `step` after `previous` in its 74 random bits (12 of `rand_a`, 62 of `rand_b`),
/// carrying into the millisecond field when they overflow.
fn uuid_v7_after(previous: u128, step: u128) -> u128 {
    const RAND_B_BITS: u32 = 62;
    const RAND_B_MASK: u128 = (1 << RAND_B_BITS) - 1;
    let millis = previous >> 80;
    let counter = (((previous >> 64) & 0xFFF) << RAND_B_BITS) | (previous & RAND_B_MASK);
    let (millis, counter) = match counter.checked_add(step).filter(|next| *next >> 74 == 0) {
        Some(next) => (millis, next),
        None => (millis + 1, step),
    };
    (millis << 80)
        | (0x7 << 76)
        | ((counter >> RAND_B_BITS) << 64)
        | (0b10 << RAND_B_BITS)
        | (counter & RAND_B_MASK)
}

/// The normal form names are indexed in: trimmed, lower case, single spaces.
pub fn normalize_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Field contexts, one place: the associated data every sealed value is bound to.
pub(crate) fn person_context<'a>(id: &'a str, field: PersonField) -> FieldContext<'a> {
    FieldContext {
        table: "people",
        record: id,
        field: field.as_str(),
    }
}

pub(crate) fn location_context<'a>(id: &'a str, field: &'static str) -> FieldContext<'a> {
    FieldContext {
        table: "locations",
        record: id,
        field,
    }
}

pub(crate) fn incident_context(id: &str) -> FieldContext<'_> {
    FieldContext {
        table: "incidents",
        record: id,
        field: "narrative",
    }
}

pub(crate) fn note_context(id: &str) -> FieldContext<'_> {
    FieldContext {
        table: "notes",
        record: id,
        field: "text",
    }
}

/// The longest free text accepted in one field (a note, a narrative).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Free text (names, contacts, notes, narratives, location names) is stored as typed, within
/// a length, and never with control characters, which could move a terminal's cursor, retitle
/// its window or fake lines when shown; notes and narratives may hold line breaks and tabs.
/// The problem names the field, never the value.
pub(crate) fn check_text(field: &str, value: &str, multiline: bool) -> AppResult<()> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(AppError::invalid(
            field,
            Reason::new("text-too-long").count("most", MAX_TEXT_BYTES as u64),
        ));
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(AppError::invalid(
            field,
            Reason::new(if multiline {
                "control-character-in-text"
            } else {
                "control-character-in-line"
            }),
        ));
    }
    Ok(())
}

/// Checks every identity field given (see `check_text`); notes may span lines.
pub(crate) fn check_identity(
    identity: &std::collections::BTreeMap<PersonField, String>,
) -> AppResult<()> {
    for (field, value) in identity {
        check_text(field.as_str(), value, *field == PersonField::Notes)?;
    }
    Ok(())
}

pub(crate) fn seal(sealer: &Sealer, text: &str, context: FieldContext<'_>) -> AppResult<Sealed> {
    Ok(Sealed(sealer.seal(text, context)?))
}

#[cfg(test)]
mod tests;
