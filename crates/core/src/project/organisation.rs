//! Users and locations.

use super::*;

impl State {
    pub(super) fn add_user(&mut self, user: &User) -> Result<(), ProjectionError> {
        if self.users.contains_key(&user.id) {
            return Err(exists("user", user.id));
        }
        if self.users.values().any(|other| other.name == user.name) {
            return Err(exists("user", &user.name));
        }
        for location in &user.locations {
            self.require_location(*location)?;
        }
        let mut user = user.clone();
        user.version = 1;
        self.users.insert(user.id, user);
        Ok(())
    }

    pub(super) fn change_user(
        &mut self,
        user: &UserId,
        role: &Role,
        locations: &[LocationId],
        active: &bool,
    ) -> Result<(), ProjectionError> {
        for location in locations {
            self.require_location(*location)?;
        }
        let record = self
            .users
            .get_mut(user)
            .ok_or_else(|| missing("user", user))?;
        record.role = *role;
        record.locations = locations.iter().copied().collect();
        record.active = *active;
        record.version += 1;
        Ok(())
    }

    pub(super) fn add_location(&mut self, location: &Location) -> Result<(), ProjectionError> {
        if self.locations.contains_key(&location.id) {
            return Err(exists("location", location.id));
        }
        let mut location = location.clone();
        location.version = 1;
        self.locations.insert(location.id, location);
        Ok(())
    }
}
