//! The aggregates kept in step with `people` inside every write (waiting by day, waiting by
//! wish, presence, flow by month), the backlogs read from them, and their recount for
//! `verify`.

use super::codec::*;
use super::{MAX_PARAMS, SqlStore, Tx};
use crate::backend::{Backend, Fields, Value, corrupt, db_error};
use crate::*;
use std::collections::BTreeMap;
use time::Date;

/// `waiting_by_day` counted from `people`: the people waiting at each location (sheltered or
/// detained) by the day they started waiting.
const WAITING_BY_DAY_RECOUNT: &str = "SELECT location, waiting_since AS since, COUNT(*) AS people \
     FROM people WHERE stage IN ('sheltered', 'detained') AND waiting_since IS NOT NULL \
     GROUP BY location, waiting_since";

/// `waiting_by_wish` counted from `people`: the people waiting by their wish ('' while not
/// asked) and the day they started waiting.
const WAITING_BY_WISH_RECOUNT: &str = "SELECT COALESCE(wish, '') AS wish, waiting_since AS since, \
     COUNT(*) AS people FROM people \
     WHERE stage IN ('sheltered', 'detained') AND waiting_since IS NOT NULL \
     GROUP BY COALESCE(wish, ''), waiting_since";

impl<B: Backend> SqlStore<B> {
    pub(super) async fn read_backlog_rows(&self) -> StoreResult<Vec<BacklogRow>> {
        let locations = self.locations().await?;
        let occupancy: BTreeMap<LocationId, u64> = self.occupancy().await?.into_iter().collect();
        // One row per location and arrival day, whatever the number of people.
        let mut waiting_since: BTreeMap<String, Vec<(Date, u64)>> = BTreeMap::new();
        for row in self
            .rows(
                "SELECT location, since, people FROM waiting_by_day WHERE people > 0",
                vec![],
            )
            .await?
        {
            waiting_since
                .entry(row.text("location")?)
                .or_default()
                .push((parse_date(&row.text("since")?)?, count(&row, "people")?));
        }
        let mut incidents: BTreeMap<String, [u64; 4]> = BTreeMap::new();
        for row in self
            .rows(
                "SELECT location, severity, COUNT(*) AS open FROM incidents \
                 WHERE status = 'open' GROUP BY location, severity",
                vec![],
            )
            .await?
        {
            let severity = usize::try_from(row.int("severity")?).map_err(corrupt)?;
            if let Some(slot) = incidents
                .entry(row.text("location")?)
                .or_default()
                .get_mut(severity.saturating_sub(1))
            {
                *slot = count(&row, "open")?;
            }
        }
        Ok(locations
            .into_iter()
            .map(|location| {
                let key = location.id.to_string();
                BacklogRow {
                    present: occupancy.get(&location.id).copied().unwrap_or_default(),
                    waiting_since: waiting_since.remove(&key).unwrap_or_default(),
                    open_incidents: incidents.get(&key).copied().unwrap_or_default(),
                    location,
                }
            })
            .collect())
    }

    /// One row per wish ('' while not asked) and first day of waiting, from the aggregate.
    pub(super) async fn read_waiting_by_wish(
        &self,
    ) -> StoreResult<Vec<(Option<DestinationWish>, Date, u64)>> {
        self.rows(
            "SELECT wish, since, people FROM waiting_by_wish WHERE people > 0",
            vec![],
        )
        .await?
        .iter()
        .map(|row| {
            let wish = row.text("wish")?;
            Ok((
                (!wish.is_empty())
                    .then(|| wish.parse().map_err(corrupt))
                    .transpose()?,
                parse_date(&row.text("since")?)?,
                count(row, "people")?,
            ))
        })
        .collect()
    }

    pub(super) async fn recount_aggregates(&self) -> StoreResult<Vec<String>> {
        // Each aggregate against a recount from `people`, both ways: rows that differ and
        // rows that exist on one side only.
        let checks = [
            (
                "waiting_by_day",
                "SELECT location, since, people AS n FROM waiting_by_day WHERE people <> 0",
                WAITING_BY_DAY_RECOUNT,
                "location || ' ' || since",
            ),
            (
                "waiting_by_wish",
                "SELECT wish, since, people FROM waiting_by_wish WHERE people <> 0",
                WAITING_BY_WISH_RECOUNT,
                "wish || ' ' || since",
            ),
            (
                "presence",
                "SELECT location, present AS n FROM presence WHERE present <> 0",
                "SELECT location, COUNT(*) AS n FROM people \
                 WHERE stage IN ('hiding', 'transit', 'sheltered', 'detained') GROUP BY location",
                "location",
            ),
        ];
        let mut problems = Vec::new();
        for row in self
            .rows(
                "SELECT code FROM people WHERE queue_since <> COALESCE(waiting_since, since) \
                 ORDER BY code LIMIT 20",
                vec![],
            )
            .await?
        {
            problems.push(format!(
                "person {}: the list order date is not the waiting start",
                row.text("code")?
            ));
        }
        for (table, stored, recount) in checks.iter().map(|(t, s, r, w)| {
            (
                t,
                format!("SELECT {w} AS what FROM ({s} EXCEPT {r}) AS stored_only"),
                format!("SELECT {w} AS what FROM ({r} EXCEPT {s}) AS recount_only"),
            )
        }) {
            let sql = format!("{stored} UNION ALL {recount} LIMIT 20");
            for row in self.rows(&sql, vec![]).await? {
                problems.push(format!(
                    "{table} row {} does not match the people table",
                    row.text("what")?
                ));
            }
        }
        Ok(problems)
    }

    /// Until 2026-12 a move restarted the waiting time (`since`): databases from before get
    /// `waiting_since` from their event log once, on opening (migration 0009 of SQLite, 0004
    /// of PostgreSQL assumed no move between waiting places), and `waiting_by_day`, keyed by
    /// it now, recounted; marked in `meta`.
    pub(super) async fn waiting_since_from_events_once(&self) -> StoreResult<()> {
        const DONE: &str = "waiting_since_from_events";
        if self
            .optional_row("SELECT value FROM meta WHERE key = ?", vec![DONE.into()])
            .await?
            .is_some()
        {
            return Ok(());
        }
        // The projection's own rule over each person's registration and moves, in log order.
        let mut from_log: BTreeMap<PersonId, Option<Date>> = BTreeMap::new();
        for event in self
            .events_of_kinds(&["person_added", "person_moved"])
            .await?
        {
            match &event.body {
                EventBody::PersonAdded { person } => {
                    let since = waiting_since_at_registration(person).map_err(corrupt)?;
                    from_log.insert(person.id, since);
                }
                EventBody::PersonMoved {
                    person, stage, at, ..
                } => {
                    if let Some(since) = from_log.get_mut(person) {
                        *since = waiting_since_after_move(*since, *stage, *at);
                    }
                }
                _ => {}
            }
        }
        let mut tx = B::begin_write(&self.pool).await?;
        // Only the people whose value differs from the migration's are written: those moved
        // between waiting places.
        for row in B::fetch_all(&mut tx, "SELECT id, waiting_since FROM people", vec![]).await? {
            let id = PersonId(parse_uuid(&row.text("id")?)?);
            let stored = row
                .opt_text("waiting_since")?
                .map(|text| parse_date(&text))
                .transpose()?;
            let Some(&since) = from_log.get(&id) else {
                continue;
            };
            if since != stored {
                let since = since.map(text_date);
                B::execute(
                    &mut tx,
                    "UPDATE people SET waiting_since = ?, queue_since = COALESCE(?, since) \
                     WHERE id = ?",
                    vec![since.clone().into(), since.into(), id.to_string().into()],
                )
                .await?;
            }
        }
        for (table, columns, recount) in [
            (
                "waiting_by_day",
                "location, since, people",
                WAITING_BY_DAY_RECOUNT,
            ),
            (
                "waiting_by_wish",
                "wish, since, people",
                WAITING_BY_WISH_RECOUNT,
            ),
        ] {
            B::execute(&mut tx, &format!("DELETE FROM {table}"), vec![]).await?;
            B::execute(
                &mut tx,
                &format!("INSERT INTO {table} ({columns}) {recount}"),
                vec![],
            )
            .await?;
        }
        super::commit::set_meta::<B>(&mut tx, DONE.to_string(), "yes".to_string()).await?;
        tx.commit().await.map_err(db_error)
    }

    /// Until 2026-12 the monthly flow missed people added and departed in one write (the
    /// demo, imports of histories): databases from before get it recounted from their event
    /// log once, on opening, marked in `meta`.
    pub(super) async fn recount_flow_once(&self) -> StoreResult<()> {
        const DONE: &str = "flow_by_month_from_events";
        if self
            .optional_row("SELECT value FROM meta WHERE key = ?", vec![DONE.into()])
            .await?
            .is_some()
        {
            return Ok(());
        }
        let events = self
            .rows(
                "SELECT * FROM events WHERE kind IN ('person_added', 'person_moved')",
                vec![],
            )
            .await?
            .iter()
            .map(event_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let flow = monthly_flow(events.iter().map(|event| &event.body));
        let mut tx = B::begin_write(&self.pool).await?;
        B::execute(&mut tx, "DELETE FROM flow_by_month", vec![]).await?;
        for (month, (entered, departed)) in flow {
            B::execute(
                &mut tx,
                "INSERT INTO flow_by_month (month, entered, departed) VALUES (?, ?, ?)",
                vec![month.into(), Value::Int(entered), Value::Int(departed)],
            )
            .await?;
        }
        super::commit::set_meta::<B>(&mut tx, DONE.to_string(), "yes".to_string()).await?;
        tx.commit().await.map_err(db_error)
    }

    /// (month, entered, departed) rows of the monthly flow.
    pub(super) async fn flow_rows(
        &self,
        sql: &str,
        arguments: Vec<Value>,
    ) -> StoreResult<Vec<(String, u64, u64)>> {
        self.rows(sql, arguments)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.text("month")?,
                    count(row, "entered")?,
                    count(row, "departed")?,
                ))
            })
            .collect()
    }
}

/// Moves the waiting-by-day and presence counts by the changes to these people, and the
/// monthly flow by `flow`.
pub(super) async fn update_aggregates<B: Backend>(
    tx: &mut Tx<B>,
    before: &BTreeMap<PersonId, Person>,
    after: &[&Person],
    flow: BTreeMap<String, (i64, i64)>,
) -> StoreResult<()> {
    let mut waiting: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut by_wish: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut present: BTreeMap<String, i64> = BTreeMap::new();
    if !flow.is_empty() {
        let rows: Vec<(String, (i64, i64))> = flow.into_iter().collect();
        let sql = format!(
            "INSERT INTO flow_by_month (month, entered, departed) VALUES {} \
             ON CONFLICT (month) DO UPDATE SET entered = flow_by_month.entered + excluded.entered, \
             departed = flow_by_month.departed + excluded.departed",
            vec!["(?, ?, ?)"; rows.len()].join(", ")
        );
        let arguments = rows
            .into_iter()
            .flat_map(|(month, (entered, departed))| {
                [
                    Value::Text(month),
                    Value::Int(entered),
                    Value::Int(departed),
                ]
            })
            .collect();
        B::execute(tx, &sql, arguments).await?;
    }
    let mut count = |person: &Person, delta: i64| {
        if let (true, Some(since)) = (person.stage.is_waiting(), person.waiting_since) {
            *waiting
                .entry((person.location.to_string(), text_date(since)))
                .or_default() += delta;
            let wish = person.wish.map(|wish| wish.to_string()).unwrap_or_default();
            *by_wish.entry((wish, text_date(since))).or_default() += delta;
        }
        if person.stage.is_present() {
            *present.entry(person.location.to_string()).or_default() += delta;
        }
    };
    for person in after {
        if let Some(old) = before.get(&person.id) {
            count(old, -1);
        }
        count(person, 1);
    }
    let waiting = add_counts::<B>(tx, "waiting_by_day", "location", waiting).await?;
    let by_wish = add_counts::<B>(tx, "waiting_by_wish", "wish", by_wish).await?;
    let present: Vec<(String, i64)> = present
        .into_iter()
        .filter(|(_, delta)| *delta != 0)
        .collect();
    for chunk in present.chunks(MAX_PARAMS / 2) {
        let sql = format!(
            "INSERT INTO presence (location, present) VALUES {} \
             ON CONFLICT (location) DO UPDATE SET present = presence.present + excluded.present",
            vec!["(?, ?)"; chunk.len()].join(", ")
        );
        let arguments = chunk
            .iter()
            .flat_map(|(location, delta)| [location.into(), Value::Int(*delta)])
            .collect();
        B::execute(tx, &sql, arguments).await?;
    }
    if waiting {
        B::execute(tx, "DELETE FROM waiting_by_day WHERE people = 0", vec![]).await?;
    }
    if by_wish {
        B::execute(tx, "DELETE FROM waiting_by_wish WHERE people = 0", vec![]).await?;
    }
    Ok(())
}

/// Adds each (key, day) count change to `table`, keyed by (`key`, since); whether any
/// changed.
async fn add_counts<B: Backend>(
    tx: &mut Tx<B>,
    table: &str,
    key: &str,
    changes: BTreeMap<(String, String), i64>,
) -> StoreResult<bool> {
    let changes: Vec<((String, String), i64)> = changes
        .into_iter()
        .filter(|(_, delta)| *delta != 0)
        .collect();
    for chunk in changes.chunks(MAX_PARAMS / 3) {
        let sql = format!(
            "INSERT INTO {table} ({key}, since, people) VALUES {} \
             ON CONFLICT ({key}, since) DO UPDATE SET people = {table}.people + excluded.people",
            vec!["(?, ?, ?)"; chunk.len()].join(", ")
        );
        let arguments = chunk
            .iter()
            .flat_map(|((key, since), delta)| [key.into(), since.into(), Value::Int(*delta)])
            .collect();
        B::execute(tx, &sql, arguments).await?;
    }
    Ok(!changes.is_empty())
}
