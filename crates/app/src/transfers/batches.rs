//! The life of a batch: created and planned, pinned, re-planned, confirmed, departed,
//! completed or cancelled.

use crate::*;
use refuge_plan::Policy;
use refuge_store::{Guard, PersonFilter};
use std::collections::BTreeMap;

impl App {
    /// Creates a draft batch and plans its manifest, in one transaction.
    pub async fn create_batch(
        &self,
        session: &Session,
        request: &BatchRequest,
        destination: &str,
        policy: &Policy,
    ) -> AppResult<(TransferBatch, PlanReport)> {
        session.require(Action::PlanTransfers)?;
        let destination = self.location_by_code(destination).await?;
        let mut origins = Vec::new();
        for code in &request.origins {
            origins.push(self.location_by_code(code).await?.id);
        }
        if origins.is_empty() {
            origins = self
                .store
                .locations()
                .await?
                .into_iter()
                .filter(|l| matches!(l.kind, LocationKind::Shelter | LocationKind::Detention))
                .map(|l| l.id)
                .collect();
        }
        if request.date < self.today() {
            return Err(AppError::invalid(
                "date",
                Reason::new("departure-in-the-past"),
            ));
        }
        let batch = TransferBatch {
            id: BatchId(self.new_uuid()?),
            code: self.fresh_codes(CodeKind::Batch, 1).await?.remove(0),
            departure: request.date,
            seats: request.seats,
            origins,
            destination: destination.id,
            status: BatchStatus::Draft,
            manifest: Vec::new(),
            pins: BTreeMap::new(),
            version: 0,
        };
        let (report, planned) = self.plan_batch(&batch, policy).await?;
        let events = vec![
            self.new_event(
                session,
                EventBody::BatchCreated {
                    batch: batch.clone(),
                },
            )?,
            self.new_event(session, planned)?,
        ];
        self.commit(Commit {
            events,
            ..Commit::default()
        })
        .await?;
        let batch = self.batch_by_code(&batch.code).await?;
        Ok((batch, report))
    }

    /// Pins a household in or out of a draft (or clears the pin) and re-plans it.
    pub async fn pin_household(
        &self,
        session: &Session,
        batch_code: &str,
        household_code: &str,
        pin: Option<BatchPin>,
        policy: &Policy,
    ) -> AppResult<(TransferBatch, PlanReport)> {
        session.require(Action::PlanTransfers)?;
        let mut batch = self.batch_by_code(batch_code).await?;
        if batch.status != BatchStatus::Draft {
            return Err(AppError::invalid(
                "batch",
                Reason::new("only-a-draft-changes")
                    .with("batch", &batch.code)
                    .word("status", batch.status),
            ));
        }
        let household = match CodeKind::of_code(household_code) {
            Some(CodeKind::Person) => {
                self.person_by_code(session, household_code)
                    .await?
                    .household
            }
            _ => self.household_by_code(household_code).await?.id,
        };
        let version = batch.version;
        match pin {
            Some(pin) => batch.pins.insert(household, pin),
            None => batch.pins.remove(&household),
        };
        let (report, planned) = self.plan_batch(&batch, policy).await?;
        let events = vec![
            self.new_event(
                session,
                EventBody::BatchPinned {
                    batch: batch.id,
                    household,
                    pin,
                },
            )?,
            self.new_event(session, planned)?,
        ];
        self.commit(Commit {
            events,
            guards: vec![Guard::Version {
                record: RecordRef::Batch(batch.id),
                version,
            }],
            ..Commit::default()
        })
        .await?;
        Ok((self.batch_by_code(&batch.code).await?, report))
    }

    /// Re-plans a draft batch with the people waiting now.
    pub async fn replan_batch(
        &self,
        session: &Session,
        code: &str,
        policy: &Policy,
    ) -> AppResult<(TransferBatch, PlanReport)> {
        session.require(Action::PlanTransfers)?;
        let batch = self.batch_by_code(code).await?;
        if batch.status != BatchStatus::Draft {
            return Err(AppError::invalid(
                "batch",
                Reason::new("only-a-draft-is-planned")
                    .with("batch", &batch.code)
                    .word("status", batch.status),
            ));
        }
        let (report, planned) = self.plan_batch(&batch, policy).await?;
        self.commit(Commit {
            events: vec![self.new_event(session, planned)?],
            guards: vec![Guard::Version {
                record: RecordRef::Batch(batch.id),
                version: batch.version,
            }],
            ..Commit::default()
        })
        .await?;
        Ok((self.batch_by_code(code).await?, report))
    }

    /// Confirms, un-confirms (back to draft) or cancels a batch.
    pub async fn set_batch_status(
        &self,
        session: &Session,
        code: &str,
        status: BatchStatus,
    ) -> AppResult<TransferBatch> {
        session.require(Action::PlanTransfers)?;
        let batch = self.batch_by_code(code).await?;
        let mut events = vec![self.new_event(
            session,
            EventBody::BatchStatusChanged {
                batch: batch.id,
                status,
            },
        )?];
        let mut keys = self.new_keys(session).await?;
        match status {
            BatchStatus::Departed => {
                // Everyone on the manifest leaves for the destination today, their record
                // keys wrapped to it.
                let today = self.today();
                let destination = batch.destination.to_string();
                for person in &batch.manifest {
                    let id = person.to_string();
                    self.rewrap_record(session, &id, &id, &destination, &mut keys)
                        .await?;
                    events.push(self.new_event(
                        session,
                        EventBody::PersonMoved {
                            person: *person,
                            to: batch.destination,
                            stage: Stage::Departed,
                            at: today,
                            over_capacity: false,
                        },
                    )?);
                }
            }
            BatchStatus::Completed => {
                let today = self.today();
                let people = self
                    .store
                    .people(&PersonFilter {
                        stages: vec![Stage::Departed],
                        ..PersonFilter::default()
                    })
                    .await?;
                for person in people.iter().filter(|p| batch.manifest.contains(&p.id)) {
                    events.push(self.new_event(
                        session,
                        EventBody::PersonMoved {
                            person: person.id,
                            to: batch.destination,
                            stage: Stage::Arrived,
                            at: today.max(person.since),
                            over_capacity: false,
                        },
                    )?);
                }
            }
            _ => {}
        }
        self.commit(Commit {
            events,
            guards: vec![Guard::Version {
                record: RecordRef::Batch(batch.id),
                version: batch.version,
            }],
            side_writes: keys.into_side_writes(),
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::Batch,
                &batch.code,
                status.as_str(),
            )],
            ..Commit::default()
        })
        .await?;
        self.batch_by_code(code).await
    }
}
