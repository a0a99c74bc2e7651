//! Bundles: the events of exactly the selected records, sealed to one peer's device and
//! signed by ours (docs/exchange.md). What a received one must pass is in `receive.rs`.

use crate::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use refuge_core::{
    Event, EventBody, EventId, HouseholdId, LocationId, NodeId, PersonId, RecordRef, Stage,
};
use refuge_crypto::seal_bundle;
use refuge_store::{Commit, PersonFilter, Receipt};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

/// The manifest's format version.
pub(super) const FORMAT: u32 = 1;
/// What a bundle's payload may need a reader to understand; anything else is refused.
const CAPABILITY_EVENTS: &str = "events-v1";
const CAPABILITY_RECORD_KEYS: &str = "record-keys-v1";
const CAPABILITY_RECEIPTS: &str = "receipts-v1";
/// Conflicts settled (`conflict_resolved` events): a reader that does not know them says so.
const CAPABILITY_SETTLEMENTS: &str = "settlements-v1";
pub(super) const KNOWN_CAPABILITIES: [&str; 4] = [
    CAPABILITY_EVENTS,
    CAPABILITY_RECORD_KEYS,
    CAPABILITY_RECEIPTS,
    CAPABILITY_SETTLEMENTS,
];
/// A bundle unread after this many days is refused (`--expires-in` changes it).
pub const DEFAULT_EXPIRY_DAYS: u16 = 30;
pub const MAX_EXPIRY_DAYS: u16 = 365;
/// A payload that inflates beyond this is refused (a gzip bomb).
pub(super) const MAX_PAYLOAD_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// Above this many households, their members are found in one pass over everyone.
const HOUSEHOLD_QUERIES: usize = 200;
/// People and households named on one export.
const MAX_SELECTED: usize = 100_000;

/// The kinds of event a bundle carries: the records of people, their households and the
/// locations they were at, and the conflicts about them settled. Case notes, incidents, users
/// and batches stay home.
fn travels(body: &EventBody) -> bool {
    matches!(
        body,
        EventBody::LocationAdded { .. }
            | EventBody::HouseholdAdded { .. }
            | EventBody::PersonAdded { .. }
            | EventBody::PersonMoved { .. }
            | EventBody::FlagSet { .. }
            | EventBody::HoldSet { .. }
            | EventBody::ReadinessSet { .. }
            | EventBody::DestinationWishSet { .. }
            | EventBody::PersonRehoused { .. }
            | EventBody::HouseholdSplitSet { .. }
            | EventBody::PersonCorrected { .. }
            | EventBody::PersonMerged { .. }
            | EventBody::PersonPurged { .. }
            | EventBody::ConflictResolved { .. }
    )
}

/// What `refuge bundle export` selects.
#[derive(Clone, Debug, Default)]
pub struct BundleRequest {
    pub to: String,
    /// People (their whole households travel: a household is one need to know).
    pub people: Vec<String>,
    pub households: Vec<String>,
    /// Everyone at these locations.
    pub locations: Vec<String>,
    /// Everyone on these transfer batches' manifests (a reception office's incoming flight).
    pub batches: Vec<String>,
    /// Only events from this day on; what the recipient must already hold is listed as the
    /// bundle's prerequisites.
    pub since: Option<Date>,
    /// With the record keys of the people and locations: the recipient can read identities.
    pub reveal: bool,
    pub expires_in_days: u16,
}

/// An event the recipient must already hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Prerequisite {
    pub(super) id: EventId,
    pub(super) hash: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Manifest {
    pub(super) format: u32,
    /// The sending device's fingerprint, and its epoch (the node id, new after a restore).
    pub(super) sender: String,
    pub(super) epoch: NodeId,
    pub(super) recipients: Vec<String>,
    /// 1, 2, 3, … per (sender, recipient).
    pub(super) sequence: u64,
    pub(super) prerequisites: Vec<Prerequisite>,
    pub(super) created: String,
    pub(super) expires: String,
    pub(super) content_sha256: String,
    pub(super) capabilities: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Payload {
    pub(super) events: Vec<Event>,
    /// Record id and key (`SecretKey::to_text`), with `--reveal` only.
    pub(super) record_keys: Vec<(String, String)>,
    /// Since when which node held which of these events written elsewhere: an edit written
    /// later knew it (capability `receipts-v1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) receipts: Vec<Receipt>,
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleSummary {
    pub sequence: u64,
    pub events: usize,
    pub people: usize,
    pub households: usize,
    pub locations: usize,
    pub revealed: bool,
    pub bytes: u64,
}

impl BundleSummary {
    /// For the access log: no protected value, only numbers and the peer's name.
    fn describe(&self, peer: &str) -> String {
        format!(
            "bundle {} to {peer}: {} people, {} households, {} events{}",
            self.sequence,
            self.people,
            self.households,
            self.events,
            if self.revealed {
                ", identities revealed"
            } else {
                ""
            }
        )
    }
}

fn rfc3339(at: OffsetDateTime) -> AppResult<String> {
    at.format(&Rfc3339)
        .map_err(|error| StoreError::Corrupt(format!("a time: {error}")).into())
}

impl App {
    /// `refuge bundle export`: the selected records' events, to `request.to`'s device.
    pub async fn export_bundle(
        &self,
        session: &Session,
        request: &BundleRequest,
        out: &mut (dyn Write + Send),
    ) -> AppResult<BundleSummary> {
        session.require(Action::Exchange)?;
        if request.reveal {
            session.require(Action::RevealIdentity)?;
        }
        if !(1..=MAX_EXPIRY_DAYS).contains(&request.expires_in_days) {
            return Err(AppError::invalid(
                "expires-in",
                Reason::new("days-between")
                    .count("least", 1)
                    .count("most", u64::from(MAX_EXPIRY_DAYS)),
            ));
        }
        let mut peer = self.peer(&request.to).await?;
        let device = self.device_keys(session).await?;
        let (people, households) = self.bundle_selection(session, request).await?;
        let (events, prerequisites) = self
            .bundle_events(&people, &households, request.since)
            .await?;
        let (payload, locations, capabilities) = self
            .bundle_payload(session, request.reveal, &people, events)
            .await?;
        let compressed = compress(&payload)?;

        peer.sent += 1;
        // Whole seconds: the manifest is read by people too.
        let now = self
            .now()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| self.now());
        let manifest = Manifest {
            format: FORMAT,
            sender: device.public().fingerprint(),
            epoch: self.node_id().await?,
            recipients: vec![peer.fingerprint.clone()],
            sequence: peer.sent,
            prerequisites,
            created: rfc3339(now)?,
            expires: rfc3339(now + Duration::days(i64::from(request.expires_in_days)))?,
            content_sha256: refuge_crypto::sha256_hex(&compressed),
            capabilities,
        };
        let manifest_json = serde_json::to_vec(&manifest)
            .map_err(|error| StoreError::Corrupt(format!("bundle manifest: {error}")))?;
        let summary = BundleSummary {
            sequence: peer.sent,
            events: payload.events.len(),
            people: people.len(),
            households: households.len(),
            locations: locations.len(),
            revealed: request.reveal,
            bytes: 0,
        };
        let detail = summary.describe(&peer.name);
        // The sequence number and the log entry first: a bundle cut off midway is on record,
        // and its number is never used again.
        self.commit(Commit {
            side_writes: vec![peer.meta_write()?],
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::Export,
                "bundle",
                &detail,
            )],
            ..Commit::default()
        })
        .await?;
        let mut sealed = Vec::new();
        seal_bundle(
            &manifest_json,
            &compressed,
            &device,
            &[peer.device()?],
            &mut sealed,
        )?;
        out.write_all(&sealed).map_err(AppError::Output)?;
        Ok(BundleSummary {
            bytes: sealed.len() as u64,
            ..summary
        })
    }

    /// The payload: the events, and with `reveal` the keys of the people and locations.
    async fn bundle_payload(
        &self,
        session: &Session,
        reveal: bool,
        people: &BTreeSet<PersonId>,
        events: Vec<Event>,
    ) -> AppResult<(Payload, BTreeSet<LocationId>, Vec<String>)> {
        let locations: BTreeSet<LocationId> = events
            .iter()
            .filter_map(|event| match &event.body {
                EventBody::LocationAdded { location } => Some(location.id),
                _ => None,
            })
            .collect();
        let mut record_keys = Vec::new();
        let mut capabilities = vec![CAPABILITY_EVENTS.to_string()];
        if events
            .iter()
            .any(|event| matches!(event.body, EventBody::ConflictResolved { .. }))
        {
            capabilities.push(CAPABILITY_SETTLEMENTS.to_string());
        }
        if reveal {
            capabilities.push(CAPABILITY_RECORD_KEYS.to_string());
            let records: Vec<String> = people
                .iter()
                .map(|id| id.to_string())
                .chain(locations.iter().map(|id| id.to_string()))
                .collect();
            for (record, secret) in self.record_secrets(session, &records).await? {
                record_keys.push((record, secret.to_text().as_str().to_string()));
            }
        }
        // Receipts matter for edits only (whether one was written knowing another).
        let ids: Vec<Uuid> = events
            .iter()
            .filter(|event| event.body.edit().is_some())
            .map(|event| event.id.0)
            .collect();
        let receipts = self.store.receipts_of(&ids).await?;
        if !receipts.is_empty() {
            capabilities.push(CAPABILITY_RECEIPTS.to_string());
        }
        let payload = Payload {
            events,
            record_keys,
            receipts,
        };
        Ok((payload, locations, capabilities))
    }

    pub(crate) async fn node_id(&self) -> AppResult<NodeId> {
        let text = self
            .store
            .meta("node_id")
            .await?
            .ok_or_else(|| StoreError::Corrupt("no node id in meta".into()))?;
        Uuid::parse_str(&text)
            .map(NodeId)
            .map_err(|_| StoreError::Corrupt("the node id is no UUID".into()).into())
    }

    /// The people and households a request names, each household whole.
    async fn bundle_selection(
        &self,
        session: &Session,
        request: &BundleRequest,
    ) -> AppResult<(BTreeSet<PersonId>, BTreeSet<HouseholdId>)> {
        if request.people.len() + request.households.len() + request.batches.len() > MAX_SELECTED {
            return Err(AppError::invalid(
                "people",
                Reason::new("too-many-selected").count("max", MAX_SELECTED as u64),
            ));
        }
        // The lookups every command uses: codes as typed, merged duplicates named.
        let mut households = BTreeSet::new();
        for code in &request.people {
            households.insert(self.person_by_code(session, code).await?.household);
        }
        for code in &request.households {
            households.insert(self.household_by_code(code).await?.id);
        }
        if !request.locations.is_empty() {
            let mut at = Vec::new();
            for code in &request.locations {
                at.push(self.location_by_code(code).await?.id);
            }
            let filter = PersonFilter {
                locations: Some(at),
                unordered: true,
                ..PersonFilter::default()
            };
            households.extend(
                self.store
                    .people(&filter)
                    .await?
                    .iter()
                    .map(|p| p.household),
            );
        }
        households.extend(
            self.households_on_batches(session, &request.batches)
                .await?,
        );
        if households.is_empty() {
            return Err(AppError::invalid("people", Reason::new("nothing-selected")));
        }
        let people: BTreeSet<PersonId> = if households.len() > HOUSEHOLD_QUERIES {
            // Many households: one pass over everyone (merged records too, whose merge
            // travels) beats a query per household.
            let everyone = PersonFilter {
                stages: Stage::ALL.to_vec(),
                unordered: true,
                ..PersonFilter::default()
            };
            self.store
                .people(&everyone)
                .await?
                .iter()
                .filter(|person| households.contains(&person.household))
                .map(|person| person.id)
                .collect()
        } else {
            let mut people = BTreeSet::new();
            for household in &households {
                people.extend(
                    self.store
                        .household_members(*household)
                        .await?
                        .iter()
                        .map(|p| p.id),
                );
            }
            people
        };
        Ok((people, households))
    }

    /// The households of everyone on these batches' manifests.
    async fn households_on_batches(
        &self,
        session: &Session,
        codes: &[String],
    ) -> AppResult<BTreeSet<HouseholdId>> {
        let mut households = BTreeSet::new();
        if !codes.is_empty() {
            session.require(Action::ViewBatches)?;
        }
        for code in codes {
            let batch = self.batch_by_code(code).await?;
            if batch.manifest.is_empty() {
                return Err(AppError::invalid(
                    "batch",
                    Reason::new("bundle-batch-empty").with("batch", &batch.code),
                ));
            }
            let refs: BTreeSet<RecordRef> = batch
                .manifest
                .iter()
                .map(|person| RecordRef::Person(*person))
                .collect();
            let on_board = self.store.records(&refs).await?;
            households.extend(on_board.people.values().map(|person| person.household));
        }
        Ok(households)
    }

    /// The events of these records (and of the locations they were at) that travel, whose
    /// every record is among them; from `since` on, with what came before as prerequisites.
    async fn bundle_events(
        &self,
        people: &BTreeSet<PersonId>,
        households: &BTreeSet<HouseholdId>,
        since: Option<Date>,
    ) -> AppResult<(Vec<Event>, Vec<Prerequisite>)> {
        let subjects: Vec<Uuid> = people
            .iter()
            .map(|id| id.0)
            .chain(households.iter().map(|id| id.0))
            .collect();
        let mut events = self.store.events_of_subjects(&subjects).await?;
        let locations: BTreeSet<Uuid> = events
            .iter()
            .flat_map(|event| event.body.touches())
            .filter_map(|record| match record {
                RecordRef::Location(id) => Some(id.0),
                _ => None,
            })
            .collect();
        let locations: Vec<Uuid> = locations.into_iter().collect();
        events.extend(self.store.events_of_subjects(&locations).await?);
        events.sort_by_key(|event| (event.hlc, event.node, event.seq));
        events.dedup_by_key(|event| event.id);
        let inside = |record: &RecordRef| match record {
            RecordRef::Person(id) => people.contains(id),
            RecordRef::Household(id) => households.contains(id),
            RecordRef::Location(_) => true,
            _ => false,
        };
        events.retain(|event| travels(&event.body) && event.body.touches().iter().all(inside));
        let Some(since) = since else {
            return Ok((events, Vec::new()));
        };
        let since_millis = since.midnight().assume_utc().unix_timestamp() * 1000;
        let (earlier, later): (Vec<Event>, Vec<Event>) = events
            .into_iter()
            .partition(|event| event.hlc_millis() < since_millis);
        // The last earlier event of each record the later ones touch.
        let mut last_before: HashMap<RecordRef, &Event> = HashMap::new();
        for event in &earlier {
            for record in event.body.touches() {
                last_before.insert(record, event);
            }
        }
        let mut prerequisites: Vec<Prerequisite> = later
            .iter()
            .flat_map(|event| event.body.touches())
            .filter_map(|record| last_before.get(&record))
            .map(|event| Prerequisite {
                id: event.id,
                hash: event.hash.clone(),
            })
            .collect();
        prerequisites.sort_by_key(|p| p.id);
        prerequisites.dedup();
        Ok((later, prerequisites))
    }
}

fn compress(payload: &Payload) -> AppResult<Vec<u8>> {
    let mut compressed = GzEncoder::new(Vec::new(), Compression::default());
    serde_json::to_writer(&mut compressed, payload)
        .map_err(|error| StoreError::Corrupt(format!("bundle payload: {error}")))?;
    compressed.finish().map_err(AppError::Output)
}
