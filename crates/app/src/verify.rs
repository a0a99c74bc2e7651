//! `refuge verify`: hash chains, and a replay of the whole log against the stored tables.

use crate::*;
use refuge_core::LocalCodes;
use refuge_core::event::GENESIS_HASH;
use refuge_store::EventCursor;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub events: u64,
    pub nodes: usize,
    pub access_entries: u64,
    pub people: usize,
    /// Everything found wrong, each naming the event or row; empty when all is well.
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Compares replayed and stored records of one table, naming the first rows that differ.
fn compare<K: Ord + std::fmt::Display, V: PartialEq>(
    table: &str,
    replayed: &BTreeMap<K, V>,
    stored: &BTreeMap<K, V>,
    code: impl Fn(&V) -> String,
    problems: &mut Vec<String>,
) {
    const MAX_REPORTED: usize = 20;
    let mut found = 0;
    for (id, record) in stored {
        match replayed.get(id) {
            Some(expected) if expected == record => {}
            Some(_) => {
                found += 1;
                if found <= MAX_REPORTED {
                    problems.push(format!(
                        "{table} row {} differs from the replayed log",
                        code(record)
                    ));
                }
            }
            None => {
                found += 1;
                if found <= MAX_REPORTED {
                    problems.push(format!(
                        "{table} row {} has no event in the log",
                        code(record)
                    ));
                }
            }
        }
    }
    for (id, record) in replayed {
        if !stored.contains_key(id) {
            found += 1;
            if found <= MAX_REPORTED {
                problems.push(format!(
                    "{table} row {} is in the log but missing from the table",
                    code(record)
                ));
            }
        }
    }
    if found > MAX_REPORTED {
        problems.push(format!(
            "{table}: {} more rows differ",
            found - MAX_REPORTED
        ));
    }
}

impl App {
    pub async fn verify(&self, session: &Session) -> AppResult<VerifyReport> {
        session.require(Action::Verify)?;
        let report = self.check_everything().await?;
        self.log(
            &session.user().name,
            AccessAction::Verify,
            "database",
            if report.ok() { "ok" } else { "problems found" },
        )
        .await?;
        Ok(report)
    }

    /// What `verify` checks, without a session and unlogged (a backup being restored, before
    /// anyone can log in to it).
    pub(crate) async fn check_everything(&self) -> AppResult<VerifyReport> {
        let mut report = VerifyReport::default();
        // The file itself first (SQLite's pages and indexes; nothing on PostgreSQL).
        report.problems.extend(
            self.store
                .integrity_problems()
                .await?
                .into_iter()
                .map(|problem| format!("integrity check: {problem}")),
        );
        let Some(Replayed {
            state,
            flow,
            sealed_elsewhere,
        }) = self.replay_log(&mut report).await?
        else {
            return Ok(report);
        };
        let stored = self.store.load_state().await?;
        report.people = stored.people.len();
        compare_records(&state, &stored, &mut report.problems);
        // The aggregates: each against a recount from the stored people, and the monthly flow
        // against the replayed log (an independent path), so a wrong aggregate cannot pass.
        report
            .problems
            .extend(self.store.aggregate_problems().await?);
        report.problems.extend(self.flow_problems(&flow).await?);
        if self.compartment_model().await? {
            report
                .problems
                .extend(self.key_problems(&stored, &sealed_elsewhere).await?);
        }
        self.check_access_log(&mut report).await?;
        Ok(report)
    }

    /// Replays the whole log, checking each node's sequence numbers and hash chain, into a
    /// state and the monthly flow it implies; `None` (the problem reported) when the log
    /// cannot be read.
    async fn replay_log(&self, report: &mut VerifyReport) -> AppResult<Option<Replayed>> {
        let mut heads: HashMap<NodeId, (i64, String)> = HashMap::new();
        let mut replayed = Replayed::default();
        let local = self.node_id().await?;
        // As merges fold the log: received records under their local codes, contradictions
        // left out.
        let codes = LocalCodes(self.store.local_codes().await?.into_iter().collect());
        let contradictions = self.store.contradicted().await?;
        let mut cursor: Option<EventCursor> = None;
        loop {
            let page = match self.store.events_page(cursor, 10_000).await {
                Ok(page) => page,
                Err(StoreError::Corrupt(what)) => {
                    report.problems.push(what);
                    return Ok(None);
                }
                Err(error) => return Err(error.into()),
            };
            let Some(last) = page.last() else { break };
            cursor = Some(EventCursor::of(last));
            for event in page {
                report.events += 1;
                let name = format!("event {}/{} ({})", event.node, event.seq, event.body.kind());
                let head = heads
                    .entry(event.node)
                    .or_insert((0, GENESIS_HASH.to_string()));
                // A received chain has gaps: its node keeps what is not ours to know.
                check_link(
                    &event,
                    &name,
                    head,
                    event.node != local,
                    &mut report.problems,
                );
                if event.node != local {
                    replayed.sealed_elsewhere(&event.body);
                }
                if contradictions.contains(&event.id) {
                    continue;
                }
                match replayed.state.apply_merged(&event.body, &codes) {
                    Err(error) => report
                        .problems
                        .push(format!("{name}: does not apply on replay: {error}")),
                    Ok(()) => replayed.count_flow(&event.body),
                }
            }
        }
        report.nodes = heads.len();
        Ok(Some(replayed))
    }

    /// The stored monthly flow against the one the log implies.
    async fn flow_problems(&self, flow: &BTreeMap<String, (u64, u64)>) -> AppResult<Vec<String>> {
        let stored_flow: BTreeMap<String, (u64, u64)> = self
            .store
            .flow_by_month()
            .await?
            .into_iter()
            .filter(|(_, entered, departed)| *entered != 0 || *departed != 0)
            .map(|(month, entered, departed)| (month, (entered, departed)))
            .collect();
        let mut problems = Vec::new();
        for month in flow
            .keys()
            .chain(stored_flow.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let (logged, stored) = (
                flow.get(month).copied().unwrap_or_default(),
                stored_flow.get(month).copied().unwrap_or_default(),
            );
            if logged != stored {
                problems.push(format!(
                    "flow_by_month {month}: stored {} entered and {} departed, the log says {} and {}",
                    stored.0, stored.1, logged.0, logged.1
                ));
            }
        }
        Ok(problems)
    }

    /// The access log's own hash chain.
    async fn check_access_log(&self, report: &mut VerifyReport) -> AppResult<()> {
        let mut prev = GENESIS_HASH.to_string();
        for entry in self.store.access_log(None).await? {
            report.access_entries += 1;
            if entry.prev_hash != prev
                || entry.canonical_bytes().map_or(true, |bytes| {
                    refuge_crypto::chain_hash(&entry.prev_hash, &bytes) != entry.hash
                })
            {
                report
                    .problems
                    .push(format!("access log entry {}: hash chain broken", entry.seq));
            }
            prev = entry.hash;
        }
        Ok(())
    }

    /// The compartment model's keys, against the records (no key is opened: an auditor runs
    /// this too): every record key under a generation that exists, every sealed record with
    /// a key, each in the compartment the record lives in (a person's in their location's, an
    /// incident's in its location's, a location's in its own), and every wrap of a
    /// generation that exists.
    async fn key_problems(
        &self,
        stored: &State,
        sealed_elsewhere: &HashSet<String>,
    ) -> AppResult<Vec<String>> {
        let keys = self.store.key_tables().await?;
        let generations: std::collections::BTreeSet<(String, i64)> = keys
            .compartments
            .iter()
            .map(|key| (key.compartment.clone(), key.generation))
            .collect();
        let mut problems = Vec::new();
        for wrap in &keys.holder_wraps {
            if !generations.contains(&(wrap.compartment.clone(), wrap.generation)) {
                problems.push(format!(
                    "a key of compartment {} is wrapped to {} under generation {}, which does not exist",
                    wrap.compartment, wrap.holder, wrap.generation
                ));
            }
        }
        let record_keys: HashMap<&str, &refuge_store::RecordKey> = keys
            .record_keys
            .iter()
            .map(|key| (key.record.as_str(), key))
            .collect();
        for key in &keys.record_keys {
            if !generations.contains(&(key.compartment.clone(), key.generation)) {
                problems.push(format!(
                    "record {}: its key is under generation {} of compartment {}, which does not exist",
                    key.record, key.generation, key.compartment
                ));
            }
        }
        let mut expect =
            |what: &str, code: &str, record: String, compartment: String| match record_keys
                .get(record.as_str())
            {
                None if sealed_elsewhere.contains(&record) => {}
                None => problems.push(format!("{what} {code}: sealed values but no record key")),
                Some(key) if key.compartment != compartment => problems.push(format!(
                    "{what} {code}: its key is in another compartment than where it is"
                )),
                Some(_) => {}
            };
        for person in stored.people.values().filter(|p| !p.sealed.is_empty()) {
            expect(
                "person",
                &person.code,
                person.id.to_string(),
                person.location.to_string(),
            );
        }
        for incident in stored.incidents.values().filter(|i| i.narrative.is_some()) {
            expect(
                "incident",
                &incident.code,
                incident.id.to_string(),
                incident.location.to_string(),
            );
        }
        for location in stored
            .locations
            .values()
            .filter(|l| l.name.is_some() || l.address.is_some())
        {
            expect(
                "location",
                &location.code,
                location.id.to_string(),
                location.id.to_string(),
            );
        }
        Ok(problems)
    }
}

/// What a replay of the log gives: the state, people entered and departed by month, and the
/// records added by other installations (their keys may never have been sent here).
#[derive(Default)]
struct Replayed {
    state: State,
    flow: BTreeMap<String, (u64, u64)>,
    sealed_elsewhere: HashSet<String>,
}

impl Replayed {
    fn sealed_elsewhere(&mut self, body: &EventBody) {
        let record = match body {
            EventBody::PersonAdded { person } => person.id.to_string(),
            EventBody::LocationAdded { location } => location.id.to_string(),
            _ => return,
        };
        self.sealed_elsewhere.insert(record);
    }

    fn count_flow(&mut self, body: &EventBody) {
        for (month, (entered, departed)) in monthly_flow([body]) {
            let counts = self.flow.entry(month).or_default();
            counts.0 += entered.unsigned_abs();
            counts.1 += departed.unsigned_abs();
        }
    }
}

/// An event's place in its node's chain: the next sequence number, linked to the previous
/// hash, and hashed over its own contents. Moves the node's head on.
fn check_link(
    event: &Event,
    name: &str,
    head: &mut (i64, String),
    gaps_allowed: bool,
    problems: &mut Vec<String>,
) {
    let (last_seq, last_hash) = head;
    let gap = gaps_allowed && event.seq > *last_seq + 1;
    if event.seq != *last_seq + 1 && !gap {
        problems.push(format!(
            "{name}: expected sequence number {}",
            *last_seq + 1
        ));
    }
    if event.prev_hash != *last_hash && !gap {
        problems.push(format!(
            "{name}: does not link to the previous event's hash"
        ));
    }
    if event.canonical_bytes().map_or(true, |bytes| {
        refuge_crypto::chain_hash(&event.prev_hash, &bytes) != event.hash
    }) {
        problems.push(format!("{name}: hash does not match its contents"));
    }
    *last_seq = event.seq;
    *last_hash = event.hash.clone();
}

/// Every projection table replayed from the log against the one stored.
fn compare_records(replayed: &State, stored: &State, problems: &mut Vec<String>) {
    compare(
        "users",
        &replayed.users,
        &stored.users,
        |r| r.name.clone(),
        problems,
    );
    compare(
        "locations",
        &replayed.locations,
        &stored.locations,
        |r| r.code.clone(),
        problems,
    );
    compare(
        "households",
        &replayed.households,
        &stored.households,
        |r| r.code.clone(),
        problems,
    );
    compare(
        "people",
        &replayed.people,
        &stored.people,
        |r| r.code.clone(),
        problems,
    );
    compare(
        "incidents",
        &replayed.incidents,
        &stored.incidents,
        |r| r.code.clone(),
        problems,
    );
    // Notes carry derived facts too (what a check-in found). Those of the replay only: the
    // log is read before the tables, and case notes are what `serve` goes on writing while
    // `verify` runs (the crash harness does just that).
    let stored_notes: BTreeMap<NoteId, Note> = stored
        .notes
        .iter()
        .filter(|(id, _)| replayed.notes.contains_key(id))
        .map(|(id, note)| (*id, note.clone()))
        .collect();
    compare(
        "notes",
        &replayed.notes,
        &stored_notes,
        |r| r.id.to_string(),
        problems,
    );
    compare(
        "batches",
        &replayed.batches,
        &stored.batches,
        |r| r.code.clone(),
        problems,
    );
}
