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

mod writes;

pub use writes::API_WRITE_PATHS;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/backlog", get(backlog))
        .route("/people", get(people).post(writes::register))
        .route("/people/{code}", get(person))
        .route("/people/{code}/move", post(writes::move_to))
        .route("/people/{code}/flags", post(writes::flags))
        .route("/people/{code}/hold", post(writes::hold))
        .route("/people/{code}/readiness", post(writes::readiness))
        .route("/people/{code}/notes", post(writes::note))
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

/// The schema of a closed vocabulary's words.
pub(crate) fn words_schema<V: refuge_core::Vocabulary>(all: &[V]) -> Value {
    json!({ "type": "string", "enum": all.iter().map(|word| word.word()).collect::<Vec<_>>() })
}

/// The pattern of a record's code (any case: codes are matched upper-cased).
pub(crate) fn code_schema(prefixes: &str) -> Value {
    let length = refuge_core::CODE_LEN;
    json!({ "type": "string", "pattern": format!("^[{prefixes}]-[0-9A-Za-z]{{{length}}}$") })
}

fn as_json(value: impl serde::Serialize) -> ApiResult {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|_| Failure::internal())
}

async fn openapi() -> Json<Value> {
    let mut document = read_operations();
    // The writes (POST), beside the reads of the same paths.
    for (path, operation) in writes::operations() {
        document["paths"][path]["post"] = operation;
    }
    Json(document)
}

#[expect(
    clippy::too_many_lines,
    reason = "the OpenAPI document of the reads, one entry per route"
)]
fn read_operations() -> Value {
    let errors = json!({
        "400": { "$ref": "#/components/responses/Error" },
        "401": { "$ref": "#/components/responses/Error" },
        "403": { "$ref": "#/components/responses/Error" },
        "404": { "$ref": "#/components/responses/Error" },
    });
    let get = |summary: &str, ok: Value| {
        let mut responses = errors.clone();
        if let Value::Object(map) = &mut responses {
            map.insert("200".into(), ok);
        }
        json!({ "get": { "summary": summary, "responses": responses } })
    };
    let ok = |schema: Value| json!({ "description": "OK", "content": { "application/json": { "schema": schema } } });
    let query = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema });
    let mut people = get(
        "People (operational fields), longest waiting first; unknown parameters are refused",
        json!({
            "description": "OK",
            "headers": {
                "X-Total-Count": { "description": "How many people match", "schema": { "type": "integer" } },
                "Link": { "description": "The next page, as <url>; rel=\"next\"", "schema": { "type": "string" } }
            },
            "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Person" } } } }
        }),
    );
    people["get"]["parameters"] = json!([
        query("stage", "A stage", words_schema(refuge_core::Stage::ALL)),
        query(
            "location",
            "A location code",
            json!({ "type": "string", "minLength": 1 })
        ),
        query(
            "flag",
            "A vulnerability flag",
            words_schema(refuge_core::Flag::ALL)
        ),
        query("household", "A household code", code_schema("Hh")),
        query(
            "waiting_over",
            "Only people waiting longer than this many days",
            json!({ "type": "integer", "minimum": 0, "maximum": refuge_app::MAX_WAITING_DAYS })
        ),
        query(
            "limit",
            "People per page",
            json!({ "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT })
        ),
        query(
            "after",
            "The page after the one whose Link header named this value",
            json!({ "type": "string", "pattern": "^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])[.][Pp]-[0-9A-Za-z]{5}$" })
        ),
    ]);
    let mut incidents = get(
        "Incidents at the locations the caller may see, newest first (never a narrative)",
        ok(json!({ "type": "array", "items": { "$ref": "#/components/schemas/Incident" } })),
    );
    incidents["get"]["parameters"] = json!([query(
        "open",
        "Only incidents still open",
        json!({ "type": "boolean" })
    )]);
    let code_parameter = |prefixes: &str| json!([{ "name": "code", "in": "path", "required": true, "schema": code_schema(prefixes) }]);
    let mut incident = get(
        "One incident (never its narrative)",
        ok(json!({ "$ref": "#/components/schemas/Incident" })),
    );
    incident["get"]["parameters"] = code_parameter("Ii");
    let mut household = get(
        "One household: whether it may travel apart, and its members the caller may see",
        ok(json!({ "type": "object", "properties": {
            "code": { "type": "string" }, "split_allowed": { "type": "boolean" },
            "members": { "type": "array", "items": { "$ref": "#/components/schemas/Person" } }
        } })),
    );
    household["get"]["parameters"] = code_parameter("Hh");
    let mut forecast = get(
        "The outlook from the database: per day, the 10th, 50th and 90th percentile and the mean of the people waiting, the backlog's age and every shelter's occupancy and waiting list; waits; a Little's-law check",
        ok(json!({ "type": "object", "properties": {
            "horizon_days": { "type": "number" }, "replications": { "type": "integer" },
            "waiting": { "$ref": "#/components/schemas/Bands" },
            "backlog_age": { "$ref": "#/components/schemas/Bands" },
            "shelters": { "type": "array", "items": { "type": "object" } },
            "wait": { "type": "object" }, "little": { "type": "object" }
        } })),
    );
    forecast["get"]["parameters"] = json!([
        query(
            "horizon_days",
            "Days ahead (default 180)",
            json!({ "type": "number", "minimum": 1, "maximum": refuge_app::MAX_HORIZON_DAYS })
        ),
        query(
            "replications",
            "Simulated runs (default 200)",
            json!({ "type": "integer", "minimum": 1, "maximum": refuge_app::MAX_REPLICATIONS })
        ),
        query(
            "arrival_factor",
            "Arrivals times this (default 1)",
            json!({ "type": "number", "minimum": 0, "maximum": refuge_app::MAX_ARRIVAL_FACTOR })
        ),
        query(
            "seed",
            "The random seed (the same seed, the same forecast)",
            json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
        ),
    ]);
    // Within every bound, the inputs together may still exceed the work budget, or too
    // many forecasts may be running.
    forecast["get"]["responses"]["422"] = json!({ "$ref": "#/components/responses/Error" });
    forecast["get"]["responses"]["503"] = json!({ "$ref": "#/components/responses/Error" });
    let mut person = get(
        "One person (operational fields)",
        ok(json!({ "$ref": "#/components/schemas/Person" })),
    );
    person["get"]["parameters"] =
        json!([{ "name": "code", "in": "path", "required": true, "schema": code_schema("Pp") }]);
    person["get"]["responses"]["308"] = json!({
        "description": "The code of a duplicate record merged into another: Location names the kept record",
        "headers": { "Location": { "schema": { "type": "string" } } }
    });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "refuge", "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": "/api/v1" }],
        "components": {
            "securitySchemes": {
                "token": { "type": "http", "scheme": "bearer", "description": "An API token (rft1_…), created on the API tokens page or with `refuge token create`" },
                "session": { "type": "apiKey", "in": "cookie", "name": "refuge" }
            },
            "schemas": {
                "Error": { "type": "object", "required": ["error", "code"], "properties": {
                    "error": { "type": "string", "description": "What is wrong, naming the field or parameter" },
                    "code": { "type": "string", "description": "A stable code: invalid_query, forbidden_role, not_found, …" }
                } },
                "Incident": { "type": "object", "required": ["code", "location", "kind", "severity", "status", "occurred"], "properties": {
                    "code": { "type": "string" }, "location": { "type": "string" },
                    "kind": { "type": "string" }, "severity": { "type": "integer", "minimum": 1, "maximum": 4 },
                    "status": { "type": "string" }, "occurred": { "type": "string", "format": "date" },
                    "occurred_time": { "type": ["string", "null"], "description": "HH:MM on the clock there" },
                    "closed": { "type": ["string", "null"], "format": "date" },
                    "people": { "type": "array", "items": { "type": "string" } },
                    "has_narrative": { "type": "boolean" }
                } },
                "Bands": { "type": "object", "required": ["p10", "p50", "p90", "mean"], "properties": {
                    "p10": { "type": "array", "items": { "type": "number" } },
                    "p50": { "type": "array", "items": { "type": "number" } },
                    "p90": { "type": "array", "items": { "type": "number" } },
                    "mean": { "type": "array", "items": { "type": "number" }, "description": "The mean over the runs, per day" }
                } },
                "Person": { "type": "object", "required": ["code", "household", "stage", "location", "since"], "properties": {
                    "code": { "type": "string" }, "household": { "type": "string" },
                    "sex": { "type": "string" }, "birth_year": { "type": ["integer", "null"] },
                    "stage": { "type": "string" }, "location": { "type": "string" },
                    "since": { "type": "string", "format": "date", "description": "Arrival at the current location" },
                    "waiting_since": { "type": "string", "format": "date", "description": "Since when waiting for a transfer, across moves; absent when not waiting" },
                    "waiting_days": { "type": "integer", "description": "Days waited for a transfer; absent when not waiting" },
                    "flags": { "type": "array", "items": { "type": "string" } },
                    "hold": { "type": ["string", "null"] },
                    "documents_ready": { "type": "boolean" }, "screening_done": { "type": "boolean" },
                    "merged_from": { "type": "array", "items": { "type": "string" }, "description": "Codes of duplicate records merged into this one (they lead here)" }
                } }
            },
            "responses": {
                "Error": { "description": "Refused", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        },
        "security": [{ "token": [] }, { "session": [] }],
        "paths": {
            "/openapi.json": get("This document", ok(json!({ "type": "object" }))),
            "/backlog": get("Backlog at every shelter and detention location", ok(json!({ "type": "array", "items": { "type": "object" } }))),
            "/people": people,
            "/people/{code}": person,
            "/batches": get("Transfer batches", ok(json!({ "type": "array", "items": { "type": "object" } }))),
            "/forecast": forecast,
            "/incidents": incidents,
            "/incidents/{code}": incident,
            "/households/{code}": household,
            "/locations": get("Locations: code, kind, country, beds and people present (names and addresses stay sealed)", ok(json!({ "type": "array", "items": { "type": "object" } }))),
        }
    })
}

async fn backlog(State(shared): State<Shared>, caller: Caller) -> ApiResult {
    as_json(shared.app.backlog(caller.session(), None).await?)
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
    // Absent, not null, for someone not waiting.
    if let (Some((since, days)), Value::Object(map)) = (view.waiting(), &mut value) {
        map.insert("waiting_since".into(), since.to_string().into());
        map.insert("waiting_days".into(), days.into());
    }
    value
}

/// A closed-vocabulary query parameter, or a 400 naming it.
fn query_word<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, Failure>
where
    T::Err: std::fmt::Display,
{
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
    if params.waiting_over.is_some_and(|days| days < 0) {
        return Err(Failure::invalid_query(
            "waiting_over: must be 0 or more days",
        ));
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
