//! refuge-web: the web application over refuge-app.
//!
//! Server-rendered pages that work without JavaScript (askama), Korean and English (Fluent),
//! sessions in server memory that hold the unwrapped data key only while they live, a CSRF
//! token on every form, security headers on every response, a JSON API under `/api/v1`.
//! Authorization stays in refuge-app: every handler calls a use case with the session.
//!
//! Where things are: the router below is the table of contents; `pages/` holds one file per
//! page (its handlers and its template struct); `extract` turns a request into what handlers
//! take (language, zone, session, CSRF-checked form); `errors` is the one place that maps a
//! failure to a status and an error page; `layout` is what every page's frame needs.

mod api;
mod charts;
mod cookies;
mod errors;
mod extract;
mod headers;
mod i18n;
mod idempotency;
mod layout;
mod pages;
mod serve;
mod sessions;
mod throttle;
mod timeline;
mod zones;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use pages::*;
use refuge_app::App;
use std::sync::Arc;

pub use api::{API_PATHS, API_WRITE_PATHS};
pub use idempotency::Replies;
pub use serve::{Limits, Tls, serve, serve_tls, serve_with};
pub use sessions::{SessionPolicy, Sessions};

/// How the server is reached, which decides the cookie attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP on loopback (development, a laptop in a shelter).
    Loopback,
    /// Behind a TLS-terminating proxy, or TLS here: cookies are `__Host-` and Secure.
    Secure,
}

/// Everything a handler needs, shared by all requests.
pub struct ServerState {
    pub app: App,
    pub sessions: Sessions,
    pub transport: Transport,
    /// The API's answers by `Idempotency-Key` (in memory only).
    pub replies: Replies,
}

/// The shared state as handlers receive it.
pub type Shared = Arc<ServerState>;

/// Largest request body accepted (forms and JSON); imports are a CLI job.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The whole application.
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(preferences::root))
        .route("/static/style.css", get(preferences::stylesheet))
        .route("/lang/{lang}", get(preferences::set_language))
        .route("/zone", get(preferences::set_zone))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/dashboard", get(dashboard::show))
        .route("/people", get(people::list).post(register::submit))
        .route("/people/new", get(register::form))
        .route("/people/{code}", get(person::show))
        .route("/people/{code}/reveal", post(person::reveal))
        .route("/people/{code}/move", post(person::move_to))
        .route("/people/{code}/flag", post(person::flag))
        .route("/people/{code}/hold", post(person::hold))
        .route("/people/{code}/ready", post(person::ready))
        .route("/people/{code}/wish", post(person::wish))
        .route("/people/{code}/correct", post(person::correct))
        .route("/people/{code}/household", post(person::household))
        .route("/people/{code}/split", post(person::split))
        .route("/people/{code}/merge", post(person::merge))
        .route("/people/{code}/notes", post(person::add_note))
        .route("/people/{code}/check-ins", post(person::record_check_in))
        .route(
            "/people/{code}/notes/{note}/done",
            post(person::follow_up_done),
        )
        .route("/locations", get(locations::list))
        .route("/locations/reveal", post(locations::reveal))
        .route("/incidents", get(incidents::list).post(incidents::record))
        .route("/incidents/{code}", get(incident::show))
        .route("/incidents/{code}/reveal", post(incident::reveal))
        .route("/incidents/{code}/close", post(incidents::close))
        .route("/transfers", get(transfers::list).post(transfers::create))
        .route("/transfers/{code}", get(transfer::show))
        .route("/transfers/{code}/pin", post(transfer::pin))
        .route("/transfers/{code}/status", post(transfer::set_status))
        .route("/transfers/{code}/manifest.csv", get(transfer::manifest))
        .route("/forecast", get(forecast::show))
        .route("/audit", get(audit::list))
        .route("/audit.csv", get(audit::csv))
        .route("/users", get(users::list).post(users::add))
        .route("/users/passphrase", post(users::set_passphrase))
        .route("/users/change", post(users::change))
        .route("/account", get(account::show))
        .route(
            "/account/passphrase",
            get(account::to_account).post(account::set_passphrase),
        )
        .route(
            "/account/duress",
            get(account::to_account).post(account::set_duress),
        )
        .route("/exchange", get(exchange::show))
        .route("/exchange/conflicts/resolve", post(exchange::resolve))
        .route("/exchange/export", post(exchange::export))
        .route(
            "/exchange/import",
            post(exchange::import).layer(DefaultBodyLimit::max(extract::MAX_UPLOAD_BYTES)),
        )
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/revoke", post(tokens::revoke))
        .nest("/api/v1", api::routes())
        .fallback(preferences::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            errors::render_failures,
        ))
        .layer(middleware::from_fn(headers::security_headers))
        .with_state(shared)
}
