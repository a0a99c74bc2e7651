//! Incidents: the list, recording one (at a location of the user's compartments, the
//! people picked from its residents, the day and time it happened, recorded once however
//! often the form is sent), closing one.

use crate::Shared;
use crate::extract::{CsrfForm, SignedIn};
use crate::layout::shown;
use crate::layout::{
    Choice, Page, PageResult, after_post, codes, html, options, parse_date, parse_field,
    record_path, word_options,
};
use crate::pages::people::compartment_codes;
use crate::sessions::{Sent, lock, random_token};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use refuge_app::{Action, AppError, NewIncident, PeopleQuery, Reason, allowed};
use refuge_core::{IncidentKind, IncidentStatus, parse_time_of_day, time_of_day_text};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The most residents offered as tick boxes (the others are typed by code).
const MAX_RESIDENTS_LISTED: u32 = 300;

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

/// A resident of the chosen location, offered as a tick box: codes and operational facts
/// only (names stay sealed).
struct Resident {
    code: String,
    label: String,
    ticked: bool,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsTemplate {
    page: Page,
    can_record: bool,
    form: IncidentForm,
    /// The token of this form: sent twice, it records once.
    submission: String,
    /// Choices for the form: the locations inside the user's compartments, the kinds, and
    /// the severities with what each means: (value, label, selected).
    locations: Vec<Choice>,
    kinds: Vec<Choice>,
    severities: Vec<(String, String, bool)>,
    residents: Vec<Resident>,
    /// More residents than are listed.
    residents_cut: bool,
    /// How many of them are ticked (the list opens when any are).
    ticked: usize,
    /// The latest day an incident may be dated (the user's today).
    latest_date: String,
    /// Where the form records ("At SHL-…").
    at_location: String,
    rows: Vec<IncidentRow>,
}

/// The list and the form; `form` is what was typed, shown back after a problem (to the same
/// user only: the page is `no-store`).
async fn page(shared: &Shared, user: &SignedIn, form: IncidentForm, problem: String) -> PageResult {
    let lang = user.lang;
    let session = user.session();
    let views = shared.app.incidents(session, false, false).await?;
    let role = session.role();
    let can_close = allowed(role, Action::CloseIncident);
    let rows = views
        .iter()
        .map(|view| {
            let incident = &view.incident;
            IncidentRow {
                code: incident.code.clone(),
                occurred: incident.occurred_text(),
                location: view.location_code.clone(),
                kind: lang.word(incident.kind),
                severity: incident.severity,
                status: lang.word(incident.status),
                closable: can_close && incident.status == IncidentStatus::Open,
                people: view.people_codes.join(", "),
            }
        })
        .collect();
    let compartments = compartment_codes(shared, user).await?;
    // The location the form records at: the one chosen, else the first the user may.
    let mut form = form;
    if !compartments
        .iter()
        .any(|code| code.eq_ignore_ascii_case(form.location.trim()))
    {
        form.location = compartments.first().cloned().unwrap_or_default();
    }
    let can_record = allowed(role, Action::RecordIncident);
    let (residents, residents_cut) =
        if can_record && allowed(role, Action::ViewPeople) && !form.location.is_empty() {
            residents(shared, user, &mut form).await?
        } else {
            (Vec::new(), false)
        };
    html(IncidentsTemplate {
        page: user.titled("incidents-title").with_problem(problem),
        can_record,
        locations: options(compartments, &form.location),
        kinds: word_options(lang, IncidentKind::ALL.iter().copied(), &form.kind),
        severities: (1..=4)
            .map(|level: u8| {
                let value = level.to_string();
                let label = lang.t(&format!("severity-{level}"));
                let chosen = form.severity.trim() == value;
                (value, label, chosen)
            })
            .collect(),
        submission: random_token()?,
        ticked: residents.iter().filter(|resident| resident.ticked).count(),
        residents,
        residents_cut,
        // The day at the location may be ahead of the user's own (a coordinator on UTC
        // recording for Thailand): the latest day the records take.
        latest_date: shared.app.latest_day().to_string(),
        at_location: lang.t_args("incident-at", &[("location", form.location.clone())]),
        form,
        rows,
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// The location whose residents the form offers.
    #[serde(default)]
    location: String,
}

pub async fn list(
    State(shared): State<Shared>,
    user: SignedIn,
    Query(query): Query<ListQuery>,
) -> PageResult {
    // A new form: the most common kind, middling severity, now on the user's clock.
    let now = user.zone.local(shared.app.now());
    let form = IncidentForm {
        location: query.location,
        kind: "conflict".into(),
        severity: "2".into(),
        date: now.date().to_string(),
        time: time_of_day_text(now.time()),
        people: String::new(),
        note: String::new(),
        submission: String::new(),
        show: String::new(),
        ticks: BTreeMap::new(),
    };
    page(&shared, &user, form, String::new()).await
}

#[derive(Deserialize)]
pub struct IncidentForm {
    #[serde(default)]
    location: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    severity: String,
    /// `yes`: show the residents of the location chosen, keeping what was typed; nothing is
    /// recorded.
    #[serde(default)]
    show: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    /// Codes of people not among the residents listed, comma-separated.
    #[serde(default)]
    people: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    submission: String,
    /// The residents ticked (`person-P-…=yes`), and the form's other fields.
    #[serde(flatten)]
    ticks: BTreeMap<String, String>,
}

impl IncidentForm {
    fn ticked(&self, code: &str) -> bool {
        self.ticks
            .get(&format!("person-{code}"))
            .is_some_and(|value| value == "yes")
    }

    /// The codes of the residents ticked.
    fn ticked_codes(&self) -> impl Iterator<Item = &str> {
        self.ticks
            .iter()
            .filter(|(_, value)| *value == "yes")
            .filter_map(|(name, _)| name.strip_prefix("person-"))
    }

    /// Everyone named: the residents ticked, then the codes typed.
    fn people(&self) -> Vec<String> {
        let mut people: Vec<String> = self.ticked_codes().map(String::from).collect();
        people.extend(codes(&self.people));
        people
    }
}

pub async fn record(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<IncidentForm>,
) -> PageResult {
    if form.show == "yes" {
        // Another location chosen: its residents, with everything typed kept.
        return page(&shared, &user, form, String::new()).await;
    }
    let token = form.submission.trim().to_string();
    if !token.is_empty() {
        match lock(&user.web.submitted).claim(&token) {
            Sent::First => {}
            // Sent again (a double click, a reload): what the first send recorded.
            Sent::Recorded(code) => {
                return Ok(Redirect::to(&record_path("/incidents", &code)).into_response());
            }
            Sent::InFlight => return Ok(Redirect::to("/incidents").into_response()),
        }
    }
    let result = async {
        let kind: IncidentKind = parse_field("kind", &form.kind)?;
        let severity = form.severity.trim().parse::<u8>().map_err(|_| {
            AppError::invalid(
                "severity",
                Reason::new("severity-between").with("severity", shown(&form.severity)),
            )
        })?;
        let occurred = match form.date.trim() {
            "" => None,
            text => Some(parse_date("date", text)?),
        };
        let occurred_time = match form.time.trim() {
            "" => None,
            text => Some(parse_time_of_day(text).ok_or_else(|| {
                AppError::invalid(
                    "time",
                    Reason::new("not-a-time-of-day").with("text", shown(text)),
                )
            })?),
        };
        let people = form.people();
        let note = Some(form.note.as_str()).filter(|note| !note.trim().is_empty());
        shared
            .app
            .add_incident(
                user.session(),
                NewIncident {
                    people: &people,
                    narrative: note,
                    occurred,
                    occurred_time,
                    ..NewIncident::new(&form.location, kind, severity)
                },
            )
            .await
    }
    .await;
    if !token.is_empty() {
        let code = result.as_ref().ok().map(|incident| incident.code.clone());
        lock(&user.web.submitted).finish(&token, code);
    }
    if let Ok(incident) = &result {
        *lock(&user.web.saved) = true;
        return Ok(Redirect::to(&record_path("/incidents", &incident.code)).into_response());
    }
    after_post(result, "/incidents", user.lang, |problem| {
        page(&shared, &user, form, problem)
    })
    .await
}

/// The residents of the form's location, to tick (at most `MAX_RESIDENTS_LISTED`, and
/// whether the list was cut).
async fn residents(
    shared: &Shared,
    user: &SignedIn,
    form: &mut IncidentForm,
) -> Result<(Vec<Resident>, bool), AppError> {
    let lang = user.lang;
    let session = user.session();
    let listed = shared
        .app
        .list_people(
            session,
            &PeopleQuery {
                location: Some(form.location.clone()),
                present_only: true,
                limit: Some(MAX_RESIDENTS_LISTED + 1),
                ..PeopleQuery::default()
            },
        )
        .await?;
    let cut = listed.len() > MAX_RESIDENTS_LISTED as usize;
    // People ticked at another location before it was switched stay involved: their
    // codes move to the field for others.
    let shown: Vec<&str> = listed
        .iter()
        .take(MAX_RESIDENTS_LISTED as usize)
        .map(|view| view.person.code.as_str())
        .collect();
    let elsewhere: Vec<String> = form
        .ticked_codes()
        .filter(|code| !shown.contains(code))
        .map(String::from)
        .collect();
    if !elsewhere.is_empty() {
        let mut others = codes(&form.people);
        others.extend(elsewhere);
        others.dedup();
        form.people = others.join(", ");
    }
    let residents = listed
        .into_iter()
        .take(MAX_RESIDENTS_LISTED as usize)
        .map(|view| {
            let person = &view.person;
            let born = person
                .birth_year
                .map(|year| format!(" · {year}"))
                .unwrap_or_default();
            Resident {
                ticked: form.ticked(&person.code),
                label: format!(
                    "{} · {} · {}{born}",
                    person.code,
                    view.household_code,
                    lang.word(person.sex)
                ),
                code: person.code.clone(),
            }
        })
        .collect();
    Ok((residents, cut))
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
