//! The API's OpenAPI 3.1 document: every route's parameters, request bodies, responses and
//! errors, reads and writes, served at `/api/openapi.json`.

use super::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::idempotency::MAX_KEY_LEN;
use axum::Json;
use refuge_core::{Flag, PersonField};
use serde_json::{Value, json};

/// The schema of a closed vocabulary's words.
pub(crate) fn words_schema<V: refuge_core::Vocabulary>(all: &[V]) -> Value {
    json!({ "type": "string", "enum": all.iter().map(|word| word.word()).collect::<Vec<_>>() })
}

/// The pattern of a record's code (any case: codes are matched upper-cased).
pub(crate) fn code_schema(prefixes: &str) -> Value {
    let length = refuge_core::CODE_LEN;
    json!({ "type": "string", "pattern": format!("^[{prefixes}]-[0-9A-Za-z]{{{length}}}$") })
}

pub(super) async fn openapi() -> Json<Value> {
    let mut document = read_operations();
    // The writes (POST), beside the reads of the same paths.
    for (path, operation) in write_operations() {
        document["paths"][path]["post"] = operation;
    }
    Json(document)
}

/// The error responses every operation may give, by status.
fn error_responses(statuses: &[&str]) -> Value {
    statuses
        .iter()
        .map(|status| {
            (
                (*status).to_string(),
                json!({ "$ref": "#/components/responses/Error" }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A GET operation answering `ok` with 200.
fn get(summary: &str, ok: Value) -> Value {
    let mut responses = error_responses(&["400", "401", "403", "404"]);
    responses["200"] = ok;
    json!({ "get": { "summary": summary, "responses": responses } })
}

fn ok(schema: Value) -> Value {
    json!({ "description": "OK", "content": { "application/json": { "schema": schema } } })
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn code_parameter(prefixes: &str) -> Value {
    json!([{ "name": "code", "in": "path", "required": true, "schema": code_schema(prefixes) }])
}

/// The document with every read (GET).
fn read_operations() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": { "title": "refuge", "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": "/api/v1" }],
        "components": components(),
        "security": [{ "token": [] }, { "session": [] }],
        "paths": {
            "/openapi.json": get("This document", ok(json!({ "type": "object" }))),
            "/backlog": get("Backlog at every shelter and detention location", ok(json!({ "type": "array", "items": { "type": "object" } }))),
            "/backlog/destinations": get("The people waiting by where they want to go (a country code, undecided, stay, or null: not asked), with their waits and the seats planned to each country", ok(json!({ "type": "array", "items": { "$ref": "#/components/schemas/DestinationBacklog" } }))),
            "/people": people_read(),
            "/people/{code}": person_read(),
            "/batches": get("Transfer batches", ok(json!({ "type": "array", "items": { "type": "object" } }))),
            "/forecast": forecast_read(),
            "/incidents": incidents_read(),
            "/incidents/{code}": incident_read(),
            "/households/{code}": household_read(),
            "/locations": get("Locations: code, kind, country, beds and people present (names and addresses stay sealed)", ok(json!({ "type": "array", "items": { "type": "object" } }))),
        }
    })
}

fn people_read() -> Value {
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
        query("flag", "A vulnerability flag", words_schema(Flag::ALL)),
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
    people
}

fn incidents_read() -> Value {
    let mut incidents = get(
        "Incidents at the locations the caller may see, newest first (never a narrative)",
        ok(json!({ "type": "array", "items": { "$ref": "#/components/schemas/Incident" } })),
    );
    incidents["get"]["parameters"] = json!([query(
        "open",
        "Only incidents still open",
        json!({ "type": "boolean" })
    )]);
    incidents
}

fn incident_read() -> Value {
    let mut incident = get(
        "One incident (never its narrative)",
        ok(json!({ "$ref": "#/components/schemas/Incident" })),
    );
    incident["get"]["parameters"] = code_parameter("Ii");
    incident
}

fn household_read() -> Value {
    let mut household = get(
        "One household: whether it may travel apart, and its members the caller may see",
        ok(json!({ "type": "object", "properties": {
            "code": { "type": "string" }, "split_allowed": { "type": "boolean" },
            "members": { "type": "array", "items": { "$ref": "#/components/schemas/Person" } }
        } })),
    );
    household["get"]["parameters"] = code_parameter("Hh");
    household
}

fn forecast_read() -> Value {
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
        query(
            "destination",
            "One country's queue (ISO 3166-1 alpha-2): those whose wish allows it, the transfers going there",
            json!({ "type": "string", "pattern": "^[A-Za-z]{2}$" })
        ),
    ]);
    // Within every bound, the inputs together may still exceed the work budget, or too
    // many forecasts may be running.
    forecast["get"]["responses"]["422"] = json!({ "$ref": "#/components/responses/Error" });
    forecast["get"]["responses"]["503"] = json!({ "$ref": "#/components/responses/Error" });
    forecast
}

fn person_read() -> Value {
    let mut person = get(
        "One person (operational fields)",
        ok(json!({ "$ref": "#/components/schemas/Person" })),
    );
    person["get"]["parameters"] = code_parameter("Pp");
    person["get"]["responses"]["308"] = json!({
        "description": "The code of a duplicate record merged into another: Location names the kept record",
        "headers": { "Location": { "schema": { "type": "string" } } }
    });
    person
}

/// The shared schemas and the error response.
fn components() -> Value {
    json!({
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
            "DestinationBacklog": { "type": "object", "required": ["wish", "target_wait_days", "waiting", "over_target", "seats_planned"], "properties": {
                "wish": { "type": ["string", "null"], "description": "A country code (KR), undecided, stay; null: not asked yet (may travel on any transfer)" },
                "target_wait_days": { "type": "integer" },
                "waiting": { "type": "integer", "minimum": 0 },
                "median_days": { "type": ["integer", "null"] }, "p90_days": { "type": ["integer", "null"] },
                "max_days": { "type": ["integer", "null"] },
                "over_target": { "type": "integer", "minimum": 0, "description": "People waiting longer than the target" },
                "seats_planned": { "type": "integer", "minimum": 0, "description": "Seats on draft and confirmed transfers still to leave for this country" }
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
                "merged_from": { "type": "array", "items": { "type": "string" }, "description": "Codes of duplicate records merged into this one (they lead here)" },
                "wish": { "type": "string", "description": "Where they want to go: a country code, undecided or stay; absent when not asked" },
                "wish_recorded": { "type": "string", "format": "date", "description": "The day they said it; absent when not asked" }
            } }
        },
        "responses": {
            "Error": { "description": "Refused", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
        }
    })
}

/// The OpenAPI operations of the writes: (path, the POST operation).
fn write_operations() -> Vec<(&'static str, Value)> {
    let mut writes = person_writes();
    writes.extend(incident_writes());
    writes
}

/// A closed object: these properties, these required.
fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "additionalProperties": false, "required": required, "properties": properties })
}

/// Optional fields may be null (the same as absent).
fn or_null(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

fn list(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn text() -> Value {
    json!({ "type": "string", "pattern": "\\S" })
}

fn day() -> Value {
    json!({ "type": "string", "format": "date" })
}

fn boolean() -> Value {
    json!({ "type": "boolean" })
}

/// A POST operation: the record's code in the path when `code` names its prefixes, a JSON
/// body when there is one, `answer` with `status` when written.
fn write_operation(
    summary: &str,
    code: Option<&str>,
    body: Option<Value>,
    status: &str,
    answer: Value,
) -> Value {
    let mut responses = error_responses(&["400", "401", "403", "404", "409", "422"]);
    responses[status] = json!({ "description": "Written (or, with an Idempotency-Key sent before, the first answer again, with Idempotent-Replayed: true)", "content": { "application/json": { "schema": answer } } });
    let mut parameters = vec![json!({
        "name": "Idempotency-Key", "in": "header", "required": false,
        "description": "The same key again returns the first answer and writes nothing; a key is the caller's for a day",
        "schema": { "type": "string", "pattern": format!("^[!-~]{{1,{MAX_KEY_LEN}}}$") }
    })];
    if let Some(prefixes) = code {
        parameters.push(json!({ "name": "code", "in": "path", "required": true, "schema": code_schema(prefixes) }));
    }
    let mut operation = json!({
        "summary": summary,
        "security": [{ "token": [] }],
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = body {
        operation["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": body } } });
    }
    operation
}

fn registration_write() -> Value {
    use refuge_core::{Sex, Stage};
    let registration_stages = [
        Stage::Hiding,
        Stage::Transit,
        Stage::Sheltered,
        Stage::Detained,
    ];
    write_operation(
        "Register a person (identity sealed at once; held back with 409 when someone alike is registered, unless allow_duplicate)",
        None,
        Some(object(
            json!({
                "location": text(), "household": or_null(code_schema("Hh")), "split_allowed": or_null(boolean()),
                "sex": or_null(words_schema(Sex::ALL)),
                "birth_year": or_null(json!({ "type": "integer", "minimum": 1900, "maximum": 2100 })),
                "stage": or_null(words_schema(&registration_stages)),
                "since": or_null(day()), "entered": or_null(day()), "flags": list(words_schema(Flag::ALL)),
                "identity": { "type": "object", "required": ["name"], "propertyNames": words_schema(PersonField::ALL), "additionalProperties": text(), "description": "Protected fields by name, sealed at once; a name at least" },
                "allow_duplicate": boolean()
            }),
            &["location", "identity"],
        )),
        "201",
        json!({ "$ref": "#/components/schemas/Person" }),
    )
}

fn person_writes() -> Vec<(&'static str, Value)> {
    use refuge_core::{HoldReason, Stage};
    let flag = words_schema(Flag::ALL);
    let person = json!({ "$ref": "#/components/schemas/Person" });
    vec![
        ("/people", registration_write()),
        (
            "/people/{code}/move",
            write_operation(
                "Move a person, or a whole household by its code",
                Some("PpHh"),
                Some(object(
                    json!({ "to": text(), "stage": or_null(words_schema(Stage::ALL)), "at": or_null(day()), "over_capacity": boolean() }),
                    &["to"],
                )),
                "200",
                json!({ "type": "object", "properties": { "moved": list(json!({ "type": "string" })), "location": { "type": "string" }, "over_capacity": boolean() } }),
            ),
        ),
        (
            "/people/{code}/flags",
            write_operation(
                "Set and clear a person's flags",
                Some("Pp"),
                Some(object(
                    json!({ "set": list(flag.clone()), "clear": list(flag) }),
                    &[],
                )),
                "200",
                person.clone(),
            ),
        ),
        (
            "/people/{code}/hold",
            write_operation(
                "Put a person on hold (a reason) or release the hold (null)",
                Some("Pp"),
                Some(object(
                    json!({ "reason": or_null(words_schema(HoldReason::ALL)) }),
                    &["reason"],
                )),
                "200",
                person.clone(),
            ),
        ),
        (
            "/people/{code}/readiness",
            write_operation(
                "Set a person's documents and screening (null or absent: unchanged)",
                Some("Pp"),
                Some(object(
                    json!({ "documents_ready": or_null(boolean()), "screening_done": or_null(boolean()) }),
                    &[],
                )),
                "200",
                person.clone(),
            ),
        ),
        wish_write(),
        (
            "/people/{code}/notes",
            write_operation(
                "Add a case note on a person (sealed), with a follow-up day if any",
                Some("Pp"),
                Some(object(
                    json!({ "text": text(), "follow_up": or_null(day()) }),
                    &["text"],
                )),
                "201",
                json!({ "type": "object", "properties": { "note": { "type": "string" }, "person": { "type": "string" } } }),
            ),
        ),
        check_in_write(),
    ]
}

fn check_in_write() -> (&'static str, Value) {
    use refuge_core::{Need, Wellbeing};
    (
        "/people/{code}/check-ins",
        write_operation(
            "Record a welfare check-in on a person: how they are, what they need, what was said (sealed, may be empty), a follow-up day if any; the welfare schedule starts again from today",
            Some("Pp"),
            Some(object(
                json!({
                    "wellbeing": words_schema(Wellbeing::ALL),
                    "needs": { "type": "array", "items": words_schema(Need::ALL) },
                    "note": { "type": "string", "description": "What was said; sealed like a case note" },
                    "follow_up": or_null(day())
                }),
                &["wellbeing"],
            )),
            "201",
            json!({ "type": "object", "properties": { "note": { "type": "string" }, "person": { "type": "string" } } }),
        ),
    )
}

fn wish_write() -> (&'static str, Value) {
    (
        "/people/{code}/wish",
        write_operation(
            "Record where a person wants to go: a two-letter country code (KR), undecided, or stay (does not want to move on); dated today",
            Some("Pp"),
            Some(object(
                json!({ "wish": { "type": "string", "description": "KR, undecided or stay" } }),
                &["wish"],
            )),
            "200",
            json!({ "$ref": "#/components/schemas/Person" }),
        ),
    )
}

fn incident_writes() -> Vec<(&'static str, Value)> {
    use refuge_core::IncidentKind;
    let incident = json!({ "$ref": "#/components/schemas/Incident" });
    vec![
        (
            "/incidents",
            write_operation(
                "Record an incident at a location of the caller's compartments",
                None,
                Some(object(
                    json!({
                        "location": text(), "kind": words_schema(IncidentKind::ALL),
                        "severity": { "type": "integer", "minimum": 1, "maximum": 4 },
                        "people": list(code_schema("Pp")), "narrative": or_null(text()), "date": or_null(day()),
                        "time": or_null(json!({ "type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "description": "HH:MM on the clock there" }))
                    }),
                    &["location", "kind", "severity"],
                )),
                "201",
                incident.clone(),
            ),
        ),
        (
            "/incidents/{code}/close",
            write_operation("Close an incident", Some("Ii"), None, "200", incident),
        ),
    ]
}
