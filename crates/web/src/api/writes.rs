//! The API's writes, for partner tools: register a person, move, flag, hold, readiness, a
//! case note, record and close an incident. Only with an API token (a browser's cookie
//! cannot write through the API: no cross-site request can then write); each calls the same
//! use case as the page, so the same permissions and access log apply. With an
//! `Idempotency-Key` header a write sent again gets its first answer back (`idempotency`).

use super::{Caller, incident_json, person_json};
use crate::Shared;
use crate::errors::Failure;
use crate::idempotency::{Claim, MAX_KEY_LEN, fingerprint};
use crate::layout::{parse_date, parse_field};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use refuge_app::{AppError, NewCheckIn, NewIncident, NewPerson, Reason};
use refuge_core::{Flag, PersonField, parse_time_of_day};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use time::Date;

/// The paths that take a POST, for the OpenAPI document (a test checks they agree).
pub const API_WRITE_PATHS: &[&str] = &[
    "/people",
    "/people/{code}/move",
    "/people/{code}/flags",
    "/people/{code}/hold",
    "/people/{code}/readiness",
    "/people/{code}/wish",
    "/people/{code}/notes",
    "/people/{code}/check-ins",
    "/incidents",
    "/incidents/{code}/close",
];

type Written = Result<(StatusCode, Value), Failure>;

/// A write's body, or a 400 naming what is wrong and where, without quoting a value (a body
/// may hold a name).
fn body_of<T: DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|error| {
        let text = error.to_string();
        // serde names fields, never values, in these two; the other messages quote values.
        let what = ["unknown field", "missing field"]
            .iter()
            .find(|start| text.starts_with(*start))
            .map_or_else(
                || "not what this endpoint takes (see /api/v1/openapi.json)".to_string(),
                |_| {
                    text.split(" at line")
                        .next()
                        .unwrap_or_default()
                        .to_string()
                },
            );
        Failure::api(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!(
                "body: line {}, column {}: {what}",
                error.line(),
                error.column()
            ),
        )
    })
}

/// An optional word of a closed vocabulary, or the input error naming `field`.
fn optional_word<T: std::str::FromStr<Err = refuge_core::UnknownName>>(
    field: &str,
    text: &Option<String>,
) -> Result<Option<T>, AppError> {
    text.as_deref()
        .map(|text| parse_field(field, text))
        .transpose()
}

/// An optional day (YYYY-MM-DD), or the input error naming `field`.
fn optional_day(field: &str, text: &Option<String>) -> Result<Option<Date>, AppError> {
    text.as_deref()
        .map(|text| parse_date(field, text))
        .transpose()
}

/// A write as it arrives: who sends it, its headers, what it asks (method and path) and its
/// body (within the server's body limit).
pub struct Sent {
    caller: Caller,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    body: Bytes,
}

impl FromRequest<Shared> for Sent {
    type Rejection = Response;

    async fn from_request(request: Request, shared: &Shared) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let caller = Caller::from_request_parts(&mut parts, shared).await?;
        let body = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                Failure::api(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("body: more than {} bytes", crate::MAX_BODY_BYTES),
                )
                .json()
            })?;
        Ok(Sent {
            caller,
            headers: parts.headers,
            method: parts.method,
            uri: parts.uri,
            body,
        })
    }
}

impl Sent {
    /// The body as `T`, or a 400 naming what is wrong (see `body_of`).
    fn body<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        body_of(&self.body)
    }
}

/// Runs a write once per `Idempotency-Key` (when one is sent), for token callers only.
async fn write<Fut: Future<Output = Written>>(
    shared: &Shared,
    sent: &Sent,
    run: impl FnOnce() -> Fut,
) -> Response {
    let Sent {
        caller,
        headers,
        method,
        uri,
        body,
    } = sent;
    if let Caller::Web(_) = caller {
        return Failure::api(
            StatusCode::FORBIDDEN,
            "token_required",
            "writes through the API need an API token (Authorization: Bearer …); the pages write for a browser".into(),
        )
        .json();
    }
    let user = caller.session().user().name.clone();
    let key = match headers.get("idempotency-key").map(HeaderValue::to_str) {
        None => None,
        Some(Ok(key))
            if (1..=MAX_KEY_LEN).contains(&key.len())
                && key.bytes().all(|byte| byte.is_ascii_graphic()) =>
        {
            Some(key.to_string())
        }
        Some(_) => {
            return Failure::api(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                format!("Idempotency-Key: 1 to {MAX_KEY_LEN} visible ASCII characters"),
            )
            .json();
        }
    };
    if let Some(key) = &key {
        let asked = fingerprint(method.as_str(), uri.path(), body);
        match shared
            .replies
            .claim(&user, key, asked, std::time::Instant::now())
        {
            Claim::First => {}
            Claim::Answered(status, body) => {
                let mut response = (status, Json(body)).into_response();
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return response;
            }
            Claim::InFlight => {
                return Failure::api(
                    StatusCode::CONFLICT,
                    "in_progress",
                    "a request with this Idempotency-Key is still being written; ask again in a moment".into(),
                )
                .json();
            }
            Claim::Reused => {
                return Failure::api(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this Idempotency-Key was sent with another request: use a new key for a new write".into(),
                )
                .json();
            }
        }
    }
    let (status, answer) = match run().await {
        Ok(written) => written,
        Err(failure) => failure.json_parts(),
    };
    if let Some(key) = &key {
        shared.replies.answer(&user, key, status, &answer);
    }
    (status, Json(answer)).into_response()
}

/// The person as the API shows them, after a change.
async fn person_now(shared: &Shared, caller: &Caller, code: &str) -> Result<Value, Failure> {
    let view = shared
        .app
        .show_person(caller.session(), code, false)
        .await?;
    Ok(person_json(&view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    location: String,
    household: Option<String>,
    split_allowed: Option<bool>,
    sex: Option<String>,
    birth_year: Option<i32>,
    stage: Option<String>,
    since: Option<String>,
    entered: Option<String>,
    #[serde(default)]
    flags: Vec<String>,
    /// Protected fields by name (`name`, `name_romanized`, `origin`, …), sealed at once.
    #[serde(default)]
    identity: BTreeMap<String, String>,
    #[serde(default)]
    allow_duplicate: bool,
}

pub async fn register(State(shared): State<Shared>, sent: Sent) -> Response {
    let caller = &sent.caller;
    write(&shared, &sent, || async {
        let asked: RegisterBody = sent.body()?;
        let mut identity = BTreeMap::new();
        for (field, value) in asked.identity {
            identity.insert(parse_field::<PersonField>("identity", &field)?, value);
        }
        let new = NewPerson {
            household: asked.household,
            split_allowed: asked.split_allowed.unwrap_or(false),
            sex: optional_word("sex", &asked.sex)?,
            birth_year: asked.birth_year,
            location: asked.location,
            stage: optional_word("stage", &asked.stage)?,
            since: optional_day("since", &asked.since)?,
            entered: optional_day("entered", &asked.entered)?,
            flags: asked
                .flags
                .iter()
                .map(|flag| parse_field::<Flag>("flags", flag))
                .collect::<Result<_, _>>()?,
            identity,
            allow_duplicate: asked.allow_duplicate,
        };
        let person = shared.app.add_person(caller.session(), new).await?;
        Ok((
            StatusCode::CREATED,
            person_now(&shared, caller, &person.code).await?,
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    to: String,
    stage: Option<String>,
    at: Option<String>,
    #[serde(default)]
    over_capacity: bool,
}

/// Moves a person, or a whole household when the code is a household's.
pub async fn move_to(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    sent: Sent,
) -> Response {
    let caller = &sent.caller;
    write(&shared, &sent, || async {
        let asked: MoveBody = sent.body()?;
        let report = shared
            .app
            .move_to(
                caller.session(),
                &code,
                &asked.to,
                optional_word("stage", &asked.stage)?,
                optional_day("at", &asked.at)?,
                asked.over_capacity,
            )
            .await?;
        Ok((
            StatusCode::OK,
            json!({ "moved": report.moved, "location": report.location, "over_capacity": report.over_capacity }),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagsBody {
    #[serde(default)]
    set: Vec<String>,
    #[serde(default)]
    clear: Vec<String>,
}

pub async fn flags(State(shared): State<Shared>, Path(code): Path<String>, sent: Sent) -> Response {
    let caller = &sent.caller;
    write(&shared, &sent, || async {
        let asked: FlagsBody = sent.body()?;
        let mut changes = Vec::new();
        for (words, on) in [(&asked.set, true), (&asked.clear, false)] {
            for word in words {
                changes.push((
                    parse_field::<Flag>(if on { "set" } else { "clear" }, word)?,
                    on,
                ));
            }
        }
        shared
            .app
            .set_flags(caller.session(), &code, &changes)
            .await?;
        Ok((StatusCode::OK, person_now(&shared, caller, &code).await?))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    /// A hold reason, or null to release the hold; never left out (`{}` releases nothing).
    #[serde(deserialize_with = "sent_or_null")]
    reason: Option<String>,
}

/// A field that must be sent, though it may be null: without this, serde takes an absent
/// `Option` for None.
fn sent_or_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::deserialize(deserializer)
}

pub async fn hold(State(shared): State<Shared>, Path(code): Path<String>, sent: Sent) -> Response {
    let caller = &sent.caller;
    write(&shared, &sent, || async {
        let asked: HoldBody = sent.body()?;
        let reason = optional_word("reason", &asked.reason)?;
        shared.app.set_hold(caller.session(), &code, reason).await?;
        Ok((StatusCode::OK, person_now(&shared, caller, &code).await?))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadinessBody {
    documents_ready: Option<bool>,
    screening_done: Option<bool>,
}

pub async fn readiness(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    sent: Sent,
) -> Response {
    let caller = &sent.caller;
    write(&shared, &sent, || async {
        let asked: ReadinessBody = sent.body()?;
        shared
            .app
            .set_ready(
                caller.session(),
                &code,
                asked.documents_ready,
                asked.screening_done,
            )
            .await?;
        Ok((StatusCode::OK, person_now(&shared, caller, &code).await?))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WishBody {
    wish: String,
}

/// Where the person wants to go: a two-letter country code, `undecided` or `stay`.
pub async fn wish(State(shared): State<Shared>, Path(code): Path<String>, sent: Sent) -> Response {
    let caller = &sent.caller;
    write(&shared, &sent, || async {
        let asked: WishBody = sent.body()?;
        // The reason never repeats what was sent.
        let wish: refuge_core::DestinationWish = asked
            .wish
            .parse()
            .map_err(|_| AppError::invalid("wish", Reason::new("wish-choice")))?;
        shared.app.set_wish(caller.session(), &code, wish).await?;
        Ok((StatusCode::OK, person_now(&shared, caller, &code).await?))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
    follow_up: Option<String>,
}

pub async fn note(State(shared): State<Shared>, Path(code): Path<String>, sent: Sent) -> Response {
    let caller = &sent.caller;
    write(&shared, &sent, || async {
        let asked: NoteBody = sent.body()?;
        let follow_up = optional_day("follow_up", &asked.follow_up)?;
        let note = shared
            .app
            .add_note(caller.session(), &code, &asked.text, follow_up)
            .await?;
        Ok((
            StatusCode::CREATED,
            json!({ "note": note.to_string(), "person": refuge_core::normalize_code(&code) }),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckInBody {
    wellbeing: String,
    #[serde(default)]
    needs: Vec<String>,
    #[serde(default)]
    note: String,
    follow_up: Option<String>,
}

/// A welfare check-in: how the person is, what they need, what was said (sealed).
pub async fn check_in(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    sent: Sent,
) -> Response {
    let caller = &sent.caller;
    write(&shared, &sent, || async {
        let asked: CheckInBody = sent.body()?;
        let check_in = NewCheckIn {
            wellbeing: parse_field("wellbeing", &asked.wellbeing)?,
            needs: asked
                .needs
                .iter()
                .map(|need| parse_field("needs", need))
                .collect::<Result<_, _>>()?,
            note: asked.note,
            follow_up: optional_day("follow_up", &asked.follow_up)?,
        };
        let note = shared
            .app
            .record_check_in(caller.session(), &code, check_in)
            .await?;
        Ok((
            StatusCode::CREATED,
            json!({ "note": note.to_string(), "person": refuge_core::normalize_code(&code) }),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentBody {
    location: String,
    kind: String,
    severity: u8,
    #[serde(default)]
    people: Vec<String>,
    narrative: Option<String>,
    /// The day it happened (default today).
    date: Option<String>,
    /// The time of day, HH:MM on the clock there.
    time: Option<String>,
}

pub async fn record_incident(State(shared): State<Shared>, sent: Sent) -> Response {
    let caller = &sent.caller;
    write(&shared, &sent, || async {
        let asked: IncidentBody = sent.body()?;
        let occurred_time = match asked.time.as_deref() {
            None => None,
            Some(text) => Some(parse_time_of_day(text).ok_or_else(|| {
                Failure::api(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    "time: not a time of day (HH:MM)".into(),
                )
            })?),
        };
        let incident = shared
            .app
            .add_incident(
                caller.session(),
                NewIncident {
                    people: &asked.people,
                    narrative: asked.narrative.as_deref(),
                    occurred: optional_day("date", &asked.date)?,
                    occurred_time,
                    ..NewIncident::new(
                        &asked.location,
                        parse_field("kind", &asked.kind)?,
                        asked.severity,
                    )
                },
            )
            .await?;
        let view = shared
            .app
            .show_incident(caller.session(), &incident.code, false)
            .await?;
        Ok((StatusCode::CREATED, incident_json(&view)))
    })
    .await
}

pub async fn close_incident(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    sent: Sent,
) -> Response {
    let caller = &sent.caller;
    write(&shared, &sent, || async {
        let incident = shared.app.close_incident(caller.session(), &code).await?;
        let view = shared
            .app
            .show_incident(caller.session(), &incident.code, false)
            .await?;
        Ok((StatusCode::OK, incident_json(&view)))
    })
    .await
}
