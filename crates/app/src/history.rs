//! The event history and the access log, as users may see them.

use crate::*;
use refuge_core::event::hlc_millis;
use std::collections::HashMap;

/// An event as shown in the history: codes and operational facts only.
#[derive(Debug)]
pub struct EventView {
    pub node: NodeId,
    pub seq: i64,
    pub recorded: OffsetDateTime,
    pub actor: String,
    pub kind: &'static str,
    pub subject: String,
    pub summary: String,
}

impl App {
    /// The event history, of one person or of everything, oldest first; `visit` is called
    /// with each page so a large log streams.
    pub async fn history(
        &self,
        session: &Session,
        person: Option<&str>,
        mut visit: impl FnMut(Vec<EventView>) -> AppResult<()>,
    ) -> AppResult<()> {
        session.require(Action::ViewHistory)?;
        let users: HashMap<UserId, String> = self
            .store
            .users()
            .await?
            .into_iter()
            .map(|user| (user.id, user.name))
            .collect();
        let locations: HashMap<LocationId, String> = self.location_codes().await?;
        if let Some(code) = person {
            let person = self.person_by_code(session, code).await?;
            let events = self.store.events_of(person.id.0).await?;
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

    async fn event_views(
        &self,
        events: Vec<Event>,
        users: &HashMap<UserId, String>,
        locations: &HashMap<LocationId, String>,
    ) -> AppResult<Vec<EventView>> {
        let ids: Vec<Uuid> = events.iter().map(|event| event.body.subject()).collect();
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
                let summary = match &event.body {
                    EventBody::UserAdded { user } => format!("user {} ({})", user.name, user.role),
                    EventBody::UserChanged { role, active, .. } => {
                        format!("role {role}, active {active}")
                    }
                    EventBody::LocationAdded { location } => format!(
                        "{} {} in {}, {} beds",
                        location.code, location.kind, location.country, location.capacity
                    ),
                    EventBody::HouseholdAdded { household } => {
                        format!("household, split allowed: {}", household.split_allowed)
                    }
                    EventBody::PersonAdded { person } => format!(
                        "registered {} at {} since {}",
                        person.stage,
                        location(&person.location),
                        person.since
                    ),
                    EventBody::PersonMoved {
                        to,
                        stage,
                        at,
                        over_capacity,
                        ..
                    } => format!(
                        "moved to {} as {stage} on {at}{}",
                        location(to),
                        if *over_capacity {
                            " (over capacity)"
                        } else {
                            ""
                        }
                    ),
                    EventBody::FlagSet { flag, on, .. } => {
                        format!("{}{flag}", if *on { "+" } else { "-" })
                    }
                    EventBody::HoldSet { reason, .. } => match reason {
                        Some(reason) => format!("hold: {reason}"),
                        None => "hold released".to_string(),
                    },
                    EventBody::ReadinessSet {
                        documents_ready,
                        screening_done,
                        ..
                    } => {
                        format!(
                            "documents ready: {documents_ready}, screening done: {screening_done}"
                        )
                    }
                    EventBody::IncidentRecorded { incident } => format!(
                        "{} severity {} at {}",
                        incident.kind,
                        incident.severity,
                        location(&incident.location)
                    ),
                    EventBody::IncidentClosed { at, .. } => format!("closed on {at}"),
                    EventBody::BatchCreated { batch } => format!(
                        "draft for {} with {} seats to {}",
                        batch.departure,
                        batch.seats,
                        location(&batch.destination)
                    ),
                    EventBody::BatchPinned { pin, .. } => match pin {
                        Some(pin) => format!("household pinned {pin}"),
                        None => "pin cleared".to_string(),
                    },
                    EventBody::BatchPlanned { manifest, .. } => {
                        format!("planned: {} people", manifest.len())
                    }
                    EventBody::BatchStatusChanged { status, .. } => format!("now {status}"),
                };
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
                    summary,
                }
            })
            .collect())
    }

    pub async fn access_log(
        &self,
        session: &Session,
        limit: Option<u32>,
    ) -> AppResult<Vec<refuge_store::AccessEntry>> {
        session.require(Action::ViewAccessLog)?;
        Ok(self.store.access_log(limit).await?)
    }
}
