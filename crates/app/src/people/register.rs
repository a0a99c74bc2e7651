//! Registering people and households.

use crate::*;
use refuge_store::Guard;
use std::collections::BTreeMap;

impl App {
    pub async fn add_household(
        &self,
        session: &Session,
        split_allowed: bool,
    ) -> AppResult<Household> {
        session.require(Action::RegisterPeople)?;
        let code = self.fresh_codes(CodeKind::Household, 1).await?.remove(0);
        let household = Household {
            id: HouseholdId(self.new_uuid()?),
            code,
            head: None,
            split_allowed,
            version: 0,
        };
        let event = self.new_event(
            session,
            EventBody::HouseholdAdded {
                household: household.clone(),
            },
        )?;
        self.commit(Commit {
            events: vec![event],
            ..Commit::default()
        })
        .await?;
        Ok(household)
    }

    /// Registers one person (and a household for them when none is named).
    pub async fn add_person(&self, session: &Session, new: NewPerson) -> AppResult<Person> {
        session.require(Action::RegisterPeople)?;
        let today = self.today();
        if new
            .identity
            .get(&PersonField::Name)
            .is_none_or(|name| name.trim().is_empty())
        {
            return Err(AppError::invalid("name", Reason::new("name-required")));
        }
        check_identity(&new.identity)?;
        if let Some(year) = new.birth_year {
            check_birth_year(year, today)
                .map_err(|reason| AppError::invalid("birth year", reason))?;
        }
        let location = self.location_by_code(&new.location).await?;
        session.require_location(location.id, &location.code)?;
        let (stage, since, entered) = self.registration_dates(&new)?;
        let mut events = Vec::new();
        let household_id = match &new.household {
            Some(code) => self.household_for(session, code).await?.id,
            None => {
                let (household, added) = self.new_household(session, new.split_allowed).await?;
                events.push(added);
                household
            }
        };
        let mut person = Person::registered(
            PersonId(self.new_uuid()?),
            self.fresh_codes(CodeKind::Person, 1).await?.remove(0),
            household_id,
            Registration {
                sex: new.sex.unwrap_or(Sex::Unknown),
                birth_year: new.birth_year,
                flags: new.flags.iter().copied().collect(),
                stage,
                location: location.id,
                since,
                waiting_since: None,
                entered,
            },
        );
        let mut keys = self.new_keys(session).await?;
        let sealer = keys.seal_new(&person.id.to_string(), &location.id.to_string())?;
        seal_identity(
            &sealer,
            self.index_sealer(session)?.as_ref(),
            &mut person,
            &new.identity,
            self.name_index_bits().await?,
        )?;
        if !new.allow_duplicate {
            let name = new
                .identity
                .get(&PersonField::Name)
                .map_or("", String::as_str);
            self.refuse_likely_duplicates(session, &person, name)
                .await?;
        }
        events.push(self.new_event(
            session,
            EventBody::PersonAdded {
                person: person.clone(),
            },
        )?);
        self.commit(Commit {
            events,
            guards: vec![Guard::LocationHasRoom {
                location: location.id,
                arriving: 1,
            }],
            side_writes: keys.into_side_writes(),
            ..Commit::default()
        })
        .await?;
        person.version = 1;
        Ok(person)
    }

    /// A new household (its own code) and the event that adds it.
    async fn new_household(
        &self,
        session: &Session,
        split_allowed: bool,
    ) -> AppResult<(HouseholdId, NewEvent)> {
        let household = Household {
            id: HouseholdId(self.new_uuid()?),
            code: self.fresh_codes(CodeKind::Household, 1).await?.remove(0),
            head: None,
            split_allowed,
            version: 0,
        };
        let id = household.id;
        Ok((
            id,
            self.new_event(session, EventBody::HouseholdAdded { household })?,
        ))
    }

    /// The stage and days a registration takes (at a present stage, arrived today unless
    /// told, entered care no later than that, nothing in the future).
    fn registration_dates(&self, new: &NewPerson) -> AppResult<(Stage, Date, Date)> {
        let today = self.today();
        let stage = new.stage.unwrap_or(Stage::Sheltered);
        if !stage.is_present() {
            return Err(AppError::invalid(
                "stage",
                Reason::new("registered-at-present-stage").word("stage", stage),
            ));
        }
        let since = new.since.unwrap_or(today);
        let entered = new.entered.unwrap_or(since);
        if since > self.latest_day() || entered > self.latest_day() {
            return Err(AppError::invalid(
                "since",
                Reason::new("dates-in-the-future"),
            ));
        }
        if entered > since {
            return Err(AppError::invalid(
                "entered",
                Reason::new("entered-after-arrival"),
            ));
        }
        Ok((stage, since, entered))
    }

    /// Refused when `person` is likely someone already registered whom the user may see:
    /// only those are named, so a caseworker learns nothing of other compartments (a
    /// coordinator sees every likely duplicate).
    async fn refuse_likely_duplicates(
        &self,
        session: &Session,
        person: &Person,
        name: &str,
    ) -> AppResult<()> {
        let codes: Vec<String> = self
            .likely_duplicates(session, person, name)
            .await?
            .into_iter()
            .filter(|other| other.merged_into.is_none() && session.sees_location(other.location))
            .map(|other| other.code)
            .collect();
        if codes.is_empty() {
            Ok(())
        } else {
            Err(AppError::LikelyDuplicate { codes })
        }
    }
}

impl App {
    /// Registered people `person` is likely the same as: the same normalised name and birth
    /// year, found through the duplicate blind index and confirmed by opening the names.
    pub(super) async fn likely_duplicates(
        &self,
        session: &Session,
        person: &Person,
        name: &str,
    ) -> AppResult<Vec<Person>> {
        let Some(index) = person.duplicate_index else {
            return Ok(Vec::new());
        };
        let wanted = normalize_name(name);
        let mut alike = Vec::new();
        for candidate in self.store.people_by_duplicate_index(&[index]).await? {
            if candidate.birth_year != person.birth_year {
                continue;
            }
            let Some(sealed) = candidate.sealed.get(&PersonField::Name) else {
                continue;
            };
            let id_text = candidate.id.to_string();
            // Someone this session cannot open (outside its compartments) is not confirmed.
            let Some(sealer) = self.record_sealer(session, &id_text).await? else {
                continue;
            };
            let other = sealer.open(&sealed.0, person_context(&id_text, PersonField::Name))?;
            if normalize_name(other.as_str()) == wanted {
                alike.push(candidate);
            }
        }
        Ok(alike)
    }
}

/// Seals a new person's identity fields under their record's sealer and computes the name
/// and duplicate blind indexes under the organisation's. Shared by registration, import and
/// the demo generator; a free function over the sealers alone, so that an import can seal on
/// several threads.
pub(crate) fn seal_identity(
    sealer: &Sealer,
    index: &Sealer,
    person: &mut Person,
    identity: &BTreeMap<PersonField, String>,
    index_bits: u32,
) -> AppResult<()> {
    let id_text = person.id.to_string();
    for (field, value) in identity {
        if value.trim().is_empty() {
            continue;
        }
        person.sealed.insert(
            *field,
            seal(sealer, value, person_context(&id_text, *field))?,
        );
    }
    if let Some(name) = identity.get(&PersonField::Name) {
        let normal = normalize_name(name);
        person.name_index = Some(index.blind_index("name", &normal, index_bits)?);
        let with_year = format!("{normal}|{}", person.birth_year.unwrap_or(0));
        person.duplicate_index = Some(index.blind_index("duplicate", &with_year, index_bits)?);
    }
    Ok(())
}
