//! The people list, filtered by stage, location, flag, days waited and (for roles that may)
//! name.

use crate::Shared;
use crate::extract::SignedIn;
use crate::layout::{Page, PageResult, html, options};
use askama::Template;
use axum::extract::{Query, State};
use refuge_app::{Action, AppError, ErrorKind, PeopleQuery, allowed};
use refuge_core::{Flag, Stage};
use serde::Deserialize;

pub struct PersonRow {
    code: String,
    household: String,
    sex: String,
    born: String,
    stage: String,
    location: String,
    since: String,
    days: i64,
    flags: String,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeopleTemplate {
    page: Page,
    stages: Vec<(String, bool)>,
    locations: Vec<(String, bool)>,
    flags: Vec<(String, bool)>,
    waiting_over: String,
    can_search: bool,
    can_register: bool,
    rows: Vec<PersonRow>,
    summary: String,
}

#[derive(Deserialize, Default)]
pub struct PeopleFilter {
    #[serde(default)]
    stage: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    flag: String,
    #[serde(default)]
    waiting_over: String,
    #[serde(default)]
    name: String,
    /// After a move out of the user's compartments: who was moved, and where to.
    #[serde(default)]
    moved: String,
    #[serde(default)]
    to: String,
}

/// A code from a query string, shown back: letters, digits and dashes only.
fn code_only(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect()
}

/// The first 500 people.
const SHOWN: u32 = 500;

/// The use case's query for a filter, or what is wrong with the filter.
fn query_of(filter: &PeopleFilter) -> Result<PeopleQuery, Vec<String>> {
    let mut query = PeopleQuery {
        limit: Some(SHOWN),
        ..PeopleQuery::default()
    };
    let mut problems = Vec::new();
    if !filter.stage.is_empty() {
        match filter.stage.parse() {
            Ok(stage) => query.stage = Some(stage),
            Err(error) => problems.push(format!("{error}")),
        }
    }
    if !filter.flag.is_empty() {
        match filter.flag.parse() {
            Ok(flag) => query.flag = Some(flag),
            Err(error) => problems.push(format!("{error}")),
        }
    }
    if !filter.location.is_empty() {
        query.location = Some(filter.location.clone());
    }
    if !filter.waiting_over.trim().is_empty() {
        match filter.waiting_over.trim().parse::<i64>() {
            Ok(days) if days >= 0 => query.waiting_longer_than_days = Some(days),
            _ => problems.push(format!(
                "'{}' is not a number of days",
                filter.waiting_over.trim()
            )),
        }
    }
    if !filter.name.trim().is_empty() {
        query.name = Some(filter.name.clone());
    }
    if problems.is_empty() {
        Ok(query)
    } else {
        Err(problems)
    }
}

/// The codes of every location the user may see (where she may move people to).
pub async fn location_codes(shared: &Shared, user: &SignedIn) -> Result<Vec<String>, AppError> {
    Ok(shared
        .app
        .locations(user.session(), false)
        .await?
        .into_iter()
        .map(|view| view.location.code)
        .collect())
}

/// The codes of the locations inside the user's compartments (all, for roles without
/// compartments): where she may register people, and what her lists can show.
pub async fn compartment_codes(shared: &Shared, user: &SignedIn) -> Result<Vec<String>, AppError> {
    let session = user.session();
    Ok(shared
        .app
        .locations(session, false)
        .await?
        .into_iter()
        .filter(|view| session.sees_location(view.location.id))
        .map(|view| view.location.code)
        .collect())
}

pub async fn list(
    State(shared): State<Shared>,
    user: SignedIn,
    Query(filter): Query<PeopleFilter>,
) -> PageResult {
    let lang = user.lang;
    let (views, problems) = match query_of(&filter) {
        Ok(query) => match shared.app.list_people(user.session(), &query).await {
            Ok(views) => (views, Vec::new()),
            // A filter that names no such location is shown back like a malformed one.
            Err(error) if matches!(error.kind(), ErrorKind::Invalid | ErrorKind::NotFound) => {
                (Vec::new(), vec![error.to_string()])
            }
            Err(error) => return Err(error.into()),
        },
        Err(problems) => (Vec::new(), problems),
    };
    let rows: Vec<PersonRow> = views
        .iter()
        .map(|view| PersonRow {
            code: view.person.code.clone(),
            household: view.household_code.clone(),
            sex: view.person.sex.to_string(),
            born: view
                .person
                .birth_year
                .map_or("-".into(), |year| year.to_string()),
            stage: view.person.stage.to_string(),
            location: view.location_code.clone(),
            since: view.person.since.to_string(),
            days: view.waiting_days,
            flags: view
                .person
                .flags
                .iter()
                .map(|flag| flag.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let role = user.session().role();
    let mut page = user
        .titled("people-title")
        .with_problem(problems.join("; "));
    if !filter.moved.is_empty() {
        page.notice = lang.t_args(
            "moved-out",
            &[
                ("code", code_only(&filter.moved)),
                ("location", code_only(&filter.to)),
            ],
        );
    }
    html(PeopleTemplate {
        page,
        stages: options(Stage::ALL.iter(), &filter.stage),
        locations: options(compartment_codes(&shared, &user).await?, &filter.location),
        flags: options(Flag::ALL.iter(), &filter.flag),
        waiting_over: filter.waiting_over.clone(),
        can_search: allowed(role, Action::SearchByName),
        can_register: allowed(role, Action::RegisterPeople),
        summary: format!("{} / {}", rows.len(), lang.t("people-title")),
        rows,
    })
}
