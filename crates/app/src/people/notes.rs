//! Case notes: dated, sealed notes on a person, with follow-ups that stay due until done.

use super::*;
use refuge_store::Guard;

/// A case note as a page shows it: the text only when revealed (and logged).
#[derive(Debug)]
pub struct NoteView {
    pub id: NoteId,
    pub author: String,
    pub written: Date,
    pub follow_up: Option<Date>,
    pub follow_up_done: Option<Date>,
    /// What a welfare check-in found, when the note records one.
    pub check_in: Option<CheckIn>,
    pub text: Option<Revealed>,
}

impl NoteView {
    /// A follow-up is due on or before `today` and not done.
    pub fn overdue(&self, today: Date) -> bool {
        self.follow_up_done.is_none() && self.follow_up.is_some_and(|date| date <= today)
    }
}

/// A follow-up that is due, for the dashboard: whose, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueFollowUp {
    pub person_code: String,
    pub due: Date,
}

impl App {
    /// Writes a note on a person the session may see; `follow_up` asks for another look by
    /// that date (today or later).
    pub async fn add_note(
        &self,
        session: &Session,
        code: &str,
        text: &str,
        follow_up: Option<Date>,
    ) -> AppResult<NoteId> {
        session.require(Action::WriteNotes)?;
        if text.trim().is_empty() {
            return Err(AppError::invalid("text", Reason::new("note-needs-text")));
        }
        self.write_note(session, ("text", text), follow_up, None, code)
            .await
    }

    /// Writes a note on `code` (a welfare check-in when `check_in` is given, whose text may
    /// be empty); `(field, text)`: the text and the field a problem with it names.
    pub(crate) async fn write_note(
        &self,
        session: &Session,
        (field, text): (&str, &str),
        follow_up: Option<Date>,
        check_in: Option<CheckIn>,
        code: &str,
    ) -> AppResult<NoteId> {
        check_text(field, text, true)?;
        let today = self.today();
        if let Some(date) = follow_up
            && date < today
        {
            return Err(AppError::invalid(
                "follow_up",
                Reason::new("follow-up-in-the-past")
                    .with("date", date)
                    .with("today", today),
            ));
        }
        let person = self.person_by_code(session, code).await?;
        refuse_purged(&person)?;
        // A note is sealed under its person's record key: it goes where they go.
        let sealer = self
            .record_sealer(session, &person.id.to_string())
            .await?
            .ok_or_else(|| {
                session.refused(&person.code, OUTSIDE_COMPARTMENTS.to_string());
                AppError::OutsideCompartment {
                    code: person.code.clone(),
                }
            })?;
        let id = NoteId(self.new_uuid()?);
        let note = Note {
            id,
            person: person.id,
            author: session.user().id,
            written: today,
            text: seal(&sealer, text, note_context(&id.to_string()))?,
            follow_up,
            follow_up_done: None,
            check_in,
            version: 0,
        };
        let event = self.new_event(session, EventBody::NoteAdded { note })?;
        self.commit(Commit {
            events: vec![event],
            ..Commit::default()
        })
        .await?;
        Ok(id)
    }

    /// A person's notes, newest first; their text only with `reveal` (logged like an
    /// identity).
    pub async fn notes(
        &self,
        session: &Session,
        code: &str,
        reveal: bool,
    ) -> AppResult<Vec<NoteView>> {
        session.require(Action::ViewPeople)?;
        if reveal {
            session.require(Action::RevealIdentity)?;
        }
        let records = self.person_with_merged(session, code).await?;
        let person = &records[0];
        let mut notes = Vec::new();
        for record in &records {
            notes.extend(self.store.notes_of(record.id).await?);
        }
        // Newest first across the person's records (each store list is already).
        notes.sort_by_key(|note| std::cmp::Reverse(note.written));
        if reveal && !notes.is_empty() {
            self.log(
                &session.user().name,
                AccessAction::Reveal,
                &person.code,
                &format!("{} case notes", notes.len()),
            )
            .await?;
        }
        let users = self.user_names().await?;
        // Each note opens with its own record's key (a merged duplicate's notes with the
        // duplicate's).
        let sealers = if reveal {
            let ids: Vec<String> = records.iter().map(|record| record.id.to_string()).collect();
            self.record_sealers(session, &ids).await?
        } else {
            Default::default()
        };
        notes
            .into_iter()
            .map(|note| {
                let text = match sealers.get(&note.person.to_string()) {
                    Some(sealer) if reveal => {
                        Some(sealer.open(&note.text.0, note_context(&note.id.to_string()))?)
                    }
                    _ => None,
                };
                Ok(NoteView {
                    id: note.id,
                    author: users
                        .get(&note.author)
                        .cloned()
                        .unwrap_or_else(|| note.author.to_string()),
                    written: note.written,
                    follow_up: note.follow_up,
                    follow_up_done: note.follow_up_done,
                    check_in: note.check_in,
                    text,
                })
            })
            .collect()
    }

    /// Marks a note's follow-up done (today).
    pub async fn complete_follow_up(
        &self,
        session: &Session,
        code: &str,
        note: &str,
    ) -> AppResult<()> {
        session.require(Action::WriteNotes)?;
        let person = self.person_by_code(session, code).await?;
        let not_found = || AppError::NotFound {
            what: "note",
            code: format!("{} of {}", note.trim(), person.code),
        };
        let id = Uuid::parse_str(note.trim()).map_err(|_| not_found())?;
        let record = self
            .store
            .notes_of(person.id)
            .await?
            .into_iter()
            .find(|record| record.id.0 == id)
            .ok_or_else(not_found)?;
        if record.follow_up.is_none() || record.follow_up_done.is_some() {
            return Err(AppError::invalid("note", Reason::new("no-follow-up-due")));
        }
        let event = self.new_event(
            session,
            EventBody::FollowUpDone {
                person: person.id,
                note: record.id,
                at: self.today(),
            },
        )?;
        self.commit(Commit {
            events: vec![event],
            guards: vec![Guard::Version {
                record: RecordRef::Note(record.id),
                version: record.version,
            }],
            ..Commit::default()
        })
        .await?;
        Ok(())
    }

    /// Follow-ups due today or earlier on the people of the session's compartments, soonest
    /// first: the first `limit`, and how many in all.
    pub async fn due_follow_ups(
        &self,
        session: &Session,
        limit: u32,
    ) -> AppResult<(Vec<DueFollowUp>, u64)> {
        session.require(Action::ViewPeople)?;
        let compartments = session.compartments();
        let (notes, total) = self
            .store
            .due_follow_ups(self.today(), compartments.as_deref(), limit)
            .await?;
        let ids: Vec<Uuid> = notes.iter().map(|note| note.person.0).collect();
        let codes = self.store.codes_of(&ids).await?;
        Ok((
            notes
                .into_iter()
                .filter_map(|note| {
                    Some(DueFollowUp {
                        person_code: codes.get(&note.person.0)?.clone(),
                        due: note.follow_up?,
                    })
                })
                .collect(),
            total,
        ))
    }
}
