//! The people list, filtered by stage, location, flag, days waited and (for roles that may)
//! name.

use crate::Shared;
use crate::errors::Failure;
use crate::extract::SignedIn;
use crate::i18n::Lang;
use crate::layout::{Choice, Page, PageResult, html, options, shown, word_options};
use crate::sessions::lock;
use askama::Template;
use axum::extract::{Query, State};
use refuge_app::{Action, AppError, ErrorKind, PeopleQuery, Reason, allowed};
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
    days: String,
    flags: String,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeopleTemplate {
    page: Page,
    stages: Vec<Choice>,
    locations: Vec<Choice>,
    flags: Vec<Choice>,
    waiting_over: String,
    can_search: bool,
    can_register: bool,
    /// `waiting`, `any` or a stage.
    stage_choice: String,
    rows: Vec<PersonRow>,
    summary: String,
    /// The next page's address, when there is one.
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct PeopleFilter {
    /// A stage, `any`, or `waiting` (sheltered or detained: the default when not given).
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    location: String,
    #[serde(default)]
    flag: String,
    #[serde(default)]
    waiting_over: String,
    #[serde(default)]
    name: String,
    /// The next page starts after this person: `DATE.CODE` (their since and code).
    #[serde(default)]
    after: String,
}

impl PeopleFilter {
    fn stage_choice(&self) -> &str {
        match self.stage.as_deref() {
            None | Some("") => "waiting",
            Some(stage) => stage,
        }
    }
}

/// The filter's fields, for the next page's address (the name search is never put in a URL).
fn url_pairs(filter: &PeopleFilter) -> Vec<(&'static str, String)> {
    [
        ("stage", filter.stage_choice().to_string()),
        ("location", filter.location.clone()),
        ("flag", filter.flag.clone()),
        ("waiting_over", filter.waiting_over.clone()),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .collect()
}

fn encode_pairs(pairs: &[(&str, String)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// A code from a query string, shown back: letters, digits and dashes only.
fn code_only(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect()
}

/// People on one page.
const PAGE: u32 = 100;

/// Each problem with a filter, in the reader's language.
fn said(problems: Vec<AppError>, lang: Lang) -> Vec<String> {
    problems
        .into_iter()
        .map(|problem| Failure::from(problem).message(lang))
        .collect()
}

/// The use case's query for a filter, or what is wrong with the filter.
fn query_of(filter: &PeopleFilter) -> Result<PeopleQuery, Vec<AppError>> {
    let mut query = PeopleQuery {
        // One more than a page: whether there is a next one.
        limit: Some(PAGE + 1),
        ..PeopleQuery::default()
    };
    let mut problems = Vec::new();
    match filter.stage_choice() {
        "waiting" => query.waiting_only = true,
        "any" => {}
        stage => match stage.parse() {
            Ok(stage) => query.stage = Some(stage),
            Err(error) => problems.push(AppError::invalid("stage", Reason::unknown_word(&error))),
        },
    }
    if !filter.after.is_empty() {
        match filter
            .after
            .split_once('.')
            .and_then(|(day, code)| refuge_core::parse_day(day).map(|day| (day, code.to_string())))
        {
            Some(after) => query.after = Some(after),
            None => problems.push(AppError::invalid(
                "after",
                Reason::new("not-a-page").with("text", code_only(&filter.after)),
            )),
        }
    }
    if !filter.flag.is_empty() {
        match filter.flag.parse() {
            Ok(flag) => query.flag = Some(flag),
            Err(error) => problems.push(AppError::invalid("flag", Reason::unknown_word(&error))),
        }
    }
    if !filter.location.is_empty() {
        query.location = Some(filter.location.clone());
    }
    if !filter.waiting_over.trim().is_empty() {
        match filter.waiting_over.trim().parse::<i64>() {
            Ok(days) if days >= 0 => query.waiting_longer_than_days = Some(days),
            _ => problems.push(AppError::invalid(
                "waiting over",
                Reason::new("not-a-number-of-days").with("text", shown(&filter.waiting_over)),
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
    let mut total = None;
    let (mut views, problems) = match query_of(&filter) {
        Ok(query) => match shared.app.list_people(user.session(), &query).await {
            Ok(views) => {
                // A name search lists its few matches whole; anything else is counted.
                if query.name.is_none() {
                    total = Some(shared.app.count_people(user.session(), &query).await?);
                }
                (views, Vec::new())
            }
            // A filter that names no such location is shown back like a malformed one.
            Err(error) if matches!(error.kind(), ErrorKind::Invalid | ErrorKind::NotFound) => {
                (Vec::new(), said(vec![error], lang))
            }
            Err(error) => return Err(error.into()),
        },
        Err(problems) => (Vec::new(), said(problems, lang)),
    };
    let more = views.len() > PAGE as usize;
    views.truncate(PAGE as usize);
    // The next page starts after the last person shown, the filters kept.
    let next = views.last().filter(|_| more).map(|last| {
        let mut pairs = url_pairs(&filter);
        pairs.push((
            "after",
            format!("{}.{}", last.person.queue_since(), last.person.code),
        ));
        format!("/people?{}", encode_pairs(&pairs))
    });
    let rows: Vec<PersonRow> = views
        .iter()
        .map(|view| PersonRow {
            code: view.person.code.clone(),
            household: view.household_code.clone(),
            sex: lang.word(view.person.sex),
            born: view
                .person
                .birth_year
                .map_or("-".into(), |year| year.to_string()),
            stage: lang.word(view.person.stage),
            location: view.location_code.clone(),
            since: view
                .person
                .waiting_since
                .map_or("-".into(), |date| date.to_string()),
            days: view
                .waiting_days
                .map_or("-".into(), |days| days.to_string()),
            flags: lang.words(view.person.flags.iter().copied()),
        })
        .collect();
    let role = user.session().role();
    let mut page = user
        .titled("people-title")
        .with_problem(problems.join("; "));
    if let Some((code, location)) = lock(&user.web.moved_out).take() {
        page.notice = lang.t_args("moved-out", &[("code", code), ("location", location)]);
    }
    html(PeopleTemplate {
        page,
        stage_choice: filter.stage_choice().to_string(),
        stages: word_options(lang, Stage::ALL.iter().copied(), filter.stage_choice()),
        locations: options(compartment_codes(&shared, &user).await?, &filter.location),
        flags: word_options(lang, Flag::ALL.iter().copied(), &filter.flag),
        waiting_over: filter.waiting_over.clone(),
        can_search: allowed(role, Action::SearchByName),
        can_register: allowed(role, Action::RegisterPeople),
        summary: match total {
            Some(total) => lang.t_args(
                "people-shown",
                &[
                    ("shown", rows.len().to_string()),
                    ("total", total.to_string()),
                ],
            ),
            None => lang.t_count("people-found", rows.len() as u64),
        },
        next,
        rows,
    })
}
