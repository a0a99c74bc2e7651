//! The printable manifest as CSV.

use crate::export::spreadsheet_safe;
use crate::*;
use refuge_plan::Policy;

impl App {
    /// The printable manifest as CSV: codes; names only with `reveal` (logged).
    pub async fn manifest_csv<W: std::io::Write>(
        &self,
        session: &Session,
        code: &str,
        reveal: bool,
        out: W,
    ) -> AppResult<usize> {
        session.require(Action::ViewBatches)?;
        if reveal {
            session.require(Action::RevealIdentity)?;
        }
        let view = self.show_batch(session, code, &Policy::default()).await?;
        let mut writer = csv::Writer::from_writer(out);
        let io_error = |error: csv::Error| AppError::csv_output("manifest", error);
        let mut header = vec![
            "batch",
            "departure",
            "person",
            "household",
            "from",
            "sex",
            "birth_year",
        ];
        if reveal {
            header.extend(["name", "name_romanized"]);
        }
        let detail = if reveal {
            "manifest with names"
        } else {
            "manifest"
        };
        // Logged before the first row leaves: a manifest cut off midway is still on record.
        self.log(
            &session.user().name,
            AccessAction::Export,
            &view.batch.code,
            &format!("started: {detail}"),
        )
        .await?;
        writer.write_record(&header).map_err(io_error)?;
        for (person_code, household, from) in &view.manifest {
            let Some(person) = self.store.person_by_code(person_code).await? else {
                continue;
            };
            let mut row = vec![
                view.batch.code.clone(),
                view.batch.departure.to_string(),
                person_code.clone(),
                household.clone(),
                from.clone(),
                person.sex.to_string(),
                person.birth_year.map(|y| y.to_string()).unwrap_or_default(),
            ];
            if reveal {
                let identity = self.open_identity(session, &person).await?;
                for field in [PersonField::Name, PersonField::NameRomanized] {
                    row.push(
                        identity
                            .iter()
                            .find(|(f, _)| *f == field)
                            .map(|(_, v)| v.as_str().to_string())
                            .unwrap_or_default(),
                    );
                }
            }
            writer
                .write_record(row.iter().map(|cell| spreadsheet_safe(cell).into_owned()))
                .map_err(io_error)?;
        }
        writer.flush().map_err(AppError::Output)?;
        self.log(
            &session.user().name,
            AccessAction::Export,
            &view.batch.code,
            &format!("completed: {detail}"),
        )
        .await?;
        Ok(view.manifest.len())
    }
}
