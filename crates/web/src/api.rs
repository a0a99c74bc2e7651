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
use axum::routing::get;
use refuge_app::{PeopleQuery, PersonView, Session};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/backlog", get(backlog))
        .route("/people", get(people))
        .route("/people/{code}", get(person))
        .route("/batches", get(batches))
}

/// Every route above, for the OpenAPI document (a test checks they agree).
pub const API_PATHS: &[&str] = &[
    "/openapi.json",
    "/backlog",
    "/people",
    "/people/{code}",
    "/batches",
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

async fn openapi() -> Json<Value> {
    let get = |summary: &str| json!({ "get": { "summary": summary, "responses": { "200": { "description": "OK" }, "401": { "description": "Not logged in" }, "403": { "description": "Not allowed" } } } });
    Json(json!({
        "openapi": "3.1.0",
        "info": { "title": "refuge", "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": "/api/v1" }],
        "components": { "securitySchemes": {
            "token": { "type": "http", "scheme": "bearer", "description": "An API token (rft1_…), created on the API tokens page or with `refuge token create`" },
            "session": { "type": "apiKey", "in": "cookie", "name": "refuge" }
        } },
        "security": [{ "token": [] }, { "session": [] }],
        "paths": {
            "/openapi.json": get("This document"),
            "/backlog": get("Backlog at every shelter and detention location"),
            "/people": get("People (operational fields), filtered by stage, location, flag"),
            "/people/{code}": get("One person (operational fields)"),
            "/batches": get("Transfer batches"),
        }
    }))
}

async fn backlog(State(shared): State<Shared>, caller: Caller) -> ApiResult {
    as_json(shared.app.backlog(caller.session(), None).await?)
}

#[derive(Deserialize, Default)]
struct PeopleParams {
    stage: Option<String>,
    location: Option<String>,
    flag: Option<String>,
    limit: Option<u32>,
}

fn person_json(view: &PersonView) -> Value {
    let person = &view.person;
    let mut value = json!({
        "code": person.code, "household": view.household_code, "sex": person.sex, "birth_year": person.birth_year,
        "stage": person.stage, "location": view.location_code, "since": person.since.to_string(),
        "flags": person.flags, "hold": person.hold,
        "documents_ready": person.documents_ready, "screening_done": person.screening_done,
    });
    // Absent, not null, for someone not waiting.
    if let (Some(since), Some(days), Value::Object(map)) =
        (person.waiting_since, view.waiting_days, &mut value)
    {
        map.insert("waiting_since".into(), since.to_string().into());
        map.insert("waiting_days".into(), days.into());
    }
    value
}

async fn people(
    State(shared): State<Shared>,
    caller: Caller,
    Query(params): Query<PeopleParams>,
) -> ApiResult {
    let query = PeopleQuery {
        location: params.location,
        limit: Some(params.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT)),
        stage: params
            .stage
            .map(|stage| parse_field("stage", &stage))
            .transpose()?,
        flag: params
            .flag
            .map(|flag| parse_field("flag", &flag))
            .transpose()?,
        ..PeopleQuery::default()
    };
    let views = shared.app.list_people(caller.session(), &query).await?;
    Ok(Json(Value::Array(views.iter().map(person_json).collect())))
}

async fn person(
    State(shared): State<Shared>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult {
    let view = shared
        .app
        .show_person(caller.session(), &code, false)
        .await?;
    Ok(Json(person_json(&view)))
}

async fn batches(State(shared): State<Shared>, caller: Caller) -> ApiResult {
    let list = shared.app.batches(caller.session()).await?;
    Ok(Json(Value::Array(
        list.iter()
            .map(|batch| json!({ "code": batch.code, "status": batch.status, "departure": batch.departure.to_string(), "seats": batch.seats, "manifest": batch.manifest.len() }))
            .collect(),
    )))
}
