//! Households and people: registration, moves, flags, holds, readiness, corrections,
//! household changes and merges.

use super::*;

impl State {
    pub(super) fn add_household(&mut self, household: &Household) -> Result<(), ProjectionError> {
        if self.households.contains_key(&household.id) {
            return Err(exists("household", &household.code));
        }
        let mut household = household.clone();
        household.version = 1;
        self.households.insert(household.id, household);
        Ok(())
    }

    pub(super) fn add_person(&mut self, person: &Person) -> Result<(), ProjectionError> {
        if self.people.contains_key(&person.id) {
            return Err(exists("person", &person.code));
        }
        if !person.stage.is_present() {
            return Err(ProjectionError::Invalid(format!(
                "person {} cannot be registered at stage {}",
                person.code, person.stage
            )));
        }
        self.require_location(person.location)?;
        let waiting_since = waiting_since_at_registration(person)?;
        let household = self
            .households
            .get_mut(&person.household)
            .ok_or_else(|| missing("household", person.household))?;
        if household.head.is_none() {
            household.head = Some(person.id);
            household.version += 1;
        }
        let mut person = person.clone();
        person.waiting_since = waiting_since;
        // Derived from later events here, whatever a registration carries.
        person.checked_in = None;
        person.self_harm_unchecked = None;
        person.version = 1;
        self.people.insert(person.id, person);
        Ok(())
    }

    pub(super) fn move_person(
        &mut self,
        person: &PersonId,
        to: &LocationId,
        stage: &Stage,
        at: &Date,
    ) -> Result<(), ProjectionError> {
        self.require_location(*to)?;
        let record = self.person_mut(*person)?;
        record
            .stage
            .check_transition(*stage)
            .map_err(|source| ProjectionError::Transition {
                code: record.code.clone(),
                source,
            })?;
        if *at < record.since {
            return Err(ProjectionError::Invalid(format!(
                "person {}: a move on {at} is before the arrival at the current location on {}",
                record.code, record.since
            )));
        }
        record.waiting_since = waiting_since_after_move(record.waiting_since, *stage, *at);
        record.stage = *stage;
        record.location = *to;
        record.since = *at;
        record.version += 1;
        Ok(())
    }

    pub(super) fn set_flag(
        &mut self,
        person: &PersonId,
        flag: &Flag,
        on: &bool,
    ) -> Result<(), ProjectionError> {
        let record = self.person_mut(*person)?;
        if *on {
            record.flags.insert(*flag);
        } else {
            record.flags.remove(flag);
        }
        record.version += 1;
        Ok(())
    }

    pub(super) fn set_hold(
        &mut self,
        person: &PersonId,
        reason: &Option<HoldReason>,
    ) -> Result<(), ProjectionError> {
        let record = self.person_mut(*person)?;
        record.hold = *reason;
        record.version += 1;
        Ok(())
    }

    pub(super) fn set_readiness(
        &mut self,
        person: &PersonId,
        documents_ready: &bool,
        screening_done: &bool,
    ) -> Result<(), ProjectionError> {
        let record = self.person_mut(*person)?;
        record.documents_ready = *documents_ready;
        record.screening_done = *screening_done;
        record.version += 1;
        Ok(())
    }

    pub(super) fn set_wish(
        &mut self,
        person: &PersonId,
        wish: &DestinationWish,
        on: &Date,
    ) -> Result<(), ProjectionError> {
        let record = self.person_mut(*person)?;
        refuse_purged(record)?;
        record.wish = Some(*wish);
        record.wish_recorded = Some(*on);
        record.version += 1;
        Ok(())
    }

    pub(super) fn rehouse(
        &mut self,
        person: &PersonId,
        from: &HouseholdId,
        to: &HouseholdId,
    ) -> Result<(), ProjectionError> {
        if from == to {
            return Err(ProjectionError::Invalid(format!(
                "person {person} is already in household {to}"
            )));
        }
        let record = self
            .people
            .get(person)
            .ok_or_else(|| missing("person", person))?;
        if record.household != *from {
            return Err(ProjectionError::Invalid(format!(
                "person {} is not in household {from}",
                record.code
            )));
        }
        if !self.households.contains_key(from) {
            return Err(missing("household", from));
        }
        if !self.households.contains_key(to) {
            return Err(missing("household", to));
        }
        if let Some(old) = self.households.get_mut(from)
            && old.head == Some(*person)
        {
            // The head leaves: the household has none until someone joins it.
            old.head = None;
            old.version += 1;
        }
        if let Some(new) = self.households.get_mut(to)
            && new.head.is_none()
        {
            new.head = Some(*person);
            new.version += 1;
        }
        let record = self.person_mut(*person)?;
        record.household = *to;
        record.version += 1;
        Ok(())
    }

    pub(super) fn set_split_allowed(
        &mut self,
        household: &HouseholdId,
        split_allowed: &bool,
    ) -> Result<(), ProjectionError> {
        let record = self
            .households
            .get_mut(household)
            .ok_or_else(|| missing("household", household))?;
        if record.split_allowed == *split_allowed {
            return Err(ProjectionError::Invalid(format!(
                "household {} already has split allowed: {split_allowed}",
                record.code
            )));
        }
        record.split_allowed = *split_allowed;
        record.version += 1;
        Ok(())
    }

    pub(super) fn merge_person(
        &mut self,
        person: &PersonId,
        into: &PersonId,
    ) -> Result<(), ProjectionError> {
        if person == into {
            return Err(ProjectionError::Invalid(format!(
                "person {person} cannot be merged into itself"
            )));
        }
        let duplicate = self
            .people
            .get(person)
            .ok_or_else(|| missing("person", person))?;
        let kept = self
            .people
            .get(into)
            .ok_or_else(|| missing("person", into))?;
        for record in [duplicate, kept] {
            refuse_purged(record)?;
            if record.stage == Stage::Merged {
                return Err(ProjectionError::Invalid(format!(
                    "person {} is already merged into another record",
                    record.code
                )));
            }
        }
        let flags = duplicate.flags.clone();
        let (documents_ready, screening_done) =
            (duplicate.documents_ready, duplicate.screening_done);
        // The earlier wait counts for the kept record when it is waiting too: the
        // person has waited since the first of their two registrations.
        let earlier_wait = duplicate.waiting_since;
        let duplicate_wish = duplicate.wish.zip(duplicate.wish_recorded);
        let (duplicate_checked, duplicate_harm) =
            (duplicate.checked_in, duplicate.self_harm_unchecked);
        let kept = self.person_mut(*into)?;
        // The one person's last check-in, whichever record it was on, and a self-harm
        // incident neither record's check-ins answered (one on or before the day of the
        // other record's check-in is taken as answered: notes carry days only).
        let unanswered = |harm: Option<Date>, checked: Option<Date>| {
            harm.filter(|day| checked.is_none_or(|checked| checked < *day))
        };
        kept.self_harm_unchecked = unanswered(kept.self_harm_unchecked, duplicate_checked)
            .max(unanswered(duplicate_harm, kept.checked_in));
        kept.checked_in = kept.checked_in.max(duplicate_checked);
        // The wish said last counts, whichever record it was said on.
        if let Some((wish, recorded)) = duplicate_wish
            && kept
                .wish_recorded
                .is_none_or(|kept_recorded| kept_recorded < recorded)
        {
            kept.wish = Some(wish);
            kept.wish_recorded = Some(recorded);
        }
        kept.flags.extend(flags);
        kept.documents_ready |= documents_ready;
        kept.screening_done |= screening_done;
        if let (Some(kept_since), Some(duplicate_since)) = (kept.waiting_since, earlier_wait) {
            kept.waiting_since = Some(kept_since.min(duplicate_since));
        }
        kept.version += 1;
        let duplicate = self.person_mut(*person)?;
        duplicate.stage = Stage::Merged;
        duplicate.waiting_since = None;
        duplicate.hold = None;
        duplicate.merged_into = Some(*into);
        duplicate.version += 1;
        Ok(())
    }

    pub(super) fn correct_person(
        &mut self,
        person: &PersonId,
        correction: &Correction,
    ) -> Result<(), ProjectionError> {
        if correction.fields().is_empty() {
            return Err(ProjectionError::Invalid(format!(
                "a correction of person {person} changes nothing"
            )));
        }
        let record = self.person_mut(*person)?;
        refuse_purged(record)?;
        if let Some(sex) = correction.sex {
            record.sex = sex;
        }
        if let Some(year) = correction.birth_year {
            record.birth_year = year;
        }
        for (field, value) in &correction.sealed {
            match value {
                Some(sealed) => {
                    record.sealed.insert(*field, sealed.clone());
                }
                None => {
                    record.sealed.remove(field);
                }
            }
        }
        if let Some(index) = correction.name_index {
            record.name_index = index;
        }
        if let Some(index) = correction.duplicate_index {
            record.duplicate_index = index;
        }
        record.version += 1;
        Ok(())
    }
}
