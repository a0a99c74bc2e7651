//! People and households: registering, finding and listing, and changing them (moves,
//! flags, holds, readiness).

mod changes;
mod corrections;
mod households;
mod list;
mod merge;
mod notes;
mod register;

pub use corrections::CorrectionRequest;
pub use list::MAX_WAITING_DAYS;
pub use notes::{DueFollowUp, NoteView};
pub(crate) use register::seal_identity;

use crate::*;
use std::collections::BTreeMap;

/// A person to register. Identity fields are plaintext here and sealed before anything is
/// stored.
#[derive(Default)]
pub struct NewPerson {
    /// An existing household's code; None creates a new household for this person.
    pub household: Option<String>,
    pub split_allowed: bool,
    pub sex: Option<Sex>,
    pub birth_year: Option<i32>,
    pub location: String,
    pub stage: Option<Stage>,
    pub since: Option<Date>,
    pub entered: Option<Date>,
    pub flags: Vec<Flag>,
    pub identity: BTreeMap<PersonField, String>,
    /// Register even when someone with the same name and birth year is registered already.
    pub allow_duplicate: bool,
}

/// A person as shown: operational fields with codes resolved, identity only when revealed.
#[derive(Debug)]
pub struct PersonView {
    pub person: Person,
    pub household_code: String,
    pub location_code: String,
    /// Days waited for a transfer, across moves; `None` for someone not waiting.
    pub waiting_days: Option<i64>,
    pub identity: Option<Vec<(PersonField, Revealed)>>,
    /// The codes of duplicate records merged into this person.
    pub merged_from: Vec<String>,
    /// The merged duplicate's code that was asked for, when it led here.
    pub reached_from: Option<String>,
}

impl PersonView {
    /// Since when and for how many days the person has waited, if waiting.
    pub fn waiting(&self) -> Option<(Date, i64)> {
        Some((self.person.waiting_since?, self.waiting_days?))
    }
}

/// What a move did.
#[derive(Debug)]
pub struct MoveReport {
    pub moved: Vec<String>,
    pub location: String,
    pub over_capacity: bool,
}

/// Which people to list (codes as typed by the user).
#[derive(Default)]
pub struct PeopleQuery {
    pub stage: Option<Stage>,
    pub location: Option<String>,
    pub flag: Option<Flag>,
    pub household: Option<String>,
    pub waiting_longer_than_days: Option<i64>,
    /// Exact name, through the blind index.
    pub name: Option<String>,
    pub limit: Option<u32>,
    /// Any order (faster with a limit on a large database).
    pub any_order: bool,
    /// Only people waiting for a transfer (sheltered, detained), when no stage is given.
    pub waiting_only: bool,
    /// Only people present (hiding, in transit, sheltered, detained: a location's
    /// residents), when no stage is given.
    pub present_only: bool,
    /// The page after this (`Person::queue_since`, code): see `PersonFilter::after`.
    pub after: Option<(Date, String)>,
}

const MAX_YEAR_AGE: i32 = 120;

pub(crate) fn check_birth_year(year: i32, today: Date) -> Result<(), Reason> {
    if year > today.year() || year < today.year() - MAX_YEAR_AGE {
        return Err(Reason::new("implausible-birth-year")
            .with("year", year)
            .with("earliest", today.year() - MAX_YEAR_AGE)
            .with("latest", today.year()));
    }
    Ok(())
}

/// What needs a person's record key is refused, saying why, once the purge destroyed it.
pub(crate) fn refuse_purged(person: &Person) -> AppResult<()> {
    match person.purged {
        Some(on) => Err(AppError::Purged {
            code: person.code.clone(),
            on,
        }),
        None => Ok(()),
    }
}

impl App {
    /// Opens the identity fields of a person this session may see. Where its keys do not
    /// open the record (outside its compartments, whatever its role says), a refusal.
    pub(crate) async fn open_identity(
        &self,
        session: &Session,
        person: &Person,
    ) -> AppResult<Vec<(PersonField, Revealed)>> {
        refuse_purged(person)?;
        let id_text = person.id.to_string();
        let Some(sealer) = self.record_sealer(session, &id_text).await? else {
            session.refused(&person.code, OUTSIDE_COMPARTMENTS.to_string());
            return Err(AppError::OutsideCompartment {
                code: person.code.clone(),
            });
        };
        open_identity_with(&sealer, person)
    }

    /// A live person record the session may see; a merged duplicate is refused, naming the
    /// record it was merged into.
    pub(crate) async fn person_by_code(&self, session: &Session, code: &str) -> AppResult<Person> {
        let person = self
            .store
            .person_by_code(&normalize_code(code))
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "person",
                code: code.to_string(),
            })?;
        session.require_location(person.location, &person.code)?;
        if let Some(into) = person.merged_into {
            let into = self
                .store
                .codes_of(&[into.0])
                .await?
                .remove(&into.0)
                .unwrap_or_default();
            return Err(AppError::Merged {
                code: person.code,
                into,
            });
        }
        Ok(person)
    }

    /// Whether a person is inside the session's compartments: a question the pages ask after
    /// a hand-over, not an attempt, so nothing is logged as refused.
    pub async fn sees_person(&self, session: &Session, code: &str) -> AppResult<bool> {
        Ok(self
            .store
            .person_by_code(&normalize_code(code))
            .await?
            .is_some_and(|person| session.sees_location(person.location)))
    }

    pub(crate) async fn household_by_code(&self, code: &str) -> AppResult<Household> {
        self.store
            .household_by_code(&normalize_code(code))
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "household",
                code: code.to_string(),
            })
    }

    /// A household the session may add people to: one whose members are all inside its
    /// compartments. Any other answers exactly as a code that names nothing, so that a
    /// caseworker cannot test which households exist elsewhere.
    pub(crate) async fn household_for(
        &self,
        session: &Session,
        code: &str,
    ) -> AppResult<Household> {
        let not_found = || AppError::NotFound {
            what: "household",
            code: code.to_string(),
        };
        let household = self.household_by_code(code).await?;
        let members = self.store.household_members(household.id).await?;
        if members
            .iter()
            .any(|member| !session.sees_location(member.location))
        {
            // The auditor learns of the attempt; the user is told nothing she may not know.
            session.refused(&household.code, OUTSIDE_COMPARTMENTS.to_string());
            return Err(not_found());
        }
        Ok(household)
    }

    /// The people a person or household code names, all inside this session's compartments.
    async fn resolve_people(&self, session: &Session, code: &str) -> AppResult<Vec<Person>> {
        match CodeKind::of_code(code) {
            Some(CodeKind::Person) => Ok(vec![self.person_by_code(session, code).await?]),
            Some(CodeKind::Household) => {
                let household = self.household_by_code(code).await?;
                let members = self.store.household_members(household.id).await?;
                for member in &members {
                    session.require_location(member.location, &member.code)?;
                }
                Ok(members)
            }
            _ => Err(AppError::invalid(
                "code",
                Reason::new("not-a-person-or-household-code").with("code", code),
            )),
        }
    }
}

/// Opens a person's identity fields with their record's sealer.
pub(crate) fn open_identity_with(
    sealer: &Sealer,
    person: &Person,
) -> AppResult<Vec<(PersonField, Revealed)>> {
    let id_text = person.id.to_string();
    person
        .sealed
        .iter()
        .map(|(field, sealed)| {
            Ok((
                *field,
                sealer.open(&sealed.0, person_context(&id_text, *field))?,
            ))
        })
        .collect()
}
