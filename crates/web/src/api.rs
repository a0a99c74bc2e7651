//! The JSON API under /api/v1, with its OpenAPI document. Authenticated by an API token
//! (`Authorization: Bearer rft1_…`, see refuge-app's tokens) or by the same session cookie as
//! the pages; every route calls the same use cases, so the same role and compartment rules
//! apply.

use crate::State;
use crate::pages::{app_error, context};
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use refuge_app::PeopleQuery;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<State> {
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

fn problem(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn unauthenticated() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "log in first, or send an API token as 'Authorization: Bearer <token>'".into(),
    )
}

/// Who is calling: a browser session, or a session opened from an API token for this
/// request only.
enum Caller {
    Web(std::sync::Arc<crate::sessions::WebSession>),
    Token(refuge_app::Session),
}

impl Caller {
    fn session(&self) -> &refuge_app::Session {
        match self {
            Caller::Web(web) => &web.session,
            Caller::Token(session) => session,
        }
    }
}

async fn caller(state: &State, headers: &HeaderMap) -> Result<Caller, Response> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                problem(
                    StatusCode::UNAUTHORIZED,
                    "the Authorization header must be 'Bearer <token>'".into(),
                )
            })?;
        return state
            .app
            .login_token(token)
            .await
            .map(Caller::Token)
            .map_err(|_| {
                problem(
                    StatusCode::UNAUTHORIZED,
                    "the API token is not valid: unknown, revoked, or not a token".into(),
                )
            });
    }
    context(state, headers)
        .session
        .map(Caller::Web)
        .ok_or_else(unauthenticated)
}

fn failed(error: refuge_app::AppError) -> Response {
    app_error(error, crate::i18n::Lang::English).into_json()
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

async fn backlog(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> Response {
    let caller = match caller(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match state.app.backlog(caller.session(), None).await {
        Ok(lines) => Json(lines).into_response(),
        Err(error) => failed(error),
    }
}

#[derive(Deserialize, Default)]
struct PeopleParams {
    stage: Option<String>,
    location: Option<String>,
    flag: Option<String>,
    limit: Option<u32>,
}

fn person_json(view: &refuge_app::PersonView) -> Value {
    let person = &view.person;
    json!({
        "code": person.code, "household": view.household_code, "sex": person.sex, "birth_year": person.birth_year,
        "stage": person.stage, "location": view.location_code, "since": person.since.to_string(),
        "waiting_days": view.waiting_days, "flags": person.flags, "hold": person.hold,
        "documents_ready": person.documents_ready, "screening_done": person.screening_done,
    })
}

async fn people(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Query(params): Query<PeopleParams>,
) -> Response {
    let caller = match caller(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let mut query = PeopleQuery {
        location: params.location,
        limit: Some(params.limit.unwrap_or(500).min(5_000)),
        ..PeopleQuery::default()
    };
    if let Some(stage) = params.stage {
        match stage.parse() {
            Ok(stage) => query.stage = Some(stage),
            Err(error) => return problem(StatusCode::BAD_REQUEST, format!("stage: {error}")),
        }
    }
    if let Some(flag) = params.flag {
        match flag.parse() {
            Ok(flag) => query.flag = Some(flag),
            Err(error) => return problem(StatusCode::BAD_REQUEST, format!("flag: {error}")),
        }
    }
    match state.app.list_people(caller.session(), &query).await {
        Ok(views) => Json(views.iter().map(person_json).collect::<Vec<_>>()).into_response(),
        Err(error) => failed(error),
    }
}

async fn person(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    let caller = match caller(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match state.app.show_person(caller.session(), &code, false).await {
        Ok(view) => Json(person_json(&view)).into_response(),
        Err(error) => failed(error),
    }
}

async fn batches(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> Response {
    let caller = match caller(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match state.app.batches(caller.session()).await {
        Ok(list) => Json(
            list.iter()
                .map(|batch| json!({ "code": batch.code, "status": batch.status, "departure": batch.departure.to_string(), "seats": batch.seats, "manifest": batch.manifest.len() }))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(error) => failed(error),
    }
}
