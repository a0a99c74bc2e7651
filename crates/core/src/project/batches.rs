//! Transfer batches: drafts, pins, plans and their status.

use super::*;

impl State {
    pub(super) fn create_batch(&mut self, batch: &TransferBatch) -> Result<(), ProjectionError> {
        if self.batches.contains_key(&batch.id) {
            return Err(exists("batch", &batch.code));
        }
        self.require_location(batch.destination)?;
        for origin in &batch.origins {
            self.require_location(*origin)?;
        }
        if batch.status != BatchStatus::Draft || !batch.manifest.is_empty() {
            return Err(ProjectionError::Invalid(format!(
                "batch {} must start as an empty draft",
                batch.code
            )));
        }
        let mut batch = batch.clone();
        batch.version = 1;
        self.batches.insert(batch.id, batch);
        Ok(())
    }

    pub(super) fn pin_household(
        &mut self,
        batch: &BatchId,
        household: &HouseholdId,
        pin: &Option<BatchPin>,
    ) -> Result<(), ProjectionError> {
        if !self.households.contains_key(household) {
            return Err(missing("household", household));
        }
        let record = self.batch_mut(*batch)?;
        if record.status != BatchStatus::Draft {
            return Err(ProjectionError::Invalid(format!(
                "batch {} is {}: only a draft can be changed",
                record.code, record.status
            )));
        }
        match pin {
            Some(pin) => record.pins.insert(*household, *pin),
            None => record.pins.remove(household),
        };
        record.version += 1;
        Ok(())
    }

    pub(super) fn plan_batch(
        &mut self,
        batch: &BatchId,
        manifest: &[PersonId],
    ) -> Result<(), ProjectionError> {
        for person in manifest {
            if !self.people.contains_key(person) {
                return Err(missing("person", person));
            }
        }
        let record = self.batch_mut(*batch)?;
        if record.status != BatchStatus::Draft {
            return Err(ProjectionError::Invalid(format!(
                "batch {} is {}: only a draft can be planned",
                record.code, record.status
            )));
        }
        if manifest.len() > record.seats as usize {
            return Err(ProjectionError::Invalid(format!(
                "batch {}: {} people on the manifest, {} seats",
                record.code,
                manifest.len(),
                record.seats
            )));
        }
        record.manifest = manifest.to_vec();
        record.version += 1;
        Ok(())
    }

    pub(super) fn set_batch_status(
        &mut self,
        batch: &BatchId,
        status: &BatchStatus,
    ) -> Result<(), ProjectionError> {
        let record = self.batch_mut(*batch)?;
        if !record.status.can_become(*status) {
            return Err(ProjectionError::Invalid(format!(
                "batch {} cannot go from {} to {status}",
                record.code, record.status
            )));
        }
        if *status == BatchStatus::Confirmed && record.manifest.is_empty() {
            return Err(ProjectionError::Invalid(format!(
                "batch {} has nobody on its manifest",
                record.code
            )));
        }
        record.status = *status;
        record.version += 1;
        Ok(())
    }
}
