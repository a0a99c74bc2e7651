//! Settling a conflict a merge left (docs/exchange.md): an event that travels, so that the
//! conflict is settled on every installation that receives it.

use crate::keyring::NewKeys;
use crate::*;
use refuge_core::{EventId, Kept, LocationId, PersonId};
use refuge_store::{Guard, SideWrite};
use std::collections::BTreeSet;
use uuid::Uuid;

/// What settling a conflict wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The person or household, by code.
    pub record: String,
    pub field: String,
    pub kept: Kept,
}

impl App {
    /// `refuge conflicts resolve EVENT --keep shown|other`: the conflict named by the event
    /// not shown is settled. Keeping the other value writes it again, after both, so that it
    /// is shown everywhere; an event that contradicts the ones before it cannot be kept (a
    /// new value is written the usual way, on the record's page, and the one shown kept).
    pub async fn resolve_conflict(
        &self,
        session: &Session,
        conflict: &str,
        kept: Kept,
    ) -> AppResult<Resolved> {
        session.require(Action::Exchange)?;
        let unknown = || {
            AppError::invalid(
                "conflict",
                Reason::new("conflict-unknown").with("conflict", conflict.trim()),
            )
        };
        let id = Uuid::parse_str(conflict.trim())
            .map(EventId)
            .map_err(|_| unknown())?;
        let open = self.store.conflicts().await?;
        let found = open
            .into_iter()
            .find(|open| open.other == id)
            .ok_or_else(unknown)?;
        let code = self
            .store
            .codes_of(&[found.record])
            .await?
            .remove(&found.record)
            .unwrap_or_else(|| found.record.to_string());
        let mut events = Vec::new();
        let mut keys = self.new_keys(session).await?;
        let mut writes = Vec::new();
        let mut guards = Vec::new();
        if kept == Kept::Other {
            if found.shown.is_none() {
                return Err(AppError::invalid(
                    "keep",
                    Reason::new("conflict-contradiction-kept").with("record", &code),
                ));
            }
            let other = self
                .store
                .events_with_ids(&[id.0])
                .await?
                .into_iter()
                .next()
                .ok_or_else(unknown)?;
            let (body, record_guards) = self.kept_other(other.body, &code).await?;
            if let EventBody::PersonMoved { person, to, .. } = &body {
                self.seal_to_destination(session, *person, *to, &code, &mut keys, &mut writes)
                    .await?;
            }
            guards = record_guards;
            events.push(self.new_event(session, body)?);
        }
        events.push(self.new_event(
            session,
            EventBody::ConflictResolved {
                record: found.record,
                conflict: id,
                shown: found.shown,
                kept,
            },
        )?);
        writes.extend(keys.into_side_writes());
        self.commit(Commit {
            events,
            guards,
            side_writes: writes,
            ..Commit::default()
        })
        .await?;
        Ok(Resolved {
            record: code,
            field: found.field,
            kept,
        })
    }

    /// The other value as an edit written now, checked against the record as it is and
    /// guarded by its version: a move is dated today when it was dated earlier (it comes after
    /// the move shown, which is no later than today).
    async fn kept_other(&self, other: EventBody, code: &str) -> AppResult<(EventBody, Vec<Guard>)> {
        let body = match other {
            EventBody::PersonMoved {
                person,
                to,
                stage,
                at,
                over_capacity,
            } => EventBody::PersonMoved {
                person,
                to,
                stage,
                at: at.max(self.today()),
                over_capacity,
            },
            body => body,
        };
        let refs: BTreeSet<RecordRef> = body.touches().into_iter().collect();
        let mut records = self.store.records(&refs).await?;
        let guards = refs
            .iter()
            .filter_map(|record| {
                let version = match record {
                    RecordRef::Person(id) => records.people.get(id).map(|p| p.version),
                    RecordRef::Household(id) => records.households.get(id).map(|h| h.version),
                    _ => None,
                }?;
                Some(Guard::Version {
                    record: *record,
                    version,
                })
            })
            .collect();
        records.apply(&body).map_err(|_| {
            AppError::invalid(
                "keep",
                Reason::new("conflict-other-no-longer-applies").with("record", code),
            )
        })?;
        Ok((body, guards))
    }

    /// A move written again seals the person's identity to where they go, as any move does
    /// (to a compartment made now if the place has none: a location received without
    /// identities).
    async fn seal_to_destination(
        &self,
        session: &Session,
        person: PersonId,
        to: LocationId,
        code: &str,
        keys: &mut NewKeys,
        writes: &mut Vec<SideWrite>,
    ) -> AppResult<()> {
        let refs = BTreeSet::from([RecordRef::Person(person)]);
        let records = self.store.records(&refs).await?;
        if records
            .people
            .get(&person)
            .is_none_or(|now| now.location == to)
        {
            return Ok(());
        }
        let mut compartments = self.compartment_names().await?;
        self.ensure_compartment(to, &mut compartments, keys, writes)
            .await?;
        self.rewrap_record(session, &person.to_string(), code, &to.to_string(), keys)
            .await
    }
}
