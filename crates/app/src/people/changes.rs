//! Changing people: moves, flags, holds, readiness.

use crate::*;
use refuge_store::Guard;

impl App {
    /// Moves a person, or every member of a household still in the pipeline, to a location
    /// (and optionally a new stage). Refused at capacity unless `over_capacity` is given, in
    /// which case the event records it.
    pub async fn move_to(
        &self,
        session: &Session,
        code: &str,
        to: &str,
        stage: Option<Stage>,
        at: Option<Date>,
        over_capacity: bool,
    ) -> AppResult<MoveReport> {
        session.require(Action::MovePeople)?;
        let mut movers = self.resolve_people(session, code).await?;
        if CodeKind::of_code(code) == Some(CodeKind::Household) {
            movers.retain(|person| person.stage.is_present());
            if movers.is_empty() {
                return Err(AppError::invalid(
                    "code",
                    Reason::new("household-nobody-to-move").with("household", normalize_code(code)),
                ));
            }
        }
        let location = self.location_by_code(to).await?;
        let at = at.unwrap_or(self.today());
        if at > self.latest_day() {
            return Err(AppError::invalid("at", Reason::new("move-in-the-future")));
        }
        let arriving = arrivals(&movers, &location, stage, at)?;
        let present = self
            .store
            .occupancy()
            .await?
            .into_iter()
            .find(|(id, _)| *id == location.id)
            .map_or(0, |(_, present)| present);
        let overflows = present + u64::from(arriving) > u64::from(location.capacity);
        let mut guards: Vec<Guard> = movers
            .iter()
            .map(|person| Guard::Version {
                record: RecordRef::Person(person.id),
                version: person.version,
            })
            .collect();
        if !over_capacity && arriving > 0 {
            guards.push(Guard::LocationHasRoom {
                location: location.id,
                arriving,
            });
        }
        let mut events = Vec::new();
        // Each record key is wrapped to the destination: its members open the person from
        // now on, and (unless they hold it too) the mover no longer does.
        let mut keys = self.new_keys(session).await?;
        for person in &movers {
            if person.location != location.id {
                self.rewrap_record(
                    session,
                    &person.id.to_string(),
                    &person.code,
                    &location.id.to_string(),
                    &mut keys,
                )
                .await?;
            }
            events.push(self.new_event(
                session,
                EventBody::PersonMoved {
                    person: person.id,
                    to: location.id,
                    stage: stage.unwrap_or(person.stage),
                    at,
                    over_capacity: over_capacity && overflows,
                },
            )?);
        }
        self.commit(Commit {
            events,
            guards,
            side_writes: keys.into_side_writes(),
            ..Commit::default()
        })
        .await?;
        Ok(MoveReport {
            moved: movers.into_iter().map(|person| person.code).collect(),
            location: location.code,
            over_capacity: over_capacity && overflows,
        })
    }

    /// Sets (true) or clears (false) flags on a person.
    pub async fn set_flags(
        &self,
        session: &Session,
        code: &str,
        changes: &[(Flag, bool)],
    ) -> AppResult<Person> {
        session.require(Action::FlagPeople)?;
        if CodeKind::of_code(code) != Some(CodeKind::Person) {
            return Err(AppError::invalid(
                "code",
                Reason::new("not-a-person-code").with("code", code),
            ));
        }
        let person = self.person_by_code(session, code).await?;
        let mut events = Vec::new();
        for (flag, on) in changes {
            events.push(self.new_event(
                session,
                EventBody::FlagSet {
                    person: person.id,
                    flag: *flag,
                    on: *on,
                },
            )?);
        }
        // Setting or clearing a flag does not depend on the record's other fields, so two
        // people flagging at once lose nothing: no version guard (moves keep theirs).
        self.commit(Commit {
            events,
            ..Commit::default()
        })
        .await?;
        self.person_by_code(session, code).await
    }

    /// Applies one per-person event to everyone a person or household code names.
    async fn for_each_person(
        &self,
        session: &Session,
        action: Action,
        code: &str,
        body: impl Fn(&Person) -> EventBody,
    ) -> AppResult<Vec<String>> {
        session.require(action)?;
        let people = self.resolve_people(session, code).await?;
        let mut events = Vec::new();
        let mut guards = Vec::new();
        for person in &people {
            events.push(self.new_event(session, body(person))?);
            guards.push(Guard::Version {
                record: RecordRef::Person(person.id),
                version: person.version,
            });
        }
        self.commit(Commit {
            events,
            guards,
            ..Commit::default()
        })
        .await?;
        Ok(people.into_iter().map(|person| person.code).collect())
    }

    /// Puts a person or household on hold with a reason, or releases the hold (None).
    pub async fn set_hold(
        &self,
        session: &Session,
        code: &str,
        reason: Option<HoldReason>,
    ) -> AppResult<Vec<String>> {
        self.for_each_person(session, Action::HoldPeople, code, |person| {
            EventBody::HoldSet {
                person: person.id,
                reason,
            }
        })
        .await
    }

    /// Records where a person, or every member of a household, wants to go, as said today.
    pub async fn set_wish(
        &self,
        session: &Session,
        code: &str,
        wish: DestinationWish,
    ) -> AppResult<Vec<String>> {
        let on = self.today();
        self.for_each_person(session, Action::FlagPeople, code, |person| {
            EventBody::DestinationWishSet {
                person: person.id,
                wish,
                on,
            }
        })
        .await
    }

    /// Records transfer readiness (documents, screening) for a person or household. A value
    /// left None keeps each person's current one.
    pub async fn set_ready(
        &self,
        session: &Session,
        code: &str,
        documents_ready: Option<bool>,
        screening_done: Option<bool>,
    ) -> AppResult<Vec<String>> {
        self.for_each_person(session, Action::FlagPeople, code, |person| {
            EventBody::ReadinessSet {
                person: person.id,
                documents_ready: documents_ready.unwrap_or(person.documents_ready),
                screening_done: screening_done.unwrap_or(person.screening_done),
            }
        })
        .await
    }
}

/// How many of the movers arrive at `location` (those not already present there), each move
/// checked first: a stage it may take, on a day not before their arrival where they are.
fn arrivals(
    movers: &[Person],
    location: &Location,
    stage: Option<Stage>,
    at: Date,
) -> AppResult<u32> {
    let mut arriving = 0u32;
    for person in movers {
        let new_stage = stage.unwrap_or(person.stage);
        person.stage.check_transition(new_stage).map_err(|error| {
            AppError::invalid(
                "stage",
                Reason::new("stage-transition")
                    .with("person", &person.code)
                    .word("from", error.from)
                    .word("to", error.to),
            )
        })?;
        if at < person.since {
            return Err(AppError::invalid(
                "at",
                Reason::new("move-before-arrival")
                    .with("person", &person.code)
                    .with("since", person.since)
                    .with("at", at),
            ));
        }
        let already_here = person.location == location.id && person.stage.is_present();
        if new_stage.is_present() && !already_here {
            arriving += 1;
        }
    }
    Ok(arriving)
}
