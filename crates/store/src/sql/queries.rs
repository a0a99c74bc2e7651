//! Queries that filter: people (bounded walks over the list indexes), incidents, codes,
//! and pages of the event log.

use super::codec::*;
use super::records::Record;
use super::{KNOWN_PAGE, MAX_PARAMS, SqlStore};
use crate::backend::{Backend, Fields, Value};
use crate::*;
use std::collections::BTreeMap;

impl<B: Backend> SqlStore<B> {
    /// The events whose `column` (id or subject) is one of `values`, a page at a time.
    pub(super) async fn events_where_in(
        &self,
        column: &str,
        values: &[uuid::Uuid],
    ) -> StoreResult<Vec<Event>> {
        let mut events = Vec::new();
        for page in values.chunks(KNOWN_PAGE) {
            let sql = format!(
                "SELECT * FROM events WHERE {column} IN ({})",
                vec!["?"; page.len()].join(", ")
            );
            let arguments = page.iter().map(|id| Value::from(id.to_string())).collect();
            events.extend(self.all(&sql, arguments, event_from_row).await?);
        }
        Ok(events)
    }

    pub(super) async fn query_people(&self, filter: &PersonFilter) -> StoreResult<Vec<Person>> {
        if filter.locations.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let (conditions, mut arguments) = person_conditions(filter);
        match (filter.limit, filter.unordered) {
            // The first `limit` of several stages in (queue_since, code) order: one index walk per
            // stage, each stopping after `limit` rows, merged. A single query over several
            // stages would have to read and sort every matching row first, however many
            // there are. (One stage, or all, walk one index: the plain query below.)
            (Some(limit), false) if filter.stages.len() > 1 => {
                let stages = filter.stages.clone();
                let parts: Vec<String> = stages
                    .iter()
                    .enumerate()
                    .map(|(index, stage)| {
                        format!(
                            "SELECT * FROM (SELECT * FROM people WHERE stage = '{}'{conditions} \
                             ORDER BY queue_since, code LIMIT ?) AS stage_{index}",
                            stage.as_str()
                        )
                    })
                    .collect();
                let sql = format!(
                    "{} ORDER BY queue_since, code LIMIT ?",
                    parts.join(" UNION ALL ")
                );
                let mut all_arguments = Vec::new();
                for _ in &stages {
                    all_arguments.extend(arguments.iter().cloned());
                    all_arguments.push(Value::Int(i64::from(limit)));
                }
                all_arguments.push(Value::Int(i64::from(limit)));
                self.all(&sql, all_arguments, Person::decode).await
            }
            _ => {
                let mut sql = format!(
                    "SELECT * FROM people WHERE 1 = 1{}{conditions}",
                    stages_condition(&filter.stages)
                );
                if !filter.unordered {
                    sql.push_str(" ORDER BY queue_since, code");
                }
                if let Some(limit) = filter.limit {
                    sql.push_str(" LIMIT ?");
                    arguments.push(i64::from(limit).into());
                }
                self.all(&sql, arguments, Person::decode).await
            }
        }
    }

    pub(super) async fn query_due_follow_ups(
        &self,
        due_by: time::Date,
        locations: Option<&[LocationId]>,
        limit: u32,
    ) -> StoreResult<(Vec<Note>, u64)> {
        if locations.is_some_and(<[LocationId]>::is_empty) {
            return Ok((Vec::new(), 0));
        }
        // The partial index `notes_due` holds only the open follow-ups, and the notes drive
        // the query: a join let SQLite walk every waiting person (300,000) to find none.
        let mut person_conditions = String::from(
            "people.id = notes.person \
             AND people.stage IN ('hiding', 'transit', 'sheltered', 'detained')",
        );
        let mut arguments: Vec<Value> = vec![text_date(due_by).into()];
        if let Some(locations) = locations {
            person_conditions.push_str(&format!(
                " AND people.location IN ({})",
                vec!["?"; locations.len()].join(", ")
            ));
            arguments.extend(locations.iter().map(|id| id.to_string().into()));
        }
        let conditions = format!(
            " FROM notes WHERE notes.follow_up IS NOT NULL AND notes.follow_up_done IS NULL \
             AND notes.follow_up <= ? \
             AND EXISTS (SELECT 1 FROM people WHERE {person_conditions})"
        );
        let total = self
            .rows(
                &format!("SELECT COUNT(*) AS n{conditions}"),
                arguments.clone(),
            )
            .await?
            .first()
            .map_or(Ok(0), |row| count(row, "n"))?;
        let mut listed = arguments;
        listed.push(Value::Int(i64::from(limit)));
        let notes = self
            .all(
                &format!("SELECT notes.*{conditions} ORDER BY notes.follow_up, notes.id LIMIT ?"),
                listed,
                Note::decode,
            )
            .await?;
        Ok((notes, total))
    }

    pub(super) async fn query_taken_codes(&self, codes: &[String]) -> StoreResult<Vec<String>> {
        // A code's prefix names its kind, and each kind lives in one table: one indexed
        // lookup per code (an import checks hundreds of thousands).
        let mut by_table: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
        for code in codes {
            let table = match CodeKind::of_code(code) {
                Some(CodeKind::Person) => "people",
                Some(CodeKind::Household) => "households",
                Some(CodeKind::Incident) => "incidents",
                Some(CodeKind::Batch) => "batches",
                None => continue,
            };
            by_table.entry(table).or_default().push(code);
        }
        let mut taken = Vec::new();
        for (table, codes) in by_table {
            for chunk in codes.chunks(MAX_PARAMS) {
                let sql = format!(
                    "SELECT code FROM {table} WHERE code IN ({})",
                    vec!["?"; chunk.len()].join(", ")
                );
                let arguments = chunk.iter().map(|code| Value::from(*code)).collect();
                taken.extend(self.all(&sql, arguments, |row| row.text("code")).await?);
            }
        }
        Ok(taken)
    }

    pub(super) async fn read_events_page(
        &self,
        after: Option<EventCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        match after {
            None => {
                self.all(
                    "SELECT * FROM events ORDER BY hlc, node, seq LIMIT ?",
                    vec![i64::from(limit).into()],
                    event_from_row,
                )
                .await
            }
            Some(cursor) => {
                self.all(
                    "SELECT * FROM events WHERE (hlc, node, seq) > (?, ?, ?) \
                     ORDER BY hlc, node, seq LIMIT ?",
                    vec![
                        cursor.hlc.into(),
                        cursor.node.to_string().into(),
                        cursor.seq.into(),
                        i64::from(limit).into(),
                    ],
                    event_from_row,
                )
                .await
            }
        }
    }
}

/// `AND …` conditions and their arguments for a people filter (without its stages and
/// limit). Flags come from a closed vocabulary and are written as literals, so that the
/// partial indexes on urgent flags (migration 0008) can match.
pub(super) fn person_conditions(filter: &PersonFilter) -> (String, Vec<Value>) {
    let mut conditions = String::new();
    let mut arguments: Vec<Value> = Vec::new();
    if let Some(locations) = &filter.locations {
        conditions.push_str(&format!(
            " AND location IN ({})",
            vec!["?"; locations.len()].join(", ")
        ));
        arguments.extend(locations.iter().map(|location| location.to_string().into()));
    }
    if let Some(flag) = filter.flag {
        conditions.push_str(&format!(" AND flags LIKE '%,{},%'", flag.as_str()));
    }
    if let Some(household) = filter.household {
        conditions.push_str(" AND household = ?");
        arguments.push(household.to_string().into());
    }
    if let Some(name_index) = filter.name_index {
        conditions.push_str(" AND name_index = ?");
        arguments.push(name_index.into());
    }
    if let Some(date) = filter.waiting_since_on_or_before {
        conditions.push_str(" AND waiting_since <= ?");
        arguments.push(text_date(date).into());
    }
    if let Some((since, code)) = &filter.after {
        // A row value, so that both databases seek the list index to the cursor instead of
        // reading every row before it (an OR of the two cases defeats the seek).
        conditions.push_str(" AND (queue_since, code) > (?, ?)");
        arguments.push(text_date(*since).into());
        arguments.push(code.as_str().into());
    }
    (conditions, arguments)
}

impl<B: Backend> SqlStore<B> {
    pub(super) async fn read_person_facts(
        &self,
        stages: &[Stage],
    ) -> StoreResult<Vec<PersonFacts>> {
        let sql = format!(
            "SELECT id, since, purged, merged_into FROM people WHERE 1 = 1{}",
            stages_condition(stages)
        );
        let date = |text: Option<String>| text.map(|text| parse_date(&text)).transpose();
        self.rows(&sql, vec![])
            .await?
            .iter()
            .map(|row| {
                Ok(PersonFacts {
                    id: PersonId(parse_uuid(&row.text("id")?)?),
                    since: parse_date(&row.text("since")?)?,
                    purged: date(row.opt_text("purged")?)?,
                    merged_into: row
                        .opt_text("merged_into")?
                        .map(|text| parse_uuid(&text).map(PersonId))
                        .transpose()?,
                })
            })
            .collect()
    }
}

/// `AND stage IN (…)` with the stages as literals (a closed vocabulary); for any stage, every
/// record but merged duplicates (found only when asked for by their stage).
pub(super) fn stages_condition(stages: &[Stage]) -> String {
    if stages.is_empty() {
        return " AND stage <> 'merged'".to_string();
    }
    let list: Vec<String> = stages
        .iter()
        .map(|stage| format!("'{}'", stage.as_str()))
        .collect();
    format!(" AND stage IN ({})", list.join(", "))
}

pub(super) fn incident_conditions(filter: &IncidentFilter) -> (String, Vec<Value>) {
    let mut conditions = String::new();
    let mut arguments = Vec::new();
    if filter.open_only {
        conditions.push_str(" AND status = 'open'");
    }
    if filter.min_severity > 1 {
        conditions.push_str(" AND severity >= ?");
        arguments.push(Value::Int(i64::from(filter.min_severity)));
    }
    if let Some(locations) = &filter.locations {
        conditions.push_str(&format!(
            " AND location IN ({})",
            vec!["?"; locations.len()].join(", ")
        ));
        arguments.extend(locations.iter().map(|location| location.to_string().into()));
    }
    (conditions, arguments)
}
