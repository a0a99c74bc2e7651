//! The one place that maps a failure to an HTTP status, and renders it: an error page in the
//! visitor's language with the navigation, or JSON under `/api/`. A code and an operation id
//! are shown, never a stack trace or a protected value.
//!
//! Handlers return [`Failure`] (from any `AppError` with `?`); its response carries the
//! failure as an extension and [`render_failures`] turns it into the page. Responses that
//! axum makes itself (405 for a wrong method, 404, 413 for a large body, 400 for a bad query)
//! are rendered the same way, so no error is ever a blank or plain-text page.

use crate::Shared;
use crate::extract::Visitor;
use crate::i18n::Lang;
use crate::layout::{Page, render};
use askama::Template;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use refuge_app::reason::field_label;
use refuge_app::{Action, AppError, ErrorKind, Reason};
use refuge_core::Role;
use serde_json::json;

/// The status for each kind of failure: the only such table.
pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict | ErrorKind::Duplicate => StatusCode::CONFLICT,
        ErrorKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What the user is told.
#[derive(Clone, Debug)]
enum Message {
    /// A use case's message: names codes and fields, never a protected value.
    Text(String),
    /// A Fluent message, shown in the visitor's language.
    Key(&'static str),
    /// A role refused an action: both words translated.
    Forbidden { role: Role, action: Action },
    /// A person outside the user's compartments.
    OutsideCompartment(String),
    /// An input refused: the field's label and the reason, both in the reader's language.
    Invalid { field: String, reason: Reason },
    /// A Fluent message with its arguments (codes, counts and translated words only).
    Args {
        key: &'static str,
        args: Vec<(&'static str, Arg)>,
    },
}

/// An argument of a translated message.
#[derive(Clone, Debug)]
enum Arg {
    /// Shown as it is (a code, a number).
    Plain(String),
    /// The kind of record ("person"), in the reader's language.
    Record(&'static str),
}

/// A failed request.
#[derive(Clone, Debug)]
pub struct Failure {
    status: StatusCode,
    code: &'static str,
    message: Message,
}

impl Failure {
    fn new(kind: ErrorKind, code: &'static str, message: Message) -> Self {
        Failure {
            status: status(kind),
            code,
            message,
        }
    }

    /// A refused state change (missing CSRF token, another site).
    pub fn forbidden() -> Self {
        Failure::new(ErrorKind::Forbidden, "forbidden", Message::Key("forbidden"))
    }

    /// A form body that does not parse (a field missing or of the wrong shape).
    pub fn bad_form(reason: &str) -> Self {
        Failure::new(
            ErrorKind::Invalid,
            "invalid_form",
            Message::Text(format!("form: {reason}")),
        )
    }

    /// API query parameters that are unknown or malformed.
    /// A 400, like a malformed request: the address itself is wrong, not a value in a form.
    pub fn invalid_query(detail: &str) -> Self {
        Failure {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_query",
            message: Message::Text(format!("query: {detail}")),
        }
    }

    /// An address that names no page.
    pub fn no_such_page() -> Self {
        Failure::new(ErrorKind::NotFound, "not_found", Message::Key("not-found"))
    }

    /// A page that failed to render.
    pub fn internal() -> Self {
        Failure::new(ErrorKind::Internal, "internal", Message::Key("error-title"))
    }

    /// A status that axum answered by itself, with no failure attached.
    fn of_status(status: StatusCode) -> Self {
        let (code, key) = match status {
            StatusCode::NOT_FOUND => ("not_found", "not-found"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method-not-allowed"),
            StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "too-large"),
            status if status.is_server_error() => ("internal", "error-title"),
            _ => ("bad_request", "bad-request"),
        };
        Failure {
            status,
            code,
            message: Message::Key(key),
        }
    }

    /// The message in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        match &self.message {
            Message::Text(text) => text.clone(),
            Message::Key(key) => lang.t(key),
            Message::Forbidden { role, action } => lang.t_args(
                "error-forbidden-role",
                &[("role", lang.word(*role)), ("action", lang.word(*action))],
            ),
            Message::OutsideCompartment(code) => {
                lang.t_args("error-outside-compartment", &[("code", code.clone())])
            }
            Message::Invalid { field, reason } => format!(
                "{}: {}",
                field_label(field, lang.id()),
                reason.render(lang.id(), &|vocabulary, word| lang
                    .vocabulary_word(vocabulary, word))
            ),
            Message::Args { key, args } => {
                let args: Vec<(&'static str, String)> = args
                    .iter()
                    .map(|(name, arg)| {
                        let text = match arg {
                            Arg::Plain(text) => text.clone(),
                            Arg::Record(what) => lang.t(&format!("kind-of-record-{what}")),
                        };
                        (*name, text)
                    })
                    .collect();
                lang.t_args(key, &args)
            }
        }
    }

    /// The JSON form, for the API.
    pub fn json(&self) -> Response {
        let (status, body) = self.json_parts();
        (status, Json(body)).into_response()
    }

    /// The status and JSON body of the API's answer (kept by `Idempotency-Key` replays).
    pub fn json_parts(&self) -> (StatusCode, serde_json::Value) {
        (
            self.status,
            json!({ "error": self.message(Lang::English), "code": self.code }),
        )
    }

    /// An API failure of its own: a status, a stable code and a message naming the input.
    pub fn api(status: StatusCode, code: &'static str, message: String) -> Self {
        Failure {
            status,
            code,
            message: Message::Text(message),
        }
    }
}

/// The use case's errors that the pages say in the reader's language, from their fields.
fn translated(error: &AppError) -> Option<Message> {
    use refuge_app::StoreError;
    let plain = |text: &str| Arg::Plain(text.to_string());
    let (key, args) = match error {
        AppError::Invalid { field, reason } => {
            return Some(Message::Invalid {
                field: field.clone(),
                reason: reason.clone(),
            });
        }
        AppError::NotFound { what, code } if RECORDS.contains(what) => (
            "error-not-found",
            vec![("what", Arg::Record(what)), ("code", plain(code))],
        ),
        AppError::Merged { code, into } => (
            "error-merged",
            vec![("code", plain(code)), ("into", plain(into))],
        ),
        AppError::Purged { code, on } => (
            "error-purged",
            vec![("code", plain(code)), ("on", plain(&on.to_string()))],
        ),
        AppError::LikelyDuplicate { codes } => (
            "error-likely-duplicate",
            vec![("codes", plain(&codes.join(", ")))],
        ),
        AppError::Duplicate { what, value } if RECORDS.contains(what) => (
            "error-duplicate",
            vec![("what", Arg::Record(what)), ("value", plain(value))],
        ),
        AppError::Busy { .. } => ("error-busy", Vec::new()),
        AppError::Store(StoreError::AtCapacity {
            code,
            present,
            capacity,
            arriving,
        }) => (
            "error-at-capacity",
            vec![
                ("code", plain(code)),
                ("present", plain(&present.to_string())),
                ("capacity", plain(&capacity.to_string())),
                ("arriving", plain(&arriving.to_string())),
            ],
        ),
        AppError::Store(StoreError::Conflict { .. }) => ("error-changed-meanwhile", Vec::new()),
        _ => return None,
    };
    Some(Message::Args { key, args })
}

/// The kinds of record a message may name, each with a `kind-of-record-…` word in both languages.
const RECORDS: &[&str] = &[
    "person",
    "household",
    "incident",
    "location",
    "batch",
    "user",
    "token",
    "note",
];

impl From<AppError> for Failure {
    fn from(error: AppError) -> Self {
        let kind = error.kind();
        let message = if kind == ErrorKind::Internal {
            tracing::error!(error = %error, code = error.code(), "request failed");
            Message::Key("error-title")
        } else {
            match &error {
                AppError::Forbidden { role, action } => Message::Forbidden {
                    role: *role,
                    action: *action,
                },
                AppError::OutsideCompartment { code } => Message::OutsideCompartment(code.clone()),
                _ => translated(&error).unwrap_or_else(|| Message::Text(error.to_string())),
            }
        };
        Failure::new(kind, error.code(), message)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    page: Page,
    message: String,
    code_line: String,
}

/// Renders every failed response that has no body of its own (pages that show a problem
/// next to a form, and the login page, render themselves).
pub async fn render_failures(
    State(shared): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let visitor = Visitor::of(&shared, request.headers()).at(request.method(), request.uri());
    let is_api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    // What the request was refused goes to the access log (the sessions queue it).
    if let Err(error) = shared.app.log_refusals().await {
        tracing::error!(
            code = error.code(),
            "refusals not written to the access log"
        );
    }
    let failure = match response.extensions().get::<Failure>() {
        Some(failure) => failure.clone(),
        None if response.status().is_client_error() || response.status().is_server_error() => {
            if response.headers().contains_key(header::CONTENT_TYPE)
                && !response.headers()[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap_or("")
                    .starts_with("text/plain")
            {
                return response;
            }
            Failure::of_status(response.status())
        }
        None => return response,
    };
    if is_api {
        return failure.json();
    }
    let operation = uuid::Uuid::now_v7().simple().to_string()[..12].to_string();
    tracing::info!(status = failure.status.as_u16(), code = failure.code, operation = %operation, "error page");
    let lang = visitor.lang;
    let template = ErrorTemplate {
        page: visitor.page(lang.t("error-title")),
        message: failure.message(lang),
        code_line: lang.t_args(
            "error-code",
            &[
                ("code", failure.status.as_u16().to_string()),
                ("operation", operation),
                ("reason", failure.code.to_string()),
            ],
        ),
    };
    let mut page = render(&template);
    *page.status_mut() = failure.status;
    if failure.status == StatusCode::SERVICE_UNAVAILABLE {
        page.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
    }
    page
}
