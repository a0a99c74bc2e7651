//! What handlers take as arguments: who is asking (language, time zone, session) and the
//! body of a form that has passed the cross-site checks. Handlers never repeat these steps.

use crate::cookies;
use crate::errors::Failure;
use crate::i18n::Lang;
use crate::layout::{Page, safe_back};
use crate::sessions::WebSession;
use crate::zones::Zone;
use crate::{Shared, Transport};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::sync::Arc;

/// Anyone: the language and time zone to answer in, and the session if logged in.
pub struct Visitor {
    pub lang: Lang,
    pub zone: Zone,
    pub session: Option<Arc<WebSession>>,
    /// The session cookie's value, when the browser sent one (live or not).
    pub session_id: Option<String>,
    /// The page's own path when it can be fetched again (a GET), for the switches.
    pub back: String,
}

impl Visitor {
    /// Reads the preferences and the session from the request's headers.
    pub fn of(shared: &Shared, headers: &HeaderMap) -> Visitor {
        let jar = CookieJar::from_headers(headers);
        let lang = jar
            .get(cookies::LANGUAGE)
            .and_then(|cookie| Lang::from_tag(cookie.value()))
            .unwrap_or_else(|| {
                Lang::from_accept_language(
                    headers
                        .get(header::ACCEPT_LANGUAGE)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or(""),
                )
            });
        let zone = jar
            .get(cookies::ZONE)
            .and_then(|cookie| Zone::from_name(cookie.value()))
            .unwrap_or(if lang == Lang::Korean {
                Zone::SEOUL
            } else {
                Zone::UTC
            });
        let session_id = jar
            .get(cookies::session_name(shared.transport))
            .map(|cookie| cookie.value().to_string());
        let session = session_id
            .as_deref()
            .and_then(|id| shared.sessions.get(id, shared.app.now()));
        Visitor {
            lang,
            zone,
            session,
            session_id,
            back: String::new(),
        }
    }

    /// The same visitor on the page at `uri` (fetched with `method`), where the language and
    /// time-zone switches come back to. The query is left out: it may hold a searched name.
    pub fn at(mut self, method: &Method, uri: &Uri) -> Visitor {
        if method == Method::GET {
            self.back = safe_back(uri.path()).unwrap_or("").to_string();
        }
        self
    }

    /// The frame of a page titled `title`, for this visitor.
    pub fn page(&self, title: String) -> Page {
        Page::new(
            self.lang,
            self.zone,
            self.session.as_deref(),
            title,
            self.back.clone(),
        )
    }
}

impl FromRequestParts<Shared> for Visitor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, shared: &Shared) -> Result<Self, Infallible> {
        Ok(Visitor::of(shared, &parts.headers).at(&parts.method, &parts.uri))
    }
}

/// A logged-in user; anyone else is sent to the login page.
pub struct SignedIn {
    pub lang: Lang,
    pub zone: Zone,
    pub web: Arc<WebSession>,
    back: String,
}

impl SignedIn {
    pub fn session(&self) -> &refuge_app::Session {
        &self.web.session
    }

    /// The frame of a page titled `title`.
    pub fn page(&self, title: String) -> Page {
        Page::new(
            self.lang,
            self.zone,
            Some(&self.web),
            title,
            self.back.clone(),
        )
    }

    /// The frame of a page titled by the Fluent message `key`.
    pub fn titled(&self, key: &str) -> Page {
        self.page(self.lang.t(key))
    }
}

impl FromRequestParts<Shared> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Shared) -> Result<Self, Response> {
        let visitor = Visitor::of(shared, &parts.headers).at(&parts.method, &parts.uri);
        let Some(web) = current_session(shared, &visitor).await? else {
            return Err(Redirect::to("/login").into_response());
        };
        Ok(SignedIn {
            lang: visitor.lang,
            zone: visitor.zone,
            web,
            back: visitor.back,
        })
    }
}

/// The visitor's session if it still stands: a user deactivated, changed (role,
/// compartments) or given a new passphrase since it opened loses it at once, and its key copy
/// is dropped with the last request that holds it.
pub async fn current_session(
    shared: &Shared,
    visitor: &Visitor,
) -> Result<Option<Arc<WebSession>>, Response> {
    let Some(web) = &visitor.session else {
        return Ok(None);
    };
    match shared.app.session_is_current(&web.session).await {
        Ok(true) => Ok(Some(web.clone())),
        Ok(false) => {
            if let Some(id) = &visitor.session_id {
                shared.sessions.end(id);
            }
            Ok(None)
        }
        Err(error) => Err(Failure::from(error).into_response()),
    }
}

/// Refuses a request sent from another site: by `Sec-Fetch-Site`, and by an `Origin` that is
/// not this host. Browsers send `Origin: null` under our no-referrer policy: that says
/// nothing, and the other checks still decide.
fn refuse_cross_site(headers: &HeaderMap, transport: Transport) -> Result<(), Failure> {
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|site| site == "cross-site");
    let foreign_origin = match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (Some(origin), Some(host)) => {
            let origin = origin.to_str().unwrap_or("");
            let host = host.to_str().unwrap_or("");
            let same = origin == format!("http://{host}") || origin == format!("https://{host}");
            let plain_http_when_secure =
                transport == Transport::Secure && origin.starts_with("http://");
            origin != "null" && (!same || plain_http_when_secure)
        }
        (Some(origin), None) => origin.as_bytes() != b"null",
        _ => false,
    };
    if cross_site || foreign_origin {
        return Err(Failure::forbidden());
    }
    Ok(())
}

/// A request body, at most `MAX_BODY_BYTES` (413 beyond).
async fn read_body(body: axum::body::Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| axum::http::StatusCode::PAYLOAD_TOO_LARGE.into_response())
}

/// Parses a form body, naming the field that is missing or wrong.
fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    serde_urlencoded::from_bytes(body).map_err(|error| Failure::bad_form(&error.to_string()))
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A state-changing form from a logged-in user: the session's CSRF token and the same-site
/// checks have passed before the handler runs.
pub struct CsrfForm<T>(pub SignedIn, pub T);

/// The body of a form that is only a button (reveal, log out, mark done): the CSRF token and
/// nothing else.
#[derive(serde::Deserialize)]
pub struct NoFields {}

impl<T: DeserializeOwned> FromRequest<Shared> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, shared: &Shared) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        // The body is read first, whatever is refused after: a connection whose request body
        // is left unread is closed, and a client reusing it would fail its next request.
        let body = read_body(body).await?;
        let signed_in = SignedIn::from_request_parts(&mut parts, shared).await?;
        refuse_cross_site(&parts.headers, shared.transport).map_err(IntoResponse::into_response)?;
        let token: CsrfField = parse_form(&body).map_err(IntoResponse::into_response)?;
        if !refuge_app::tokens_equal(&token.csrf, &signed_in.web.csrf) {
            return Err(Failure::forbidden().into_response());
        }
        let form = parse_form(&body).map_err(IntoResponse::into_response)?;
        Ok(CsrfForm(signed_in, form))
    }
}

/// A form from someone not logged in yet (the login form): the same-site checks only.
pub struct SameSiteForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Shared> for SameSiteForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, shared: &Shared) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let body = read_body(body).await?;
        refuse_cross_site(&parts.headers, shared.transport).map_err(IntoResponse::into_response)?;
        Ok(SameSiteForm(
            parse_form(&body).map_err(IntoResponse::into_response)?,
        ))
    }
}

/// Largest file the web page takes (`/exchange/import`); larger bundles are imported with
/// `refuge bundle import`, outside the server.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// Largest text field of an upload form (the CSRF token, a checkbox).
const MAX_UPLOAD_FIELD: usize = 1024;

/// A state-changing form with one file (`multipart/form-data`) from a logged-in user who may
/// exchange bundles (the only upload): the same checks as [`CsrfForm`] before any field is
/// used, the sign-in, same-site and role checks before the body is read. The text fields by
/// name, the file's bytes (empty when none was chosen).
pub struct CsrfUpload {
    pub user: SignedIn,
    fields: Vec<(String, String)>,
    pub file: Vec<u8>,
}

impl CsrfUpload {
    /// A text field's value, "" when it was not sent (an unticked checkbox).
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map_or("", |(_, value)| value.as_str())
    }
}

impl FromRequest<Shared> for CsrfUpload {
    type Rejection = Response;

    async fn from_request(request: Request, shared: &Shared) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        // Who asks, from where, and may they exchange: all before a large body is read (a
        // refusal leaves it unread, which closes the connection).
        let user = SignedIn::from_request_parts(&mut parts, shared).await?;
        refuse_cross_site(&parts.headers, shared.transport).map_err(IntoResponse::into_response)?;
        if !refuge_app::allowed(user.session().role(), refuge_app::Action::Exchange) {
            return Err(Failure::forbidden().into_response());
        }
        let body = axum::body::to_bytes(body, MAX_UPLOAD_BYTES)
            .await
            .map_err(|_| axum::http::StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
        let request = Request::from_parts(parts, axum::body::Body::from(body));
        let mut multipart = axum::extract::Multipart::from_request(request, shared)
            .await
            .map_err(|error| Failure::bad_form(&error.body_text()).into_response())?;
        let mut fields = Vec::new();
        let mut file = Vec::new();
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|error| Failure::bad_form(&error.body_text()).into_response())?
        {
            let name = field.name().unwrap_or_default().to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|error| Failure::bad_form(&error.body_text()).into_response())?;
            if name == "file" {
                file = bytes.to_vec();
            } else if bytes.len() > MAX_UPLOAD_FIELD {
                return Err(Failure::bad_form(&format!("{name}: too long")).into_response());
            } else {
                fields.push((name, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
        let upload = CsrfUpload { user, fields, file };
        if !refuge_app::tokens_equal(upload.field("csrf"), &upload.user.web.csrf) {
            return Err(Failure::forbidden().into_response());
        }
        Ok(upload)
    }
}
