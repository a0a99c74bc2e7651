//! Household changes after registration: a person joins another household or a new one,
//! two households become one, and whether a household may travel on different transfers.

use super::*;
use refuge_store::Guard;

impl App {
    /// Moves a person into another household (by code, inside the session's compartments),
    /// or into a new household of their own (`None`). Returns the household's code.
    pub async fn rehouse(
        &self,
        session: &Session,
        code: &str,
        to: Option<&str>,
    ) -> AppResult<String> {
        session.require(Action::RegisterPeople)?;
        let person = self.person_by_code(session, code).await?;
        let mut events = Vec::new();
        let (to_id, to_code) = match to.map(str::trim).filter(|code| !code.is_empty()) {
            Some(household_code) => {
                let household = self.household_for(session, household_code).await?;
                if household.id == person.household {
                    return Err(AppError::invalid(
                        "household",
                        Reason::new("already-in-household")
                            .with("person", &person.code)
                            .with("household", &household.code),
                    ));
                }
                (household.id, household.code)
            }
            None => {
                let household = Household {
                    id: HouseholdId(self.new_uuid()?),
                    code: self.fresh_codes(CodeKind::Household, 1).await?.remove(0),
                    head: None,
                    split_allowed: false,
                    version: 0,
                };
                let id_and_code = (household.id, household.code.clone());
                events.push(self.new_event(session, EventBody::HouseholdAdded { household })?);
                id_and_code
            }
        };
        events.push(self.new_event(
            session,
            EventBody::PersonRehoused {
                person: person.id,
                from: person.household,
                to: to_id,
            },
        )?);
        self.commit(Commit {
            events,
            guards: vec![Guard::Version {
                record: RecordRef::Person(person.id),
                version: person.version,
            }],
            ..Commit::default()
        })
        .await?;
        Ok(to_code)
    }

    /// Moves every member of household `from` into `into` (both inside the session's
    /// compartments), in one write. Returns how many people moved.
    pub async fn merge_households(
        &self,
        session: &Session,
        from: &str,
        into: &str,
    ) -> AppResult<usize> {
        session.require(Action::RegisterPeople)?;
        let source = self.household_for(session, from).await?;
        let target = self.household_for(session, into).await?;
        if source.id == target.id {
            return Err(AppError::invalid(
                "household",
                Reason::new("household-into-itself"),
            ));
        }
        let members = self.store.household_members(source.id).await?;
        if members.is_empty() {
            return Err(AppError::invalid(
                "household",
                Reason::new("household-without-members").with("household", &source.code),
            ));
        }
        let mut events = Vec::new();
        let mut guards = Vec::new();
        for member in &members {
            events.push(self.new_event(
                session,
                EventBody::PersonRehoused {
                    person: member.id,
                    from: source.id,
                    to: target.id,
                },
            )?);
            guards.push(Guard::Version {
                record: RecordRef::Person(member.id),
                version: member.version,
            });
        }
        self.commit(Commit {
            events,
            guards,
            ..Commit::default()
        })
        .await?;
        Ok(members.len())
    }

    /// Whether the household of a person the session may see may travel apart (an
    /// operational fact, shown on the person's page even when other members live elsewhere).
    pub async fn household_split_allowed(&self, session: &Session, code: &str) -> AppResult<bool> {
        session.require(Action::ViewPeople)?;
        Ok(self.household_by_code(code).await?.split_allowed)
    }

    /// Whether a household's members may travel on different transfers.
    pub async fn set_split_allowed(
        &self,
        session: &Session,
        code: &str,
        split_allowed: bool,
    ) -> AppResult<()> {
        session.require(Action::RegisterPeople)?;
        let household = self.household_for(session, code).await?;
        if household.split_allowed == split_allowed {
            return Ok(());
        }
        let event = self.new_event(
            session,
            EventBody::HouseholdSplitSet {
                household: household.id,
                split_allowed,
            },
        )?;
        self.commit(Commit {
            events: vec![event],
            guards: vec![Guard::Version {
                record: RecordRef::Household(household.id),
                version: household.version,
            }],
            ..Commit::default()
        })
        .await?;
        Ok(())
    }
}
