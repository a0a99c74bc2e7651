//! The retention policy's purge: identities and narratives destroyed, facts kept.

use super::*;

/// What needs a person's identity (a correction, a merge, a note under their key) is
/// refused once it is destroyed.
pub(super) fn refuse_purged(person: &Person) -> Result<(), ProjectionError> {
    match person.purged {
        Some(on) => Err(ProjectionError::Invalid(format!(
            "person {}: their identity was destroyed on {on} (purge)",
            person.code
        ))),
        None => Ok(()),
    }
}

impl State {
    pub(super) fn purge_person(
        &mut self,
        person: &PersonId,
        arrived_before: &Date,
        on: &Date,
    ) -> Result<(), ProjectionError> {
        let record = self.person_mut(*person)?;
        if record.purged.is_some() {
            return Err(ProjectionError::Invalid(format!(
                "person {} is already purged",
                record.code
            )));
        }
        // A merged duplicate goes with the record it was merged into (the caller's choice:
        // this event does not name that record).
        let arrived_in_time = record.stage == Stage::Arrived && record.since < *arrived_before;
        if !arrived_in_time && record.stage != Stage::Merged {
            return Err(ProjectionError::Invalid(format!(
                "person {} did not arrive before {arrived_before}",
                record.code
            )));
        }
        record.sealed.clear();
        record.name_index = None;
        record.duplicate_index = None;
        record.purged = Some(*on);
        record.version += 1;
        Ok(())
    }

    pub(super) fn purge_narrative(&mut self, incident: &IncidentId) -> Result<(), ProjectionError> {
        let record = self
            .incidents
            .get_mut(incident)
            .ok_or_else(|| missing("incident", incident))?;
        if record.status != IncidentStatus::Closed {
            return Err(ProjectionError::Invalid(format!(
                "incident {} is open: its narrative cannot be purged",
                record.code
            )));
        }
        record.narrative = None;
        record.version += 1;
        Ok(())
    }
}
