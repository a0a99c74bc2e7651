//! Incidents and case notes.

use super::*;

impl State {
    pub(super) fn record_incident(&mut self, incident: &Incident) -> Result<(), ProjectionError> {
        if self.incidents.contains_key(&incident.id) {
            return Err(exists("incident", &incident.code));
        }
        self.require_location(incident.location)?;
        if !(1..=4).contains(&incident.severity) {
            return Err(ProjectionError::Invalid(format!(
                "incident {}: severity {} is not between 1 and 4",
                incident.code, incident.severity
            )));
        }
        for person in &incident.people {
            if !self.people.contains_key(person) {
                return Err(missing("person", person));
            }
        }
        if incident.kind == IncidentKind::SelfHarm {
            // A derived fact, like the waiting start: not an edit of the person's record, so
            // their version stays (logs written before it was kept replay to the same). A
            // check-in on a later day than the incident (one recorded late) answered it; on
            // the same day the order is not known, so a check is asked for.
            for person in &incident.people {
                let record = self.person_mut(*person)?;
                if record
                    .checked_in
                    .is_none_or(|checked| checked <= incident.occurred)
                {
                    record.self_harm_unchecked =
                        record.self_harm_unchecked.max(Some(incident.occurred));
                }
            }
        }
        let mut incident = incident.clone();
        incident.version = 1;
        self.incidents.insert(incident.id, incident);
        Ok(())
    }

    pub(super) fn close_incident(
        &mut self,
        incident: &IncidentId,
        at: &Date,
    ) -> Result<(), ProjectionError> {
        let record = self
            .incidents
            .get_mut(incident)
            .ok_or_else(|| missing("incident", incident))?;
        if record.status == IncidentStatus::Closed {
            return Err(ProjectionError::AlreadyClosed {
                code: record.code.clone(),
            });
        }
        record.status = IncidentStatus::Closed;
        record.closed = Some(*at);
        record.version += 1;
        Ok(())
    }

    pub(super) fn add_note(&mut self, note: &Note) -> Result<(), ProjectionError> {
        if self.notes.contains_key(&note.id) {
            return Err(exists("note", note.id));
        }
        let person = self
            .people
            .get(&note.person)
            .ok_or_else(|| missing("person", note.person))?;
        refuse_purged(person)?;
        if note.follow_up_done.is_some() {
            return Err(ProjectionError::Invalid(format!(
                "note {} cannot start with its follow-up done",
                note.id
            )));
        }
        if note.check_in.is_some() {
            // Derived, like a self-harm incident's day: the person's version stays.
            let record = self.person_mut(note.person)?;
            record.checked_in = record.checked_in.max(Some(note.written));
            // Recorded after the incidents before it: it answers them, whatever the days.
            record.self_harm_unchecked = None;
        }
        let mut note = note.clone();
        note.version = 1;
        self.notes.insert(note.id, note);
        Ok(())
    }

    pub(super) fn complete_follow_up(
        &mut self,
        person: &PersonId,
        note: &NoteId,
        at: &Date,
    ) -> Result<(), ProjectionError> {
        let record = self
            .notes
            .get_mut(note)
            .filter(|record| record.person == *person)
            .ok_or_else(|| missing("note", note))?;
        if record.follow_up.is_none() || record.follow_up_done.is_some() {
            return Err(ProjectionError::Invalid(format!(
                "note {note} has no follow-up due"
            )));
        }
        record.follow_up_done = Some(*at);
        record.version += 1;
        Ok(())
    }
}
