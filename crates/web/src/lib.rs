//! refuge-web: the web application over refuge-app.
//!
//! Server-rendered pages that work without JavaScript (askama), Korean and English (Fluent),
//! sessions in server memory that hold the unwrapped data key only while they live, a CSRF
//! token on every form, security headers on every response, a JSON API under `/api/v1`.
//! Authorization stays in refuge-app: every handler calls a use case with the session.

// Handlers return a ready response (a redirect, an error page) as their error value.
#![allow(clippy::result_large_err)]

mod api;
mod charts;
mod i18n;
mod pages;
mod sessions;
mod zones;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use refuge_app::App;
use refuge_store::DynStore;
use std::sync::Arc;

pub use api::API_PATHS;
pub use sessions::{SessionPolicy, Sessions};

/// How the server is reached, which decides the cookie attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP on loopback (development, a laptop in a shelter).
    Loopback,
    /// Behind a TLS-terminating proxy, or TLS here: cookies are `__Host-` and Secure.
    Secure,
}

/// Everything a handler needs.
pub struct AppState {
    pub app: App<DynStore>,
    pub sessions: Sessions,
    pub transport: Transport,
}

pub type State = Arc<AppState>;

/// Largest request body accepted (forms and JSON); imports are a CLI job.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; img-src 'self' data:; style-src 'self'";

/// Security headers on every response, errors included.
async fn security_headers(request: Request, next: Next) -> Response {
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !is_static {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The whole application.
pub fn router(state: State) -> Router {
    Router::new()
        .route("/", get(pages::root))
        .route("/static/style.css", get(pages::stylesheet))
        .route("/lang/{lang}", get(pages::set_language))
        .route("/zone", get(pages::set_zone))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/dashboard", get(pages::dashboard))
        .route("/people", get(pages::people).post(pages::register))
        .route("/people/new", get(pages::register_form))
        .route("/people/{code}", get(pages::person))
        .route("/people/{code}/reveal", post(pages::reveal))
        .route("/people/{code}/move", post(pages::move_person))
        .route("/people/{code}/flag", post(pages::flag))
        .route("/people/{code}/hold", post(pages::hold))
        .route("/people/{code}/ready", post(pages::ready))
        .route("/locations", get(pages::locations))
        .route(
            "/incidents",
            get(pages::incidents).post(pages::record_incident),
        )
        .route("/incidents/{code}/close", post(pages::close_incident))
        .route(
            "/transfers",
            get(pages::transfers).post(pages::create_transfer),
        )
        .route("/transfers/{code}", get(pages::transfer))
        .route("/transfers/{code}/pin", post(pages::pin))
        .route("/transfers/{code}/status", post(pages::transfer_status))
        .route("/transfers/{code}/manifest.csv", get(pages::manifest))
        .route("/forecast", get(pages::forecast))
        .route("/audit", get(pages::audit))
        .route("/users", get(pages::users).post(pages::add_user))
        .route("/users/passphrase", post(pages::set_passphrase))
        .route("/users/change", post(pages::change_user))
        .route("/tokens", get(pages::tokens).post(pages::create_token))
        .route("/tokens/revoke", post(pages::revoke_token))
        .nest("/api/v1", api::routes())
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Serves until the listener fails or the process ends.
/// Drops expired sessions (and zeroes their keys) every minute.
fn sweep_sessions(state: &State) {
    let sessions = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            sessions.sessions.sweep();
        }
    });
}

pub async fn serve(state: State, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    sweep_sessions(&state);
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

/// A certificate chain and private key for serving HTTPS directly (rustls, ring).
pub struct Tls {
    config: std::sync::Arc<rustls::ServerConfig>,
}

impl Tls {
    /// Loads a PEM certificate chain (leaf first) and its PEM private key. Errors name the
    /// file and what is wrong with it.
    pub fn from_pem_files(
        certificate: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Tls, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
            .and_then(|certificates| certificates.collect())
            .map_err(|error| format!("{}: {error}", certificate.display()))?;
        if certificates.is_empty() {
            return Err(format!(
                "{}: no PEM certificate in it",
                certificate.display()
            ));
        }
        let private_key = PrivateKeyDer::from_pem_file(key)
            .map_err(|error| format!("{}: no usable PEM private key ({error})", key.display()))?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?
            .with_no_client_auth()
            .with_single_cert(certificates, private_key)
            .map_err(|error| {
                format!(
                    "{} and {} do not make a usable certificate and key: {error}",
                    certificate.display(),
                    key.display()
                )
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: std::sync::Arc::new(config),
        })
    }
}

/// Serves HTTPS on `listener`. A failed or stalled handshake ends that connection only.
pub async fn serve_tls(
    state: State,
    listener: tokio::net::TcpListener,
    tls: Tls,
) -> std::io::Result<()> {
    use std::time::Duration;
    sweep_sessions(&state);
    let app = router(state);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config);
    loop {
        let (tcp, address) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(address));
                    tower::ServiceExt::oneshot(app.clone(), request)
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
