//! Welfare checks due (docs/welfare.md): the waiting people a schedule's cutoffs say are
//! due a check, and the self-harm days of logs written before they were kept.

use super::codec::*;
use super::records::Record;
use super::{MAX_PARAMS, SqlStore};
use crate::backend::{Backend, Fields, Value, db_error};
use crate::*;
use std::collections::BTreeMap;
use time::Date;

/// The three ways a check falls due, as conditions over `people` with their arguments; a
/// translation of `WelfareSchedule::due`, which the app's conformance test holds it to.
fn due_conditions(cutoffs: &DueCutoffs) -> [(&'static str, Vec<Value>); 3] {
    let day = |date: Date| Value::from(text_date(date));
    [
        (
            "self_harm_unchecked IS NOT NULL AND self_harm_unchecked <= ?",
            vec![day(cutoffs.self_harm_by)],
        ),
        (
            "flags LIKE '%,self_harm_risk,%' AND COALESCE(checked_in, waiting_since) <= ?",
            vec![day(cutoffs.flagged_checked_by)],
        ),
        (
            "waiting_since <= ? AND (checked_in IS NULL OR checked_in <= ?)",
            vec![day(cutoffs.waited_since), day(cutoffs.checked_by)],
        ),
    ]
}

fn location_condition(locations: Option<&[LocationId]>) -> (String, Vec<Value>) {
    match locations {
        Some(locations) => (
            format!(
                " AND location IN ({})",
                vec!["?"; locations.len()].join(", ")
            ),
            locations.iter().map(|id| id.to_string().into()).collect(),
        ),
        None => (String::new(), Vec::new()),
    }
}

impl<B: Backend> SqlStore<B> {
    pub(super) async fn query_welfare_due(
        &self,
        cutoffs: DueCutoffs,
        locations: Option<&[LocationId]>,
        limit: u32,
    ) -> StoreResult<WelfareDue> {
        if locations.is_some_and(<[LocationId]>::is_empty) {
            return Ok(WelfareDue::default());
        }
        let (in_locations, location_arguments) = location_condition(locations);
        let conditions = due_conditions(&cutoffs);
        // The first `limit` of each way, each read in its own order (the most pressing first
        // within it); the app orders the union by the rule and keeps `limit`.
        let mut people = BTreeMap::new();
        for (index, (condition, arguments)) in conditions.iter().enumerate().filter(|_| limit > 0) {
            // The longest unchecked first: the due day follows the last check-in (or the
            // wait's start) but for a long wait checked early in it. Ties by id, which the
            // index holds (the code would send the query to every matching row).
            let order = if index == 0 {
                "self_harm_unchecked, id"
            } else {
                "COALESCE(checked_in, waiting_since), id"
            };
            let mut all_arguments = arguments.clone();
            all_arguments.extend(location_arguments.iter().cloned());
            all_arguments.push(Value::Int(i64::from(limit)));
            // The ids from the index alone, then only their rows.
            let ids: Vec<Value> = self
                .rows(
                    &format!(
                        "SELECT id FROM people WHERE waiting_since IS NOT NULL AND {condition}\
                         {in_locations} ORDER BY {order} LIMIT ?"
                    ),
                    all_arguments,
                )
                .await?
                .iter()
                .map(|row| row.text("id").map(Value::from))
                .collect::<StoreResult<_>>()?;
            for chunk in ids.chunks(MAX_PARAMS) {
                for person in self
                    .all(
                        &format!(
                            "SELECT * FROM people WHERE id IN ({})",
                            vec!["?"; chunk.len()].join(", ")
                        ),
                        chunk.to_vec(),
                        Person::decode,
                    )
                    .await?
                {
                    people.insert(person.id, person);
                }
            }
        }
        // Each person once, whichever ways make them due.
        let any = conditions
            .iter()
            .map(|(condition, _)| format!("({condition})"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let mut arguments: Vec<Value> = conditions
            .into_iter()
            .flat_map(|(_, arguments)| arguments)
            .collect();
        arguments.extend(location_arguments);
        let mut per_location = BTreeMap::new();
        for row in self
            .rows(
                &format!(
                    "SELECT location, COUNT(*) AS n FROM people \
                     WHERE waiting_since IS NOT NULL AND ({any}){in_locations} GROUP BY location"
                ),
                arguments,
            )
            .await?
        {
            per_location.insert(
                LocationId(parse_uuid(&row.text("location")?)?),
                count(&row, "n")?,
            );
        }
        Ok(WelfareDue {
            people: people.into_values().collect(),
            per_location,
        })
    }

    /// Until 2026-12 a self-harm incident left no day on the people involved: databases
    /// from before get it from their event log once, on opening, by the projection's rule
    /// (the latest such incident; a merge hands the duplicate's to the kept record; no
    /// check-in could answer it then); marked in `meta`.
    pub(super) async fn self_harm_days_from_events_once(&self) -> StoreResult<()> {
        const DONE: &str = "self_harm_days_from_events";
        if self
            .optional_row("SELECT value FROM meta WHERE key = ?", vec![DONE.into()])
            .await?
            .is_some()
        {
            return Ok(());
        }
        let mut days: BTreeMap<PersonId, Date> = BTreeMap::new();
        // A contradicted received event is not applied (docs/exchange.md): not here either.
        let contradicted = self.read_contradicted().await?;
        for event in self
            .events_of_kinds(&["incident_recorded", "person_merged"])
            .await?
        {
            if contradicted.contains(&event.id) {
                continue;
            }
            match &event.body {
                EventBody::IncidentRecorded { incident }
                    if incident.kind == IncidentKind::SelfHarm =>
                {
                    for person in &incident.people {
                        let day = days.entry(*person).or_insert(incident.occurred);
                        *day = (*day).max(incident.occurred);
                    }
                }
                EventBody::PersonMerged { person, into } => {
                    if let Some(day) = days.get(person).copied() {
                        let kept = days.entry(*into).or_insert(day);
                        *kept = (*kept).max(day);
                    }
                }
                _ => {}
            }
        }
        let mut tx = B::begin_write(&self.pool).await?;
        for (person, day) in days {
            B::execute(
                &mut tx,
                "UPDATE people SET self_harm_unchecked = ? WHERE id = ?",
                vec![text_date(day).into(), person.to_string().into()],
            )
            .await?;
        }
        super::commit::set_meta::<B>(&mut tx, DONE.to_string(), "yes".to_string()).await?;
        tx.commit().await.map_err(db_error)
    }
}
