//! The event history and the access log, as users may see them.

use crate::*;
use refuge_core::event::hlc_millis;
use refuge_store::{AccessEntry, AccessFilter};
use std::collections::HashMap;

/// The most access-log entries one page reads.
pub const MAX_ACCESS_PAGE: u32 = 1_000;

/// An event as shown in the history: codes and operational facts only.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    pub node: NodeId,
    pub seq: i64,
    pub recorded: OffsetDateTime,
    pub actor: String,
    pub kind: &'static str,
    pub subject: String,
    pub change: Change,
}

/// What an event changed, as facts (codes, words of the closed vocabularies, dates): pages
/// render it in their language; `Display` is the stable English of the CLI.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    UserAdded {
        name: String,
        role: Role,
    },
    UserChanged {
        role: Role,
        active: bool,
    },
    LocationAdded {
        code: String,
        kind: LocationKind,
        country: String,
        capacity: u32,
    },
    HouseholdAdded {
        split_allowed: bool,
    },
    PersonAdded {
        stage: Stage,
        location: String,
        since: Date,
    },
    PersonMoved {
        to: String,
        stage: Stage,
        at: Date,
        over_capacity: bool,
    },
    FlagSet {
        flag: Flag,
        on: bool,
    },
    HoldSet {
        reason: Option<HoldReason>,
    },
    ReadinessSet {
        documents_ready: bool,
        screening_done: bool,
    },
    DestinationWishSet {
        wish: DestinationWish,
        on: Date,
    },
    IncidentRecorded {
        kind: IncidentKind,
        severity: u8,
        location: String,
    },
    IncidentClosed {
        at: Date,
    },
    /// A person left one household for another.
    PersonRehoused {
        from: String,
        to: String,
    },
    HouseholdSplitSet {
        split_allowed: bool,
    },
    /// A duplicate record (`duplicate`) was merged into `into`.
    PersonMerged {
        duplicate: String,
        into: String,
    },
    /// Fields of a person corrected (which ones, never their values).
    PersonCorrected {
        fields: Vec<&'static str>,
    },
    /// A case note was written (its text is never in the history).
    NoteAdded {
        follow_up: Option<Date>,
        /// How the person was, when the note records a welfare check-in.
        check_in: Option<Wellbeing>,
    },
    FollowUpDone {
        at: Date,
    },
    BatchCreated {
        departure: Date,
        seats: u32,
        destination: String,
    },
    BatchPinned {
        pin: Option<BatchPin>,
    },
    BatchPlanned {
        people: usize,
    },
    BatchStatusChanged {
        status: BatchStatus,
    },
    /// The person's identity destroyed by the retention policy.
    PersonPurged {
        arrived_before: Date,
        on: Date,
    },
    /// An incident's narrative destroyed by the retention policy.
    NarrativePurged {
        on: Date,
    },
    /// A conflict a merge left, settled: the value shown kept, or the other one.
    ConflictResolved {
        kept: Kept,
    },
}

impl std::fmt::Display for Change {
    #[expect(
        clippy::too_many_lines,
        reason = "one arm per kind of change: the English sentence of each"
    )]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::UserAdded { name, role } => write!(f, "user {name} ({role})"),
            Change::UserChanged { role, active } => write!(f, "role {role}, active {active}"),
            Change::LocationAdded {
                code,
                kind,
                country,
                capacity,
            } => write!(f, "{code} {kind} in {country}, {capacity} beds"),
            Change::HouseholdAdded { split_allowed } => {
                write!(f, "household, split allowed: {split_allowed}")
            }
            Change::PersonAdded {
                stage,
                location,
                since,
            } => write!(f, "registered {stage} at {location} since {since}"),
            Change::PersonMoved {
                to,
                stage,
                at,
                over_capacity,
            } => write!(
                f,
                "moved to {to} as {stage} on {at}{}",
                if *over_capacity {
                    " (over capacity)"
                } else {
                    ""
                }
            ),
            Change::FlagSet { flag, on } => write!(f, "{}{flag}", if *on { "+" } else { "-" }),
            Change::HoldSet { reason } => match reason {
                Some(reason) => write!(f, "hold: {reason}"),
                None => f.write_str("hold released"),
            },
            Change::ReadinessSet {
                documents_ready,
                screening_done,
            } => write!(
                f,
                "documents ready: {documents_ready}, screening done: {screening_done}"
            ),
            Change::DestinationWishSet { wish, on } => write!(f, "wants: {wish} (said on {on})"),
            Change::IncidentRecorded {
                kind,
                severity,
                location,
            } => write!(f, "{kind} severity {severity} at {location}"),
            Change::IncidentClosed { at } => write!(f, "closed on {at}"),
            Change::PersonCorrected { fields } => write!(f, "corrected: {}", fields.join(", ")),
            Change::PersonRehoused { from, to } => write!(f, "left household {from} for {to}"),
            Change::PersonMerged { duplicate, into } => {
                write!(f, "duplicate record {duplicate} merged into {into}")
            }
            Change::HouseholdSplitSet { split_allowed } => {
                write!(f, "household, split allowed: {split_allowed}")
            }
            Change::NoteAdded {
                follow_up,
                check_in,
            } => {
                match check_in {
                    Some(wellbeing) => write!(f, "welfare check-in: {wellbeing}")?,
                    None => f.write_str("case note")?,
                }
                match follow_up {
                    Some(date) => write!(f, ", follow up by {date}"),
                    None => Ok(()),
                }
            }
            Change::FollowUpDone { at } => write!(f, "follow-up done on {at}"),
            Change::BatchCreated {
                departure,
                seats,
                destination,
            } => write!(
                f,
                "draft for {departure} with {seats} seats to {destination}"
            ),
            Change::BatchPinned { pin } => match pin {
                Some(pin) => write!(f, "household pinned {pin}"),
                None => f.write_str("pin cleared"),
            },
            Change::BatchPlanned { people } => write!(f, "planned: {people} people"),
            Change::BatchStatusChanged { status } => write!(f, "now {status}"),
            Change::PersonPurged { arrived_before, on } => write!(
                f,
                "identity destroyed on {on} (purge of those who arrived before {arrived_before})"
            ),
            Change::NarrativePurged { on } => write!(f, "narrative destroyed on {on} (purge)"),
            Change::ConflictResolved { kept } => match kept {
                Kept::Shown => f.write_str("conflict settled: the value shown kept"),
                Kept::Other => f.write_str("conflict settled: the other value kept"),
            },
        }
    }
}

impl App {
    /// Every user's name by id, to show who did what.
    pub(crate) async fn user_names(&self) -> AppResult<HashMap<UserId, String>> {
        Ok(self
            .store
            .users()
            .await?
            .into_iter()
            .map(|user| (user.id, user.name))
            .collect())
    }

    /// The event history, of one person or of everything, oldest first; `visit` is called
    /// with each page so a large log streams.
    pub async fn history(
        &self,
        session: &Session,
        person: Option<&str>,
        mut visit: impl FnMut(Vec<EventView>) -> AppResult<()>,
    ) -> AppResult<()> {
        session.require(Action::ViewHistory)?;
        let users = self.user_names().await?;
        let locations: HashMap<LocationId, String> = self.location_codes().await?;
        if let Some(code) = person {
            let mut events: Vec<Event> = Vec::new();
            let records = self.person_with_merged(session, code).await?;
            for record in &records {
                events.extend(self.store.events_of(record.id.0).await?);
            }
            // Whether the household may travel apart decides the person's transfer too: who
            // allowed it belongs in their history.
            events.extend(
                self.store
                    .events_of(records[0].household.0)
                    .await?
                    .into_iter()
                    .filter(|event| matches!(event.body, EventBody::HouseholdSplitSet { .. })),
            );
            // One history of the person's records, oldest first, the merge itself once.
            events.sort_by_key(|event| (event.hlc, event.node, event.seq));
            events.dedup_by_key(|event| (event.node, event.seq));
            return visit(self.event_views(events, &users, &locations).await?);
        }
        let mut cursor = None;
        loop {
            let page = self.store.events_page(cursor, 5_000).await?;
            let Some(last) = page.last() else { break };
            cursor = Some(refuge_store::EventCursor::of(last));
            visit(self.event_views(page, &users, &locations).await?)?;
        }
        Ok(())
    }

    pub(crate) async fn event_views(
        &self,
        events: Vec<Event>,
        users: &HashMap<UserId, String>,
        locations: &HashMap<LocationId, String>,
    ) -> AppResult<Vec<EventView>> {
        // The subjects' codes, and the households a person moved between.
        let ids: Vec<Uuid> = events
            .iter()
            .flat_map(|event| {
                let mut ids = vec![event.body.subject()];
                match &event.body {
                    EventBody::PersonRehoused { from, to, .. } => ids.extend([from.0, to.0]),
                    EventBody::PersonMerged { into, .. } => ids.push(into.0),
                    _ => {}
                }
                ids
            })
            .collect();
        let codes = self.store.codes_of(&ids).await?;
        let location =
            |id: &LocationId| locations.get(id).cloned().unwrap_or_else(|| id.to_string());
        Ok(events
            .into_iter()
            .map(|event| {
                let subject_id = event.body.subject();
                let subject = codes
                    .get(&subject_id)
                    .cloned()
                    .or_else(|| locations.get(&LocationId(subject_id)).cloned())
                    .or_else(|| users.get(&UserId(subject_id)).cloned())
                    .unwrap_or_else(|| subject_id.to_string());
                let change = change_of(&event.body, &codes, &location);
                let recorded = OffsetDateTime::from_unix_timestamp_nanos(
                    i128::from(hlc_millis(event.hlc)) * 1_000_000,
                )
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                EventView {
                    node: event.node,
                    seq: event.seq,
                    recorded,
                    actor: users
                        .get(&event.actor)
                        .cloned()
                        .unwrap_or_else(|| event.actor.to_string()),
                    kind: event.body.kind(),
                    subject,
                    change,
                }
            })
            .collect())
    }

    pub async fn access_log(
        &self,
        session: &Session,
        limit: Option<u32>,
    ) -> AppResult<Vec<AccessEntry>> {
        session.require(Action::ViewAccessLog)?;
        Ok(self.store.access_log(limit).await?)
    }

    /// Access-log entries matching a filter, newest first, at most `MAX_ACCESS_PAGE`: an
    /// auditor's question ("who looked at this person, and who tried to?").
    pub async fn access_log_page(
        &self,
        session: &Session,
        filter: &AccessFilter,
    ) -> AppResult<Vec<AccessEntry>> {
        session.require(Action::ViewAccessLog)?;
        if let Some(action) = &filter.action {
            action
                .parse::<AccessAction>()
                .map_err(|error| AppError::invalid("action", Reason::unknown_word(&error)))?;
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from > to
        {
            return Err(AppError::invalid(
                "to",
                Reason::new("to-before-from")
                    .with("to", to)
                    .with("from", from),
            ));
        }
        let filter = AccessFilter {
            limit: filter.limit.clamp(1, MAX_ACCESS_PAGE),
            ..filter.clone()
        };
        Ok(self.store.access_log_page(&filter).await?)
    }

    /// Every access-log entry matching a filter (its limit ignored), newest first, as CSV;
    /// the export is itself logged. Returns how many entries were written.
    pub async fn access_log_csv(
        &self,
        session: &Session,
        filter: &AccessFilter,
        out: impl std::io::Write,
    ) -> AppResult<u64> {
        let mut writer = csv::Writer::from_writer(out);
        let failed = |error: csv::Error| AppError::csv_output("access log", error);
        writer
            .write_record(["seq", "at", "user", "action", "record", "detail"])
            .map_err(failed)?;
        let mut page = AccessFilter {
            limit: MAX_ACCESS_PAGE,
            ..filter.clone()
        };
        let mut written = 0u64;
        loop {
            let entries = self.access_log_page(session, &page).await?;
            let Some(last) = entries.last() else { break };
            page.before_seq = Some(last.seq);
            for entry in &entries {
                let seq = entry.seq.to_string();
                writer
                    .write_record([
                        seq.as_str(),
                        &entry.at,
                        &entry.actor,
                        &entry.action,
                        &entry.subject,
                        &entry.detail,
                    ])
                    .map_err(failed)?;
            }
            written += entries.len() as u64;
        }
        writer.flush().map_err(AppError::Output)?;
        self.log(
            &session.user().name,
            AccessAction::Export,
            "access log",
            &format!("{written} entries"),
        )
        .await?;
        Ok(written)
    }
}

/// What an event changed, as a fact the pages render per language: codes and location codes
/// in place of ids.
#[expect(
    clippy::too_many_lines,
    reason = "one arm per event kind: the table of what each event says"
)]
fn change_of(
    body: &EventBody,
    codes: &HashMap<Uuid, String>,
    location: &dyn Fn(&LocationId) -> String,
) -> Change {
    match body {
        EventBody::UserAdded { user } => Change::UserAdded {
            name: user.name.clone(),
            role: user.role,
        },
        EventBody::UserChanged { role, active, .. } => Change::UserChanged {
            role: *role,
            active: *active,
        },
        EventBody::LocationAdded { location } => Change::LocationAdded {
            code: location.code.clone(),
            kind: location.kind,
            country: location.country.clone(),
            capacity: location.capacity,
        },
        EventBody::HouseholdAdded { household } => Change::HouseholdAdded {
            split_allowed: household.split_allowed,
        },
        EventBody::PersonAdded { person } => Change::PersonAdded {
            stage: person.stage,
            location: location(&person.location),
            since: person.since,
        },
        EventBody::PersonMoved {
            to,
            stage,
            at,
            over_capacity,
            ..
        } => Change::PersonMoved {
            to: location(to),
            stage: *stage,
            at: *at,
            over_capacity: *over_capacity,
        },
        EventBody::FlagSet { flag, on, .. } => Change::FlagSet {
            flag: *flag,
            on: *on,
        },
        EventBody::HoldSet { reason, .. } => Change::HoldSet { reason: *reason },
        EventBody::ReadinessSet {
            documents_ready,
            screening_done,
            ..
        } => Change::ReadinessSet {
            documents_ready: *documents_ready,
            screening_done: *screening_done,
        },
        EventBody::DestinationWishSet { wish, on, .. } => Change::DestinationWishSet {
            wish: *wish,
            on: *on,
        },
        EventBody::IncidentRecorded { incident } => Change::IncidentRecorded {
            kind: incident.kind,
            severity: incident.severity,
            location: location(&incident.location),
        },
        EventBody::IncidentClosed { at, .. } => Change::IncidentClosed { at: *at },
        EventBody::PersonRehoused { from, to, .. } => Change::PersonRehoused {
            from: codes.get(&from.0).cloned().unwrap_or_default(),
            to: codes.get(&to.0).cloned().unwrap_or_default(),
        },
        EventBody::PersonMerged { person, into } => Change::PersonMerged {
            duplicate: codes.get(&person.0).cloned().unwrap_or_default(),
            into: codes.get(&into.0).cloned().unwrap_or_default(),
        },
        EventBody::HouseholdSplitSet { split_allowed, .. } => Change::HouseholdSplitSet {
            split_allowed: *split_allowed,
        },
        EventBody::PersonCorrected { correction, .. } => Change::PersonCorrected {
            fields: correction.fields(),
        },
        EventBody::NoteAdded { note } => Change::NoteAdded {
            follow_up: note.follow_up,
            check_in: note.check_in.as_ref().map(|check_in| check_in.wellbeing),
        },
        EventBody::FollowUpDone { at, .. } => Change::FollowUpDone { at: *at },
        EventBody::BatchCreated { batch } => Change::BatchCreated {
            departure: batch.departure,
            seats: batch.seats,
            destination: location(&batch.destination),
        },
        EventBody::BatchPinned { pin, .. } => Change::BatchPinned { pin: *pin },
        EventBody::BatchPlanned { manifest, .. } => Change::BatchPlanned {
            people: manifest.len(),
        },
        EventBody::BatchStatusChanged { status, .. } => {
            Change::BatchStatusChanged { status: *status }
        }
        EventBody::PersonPurged {
            arrived_before, on, ..
        } => Change::PersonPurged {
            arrived_before: *arrived_before,
            on: *on,
        },
        EventBody::NarrativePurged { on, .. } => Change::NarrativePurged { on: *on },
        EventBody::ConflictResolved { kept, .. } => Change::ConflictResolved { kept: *kept },
    }
}
