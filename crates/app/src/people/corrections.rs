//! Corrections: a misspelled name, a wrong birth year, a contact added later. Each is an
//! event naming the fields it changes; the old values stay sealed in the log.

use super::*;
use refuge_store::Guard;

/// What to correct; absent (or blank) fields stay as they are.
#[derive(Debug, Default)]
pub struct CorrectionRequest {
    pub sex: Option<Sex>,
    pub birth_year: Option<i32>,
    /// New values of protected fields (sealed before anything is stored).
    pub identity: BTreeMap<PersonField, String>,
}

impl App {
    /// Corrects a person the session may see. Only what differs from the record is written;
    /// the blind indexes follow a new name or birth year. Returns the fields changed.
    pub async fn correct_person(
        &self,
        session: &Session,
        code: &str,
        request: &CorrectionRequest,
    ) -> AppResult<Vec<&'static str>> {
        session.require(Action::RegisterPeople)?;
        check_identity(&request.identity)?;
        if let Some(year) = request.birth_year {
            check_birth_year(year, self.today())
                .map_err(|reason| AppError::invalid("birth year", reason))?;
        }
        let person = self.person_by_code(session, code).await?;
        let current: BTreeMap<PersonField, String> = self
            .open_identity(session, &person)
            .await?
            .into_iter()
            .map(|(field, value)| (field, value.as_str().to_string()))
            .collect();
        let id_text = person.id.to_string();
        let mut correction = Correction {
            sex: request.sex.filter(|sex| *sex != person.sex),
            birth_year: request
                .birth_year
                .filter(|year| person.birth_year != Some(*year))
                .map(Some),
            ..Correction::default()
        };
        for (field, value) in &request.identity {
            let value = value.trim();
            if value.is_empty() || current.get(field).map(String::as_str) == Some(value) {
                continue;
            }
            let sealer = self
                .record_sealer(session, &id_text)
                .await?
                .ok_or_else(|| AppError::OutsideCompartment {
                    code: person.code.clone(),
                })?;
            correction.sealed.insert(
                *field,
                Some(seal(&sealer, value, person_context(&id_text, *field))?),
            );
        }
        if correction.fields().is_empty() {
            return Err(AppError::invalid(
                "correction",
                Reason::new("nothing-differs"),
            ));
        }
        self.reindex(session, &person, request, &current, &mut correction)
            .await?;
        let fields = correction.fields();
        let event = self.new_event(
            session,
            EventBody::PersonCorrected {
                person: person.id,
                correction,
            },
        )?;
        self.commit(Commit {
            events: vec![event],
            guards: vec![Guard::Version {
                record: RecordRef::Person(person.id),
                version: person.version,
            }],
            ..Commit::default()
        })
        .await?;
        Ok(fields)
    }

    /// The blind indexes after a correction of the name or birth year, made of the name and
    /// birth year as they will be.
    async fn reindex(
        &self,
        session: &Session,
        person: &Person,
        request: &CorrectionRequest,
        current: &BTreeMap<PersonField, String>,
        correction: &mut Correction,
    ) -> AppResult<()> {
        let name_changed = correction.sealed.contains_key(&PersonField::Name);
        if name_changed || correction.birth_year.is_some() {
            let name = request
                .identity
                .get(&PersonField::Name)
                .filter(|_| name_changed)
                .or_else(|| current.get(&PersonField::Name));
            if let Some(name) = name {
                let bits = self.name_index_bits().await?;
                let normal = normalize_name(name.trim());
                let year = correction.birth_year.unwrap_or(person.birth_year);
                let sealer = self.index_sealer(session)?;
                correction.name_index = Some(Some(sealer.blind_index("name", &normal, bits)?));
                correction.duplicate_index = Some(Some(sealer.blind_index(
                    "duplicate",
                    &format!("{normal}|{}", year.unwrap_or(0)),
                    bits,
                )?));
            }
        }
        Ok(())
    }
}
