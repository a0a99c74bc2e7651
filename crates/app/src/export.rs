//! Exporting people as CSV (identities only with permission, and logged).

use crate::*;
use refuge_store::PersonFilter;

impl App {
    /// Writes people as CSV: operational fields, and identity fields with `reveal`. Logged.
    pub async fn export_people<W: std::io::Write>(
        &self,
        session: &Session,
        reveal: bool,
        out: W,
    ) -> AppResult<usize> {
        session.require(Action::Export)?;
        if reveal {
            session.require(Action::RevealIdentity)?;
        }
        let locations = self.store.locations().await?;
        let people = self
            .store
            .people(&PersonFilter {
                locations: session.compartments(),
                ..PersonFilter::default()
            })
            .await?;
        let views = self.views(people, &locations).await?;
        let mut writer = csv::Writer::from_writer(out);
        let mut header = OPERATIONAL_COLUMNS.to_vec();
        if reveal {
            header.extend(PersonField::ALL.iter().map(|field| field.as_str()));
        }
        let io_error = |error: csv::Error| AppError::csv_output("export", error);
        let what = format!(
            "{} people{}",
            views.len(),
            if reveal { ", identities revealed" } else { "" }
        );
        // Logged before the first row leaves: an export cut off midway is still on record.
        self.log(
            &session.user().name,
            AccessAction::Export,
            "people",
            &format!("started: {what}"),
        )
        .await?;
        writer.write_record(&header).map_err(io_error)?;
        let sealers = if reveal {
            let ids: Vec<String> = views
                .iter()
                .map(|view| view.person.id.to_string())
                .collect();
            self.record_sealers(session, &ids).await?
        } else {
            Default::default()
        };
        for view in &views {
            let person = &view.person;
            let mut record = operational_cells(view);
            if reveal {
                let Some(sealer) = sealers.get(&person.id.to_string()) else {
                    session.refused(&person.code, OUTSIDE_COMPARTMENTS.to_string());
                    return Err(AppError::OutsideCompartment {
                        code: person.code.clone(),
                    });
                };
                record.extend(identity_cells(sealer, person)?);
            }
            writer
                .write_record(
                    record
                        .iter()
                        .map(|cell| spreadsheet_safe(cell).into_owned()),
                )
                .map_err(io_error)?;
        }
        writer.flush().map_err(AppError::Output)?;
        self.log(
            &session.user().name,
            AccessAction::Export,
            "people",
            &format!("completed: {what}"),
        )
        .await?;
        Ok(views.len())
    }
}

/// A cell as a spreadsheet will not run it: text that a spreadsheet reads as a formula or a
/// command (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`
/// (OWASP's advice for CSV injection). Every CSV refuge writes goes through this.
pub(crate) fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// The columns every export has, identities or not.
const OPERATIONAL_COLUMNS: &[&str] = &[
    "code",
    "household",
    "sex",
    "birth_year",
    "stage",
    "location",
    "since",
    "waiting_since",
    "entered",
    "waiting_days",
    "flags",
    "documents_ready",
    "screening_done",
    "hold",
];

/// A person's identity cells, one per field in the order of `PersonField::ALL` (empty
/// where not given).
fn identity_cells(sealer: &Sealer, person: &Person) -> AppResult<Vec<String>> {
    let identity = people::open_identity_with(sealer, person)?;
    Ok(PersonField::ALL
        .iter()
        .map(|field| {
            identity
                .iter()
                .find(|(name, _)| name == field)
                .map(|(_, value)| value.as_str().to_string())
                .unwrap_or_default()
        })
        .collect())
}

/// A person's operational cells, in the order of `OPERATIONAL_COLUMNS`.
fn operational_cells(view: &PersonView) -> Vec<String> {
    let person = &view.person;
    vec![
        person.code.clone(),
        view.household_code.clone(),
        person.sex.to_string(),
        person
            .birth_year
            .map(|year| year.to_string())
            .unwrap_or_default(),
        person.stage.to_string(),
        view.location_code.clone(),
        person.since.to_string(),
        person
            .waiting_since
            .map(|date| date.to_string())
            .unwrap_or_default(),
        person.entered.to_string(),
        view.waiting_days
            .map(|days| days.to_string())
            .unwrap_or_default(),
        person
            .flags
            .iter()
            .map(|flag| flag.as_str())
            .collect::<Vec<_>>()
            .join(";"),
        person.documents_ready.to_string(),
        person.screening_done.to_string(),
        person
            .hold
            .map(|reason| reason.to_string())
            .unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn formulas_and_commands_are_neutralised() {
        for formula in ["=HYPERLINK(\"x\")", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(spreadsheet_safe(formula), format!("'{formula}"));
        }
        for plain in ["Synthetic Kim", "P-ABCDE", "2026-11-29", ""] {
            assert_eq!(spreadsheet_safe(plain), plain);
        }
    }
}
