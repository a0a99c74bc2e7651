//! Incidents: the list, recording one, closing one.

use crate::Shared;
use crate::extract::{CsrfForm, SignedIn};
use crate::layout::{
    Choice, Page, PageResult, after_post, codes, html, options, parse_field, record_path,
    word_options,
};
use crate::pages::people::compartment_codes;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use refuge_app::{Action, AppError, allowed};
use refuge_core::{IncidentKind, IncidentStatus};
use serde::Deserialize;

pub struct IncidentRow {
    code: String,
    occurred: String,
    location: String,
    kind: String,
    severity: u8,
    status: String,
    closable: bool,
    people: String,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsTemplate {
    page: Page,
    can_record: bool,
    form: IncidentForm,
    /// Choices for the form: the locations inside the user's compartments, the kinds, and
    /// the severities with what each means: (value, label, selected).
    locations: Vec<Choice>,
    kinds: Vec<Choice>,
    severities: Vec<(String, String, bool)>,
    rows: Vec<IncidentRow>,
}

impl Default for IncidentForm {
    /// A new form: the most common kind, middling severity.
    fn default() -> Self {
        IncidentForm {
            location: String::new(),
            kind: "conflict".into(),
            severity: "2".into(),
            people: String::new(),
            note: String::new(),
        }
    }
}

/// The list and the form; `form` is what was typed, shown back after a problem (to the same
/// user only: the page is `no-store`).
async fn page(shared: &Shared, user: &SignedIn, form: IncidentForm, problem: String) -> PageResult {
    let views = shared.app.incidents(user.session(), false, false).await?;
    let role = user.session().role();
    let can_close = allowed(role, Action::CloseIncident);
    let rows = views
        .iter()
        .map(|view| {
            let incident = &view.incident;
            IncidentRow {
                code: incident.code.clone(),
                occurred: incident.occurred.to_string(),
                location: view.location_code.clone(),
                kind: user.lang.word(incident.kind),
                severity: incident.severity,
                status: user.lang.word(incident.status),
                closable: can_close && incident.status == IncidentStatus::Open,
                people: view.people_codes.join(", "),
            }
        })
        .collect();
    html(IncidentsTemplate {
        page: user.titled("incidents-title").with_problem(problem),
        can_record: allowed(role, Action::RecordIncident),
        locations: options(compartment_codes(shared, user).await?, &form.location),
        kinds: word_options(user.lang, IncidentKind::ALL.iter().copied(), &form.kind),
        severities: (1..=4)
            .map(|level: u8| {
                let value = level.to_string();
                let label = user.lang.t(&format!("severity-{level}"));
                let chosen = form.severity.trim() == value;
                (value, label, chosen)
            })
            .collect(),
        form,
        rows,
    })
}

pub async fn list(State(shared): State<Shared>, user: SignedIn) -> PageResult {
    page(&shared, &user, IncidentForm::default(), String::new()).await
}

#[derive(Deserialize)]
pub struct IncidentForm {
    location: String,
    kind: String,
    severity: String,
    #[serde(default)]
    people: String,
    #[serde(default)]
    note: String,
}

pub async fn record(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<IncidentForm>,
) -> PageResult {
    let result = async {
        let kind: IncidentKind = parse_field("kind", &form.kind)?;
        let severity = form
            .severity
            .trim()
            .parse::<u8>()
            .map_err(|_| AppError::Invalid {
                field: "severity".into(),
                reason: format!("'{}' is not 1 to 4", form.severity),
            })?;
        let note = Some(form.note.as_str()).filter(|note| !note.trim().is_empty());
        shared
            .app
            .add_incident(
                user.session(),
                &form.location,
                kind,
                severity,
                &codes(&form.people),
                note,
                None,
            )
            .await
    }
    .await;
    after_post(result, "/incidents", user.lang, |problem| {
        page(&shared, &user, form, problem)
    })
    .await
}

#[derive(Deserialize)]
pub struct CloseForm {
    /// `page`: closed from the incident's own page, which it goes back to.
    #[serde(default)]
    from: String,
}

pub async fn close(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<CloseForm>,
) -> PageResult {
    let incident = shared.app.close_incident(user.session(), &code).await?;
    let back = if form.from == "page" {
        record_path("/incidents", &incident.code)
    } else {
        "/incidents".to_string()
    };
    Ok(Redirect::to(&back).into_response())
}
