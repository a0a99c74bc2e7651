//! Logging in and out.

use crate::Shared;
use crate::cookies::{self, SetCookies};
use crate::extract::{CsrfForm, SameSiteForm, Visitor};
use crate::layout::{Page, PageResult, html};
use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use refuge_app::AppError;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTemplate {
    page: Page,
    user: String,
}

pub async fn form(visitor: Visitor) -> PageResult {
    if visitor.session.is_some() {
        return Ok(Redirect::to("/dashboard").into_response());
    }
    html(LoginTemplate {
        page: visitor.page(visitor.lang.t("login-title")),
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
    SameSiteForm(form): SameSiteForm<LoginForm>,
) -> PageResult {
    let user = form.user.trim().to_string();
    // Throttle before trying: a growing delay, then a temporary lock; the same answer whether
    // the user exists or not.
    match shared
        .sessions
        .login_delay(&user, address.ip(), shared.app.now())
    {
        None => {
            shared
                .sessions
                .login_failed(&user, address.ip(), shared.app.now());
            return refused(&visitor, user);
        }
        Some(delay) if !delay.is_zero() => tokio::time::sleep(delay).await,
        Some(_) => {}
    }
    match shared.app.login(&user, &form.passphrase).await {
        Ok(session) => {
            shared.sessions.login_succeeded(&user, address.ip());
            if let Some(old) = &visitor.session_id {
                shared.sessions.end(old);
            }
            let (id, _) = shared.sessions.start(session, shared.app.now())?;
            let cookie = cookies::session(shared.transport, id);
            Ok((SetCookies(vec![cookie]), Redirect::to("/dashboard")).into_response())
        }
        Err(AppError::BadLogin) => {
            shared
                .sessions
                .login_failed(&user, address.ip(), shared.app.now());
            refused(&visitor, user)
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {}

pub async fn logout(
    State(shared): State<Shared>,
    visitor: Visitor,
    CsrfForm(_, LogoutForm {}): CsrfForm<LogoutForm>,
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
