//! The store shared by every SQL backend; backends differ only in `backend.rs`. By concern:
//! `records/` (the `Record` trait and its seven kinds of record, their rows and state maps),
//! `codec.rs` (values to and from columns), `commit.rs` (the write transaction),
//! `aggregates.rs` (the counts kept in step, the backlog), `queries.rs` (filtered reads),
//! `copy.rs` (`refuge migrate`), `exec.rs` (pooled reads, migrations, multi-row inserts), `erase.rs` (the duress erase), `reseal.rs` (sealing the log
//! again). This file holds the store itself and its `Store` impl.

mod aggregates;
mod codec;
mod commit;
mod copy;
pub(crate) mod erase;
mod exec;
mod keys;
mod merge;
mod queries;
mod records;
mod reseal;
mod welfare;

use crate::backend::{Backend, Fields, Value, db_error};
use crate::*;
use codec::*;
use commit::append_access;
use exec::insert_rows;
use queries::{incident_conditions, person_conditions, stages_condition};
use records::{Record, fill};
use sqlx::{Pool, Transaction};
use std::collections::{BTreeSet, HashMap};
use std::marker::PhantomData;
use time::Date;

/// Events looked up per statement when a received bundle is checked against the log.
const KNOWN_PAGE: usize = 400;
use uuid::Uuid;

/// Both SQLite (32,766) and PostgreSQL (65,535) bind more parameters per statement; chunks
/// stay well below.
pub(super) const MAX_PARAMS: usize = 8_000;
/// A write adding at least this many people, and at least as many as the table holds, drops
/// the people indexes that can be dropped and builds them again after the insert (an import
/// into a new or small organisation).
pub(super) const BULK_INSERT_ROWS: usize = 10_000;

/// An organisation's store on one SQL backend.
pub struct SqlStore<B: Backend> {
    pool: Pool<B::Db>,
    backend: PhantomData<B>,
}

pub(super) type Tx<B> = Transaction<'static, <B as Backend>::Db>;

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    fn backend(&self) -> &'static str {
        <B::Db as sqlx::Database>::NAME
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.one("SELECT value FROM meta WHERE key = ?", key, |row| {
            row.text("value")
        })
        .await
    }

    async fn all_meta(&self) -> StoreResult<Vec<(String, String)>> {
        self.all("SELECT key, value FROM meta ORDER BY key", vec![], |row| {
            Ok((row.text("key")?, row.text("value")?))
        })
        .await
    }

    async fn commit(&self, commit: Commit, hasher: ChainHasher) -> StoreResult<Vec<Event>> {
        self.write_commit(commit, hasher).await
    }

    async fn snapshot_into(&self, path: &std::path::Path) -> StoreResult<()> {
        B::snapshot_into(&self.pool, path).await
    }

    async fn integrity_problems(&self) -> StoreResult<Vec<String>> {
        B::integrity_problems(&self.pool).await
    }

    async fn reseal(&self, reseal: Reseal<'_>, hasher: ChainHasher) -> StoreResult<u64> {
        self.reseal_organisation(reseal, hasher).await
    }

    async fn log_access(
        &self,
        entries: Vec<NewAccessEntry>,
        hasher: ChainHasher,
    ) -> StoreResult<()> {
        let mut tx = B::begin_write(&self.pool).await?;
        append_access::<B>(&mut tx, entries, hasher).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn key_wrap(&self, credential: &str) -> StoreResult<Option<(UserId, String)>> {
        self.one(
            "SELECT user_id, wrapped FROM key_wraps WHERE credential = ?",
            credential,
            |row| {
                Ok((
                    UserId(parse_uuid(&row.text("user_id")?)?),
                    row.text("wrapped")?,
                ))
            },
        )
        .await
    }

    async fn key_wraps(&self) -> StoreResult<Vec<(String, UserId, String)>> {
        self.all(
            "SELECT credential, user_id, wrapped FROM key_wraps ORDER BY credential",
            vec![],
            |row| {
                Ok((
                    row.text("credential")?,
                    UserId(parse_uuid(&row.text("user_id")?)?),
                    row.text("wrapped")?,
                ))
            },
        )
        .await
    }

    async fn api_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        self.all(
            "SELECT * FROM api_tokens ORDER BY created DESC, id",
            vec![],
            token_from_row,
        )
        .await
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        self.one("SELECT * FROM users WHERE name = ?", name, User::decode)
            .await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        self.all("SELECT * FROM users ORDER BY name", vec![], User::decode)
            .await
    }

    async fn locations(&self) -> StoreResult<Vec<Location>> {
        self.all(
            "SELECT * FROM locations ORDER BY code",
            vec![],
            Location::decode,
        )
        .await
    }

    async fn location_by_code(&self, code: &str) -> StoreResult<Option<Location>> {
        self.one(
            "SELECT * FROM locations WHERE code = ?",
            code,
            Location::decode,
        )
        .await
    }

    async fn occupancy(&self) -> StoreResult<Vec<(LocationId, u64)>> {
        self.all(
            "SELECT location, present FROM presence WHERE present > 0",
            vec![],
            |row| {
                Ok((
                    LocationId(parse_uuid(&row.text("location")?)?),
                    count(row, "present")?,
                ))
            },
        )
        .await
    }

    async fn household_by_code(&self, code: &str) -> StoreResult<Option<Household>> {
        self.one(
            "SELECT * FROM households WHERE code = ?",
            code,
            Household::decode,
        )
        .await
    }

    async fn household(&self, id: HouseholdId) -> StoreResult<Option<Household>> {
        self.one(
            "SELECT * FROM households WHERE id = ?",
            &id.to_string(),
            Household::decode,
        )
        .await
    }

    async fn household_members(&self, id: HouseholdId) -> StoreResult<Vec<Person>> {
        self.all(
            "SELECT * FROM people WHERE household = ? ORDER BY code",
            vec![id.to_string().into()],
            Person::decode,
        )
        .await
    }

    async fn person_by_code(&self, code: &str) -> StoreResult<Option<Person>> {
        self.one("SELECT * FROM people WHERE code = ?", code, Person::decode)
            .await
    }

    async fn people_merged_into(&self, id: PersonId) -> StoreResult<Vec<Person>> {
        self.all(
            "SELECT * FROM people WHERE merged_into = ? ORDER BY code",
            vec![id.to_string().into()],
            Person::decode,
        )
        .await
    }

    async fn people(&self, filter: &PersonFilter) -> StoreResult<Vec<Person>> {
        self.query_people(filter).await
    }

    async fn count_people(&self, filter: &PersonFilter) -> StoreResult<u64> {
        if filter.locations.as_ref().is_some_and(Vec::is_empty) {
            return Ok(0);
        }
        // Everyone waiting (sheltered or detained), at some or all locations: the aggregate
        // kept with every write answers without counting 300,000 index entries.
        let mut stages = filter.stages.clone();
        stages.sort();
        let everyone_waiting = stages == [Stage::Sheltered, Stage::Detained]
            && filter.flag.is_none()
            && filter.household.is_none()
            && filter.name_index.is_none()
            && filter.waiting_since_on_or_before.is_none()
            && filter.after.is_none();
        if everyone_waiting {
            let (sql, arguments) = match &filter.locations {
                None => (
                    "SELECT CAST(COALESCE(SUM(people), 0) AS BIGINT) AS n FROM waiting_by_day"
                        .to_string(),
                    Vec::new(),
                ),
                Some(locations) => (
                    format!(
                        "SELECT CAST(COALESCE(SUM(people), 0) AS BIGINT) AS n FROM waiting_by_day \
                         WHERE location IN ({})",
                        vec!["?"; locations.len()].join(", ")
                    ),
                    locations
                        .iter()
                        .map(|id| Value::from(id.to_string()))
                        .collect(),
                ),
            };
            let rows = self.rows(&sql, arguments).await?;
            return rows.first().map_or(Ok(0), |row| count(row, "n"));
        }
        let (conditions, arguments) = person_conditions(filter);
        let sql = format!(
            "SELECT COUNT(*) AS n FROM people WHERE 1 = 1{}{conditions}",
            stages_condition(&filter.stages)
        );
        let rows = self.rows(&sql, arguments).await?;
        rows.first().map_or(Ok(0), |row| count(row, "n"))
    }

    async fn people_by_duplicate_index(&self, values: &[i64]) -> StoreResult<Vec<Person>> {
        let mut out = Vec::new();
        for chunk in values.chunks(MAX_PARAMS) {
            let sql = format!(
                "SELECT * FROM people WHERE duplicate_index IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let arguments = chunk.iter().map(|value| Value::Int(*value)).collect();
            out.extend(self.all(&sql, arguments, Person::decode).await?);
        }
        Ok(out)
    }

    async fn codes_of(&self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, String>> {
        let mut codes = HashMap::new();
        for chunk in ids.chunks(MAX_PARAMS / 4) {
            let list = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT id, code FROM people WHERE id IN ({list}) \
                 UNION ALL SELECT id, code FROM households WHERE id IN ({list}) \
                 UNION ALL SELECT id, code FROM incidents WHERE id IN ({list}) \
                 UNION ALL SELECT id, code FROM batches WHERE id IN ({list})"
            );
            let arguments = (0..4)
                .flat_map(|_| chunk.iter().map(|id| Value::Text(id.to_string())))
                .collect();
            for row in self.rows(&sql, arguments).await? {
                codes.insert(parse_uuid(&row.text("id")?)?, row.text("code")?);
            }
        }
        Ok(codes)
    }

    async fn taken_codes(&self, codes: &[String]) -> StoreResult<Vec<String>> {
        self.query_taken_codes(codes).await
    }

    async fn batch_by_code(&self, code: &str) -> StoreResult<Option<TransferBatch>> {
        self.one(
            "SELECT * FROM batches WHERE code = ?",
            code,
            TransferBatch::decode,
        )
        .await
    }

    async fn batches(&self) -> StoreResult<Vec<TransferBatch>> {
        self.all(
            "SELECT * FROM batches ORDER BY departure, code",
            vec![],
            TransferBatch::decode,
        )
        .await
    }

    async fn incident_by_code(&self, code: &str) -> StoreResult<Option<Incident>> {
        self.one(
            "SELECT * FROM incidents WHERE code = ?",
            code,
            Incident::decode,
        )
        .await
    }

    async fn incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<Incident>> {
        if filter.locations.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let (conditions, mut arguments) = incident_conditions(filter);
        let mut sql = format!(
            "SELECT * FROM incidents WHERE 1 = 1{conditions} ORDER BY occurred DESC, COALESCE(occurred_time, '') DESC, code"
        );
        if let Some(limit) = filter.limit {
            sql.push_str(" LIMIT ?");
            arguments.push(Value::Int(i64::from(limit)));
        }
        self.all(&sql, arguments, Incident::decode).await
    }

    async fn incidents_of_person(&self, person: PersonId) -> StoreResult<Vec<Incident>> {
        // `people` holds the ids as a JSON array of strings.
        self.all(
            "SELECT * FROM incidents WHERE people LIKE ? ORDER BY occurred DESC, COALESCE(occurred_time, '') DESC, code LIMIT 500",
            vec![format!("%\"{person}\"%").into()],
            Incident::decode,
        )
        .await
    }

    async fn count_incidents(&self, filter: &IncidentFilter) -> StoreResult<u64> {
        if filter.locations.as_ref().is_some_and(Vec::is_empty) {
            return Ok(0);
        }
        let (conditions, arguments) = incident_conditions(filter);
        let rows = self
            .rows(
                &format!("SELECT COUNT(*) AS n FROM incidents WHERE 1 = 1{conditions}"),
                arguments,
            )
            .await?;
        rows.first().map_or(Ok(0), |row| count(row, "n"))
    }

    async fn notes_of(&self, person: PersonId) -> StoreResult<Vec<Note>> {
        self.all(
            "SELECT * FROM notes WHERE person = ? ORDER BY written DESC, id DESC",
            vec![person.to_string().into()],
            Note::decode,
        )
        .await
    }

    async fn due_follow_ups(
        &self,
        due_by: Date,
        locations: Option<&[LocationId]>,
        limit: u32,
    ) -> StoreResult<(Vec<Note>, u64)> {
        self.query_due_follow_ups(due_by, locations, limit).await
    }

    async fn welfare_due(
        &self,
        cutoffs: DueCutoffs,
        locations: Option<&[LocationId]>,
        limit: u32,
    ) -> StoreResult<WelfareDue> {
        self.query_welfare_due(cutoffs, locations, limit).await
    }

    async fn backlog_rows(&self) -> StoreResult<Vec<BacklogRow>> {
        self.read_backlog_rows().await
    }

    async fn person_facts(&self, stages: &[Stage]) -> StoreResult<Vec<PersonFacts>> {
        self.read_person_facts(stages).await
    }

    async fn waiting_by_wish(&self) -> StoreResult<Vec<(Option<DestinationWish>, Date, u64)>> {
        self.read_waiting_by_wish().await
    }

    async fn monthly_flow(&self, from: Date) -> StoreResult<Vec<(String, u64, u64)>> {
        self.flow_rows(
            "SELECT month, entered, departed FROM flow_by_month WHERE month >= ? ORDER BY month",
            vec![text_date(from)[..7].into()],
        )
        .await
    }

    async fn flow_by_month(&self) -> StoreResult<Vec<(String, u64, u64)>> {
        self.flow_rows(
            "SELECT month, entered, departed FROM flow_by_month \
             WHERE entered <> 0 OR departed <> 0 ORDER BY month",
            vec![],
        )
        .await
    }

    async fn events_page(&self, after: Option<EventCursor>, limit: u32) -> StoreResult<Vec<Event>> {
        self.read_events_page(after, limit).await
    }

    async fn events_of(&self, subject: Uuid) -> StoreResult<Vec<Event>> {
        self.all(
            "SELECT * FROM events WHERE subject = ? ORDER BY hlc, node, seq",
            vec![subject.to_string().into()],
            event_from_row,
        )
        .await
    }

    async fn events_of_subjects(&self, subjects: &[Uuid]) -> StoreResult<Vec<Event>> {
        let mut events = self.events_where_in("subject", subjects).await?;
        events.sort_by_key(|event| (event.hlc, event.node, event.seq));
        events.dedup_by_key(|event| event.id);
        Ok(events)
    }

    async fn events_with_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<Event>> {
        self.events_where_in("id", ids).await
    }

    async fn known_events(&self, events: &[Event]) -> StoreResult<Vec<Event>> {
        let ids: Vec<Uuid> = events.iter().map(|event| event.id.0).collect();
        let mut known = self.events_with_ids(&ids).await?;
        // A (node, sequence) can be taken here only up to the node's newest held here: a
        // bundle for a fresh installation, or of newer events, needs no lookup.
        let nodes: BTreeSet<String> = events.iter().map(|event| event.node.to_string()).collect();
        let nodes: Vec<String> = nodes.into_iter().collect();
        let mut newest: HashMap<String, i64> = HashMap::new();
        for page in nodes.chunks(KNOWN_PAGE) {
            let sql = format!(
                "SELECT node, MAX(seq) AS seq FROM events WHERE node IN ({}) GROUP BY node",
                vec!["?"; page.len()].join(", ")
            );
            let arguments = page.iter().map(Value::from).collect();
            for row in self.rows(&sql, arguments).await? {
                newest.insert(row.text("node")?, row.int("seq")?);
            }
        }
        let held: Vec<&Event> = events
            .iter()
            .filter(|event| {
                newest
                    .get(&event.node.to_string())
                    .is_some_and(|newest| event.seq <= *newest)
            })
            .collect();
        for page in held.chunks(KNOWN_PAGE) {
            let mut slots = Vec::with_capacity(page.len() * 2);
            for event in page {
                slots.push(Value::from(event.node.to_string()));
                slots.push(Value::from(event.seq));
            }
            let sql = format!(
                "SELECT * FROM events WHERE {}",
                vec!["(node = ? AND seq = ?)"; page.len()].join(" OR ")
            );
            known.extend(self.all(&sql, slots, event_from_row).await?);
        }
        known.sort_by_key(|event| (event.node, event.seq));
        known.dedup_by_key(|event| (event.node, event.seq));
        Ok(known)
    }

    async fn events_of_kinds(&self, kinds: &[&str]) -> StoreResult<Vec<Event>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM events WHERE kind IN ({}) ORDER BY hlc, node, seq",
            vec!["?"; kinds.len()].join(", ")
        );
        let arguments = kinds.iter().map(|kind| Value::from(*kind)).collect();
        self.all(&sql, arguments, event_from_row).await
    }

    async fn log_mark(&self) -> StoreResult<LogMark> {
        self.read_log_mark().await
    }

    async fn records(&self, refs: &BTreeSet<RecordRef>) -> StoreResult<State> {
        self.read_records(refs).await
    }

    async fn local_codes(&self) -> StoreResult<Vec<(Uuid, String)>> {
        self.read_local_codes().await
    }

    async fn receipts_of(&self, events: &[Uuid]) -> StoreResult<Vec<Receipt>> {
        self.read_receipts(events).await
    }

    async fn conflicts(&self) -> StoreResult<Vec<StoredConflict>> {
        self.read_conflicts().await
    }

    async fn contradicted(&self) -> StoreResult<std::collections::HashSet<EventId>> {
        self.read_contradicted().await
    }

    async fn exchange_tables(&self) -> StoreResult<ExchangeTables> {
        self.read_exchange_tables().await
    }

    async fn receive(&self, received: Received, hasher: ChainHasher) -> StoreResult<()> {
        self.write_received(received, hasher).await
    }

    async fn access_log(&self, limit: Option<u32>) -> StoreResult<Vec<AccessEntry>> {
        match limit {
            Some(limit) => {
                self.all(
                    "SELECT * FROM access_log ORDER BY seq LIMIT ?",
                    vec![i64::from(limit).into()],
                    access_from_row,
                )
                .await
            }
            None => {
                self.all(
                    "SELECT * FROM access_log ORDER BY seq",
                    vec![],
                    access_from_row,
                )
                .await
            }
        }
    }

    async fn access_log_page(&self, filter: &AccessFilter) -> StoreResult<Vec<AccessEntry>> {
        // The log grows with what people do, not with the people registered: a filtered
        // scan from the newest entry is cheap, and no index slows the appends.
        let mut sql = String::from("SELECT * FROM access_log WHERE 1 = 1");
        let mut arguments: Vec<Value> = Vec::new();
        for (column, value) in [
            ("actor", &filter.actor),
            ("action", &filter.action),
            ("subject", &filter.subject),
        ] {
            if let Some(value) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                arguments.push(value.as_str().into());
            }
        }
        // Times are stored as RFC 3339 in UTC, so the start of a day compares as text.
        let offset = filter.offset.unwrap_or(time::UtcOffset::UTC);
        if let Some(from) = filter.from {
            sql.push_str(" AND at >= ?");
            arguments.push(day_start_text(from, offset).into());
        }
        if let Some(to) = filter.to.and_then(|to| to.next_day()) {
            sql.push_str(" AND at < ?");
            arguments.push(day_start_text(to, offset).into());
        }
        if let Some(seq) = filter.before_seq {
            sql.push_str(" AND seq < ?");
            arguments.push(seq.into());
        }
        sql.push_str(" ORDER BY seq DESC LIMIT ?");
        arguments.push(i64::from(filter.limit).into());
        self.all(&sql, arguments, access_from_row).await
    }

    async fn aggregate_problems(&self) -> StoreResult<Vec<String>> {
        self.recount_aggregates().await
    }

    async fn load_state(&self) -> StoreResult<State> {
        let mut state = State::default();
        fill::<User>(&mut state, &self.rows("SELECT * FROM users", vec![]).await?)?;
        fill::<Location>(
            &mut state,
            &self.rows("SELECT * FROM locations", vec![]).await?,
        )?;
        fill::<Household>(
            &mut state,
            &self.rows("SELECT * FROM households", vec![]).await?,
        )?;
        fill::<Person>(
            &mut state,
            &self.rows("SELECT * FROM people", vec![]).await?,
        )?;
        fill::<Incident>(
            &mut state,
            &self.rows("SELECT * FROM incidents", vec![]).await?,
        )?;
        fill::<Note>(&mut state, &self.rows("SELECT * FROM notes", vec![]).await?)?;
        fill::<TransferBatch>(
            &mut state,
            &self.rows("SELECT * FROM batches", vec![]).await?,
        )?;
        Ok(state)
    }

    async fn table_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        self.count_tables().await
    }

    async fn copy_from(&self, source: &dyn Store) -> StoreResult<u64> {
        self.copy_organisation(source).await
    }

    async fn user_public_key(&self, user: UserId) -> StoreResult<Option<String>> {
        self.read_user_public_key(user).await
    }

    async fn current_compartments(&self) -> StoreResult<Vec<CompartmentKey>> {
        self.read_current_compartments().await
    }

    async fn holder_wrap(
        &self,
        compartment: &str,
        generation: i64,
        holder: &str,
    ) -> StoreResult<Option<String>> {
        self.read_holder_wrap(compartment, generation, holder).await
    }

    async fn holders(&self, compartment: &str, generation: i64) -> StoreResult<Vec<String>> {
        self.read_holders(compartment, generation).await
    }

    async fn record_keys(&self, records: &[String]) -> StoreResult<Vec<RecordKey>> {
        self.read_record_keys(records).await
    }

    async fn record_keys_in(
        &self,
        compartment: &str,
        generation: i64,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<RecordKey>> {
        self.read_record_keys_in(compartment, generation, after, limit)
            .await
    }

    async fn key_tables(&self) -> StoreResult<KeyTables> {
        self.read_key_tables().await
    }

    async fn erase_organisation(&self, keep_meta: &[&str]) -> StoreResult<()> {
        self.erase(keep_meta).await
    }

    async fn compact(&self) -> StoreResult<()> {
        B::compact(&self.pool).await
    }

    async fn scrub_freed(&self) -> StoreResult<()> {
        B::scrub_freed(&self.pool).await
    }
}
