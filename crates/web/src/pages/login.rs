//! Logging in and out.

use crate::Shared;
use crate::cookies::{self, SetCookies};
use crate::extract::{CsrfForm, NoFields, SameSiteForm, Visitor};
use crate::layout::{Page, PageResult, html};
use crate::throttle::Admission;
use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use refuge_app::{AppError, Channel};
use serde::Deserialize;
use std::net::SocketAddr;

/// The longest a login waits for its turn behind other attempts at the same account.
const MAX_LOGIN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTemplate {
    page: Page,
    user: String,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    /// What an account change that ended the session changed: said above the form.
    #[serde(default)]
    changed: String,
}

pub async fn form(visitor: Visitor, Query(query): Query<LoginQuery>) -> PageResult {
    if visitor.session.is_some() {
        return Ok(Redirect::to("/dashboard").into_response());
    }
    let mut page = visitor.page(visitor.lang.t("login-title"));
    page.notice = match query.changed.as_str() {
        "passphrase" => visitor.lang.t("login-changed-passphrase"),
        "duress-set" => visitor.lang.t("login-duress-set"),
        "duress-removed" => visitor.lang.t("login-duress-removed"),
        _ => String::new(),
    };
    html(LoginTemplate {
        page,
        user: String::new(),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    user: String,
    passphrase: String,
}

/// The login page again with the same answer whether the user exists or not.
fn refused(visitor: &Visitor, user: String) -> PageResult {
    let page = visitor
        .page(visitor.lang.t("login-title"))
        .with_problem(visitor.lang.t("login-failed"));
    let mut response = html(LoginTemplate { page, user })?;
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    Ok(response)
}

pub async fn submit(
    State(shared): State<Shared>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    visitor: Visitor,
    jar: CookieJar,
    SameSiteForm(form): SameSiteForm<LoginForm>,
) -> PageResult {
    let user = form.user.trim().to_string();
    let browser = jar
        .get(cookies::KNOWN_BROWSER)
        .map(|cookie| cookie.value().to_string());
    // Throttled before trying (throttle.rs); the same answer whether the user exists or not.
    let waited_since = std::time::Instant::now();
    let ticket = loop {
        match shared.sessions.throttle.admit(
            &user,
            address.ip(),
            browser.as_deref(),
            shared.app.now(),
        ) {
            Admission::Try(ticket) => break ticket,
            Admission::Refuse => return refused(&visitor, user),
            // Other attempts at this account from here are being tried: take a turn.
            Admission::Wait if waited_since.elapsed() < MAX_LOGIN_WAIT => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Admission::Wait => return refused(&visitor, user),
        }
    };
    if !ticket.delay.is_zero() {
        tokio::time::sleep(ticket.delay).await;
    }
    match shared
        .app
        .login_on(Channel::Web, &user, &form.passphrase)
        .await
    {
        Ok(session) => {
            let now = shared.app.now();
            let known = ticket.succeeded(now);
            if let Some(old) = &visitor.session_id {
                shared.sessions.end(old);
            }
            if session.opened_after_erase() {
                // Nothing of the organisation that was stays in this server's memory, and
                // its freed pages leave the file while the first page is shown.
                shared.sessions.end_all();
                shared.replies.forget_all();
                let compacting = shared.clone();
                tokio::spawn(async move {
                    if let Err(error) = compacting.app.compact_after_erase().await {
                        tracing::error!(%error, "compacting the database after an erase failed");
                    }
                });
            }
            let (id, _) = shared.sessions.start(session, now)?;
            let mut cookies = vec![cookies::session(shared.transport, id)];
            if let Some(token) = known {
                cookies.push(cookies::known_browser(
                    shared.transport,
                    token,
                    shared.sessions.policy().known_browser_for,
                ));
            }
            Ok((SetCookies(cookies), Redirect::to("/dashboard")).into_response())
        }
        Err(AppError::BadLogin) => {
            ticket.failed(shared.app.now());
            refused(&visitor, user)
        }
        Err(error) => Err(error.into()),
    }
}

pub async fn logout(
    State(shared): State<Shared>,
    visitor: Visitor,
    CsrfForm(_, NoFields {}): CsrfForm<NoFields>,
) -> Response {
    if let Some(id) = &visitor.session_id {
        shared.sessions.end(id);
    }
    (
        SetCookies(vec![cookies::session_removal(shared.transport)]),
        Redirect::to("/login"),
    )
        .into_response()
}
