//! Merging two records of one person: the duplicate points at the kept record, which keeps
//! its identity and gains the duplicate's flags, readiness and earlier waiting start. The
//! duplicate's history, notes and incidents stay where they are and are shown with the kept
//! record; its code leads there.

use super::*;
use refuge_store::Guard;

impl App {
    /// Merges the person `code` into the person `into` (both inside the session's
    /// compartments). A duplicate planned on a live transfer is refused: take it off first.
    /// Returns the kept record's code.
    pub async fn merge_person(
        &self,
        session: &Session,
        code: &str,
        into: &str,
    ) -> AppResult<String> {
        session.require(Action::RegisterPeople)?;
        let into = into.trim();
        if into.is_empty() {
            return Err(AppError::invalid(
                "into",
                Reason::new("merge-needs-kept-code"),
            ));
        }
        let duplicate = self.person_by_code(session, code).await?;
        // A record outside the compartments answers as a code that names nothing: the form
        // must not tell a caseworker which codes exist elsewhere.
        let kept = match self.person_by_code(session, into).await {
            Err(AppError::OutsideCompartment { .. }) => {
                return Err(AppError::NotFound {
                    what: "person",
                    code: into.to_string(),
                });
            }
            other => other?,
        };
        if duplicate.id == kept.id {
            return Err(AppError::invalid(
                "into",
                Reason::new("person-into-itself").with("person", &duplicate.code),
            ));
        }
        for batch in self.store.batches().await? {
            if matches!(batch.status, BatchStatus::Draft | BatchStatus::Confirmed)
                && batch.manifest.contains(&duplicate.id)
            {
                return Err(AppError::invalid(
                    "into",
                    Reason::new("merge-planned-person")
                        .with("person", &duplicate.code)
                        .with("batch", &batch.code),
                ));
            }
        }
        let event = self.new_event(
            session,
            EventBody::PersonMerged {
                person: duplicate.id,
                into: kept.id,
            },
        )?;
        self.commit(Commit {
            events: vec![event],
            guards: vec![
                Guard::Version {
                    record: RecordRef::Person(duplicate.id),
                    version: duplicate.version,
                },
                Guard::Version {
                    record: RecordRef::Person(kept.id),
                    version: kept.version,
                },
            ],
            ..Commit::default()
        })
        .await?;
        Ok(kept.code)
    }

    /// The codes of other live records that are likely the same person (same name and
    /// birth year) inside the session's compartments: the candidates for a merge.
    pub async fn likely_duplicates_of(
        &self,
        session: &Session,
        code: &str,
    ) -> AppResult<Vec<String>> {
        session.require(Action::RegisterPeople)?;
        let person = self.person_by_code(session, code).await?;
        let Some(sealed) = person.sealed.get(&PersonField::Name) else {
            return Ok(Vec::new());
        };
        let Some(sealer) = self.record_sealer(session, &person.id.to_string()).await? else {
            return Ok(Vec::new());
        };
        let name = sealer.open(
            &sealed.0,
            person_context(&person.id.to_string(), PersonField::Name),
        )?;
        Ok(self
            .likely_duplicates(session, &person, name.as_str())
            .await?
            .into_iter()
            .filter(|other| {
                other.id != person.id
                    && other.merged_into.is_none()
                    && session.sees_location(other.location)
            })
            .map(|other| other.code)
            .collect())
    }

    /// A person and the duplicate records merged into them (whose notes, incidents and
    /// history are theirs too).
    pub(crate) async fn person_with_merged(
        &self,
        session: &Session,
        code: &str,
    ) -> AppResult<Vec<Person>> {
        let person = self.person_by_code(session, code).await?;
        let mut records = vec![person];
        // A merged record may itself have had records merged into it before.
        let mut next = 0;
        while next < records.len() && records.len() <= MAX_MERGED_RECORDS {
            let merged = self.store.people_merged_into(records[next].id).await?;
            records.extend(merged);
            next += 1;
        }
        Ok(records)
    }
}

/// How many records of one person are gathered for their page (a bound on the walk).
const MAX_MERGED_RECORDS: usize = 100;
