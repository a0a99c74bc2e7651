//! One incident: what, where, when, how severe, who was involved, its narrative (sealed unless
//! revealed, which is logged) and closing it.

use crate::Shared;
use crate::extract::{CsrfForm, NoFields, SignedIn};
use crate::layout::{Page, PageResult, html, record_path};
use crate::sessions::lock;
use askama::Template;
use axum::extract::{Path, State};
use refuge_app::{Action, allowed};
use refuge_core::IncidentStatus;

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentTemplate {
    page: Page,
    code: String,
    facts: Vec<(String, String)>,
    /// The people involved, by code, each a link to their page.
    people: Vec<(String, String)>,
    has_narrative: bool,
    narrative: Option<String>,
    can_reveal: bool,
    can_close: bool,
}

async fn page(shared: &Shared, user: &SignedIn, code: &str, reveal: bool) -> PageResult {
    let lang = user.lang;
    let session = user.session();
    let view = shared.app.show_incident(session, code, reveal).await?;
    let incident = &view.incident;
    let mut facts = vec![
        (lang.t("kind"), lang.word(incident.kind)),
        (
            lang.t("severity"),
            lang.t(&format!("severity-{}", incident.severity)),
        ),
        (lang.t("col-location"), view.location_code.clone()),
        (lang.t("incident-occurred"), incident.occurred_text()),
        (lang.t("status"), lang.word(incident.status)),
    ];
    if let Some(closed) = incident.closed {
        facts.push((lang.t("incident-closed-on"), closed.to_string()));
    }
    let role = session.role();
    html(IncidentTemplate {
        page: {
            let mut page =
                user.page(lang.t_args("incident-title", &[("code", incident.code.clone())]));
            // Said once, after the incident was recorded.
            if std::mem::take(&mut *lock(&user.web.saved)) {
                page.notice = lang.t("saved-incident");
            }
            page
        },
        code: incident.code.clone(),
        facts,
        people: view
            .people_codes
            .iter()
            .map(|code| (code.clone(), record_path("/people", code)))
            .collect(),
        has_narrative: incident.narrative.is_some(),
        narrative: view.narrative.map(|text| text.as_str().to_string()),
        can_reveal: allowed(role, Action::RevealIdentity),
        can_close: allowed(role, Action::CloseIncident) && incident.status == IncidentStatus::Open,
    })
}

pub async fn show(
    State(shared): State<Shared>,
    user: SignedIn,
    Path(code): Path<String>,
) -> PageResult {
    page(&shared, &user, &code, false).await
}

pub async fn reveal(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, NoFields {}): CsrfForm<NoFields>,
) -> PageResult {
    page(&shared, &user, &code, true).await
}
