//! Bundles: the events of exactly the selected records, sealed to one peer's device and
//! signed by ours (docs/exchange.md), and the checks a received one passes before anything
//! of it is used.

use super::Peer;
use crate::*;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use refuge_core::{
    Event, EventBody, EventId, HouseholdId, LocationId, NodeId, PersonId, RecordRef, Stage,
};
use refuge_crypto::{chain_hash, open_bundle, seal_bundle};
use refuge_store::{Commit, PersonFilter, Receipt};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

/// The manifest's format version.
const FORMAT: u32 = 1;
/// What a bundle's payload may need a reader to understand; anything else is refused.
const CAPABILITY_EVENTS: &str = "events-v1";
const CAPABILITY_RECORD_KEYS: &str = "record-keys-v1";
const CAPABILITY_RECEIPTS: &str = "receipts-v1";
/// Conflicts settled (`conflict_resolved` events): a reader that does not know them says so.
const CAPABILITY_SETTLEMENTS: &str = "settlements-v1";
const KNOWN_CAPABILITIES: [&str; 4] = [
    CAPABILITY_EVENTS,
    CAPABILITY_RECORD_KEYS,
    CAPABILITY_RECEIPTS,
    CAPABILITY_SETTLEMENTS,
];
/// A bundle unread after this many days is refused (`--expires-in` changes it).
pub const DEFAULT_EXPIRY_DAYS: u16 = 30;
pub const MAX_EXPIRY_DAYS: u16 = 365;
/// A payload that inflates beyond this is refused (a gzip bomb).
const MAX_PAYLOAD_BYTES: u64 = 8 * 1024 * 1024 * 1024;
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
struct Prerequisite {
    id: EventId,
    hash: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Manifest {
    format: u32,
    /// The sending device's fingerprint, and its epoch (the node id, new after a restore).
    sender: String,
    pub(super) epoch: NodeId,
    recipients: Vec<String>,
    /// 1, 2, 3, … per (sender, recipient).
    pub(super) sequence: u64,
    prerequisites: Vec<Prerequisite>,
    created: String,
    expires: String,
    content_sha256: String,
    capabilities: Vec<String>,
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

/// What a received bundle holds, checked, before anything of it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleReport {
    pub sender: String,
    pub fingerprint: String,
    pub sequence: u64,
    pub created: String,
    pub expires: String,
    pub events: usize,
    pub new_events: usize,
    pub known_events: usize,
    /// Records the new events add: (people, households, locations).
    pub new_records: (usize, usize, usize),
    pub revealed: bool,
    pub prerequisites: usize,
}

/// A received bundle that passed every check: `payload.events` holds only the events new
/// here.
pub(super) struct Checked {
    pub(super) manifest: Manifest,
    pub(super) peer: Peer,
    pub(super) payload: Payload,
    pub(super) report: BundleReport,
}

pub(super) fn refused(reason: Reason) -> AppError {
    AppError::invalid("bundle", reason)
}

/// A received file that does not open or verify, refused with what the reader found (sizes,
/// a damaged header, a bad signature: never the contents).
fn unopened(error: refuge_crypto::CryptoError) -> AppError {
    refused(Reason::new("bundle-unreadable").with("why", error))
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

    /// `refuge bundle inspect FILE`: opens and checks a received bundle, and says what it
    /// holds against what this installation has. Writes nothing but the access-log entry.
    pub async fn inspect_bundle(&self, session: &Session, file: &[u8]) -> AppResult<BundleReport> {
        let checked = self.check_received(session, file).await?;
        let report = checked.report;
        self.log(
            &session.user().name,
            AccessAction::Import,
            "bundle",
            &format!(
                "bundle {} from {} inspected: {} events, {} new",
                report.sequence, report.sender, report.events, report.new_events
            ),
        )
        .await?;
        Ok(report)
    }

    /// Every check a received bundle passes, in order (docs/exchange.md), and what it holds
    /// against what this installation has.
    pub(super) async fn check_received(
        &self,
        session: &Session,
        file: &[u8],
    ) -> AppResult<Checked> {
        session.require(Action::Exchange)?;
        let device = self.device_keys(session).await?;
        let opened = open_bundle(file, &device).map_err(unopened)?;
        let manifest: Manifest = serde_json::from_slice(&opened.manifest)
            .map_err(|_| refused(Reason::new("bundle-manifest-unreadable")))?;
        if manifest.format != FORMAT {
            return Err(refused(
                Reason::new("bundle-format").count("format", u64::from(manifest.format)),
            ));
        }
        let peer = self.sending_peer(&manifest.sender).await?;
        opened.verify(&peer.device()?).map_err(unopened)?;
        if manifest.content_sha256 != opened.payload_sha256 {
            return Err(refused(Reason::new("bundle-altered")));
        }
        self.check_manifest(&manifest, &peer, &device.public().fingerprint())?;
        let mut payload = read_payload(&opened.payload)?;
        check_hashes(&payload.events)?;
        self.check_prerequisites(&manifest.prerequisites).await?;
        let known = self.check_against_log(&payload.events).await?;
        let total = payload.events.len();
        payload.events.retain(|event| !known.contains(&event.id));
        let new = &payload.events;
        let count = |kind: &str| new.iter().filter(|e| e.body.kind() == kind).count();
        let report = BundleReport {
            sender: peer.name.clone(),
            fingerprint: peer.fingerprint.clone(),
            sequence: manifest.sequence,
            created: manifest.created.clone(),
            expires: manifest.expires.clone(),
            events: total,
            new_events: new.len(),
            known_events: total - new.len(),
            new_records: (
                count("person_added"),
                count("household_added"),
                count("location_added"),
            ),
            revealed: !payload.record_keys.is_empty(),
            prerequisites: manifest.prerequisites.len(),
        };
        Ok(Checked {
            manifest,
            peer,
            payload,
            report,
        })
    }

    /// The manifest's own checks: addressed here, understood, not expired, not a replay.
    fn check_manifest(&self, manifest: &Manifest, peer: &Peer, own: &str) -> AppResult<()> {
        if !manifest.recipients.iter().any(|recipient| recipient == own) {
            return Err(refused(Reason::new("bundle-for-someone-else")));
        }
        if let Some(unknown) = manifest
            .capabilities
            .iter()
            .find(|capability| !KNOWN_CAPABILITIES.contains(&capability.as_str()))
        {
            return Err(refused(
                Reason::new("bundle-capability").with("capability", unknown),
            ));
        }
        let expires = OffsetDateTime::parse(&manifest.expires, &Rfc3339)
            .map_err(|_| refused(Reason::new("bundle-manifest-unreadable")))?;
        if expires < self.now() {
            return Err(refused(
                Reason::new("bundle-expired").with("expires", &manifest.expires),
            ));
        }
        if manifest.sequence <= peer.received {
            return Err(refused(
                Reason::new("bundle-replayed")
                    .count("sequence", manifest.sequence)
                    .count("last", peer.received)
                    .with("peer", &peer.name),
            ));
        }
        Ok(())
    }

    /// The peer whose device `fingerprint` is: unknown and removed senders are refused.
    async fn sending_peer(&self, fingerprint: &str) -> AppResult<Peer> {
        let peers = self.stored_peers().await?;
        let Some(peer) = peers
            .iter()
            .rev()
            .find(|peer| peer.fingerprint == fingerprint)
        else {
            return Err(refused(
                Reason::new("bundle-unknown-sender").with("fingerprint", fingerprint),
            ));
        };
        if peer.removed.is_some() {
            return Err(refused(
                Reason::new("bundle-removed-sender").with("peer", &peer.name),
            ));
        }
        Ok(peer.clone())
    }

    async fn check_prerequisites(&self, prerequisites: &[Prerequisite]) -> AppResult<()> {
        let ids: Vec<Uuid> = prerequisites.iter().map(|p| p.id.0).collect();
        let held: BTreeMap<EventId, String> = self
            .store
            .events_with_ids(&ids)
            .await?
            .into_iter()
            .map(|event| (event.id, event.hash))
            .collect();
        let missing: Vec<&Prerequisite> = prerequisites
            .iter()
            .filter(|p| held.get(&p.id) != Some(&p.hash))
            .collect();
        match missing.first() {
            None => Ok(()),
            Some(first) => Err(refused(
                Reason::new("bundle-missing-prerequisites")
                    .count("missing", missing.len() as u64)
                    .with("first", first.id),
            )),
        }
    }

    /// The ids of the events this installation already holds; the same id with other
    /// contents, or one node's sequence number used twice, is an integrity alarm.
    async fn check_against_log(&self, events: &[Event]) -> AppResult<BTreeSet<EventId>> {
        let by_id: HashMap<EventId, &Event> = events.iter().map(|e| (e.id, e)).collect();
        let by_slot: HashMap<(NodeId, i64), &Event> =
            events.iter().map(|e| ((e.node, e.seq), e)).collect();
        let mut known = BTreeSet::new();
        for stored in self.store.known_events(events).await? {
            if let Some(received) = by_id.get(&stored.id)
                && received.hash != stored.hash
            {
                return Err(refused(
                    Reason::new("bundle-event-differs").with("event", stored.id),
                ));
            }
            if let Some(received) = by_slot.get(&(stored.node, stored.seq))
                && received.id != stored.id
            {
                return Err(refused(
                    Reason::new("bundle-equivocation")
                        .with("node", stored.node)
                        .count("sequence", stored.seq.unsigned_abs()),
                ));
            }
            known.insert(stored.id);
        }
        Ok(known)
    }
}

fn compress(payload: &Payload) -> AppResult<Vec<u8>> {
    let mut compressed = GzEncoder::new(Vec::new(), Compression::default());
    serde_json::to_writer(&mut compressed, payload)
        .map_err(|error| StoreError::Corrupt(format!("bundle payload: {error}")))?;
    compressed.finish().map_err(AppError::Output)
}

fn read_payload(compressed: &[u8]) -> AppResult<Payload> {
    let mut json = Vec::new();
    GzDecoder::new(compressed)
        .take(MAX_PAYLOAD_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|_| refused(Reason::new("bundle-payload-unreadable")))?;
    if json.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(refused(Reason::new("bundle-payload-unreadable")));
    }
    serde_json::from_slice(&json).map_err(|_| refused(Reason::new("bundle-payload-unreadable")))
}

/// Each event hashes to its contents over the hash it names as previous (a received chain
/// may have gaps: the sender keeps what is not the recipient's to know).
fn check_hashes(events: &[Event]) -> AppResult<()> {
    for event in events {
        let matches = event
            .canonical_bytes()
            .is_ok_and(|bytes| chain_hash(&event.prev_hash, &bytes) == event.hash);
        if !matches {
            return Err(refused(
                Reason::new("bundle-event-differs").with("event", event.id),
            ));
        }
    }
    Ok(())
}
