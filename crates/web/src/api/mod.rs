//! The JSON API under /api/v1, with its OpenAPI document. Authenticated by an API token
//! (`Authorization: Bearer rft1_…`, see refuge-app's tokens) or by the same session cookie as
//! the pages; every route calls the same use cases, so the same role and compartment rules
//! apply. Errors are JSON (`errors::render_failures`), with the same statuses as the pages.

use crate::Shared;
use crate::errors::Failure;
use crate::extract::{Visitor, current_session};
use crate::layout::parse_field;
use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use refuge_app::{PeopleQuery, PersonView, Session};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

mod openapi;
mod writes;

pub use writes::API_WRITE_PATHS;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/openapi.json", get(openapi::openapi))
        .route("/backlog", get(backlog))
        .route("/backlog/destinations", get(backlog_by_destination))
        .route("/people", get(people).post(writes::register))
        .route("/people/{code}", get(person))
        .route("/people/{code}/move", post(writes::move_to))
        .route("/people/{code}/flags", post(writes::flags))
        .route("/people/{code}/hold", post(writes::hold))
        .route("/people/{code}/readiness", post(writes::readiness))
        .route("/people/{code}/wish", post(writes::wish))
        .route("/people/{code}/notes", post(writes::note))
        .route("/people/{code}/check-ins", post(writes::check_in))
        .route("/batches", get(batches))
        .route("/forecast", get(forecast))
        .route("/incidents", get(incidents).post(writes::record_incident))
        .route("/incidents/{code}", get(incident))
        .route("/incidents/{code}/close", post(writes::close_incident))
        .route("/households/{code}", get(household))
        .route("/locations", get(locations))
}

/// Every route above, for the OpenAPI document (a test checks they agree).
pub const API_PATHS: &[&str] = &[
    "/openapi.json",
    "/backlog",
    "/backlog/destinations",
    "/people",
    "/people/{code}",
    "/batches",
    "/forecast",
    "/incidents",
    "/incidents/{code}",
    "/households/{code}",
    "/locations",
];

/// The most people one request lists.
const MAX_LIMIT: u32 = 5_000;
const DEFAULT_LIMIT: u32 = 500;

fn unauthenticated(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": message, "code": "bad_login" })),
    )
        .into_response()
}

/// Who is calling: a browser session, or a session opened from an API token for this
/// request only.
pub enum Caller {
    Web(Arc<crate::sessions::WebSession>),
    Token(Box<Session>),
}

impl Caller {
    fn session(&self) -> &Session {
        match self {
            Caller::Web(web) => &web.session,
            Caller::Token(session) => session,
        }
    }
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Shared) -> Result<Self, Response> {
        if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|value| value.strip_prefix("Bearer "))
                .ok_or_else(|| {
                    unauthenticated("the Authorization header must be 'Bearer <token>'")
                })?;
            return shared
                .app
                .login_token(token)
                .await
                .map(|session| Caller::Token(Box::new(session)))
                .map_err(|_| {
                    unauthenticated("the API token is not valid: unknown, revoked, or not a token")
                });
        }
        let visitor = Visitor::of(shared, &parts.headers);
        current_session(shared, &visitor)
            .await?
            .map(Caller::Web)
            .ok_or_else(|| {
                unauthenticated(
                    "log in first, or send an API token as 'Authorization: Bearer <token>'",
                )
            })
    }
}

type ApiResult = Result<Json<Value>, Failure>;

fn as_json(value: impl serde::Serialize) -> ApiResult {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|_| Failure::internal())
}

async fn backlog(State(shared): State<Shared>, caller: Caller) -> ApiResult {
    as_json(shared.app.backlog(caller.session(), None).await?)
}

async fn backlog_by_destination(State(shared): State<Shared>, caller: Caller) -> ApiResult {
    as_json(
        shared
            .app
            .backlog_by_destination(caller.session(), None)
            .await?,
    )
}

/// Query parameters, refused (400, JSON, naming the parameter) when unknown or malformed:
/// an unknown filter silently ignored would hand back data the caller did not ask for.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Failure> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| {
                let detail = rejection.body_text();
                // serde's words: "Failed to deserialize query string: unknown field `name`, …"
                let detail = detail
                    .split_once(": ")
                    .map_or(detail.as_str(), |(_, detail)| detail);
                Failure::invalid_query(detail)
            })
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PeopleParams {
    stage: Option<String>,
    location: Option<String>,
    flag: Option<String>,
    household: Option<String>,
    /// Only people waiting longer than this many days.
    waiting_over: Option<i64>,
    limit: Option<u32>,
    /// The page after this one: the `next` value of the page before.
    after: Option<String>,
}

fn person_json(view: &PersonView) -> Value {
    let person = &view.person;
    let mut value = json!({
        "code": person.code, "household": view.household_code, "sex": person.sex, "birth_year": person.birth_year,
        "stage": person.stage, "location": view.location_code, "since": person.since.to_string(),
        "flags": person.flags, "hold": person.hold,
        "documents_ready": person.documents_ready, "screening_done": person.screening_done,
        "merged_from": view.merged_from,
    });
    // Absent, not null, for someone not waiting, or not asked where they want to go.
    if let Value::Object(map) = &mut value {
        if let Some((since, days)) = view.waiting() {
            map.insert("waiting_since".into(), since.to_string().into());
            map.insert("waiting_days".into(), days.into());
        }
        if let (Some(wish), Some(on)) = (&person.wish, person.wish_recorded) {
            map.insert("wish".into(), wish.to_string().into());
            map.insert("wish_recorded".into(), on.to_string().into());
        }
    }
    value
}

/// A closed-vocabulary query parameter, or a 400 naming it.
fn query_word<T: std::str::FromStr<Err = refuge_core::UnknownName>>(
    name: &str,
    text: &str,
) -> Result<T, Failure> {
    parse_field(name, text).map_err(|error| Failure::invalid_query(&error.to_string()))
}

/// A page of people: an array, with the total of matches in `X-Total-Count` and the next
/// page (if any) in `Link: <…>; rel="next"`, so that the body stays a plain list.
async fn people(
    State(shared): State<Shared>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PeopleParams>,
) -> Result<Response, Failure> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Failure::invalid_query(&format!(
            "limit: {limit} is not between 1 and {MAX_LIMIT}"
        )));
    }
    let after = match &params.after {
        None => None,
        Some(text) => Some(
            text.split_once('.')
                .and_then(|(day, code)| {
                    refuge_core::parse_day(day).map(|day| (day, code.to_string()))
                })
                .ok_or_else(|| {
                    Failure::invalid_query("after: not the `next` value of a page of this list")
                })?,
        ),
    };
    if params
        .waiting_over
        .is_some_and(|days| !(0..=refuge_app::MAX_WAITING_DAYS).contains(&days))
    {
        return Err(Failure::invalid_query(&format!(
            "waiting_over: must be 0 to {} days",
            refuge_app::MAX_WAITING_DAYS
        )));
    }
    let query = PeopleQuery {
        location: params.location.clone(),
        household: params.household.clone(),
        waiting_longer_than_days: params.waiting_over,
        // One more than asked: whether there is a next page.
        limit: Some(limit + 1),
        stage: params
            .stage
            .as_deref()
            .map(|stage| query_word("stage", stage))
            .transpose()?,
        flag: params
            .flag
            .as_deref()
            .map(|flag| query_word("flag", flag))
            .transpose()?,
        after,
        ..PeopleQuery::default()
    };
    let total = shared.app.count_people(caller.session(), &query).await?;
    let mut views = shared.app.list_people(caller.session(), &query).await?;
    let more = views.len() > limit as usize;
    views.truncate(limit as usize);
    let mut response = Json(Value::Array(views.iter().map(person_json).collect())).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = axum::http::HeaderValue::from_str(&total.to_string()) {
        headers.insert("x-total-count", value);
    }
    if let Some(last) = views.last().filter(|_| more) {
        let next = format!("{}.{}", last.person.queue_since(), last.person.code);
        let mut pairs: Vec<(&str, String)> = [
            ("stage", &params.stage),
            ("location", &params.location),
            ("flag", &params.flag),
            ("household", &params.household),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.clone().map(|value| (key, value)))
        .collect();
        if let Some(days) = params.waiting_over {
            pairs.push(("waiting_over", days.to_string()));
        }
        pairs.push(("limit", limit.to_string()));
        pairs.push(("after", next));
        if let Ok(value) = axum::http::HeaderValue::from_str(&format!(
            "</api/v1/people?{}>; rel=\"next\"",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )) {
            headers.insert(axum::http::header::LINK, value);
        }
    }
    Ok(response)
}

async fn person(
    State(shared): State<Shared>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Response, Failure> {
    let view = shared
        .app
        .show_person(caller.session(), &code, false)
        .await?;
    if view.reached_from.is_some() {
        // A merged duplicate's code: the kept record is the resource now.
        let location = format!("/api/v1/people/{}", view.person.code);
        return Ok((
            StatusCode::PERMANENT_REDIRECT,
            [(axum::http::header::LOCATION, location)],
        )
            .into_response());
    }
    Ok(Json(person_json(&view)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ForecastParams {
    horizon_days: Option<f64>,
    replications: Option<u32>,
    arrival_factor: Option<f64>,
    seed: Option<u64>,
    destination: Option<String>,
}

/// Threads one API forecast may use.
const FORECAST_THREADS: usize = 2;

/// The outlook from the database: every series with its 10th, 50th and 90th percentile and
/// its mean, per day; waits; the Little's-law check. Bounded by the same budget as the page.
async fn forecast(
    State(shared): State<Shared>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ForecastParams>,
) -> ApiResult {
    let defaults = refuge_app::WhatIf {
        horizon_days: 180.0,
        replications: 200,
        ..refuge_app::WhatIf::default()
    };
    let what_if = refuge_app::WhatIf {
        horizon_days: params.horizon_days.unwrap_or(defaults.horizon_days),
        replications: params.replications.unwrap_or(defaults.replications),
        arrival_factor: params.arrival_factor.unwrap_or(defaults.arrival_factor),
        seed: params.seed.unwrap_or(defaults.seed),
        destination: params.destination,
        ..defaults
    };
    let scenario = shared
        .app
        .scenario_from_db(caller.session(), &what_if)
        .await?;
    // Minutes of work at most, on a blocking thread: request threads stay free meanwhile.
    let forecast = tokio::task::spawn_blocking(move || {
        shared
            .app
            .forecast(caller.session(), &scenario, FORECAST_THREADS)
    })
    .await
    .map_err(|_| Failure::internal())??;
    as_json(forecast)
}

/// An incident as the API gives it: facts and codes, never the narrative (read on purpose on
/// the incident's page, logged).
fn incident_json(view: &refuge_app::IncidentView) -> Value {
    let incident = &view.incident;
    json!({
        "code": incident.code, "location": view.location_code, "kind": incident.kind,
        "severity": incident.severity, "status": incident.status,
        "occurred": incident.occurred.to_string(),
        "occurred_time": incident.occurred_time.map(refuge_core::time_of_day_text),
        "closed": incident.closed.map(|day| day.to_string()),
        "people": view.people_codes, "has_narrative": incident.narrative.is_some(),
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IncidentParams {
    /// Only incidents still open.
    open: Option<bool>,
}

/// Incidents at the locations the caller may see, newest first.
async fn incidents(
    State(shared): State<Shared>,
    caller: Caller,
    ApiQuery(params): ApiQuery<IncidentParams>,
) -> ApiResult {
    let views = shared
        .app
        .incidents(caller.session(), params.open.unwrap_or(false), false)
        .await?;
    Ok(Json(Value::Array(
        views.iter().map(incident_json).collect(),
    )))
}

async fn incident(
    State(shared): State<Shared>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult {
    let view = shared
        .app
        .show_incident(caller.session(), &code, false)
        .await?;
    Ok(Json(incident_json(&view)))
}

/// A household: whether it may travel apart, and its members the caller may see.
async fn household(
    State(shared): State<Shared>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult {
    let session = caller.session();
    let members = shared
        .app
        .list_people(
            session,
            &PeopleQuery {
                household: Some(code.clone()),
                ..PeopleQuery::default()
            },
        )
        .await?;
    // A household with no member the caller may see answers as one that does not exist.
    if members.is_empty() {
        return Err(refuge_app::AppError::NotFound {
            what: "household",
            code: code.clone(),
        }
        .into());
    }
    let split_allowed = shared.app.household_split_allowed(session, &code).await?;
    Ok(Json(json!({
        "code": refuge_core::normalize_code(&code),
        "split_allowed": split_allowed,
        "members": members.iter().map(person_json).collect::<Vec<_>>(),
    })))
}

/// Locations with their beds and how many people are there (names and addresses stay
/// sealed: they are read on the locations page, logged).
async fn locations(State(shared): State<Shared>, caller: Caller) -> ApiResult {
    let views = shared.app.locations(caller.session(), false).await?;
    Ok(Json(Value::Array(
        views
            .iter()
            .map(|view| {
                let location = &view.location;
                json!({
                    "code": location.code, "kind": location.kind, "country": location.country,
                    "capacity": location.capacity, "present": view.present,
                })
            })
            .collect(),
    )))
}

async fn batches(State(shared): State<Shared>, caller: Caller) -> ApiResult {
    let list = shared.app.batches(caller.session()).await?;
    Ok(Json(Value::Array(
        list.iter()
            .map(|batch| json!({ "code": batch.code, "status": batch.status, "departure": batch.departure.to_string(), "seats": batch.seats, "manifest": batch.manifest.len() }))
            .collect(),
    )))
}
