//! Showing one person and listing people.

use crate::*;
use refuge_store::PersonFilter;
use std::collections::{BTreeSet, HashMap};
use time::Duration;

/// The longest wait a list may ask about (a century: any more is a mistake, and a date that
/// far back does not exist).
pub const MAX_WAITING_DAYS: i64 = 36_500;

impl App {
    /// One person; identity only with `reveal`, for roles that may see it, and logged.
    pub async fn show_person(
        &self,
        session: &Session,
        code: &str,
        reveal: bool,
    ) -> AppResult<PersonView> {
        session.require(Action::ViewPeople)?;
        if reveal {
            session.require(Action::RevealIdentity)?;
        }
        let person = match self.person_by_code(session, code).await {
            // The code of a merged duplicate leads to the kept record.
            Err(AppError::Merged { code: asked, into }) => {
                return Box::pin(self.show_person(session, &into, reveal))
                    .await
                    .map(|view| PersonView {
                        reached_from: Some(asked),
                        ..view
                    });
            }
            other => other?,
        };
        let merged_from = self
            .person_with_merged(session, &person.code)
            .await?
            .into_iter()
            .skip(1)
            .map(|duplicate| duplicate.code)
            .collect();
        let household_code = self
            .store
            .household(person.household)
            .await?
            .map(|household| household.code)
            .unwrap_or_default();
        let location_code = self
            .store
            .locations()
            .await?
            .into_iter()
            .find(|location| location.id == person.location)
            .map(|location| location.code)
            .unwrap_or_default();
        let identity = if reveal {
            let identity = self.open_identity(session, &person).await?;
            self.log(
                &session.user().name,
                AccessAction::Reveal,
                &person.code,
                "identity",
            )
            .await?;
            Some(identity)
        } else {
            None
        };
        Ok(PersonView {
            waiting_days: person.waiting_days(self.today()),
            person,
            household_code,
            location_code,
            identity,
            merged_from,
            reached_from: None,
        })
    }

    /// People matching a query, operational fields only, limited to the session's
    /// compartments. A name query goes through the blind index and is confirmed by opening
    /// the candidates' names (never shown).
    /// How many people match a query (without a name: counting needs no identity).
    pub async fn count_people(&self, session: &Session, query: &PeopleQuery) -> AppResult<u64> {
        session.require(Action::ViewPeople)?;
        if query.name.is_some() {
            return Err(AppError::invalid("name", Reason::new("count-without-name")));
        }
        let filter = PersonFilter {
            // Every match, not one page's.
            after: None,
            limit: None,
            ..self.person_filter(session, query).await?
        };
        Ok(self.store.count_people(&filter).await?)
    }

    /// The store filter for a query, narrowed to the user's compartments (names aside).
    async fn person_filter(
        &self,
        session: &Session,
        query: &PeopleQuery,
    ) -> AppResult<PersonFilter> {
        // Waiting times only mean something for people waiting for a transfer.
        let stages = match (query.stage, query.waiting_longer_than_days) {
            (Some(stage), _) => vec![stage],
            (None, Some(_)) => vec![Stage::Sheltered, Stage::Detained],
            (None, None) if query.waiting_only => vec![Stage::Sheltered, Stage::Detained],
            (None, None) if query.present_only => Stage::ALL
                .iter()
                .copied()
                .filter(|stage| stage.is_present())
                .collect(),
            (None, None) => Vec::new(),
        };
        // -1: everyone waiting, since any day up to today (the dashboard's alerts).
        if let Some(days) = query.waiting_longer_than_days
            && !(-1..=MAX_WAITING_DAYS).contains(&days)
        {
            return Err(AppError::invalid(
                "waiting over",
                Reason::new("days-between")
                    .count("least", 0)
                    .count("most", MAX_WAITING_DAYS as u64),
            ));
        }
        let mut filter = PersonFilter {
            stages,
            flag: query.flag,
            waiting_since_on_or_before: query
                .waiting_longer_than_days
                .map(|days| self.today() - Duration::days(days + 1)),
            limit: if query.name.is_some() {
                None
            } else {
                query.limit
            },
            after: query.after.clone(),
            ..PersonFilter::default()
        };
        let mut allowed: Option<Vec<LocationId>> = session.compartments();
        if let Some(code) = &query.location {
            let location = self.location_by_code(code).await?;
            allowed = Some(match allowed {
                Some(list) => list.into_iter().filter(|id| *id == location.id).collect(),
                None => vec![location.id],
            });
        }
        filter.locations = allowed;
        if let Some(code) = &query.household {
            filter.household = Some(self.household_by_code(code).await?.id);
        }
        Ok(filter)
    }

    pub async fn list_people(
        &self,
        session: &Session,
        query: &PeopleQuery,
    ) -> AppResult<Vec<PersonView>> {
        session.require(Action::ViewPeople)?;
        let mut filter = self.person_filter(session, query).await?;
        let locations = self.store.locations().await?;
        let wanted_name = match &query.name {
            Some(name) => {
                session.require(Action::SearchByName)?;
                let normal = normalize_name(name);
                filter.name_index = Some(self.index_sealer(session)?.blind_index(
                    "name",
                    &normal,
                    self.name_index_bits().await?,
                )?);
                Some(normal)
            }
            None => None,
        };
        let mut people = self.store.people(&filter).await?;
        if let Some(wanted) = wanted_name {
            let ids: Vec<String> = people.iter().map(|person| person.id.to_string()).collect();
            let sealers = self.record_sealers(session, &ids).await?;
            let mut confirmed = Vec::new();
            for person in people {
                let id_text = person.id.to_string();
                // A name this session cannot open is not confirmed (not listed).
                let Some(sealer) = sealers.get(&id_text) else {
                    continue;
                };
                if let Some(sealed) = person.sealed.get(&PersonField::Name) {
                    let name =
                        sealer.open(&sealed.0, person_context(&id_text, PersonField::Name))?;
                    if normalize_name(name.as_str()) == wanted {
                        confirmed.push(person);
                    }
                }
            }
            people = confirmed;
            if let Some(limit) = query.limit {
                people.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            }
        }
        self.views(people, &locations).await
    }

    pub(crate) async fn views(
        &self,
        people: Vec<Person>,
        locations: &[Location],
    ) -> AppResult<Vec<PersonView>> {
        let household_ids: Vec<Uuid> = people
            .iter()
            .map(|person| person.household.0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let codes = self.store.codes_of(&household_ids).await?;
        let location_codes: HashMap<LocationId, &str> = locations
            .iter()
            .map(|location| (location.id, location.code.as_str()))
            .collect();
        let today = self.today();
        Ok(people
            .into_iter()
            .map(|person| PersonView {
                household_code: codes.get(&person.household.0).cloned().unwrap_or_default(),
                location_code: location_codes
                    .get(&person.location)
                    .map(|code| code.to_string())
                    .unwrap_or_default(),
                waiting_days: person.waiting_days(today),
                identity: None,
                merged_from: Vec::new(),
                reached_from: None,
                person,
            })
            .collect())
    }
}
