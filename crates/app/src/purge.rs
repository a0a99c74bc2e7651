//! The retention policy (docs/retention.md): `refuge purge --arrived-before DATE` destroys
//! the identities of people who reached their destination before a date by destroying their
//! record keys (crypto-shredding), so the log keeps its chain and `verify` still passes,
//! while the anonymised facts stay for reports.

use crate::keyring::META_KEYS_SEALED;
use crate::*;
use refuge_store::{IncidentFilter, SideWrite};
use std::collections::{BTreeMap, BTreeSet};

/// People purged per transaction: a purge of a whole history is many short transactions,
/// each whole (run again after a stop, it goes on with the people left).
const PURGE_PAGE: usize = 2_000;

/// What a purge destroyed, or with `dry_run` would destroy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purged {
    pub arrived_before: Date,
    /// People who arrived before the date: their identity, notes and blind indexes.
    pub people: usize,
    /// Duplicate records merged into them.
    pub duplicates: usize,
    /// Narratives of closed incidents that concerned only purged people.
    pub narratives: usize,
    pub dry_run: bool,
}

/// What a purge is to destroy: person records (each followed by its merged duplicates) and
/// incident narratives.
struct Selection {
    people: Vec<PersonId>,
    duplicates: usize,
    incidents: Vec<IncidentId>,
}

impl App {
    /// Destroys the identities of the people who arrived before `arrived_before` (admins
    /// only; compartment keys only, since it destroys record keys): each person's record
    /// key, which seals their identity and case notes in the records and the log, and with
    /// it those of the duplicate records merged into them and of the closed incidents that
    /// concerned only purged people. Sex, birth year, dates, stages, locations and flags
    /// stay. Every session ends (their cached keys may have opened what is now destroyed);
    /// afterwards the write-ahead log is emptied, so that the destroyed keys (zeroed in the
    /// database file as they are deleted) are not left in its earlier frames.
    pub async fn purge(
        &self,
        session: &Session,
        arrived_before: Date,
        dry_run: bool,
    ) -> AppResult<Purged> {
        session.require(Action::Purge)?;
        if arrived_before > self.latest_day() {
            return Err(AppError::invalid(
                "arrived before",
                Reason::new("date-in-the-future").with("date", arrived_before),
            ));
        }
        if !self.compartment_model().await? {
            return Err(AppError::invalid(
                "keys",
                Reason::new("purge-needs-compartment-keys"),
            ));
        }
        let selection = self.purge_selection(arrived_before).await?;
        let purged = Purged {
            arrived_before,
            people: selection.people.len() - selection.duplicates,
            duplicates: selection.duplicates,
            narratives: selection.incidents.len(),
            dry_run,
        };
        if dry_run || (selection.people.is_empty() && selection.incidents.is_empty()) {
            return Ok(purged);
        }
        let on = self.today();
        // Each purge event with the record whose key it destroys, in pages of `PURGE_PAGE`.
        let purges: Vec<(EventBody, String)> = selection
            .people
            .into_iter()
            .map(|person| {
                let body = EventBody::PersonPurged {
                    person,
                    arrived_before,
                    on,
                };
                (body, person.to_string())
            })
            .chain(selection.incidents.into_iter().map(|incident| {
                (
                    EventBody::NarrativePurged { incident, on },
                    incident.to_string(),
                )
            }))
            .collect();
        for page in purges.chunks(PURGE_PAGE) {
            let detail = format!("arrived before {arrived_before}: {} records", page.len());
            let (bodies, records): (Vec<EventBody>, Vec<String>) = page.iter().cloned().unzip();
            let events = bodies
                .into_iter()
                .map(|body| self.new_event(session, body))
                .collect::<AppResult<Vec<_>>>()?;
            self.commit(Commit {
                events,
                side_writes: vec![
                    SideWrite::DropRecordKeys { records },
                    SideWrite::Meta {
                        key: META_KEYS_SEALED.into(),
                        value: self.new_uuid()?.to_string(),
                    },
                ],
                access: vec![self.access_entry(
                    &session.user().name,
                    AccessAction::Purged,
                    "organisation",
                    &detail,
                )],
                ..Commit::default()
            })
            .await?;
        }
        session.keys().forget_records();
        self.store.scrub_freed().await?;
        Ok(purged)
    }

    /// Who and what a purge up to `arrived_before` takes: the arrived not yet purged, each
    /// followed by their merged duplicates, and the closed incidents with a narrative whose
    /// people will all have been purged.
    async fn purge_selection(&self, arrived_before: Date) -> AppResult<Selection> {
        // The facts only, not whole records: 200,000 arrived of 300,000 took 1 GB as records.
        let arrived = self.store.person_facts(&[Stage::Arrived]).await?;
        let mut duplicates_of: BTreeMap<PersonId, Vec<PersonId>> = BTreeMap::new();
        for duplicate in self.store.person_facts(&[Stage::Merged]).await? {
            if let (Some(into), None) = (duplicate.merged_into, duplicate.purged) {
                duplicates_of.entry(into).or_default().push(duplicate.id);
            }
        }
        let mut gone: BTreeSet<PersonId> = BTreeSet::new();
        let mut people = Vec::new();
        let mut duplicates = 0;
        for person in arrived {
            if person.purged.is_some() {
                gone.insert(person.id);
            } else if person.since < arrived_before {
                gone.insert(person.id);
                people.push(person.id);
                if let Some(merged) = duplicates_of.remove(&person.id) {
                    duplicates += merged.len();
                    gone.extend(merged.iter().copied());
                    people.extend(merged);
                }
            }
        }
        let incidents = self
            .store
            .incidents(&IncidentFilter::default())
            .await?
            .into_iter()
            .filter(|incident| {
                incident.status == IncidentStatus::Closed
                    && incident.narrative.is_some()
                    && !incident.people.is_empty()
                    && incident.people.iter().all(|person| gone.contains(person))
            })
            .map(|incident| incident.id)
            .collect();
        Ok(Selection {
            people,
            duplicates,
            incidents,
        })
    }
}
