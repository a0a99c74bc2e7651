//! The pages. Each handler finds the session, calls one use case of refuge-app (which decides
//! what the user may do), and renders a template. Bad form input is shown back on the page.

use crate::i18n::Lang;
use crate::sessions::WebSession;
use crate::zones::Zone;
use crate::{State, Transport, charts};
use askama::Template;
use axum::extract::{ConnectInfo, Form, Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use refuge_app::{
    Action, AppError, BatchRequest, NewPerson, NewUser, PeopleQuery, PlanPolicy, UserChange,
    WhatIf, allowed,
};
use refuge_core::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Escapes text for HTML built outside templates.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// What every page's layout needs.
pub struct Page {
    pub title: String,
    pub lang: Lang,
    /// The time zone times are shown in.
    pub zone: &'static str,
    pub signed_in: bool,
    pub signed_in_as: String,
    pub csrf: String,
    pub can_people: bool,
    pub can_incidents: bool,
    pub can_transfers: bool,
    pub can_forecast: bool,
    pub can_audit: bool,
    pub can_users: bool,
    pub notice: String,
    pub problem: String,
}

impl Page {
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }
    pub fn zone_names(&self) -> Vec<&'static str> {
        crate::zones::ZONES
            .iter()
            .map(|(name, _, _)| *name)
            .collect()
    }
    pub fn is_zone(&self, name: &str) -> bool {
        self.zone == name
    }
    pub fn lang_tag(&self) -> &'static str {
        self.lang.tag()
    }
    pub fn other_lang(&self) -> &'static str {
        self.lang.other().tag()
    }
}

/// The request's context: language, and the session if logged in.
pub struct Context {
    pub lang: Lang,
    pub zone: Zone,
    pub session: Option<Arc<WebSession>>,
}

impl Context {
    fn page(&self, title: String) -> Page {
        let (signed_in_as, csrf, role) = match &self.session {
            Some(web) => (
                self.lang.t_args(
                    "signed-in-as",
                    &[
                        ("user", web.session.user().name.clone()),
                        ("role", web.session.role().to_string()),
                    ],
                ),
                web.csrf.clone(),
                Some(web.session.role()),
            ),
            None => (String::new(), String::new(), None),
        };
        let can = |action| role.is_some_and(|role| allowed(role, action));
        Page {
            title,
            lang: self.lang,
            zone: self.zone.name(),
            signed_in: role.is_some(),
            signed_in_as,
            csrf,
            can_people: can(Action::ViewPeople),
            can_incidents: can(Action::ViewIncidents),
            can_transfers: can(Action::ViewBatches),
            can_forecast: can(Action::Forecast),
            can_audit: can(Action::ViewAccessLog),
            can_users: can(Action::ViewUsers),
            notice: String::new(),
            problem: String::new(),
        }
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn session_cookie_name(state: &State) -> &'static str {
    match state.transport {
        Transport::Secure => "__Host-refuge",
        Transport::Loopback => "refuge",
    }
}

pub fn context(state: &State, headers: &HeaderMap) -> Context {
    let lang = cookie(headers, "refuge_lang")
        .and_then(Lang::from_tag)
        .unwrap_or_else(|| {
            Lang::from_accept_language(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            )
        });
    let zone = cookie(headers, "refuge_zone")
        .and_then(Zone::from_name)
        .unwrap_or(if lang == Lang::Korean {
            Zone::SEOUL
        } else {
            Zone::UTC
        });
    let session = cookie(headers, session_cookie_name(state)).and_then(|id| state.sessions.get(id));
    Context {
        lang,
        zone,
        session,
    }
}

/// An error page (a code and an operation id, never a stack trace or a protected value), or
/// a response already decided (a redirect to log in, a refused post).
pub enum WebError {
    Page {
        status: StatusCode,
        message: String,
        lang: Lang,
    },
    Ready(Response),
}

impl From<Response> for WebError {
    fn from(response: Response) -> Self {
        WebError::Ready(response)
    }
}

impl WebError {
    fn new(status: StatusCode, message: String, lang: Lang) -> Self {
        WebError::Page {
            status,
            message,
            lang,
        }
    }

    /// What went wrong, to show back on a form.
    fn message(self) -> String {
        match self {
            WebError::Page { message, .. } => message,
            WebError::Ready(_) => String::new(),
        }
    }

    /// The same error for the JSON API.
    pub fn into_json(self) -> Response {
        match self {
            WebError::Page {
                status, message, ..
            } => (status, axum::Json(serde_json::json!({ "error": message }))).into_response(),
            WebError::Ready(response) => response,
        }
    }
}

pub fn app_error(error: AppError, lang: Lang) -> WebError {
    let status = match &error {
        AppError::Forbidden { .. } | AppError::OutsideCompartment { .. } => StatusCode::FORBIDDEN,
        AppError::NotFound { .. } => StatusCode::NOT_FOUND,
        AppError::Invalid { .. } | AppError::Import(_) => StatusCode::BAD_REQUEST,
        AppError::BadLogin => StatusCode::UNAUTHORIZED,
        AppError::Store(
            refuge_store::StoreError::Conflict { .. } | refuge_store::StoreError::AtCapacity { .. },
        )
        | AppError::Store(refuge_store::StoreError::Rejected(_)) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %error, "request failed");
        lang.t("error-title")
    } else {
        error.to_string()
    };
    WebError::new(status, message, lang)
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    page: Page,
    message: String,
    code_line: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message, lang) = match self {
            WebError::Page {
                status,
                message,
                lang,
            } => (status, message, lang),
            WebError::Ready(response) => return response,
        };
        let operation = uuid::Uuid::now_v7().simple().to_string()[..12].to_string();
        tracing::info!(status = status.as_u16(), operation = %operation, "error page");
        let context = Context {
            lang,
            zone: Zone::UTC,
            session: None,
        };
        let template = ErrorTemplate {
            page: context.page(lang.t("error-title")),
            message,
            code_line: lang.t_args(
                "error-code",
                &[
                    ("code", status.as_u16().to_string()),
                    ("operation", operation),
                ],
            ),
        };
        let body = template.render().unwrap_or_else(|_| "error".to_string());
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

type PageResult = Result<Response, WebError>;

fn html(template: impl Template, lang: Lang) -> PageResult {
    let body = template.render().map_err(|_| {
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            lang.t("error-title"),
            lang,
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response())
}

/// The session of a logged-in user, or a redirect to the login page.
fn require_session(context: &Context) -> Result<Arc<WebSession>, Response> {
    context
        .session
        .clone()
        .ok_or_else(|| Redirect::to("/login").into_response())
}

/// Refuses a state-changing request without the session's CSRF token, or from another site.
fn check_post(
    context: &Context,
    headers: &HeaderMap,
    token: &str,
) -> Result<Arc<WebSession>, Response> {
    let web = require_session(context)?;
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|site| site == "cross-site");
    // Browsers send `Origin: null` when the referrer policy is no-referrer (ours): that says
    // nothing, and the token and Sec-Fetch-Site still decide.
    let origin_mismatch = match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (Some(origin), Some(host)) => {
            let origin = origin.to_str().unwrap_or("");
            let host = host.to_str().unwrap_or("");
            origin != "null" && !origin.ends_with(&format!("//{host}"))
        }
        _ => false,
    };
    if cross_site || origin_mismatch || !refuge_app::tokens_equal(token, &web.csrf) {
        return Err(WebError::new(
            StatusCode::FORBIDDEN,
            context.lang.t("forbidden"),
            context.lang,
        )
        .into_response());
    }
    Ok(web)
}

pub async fn root(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> Response {
    let context = context(&state, &headers);
    Redirect::to(if context.session.is_some() {
        "/dashboard"
    } else {
        "/login"
    })
    .into_response()
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../static/style.css"),
    )
        .into_response()
}

pub async fn not_found(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> Response {
    let context = context(&state, &headers);
    WebError::new(
        StatusCode::NOT_FOUND,
        context.lang.t("not-found"),
        context.lang,
    )
    .into_response()
}

/// The path of the page the browser came from, on this site only.
fn back_path(headers: &HeaderMap) -> String {
    headers
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| {
            referer.find("://").and_then(|at| {
                referer[at + 3..]
                    .find('/')
                    .map(|slash| &referer[at + 3 + slash..])
            })
        })
        // Back to a path on this site only: browsers read "//host" (and a backslash for a slash)
        // as another site.
        .filter(|path| path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'))
        .unwrap_or("/")
        .to_string()
}

/// Back to the page the browser came from, remembering a preference in a cookie.
fn back_with_cookie(headers: &HeaderMap, name: &str, value: &str) -> Response {
    let mut response = Redirect::to(&back_path(headers)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; SameSite=Strict; Max-Age=31536000"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

pub async fn set_language(Path(tag): Path<String>, headers: HeaderMap) -> Response {
    let lang = Lang::from_tag(&tag).unwrap_or(Lang::English);
    back_with_cookie(&headers, "refuge_lang", lang.tag())
}

#[derive(Deserialize)]
pub struct ZoneQuery {
    #[serde(default)]
    zone: String,
}

/// Chooses the time zone times are shown in (an unknown name is ignored).
pub async fn set_zone(Query(query): Query<ZoneQuery>, headers: HeaderMap) -> Response {
    match Zone::from_name(&query.zone) {
        Some(zone) => back_with_cookie(&headers, "refuge_zone", zone.name()),
        None => Redirect::to(&back_path(&headers)).into_response(),
    }
}

// ---------------------------------------------------------------------------------------
// Login and logout.

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTemplate {
    page: Page,
    user: String,
}

pub async fn login_form(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> PageResult {
    let context = context(&state, &headers);
    if context.session.is_some() {
        return Ok(Redirect::to("/dashboard").into_response());
    }
    html(
        LoginTemplate {
            page: context.page(context.lang.t("login-title")),
            user: String::new(),
        },
        context.lang,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    user: String,
    passphrase: String,
}

pub async fn login(
    axum::extract::State(state): axum::extract::State<State>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let cross_site =
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site");
    let user = form.user.trim().to_string();
    let failed = |state: &State| {
        let mut page = context.page(context.lang.t("login-title"));
        page.problem = context.lang.t("login-failed");
        state.sessions.login_failed(&user, address.ip());
        let mut response = html(
            LoginTemplate {
                page,
                user: user.clone(),
            },
            context.lang,
        )?;
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        Ok(response)
    };
    if cross_site {
        return Err(WebError::new(
            StatusCode::FORBIDDEN,
            context.lang.t("forbidden"),
            context.lang,
        ));
    }
    // Throttle before trying: a growing delay, then a temporary lock; the same answer whether
    // the user exists or not.
    match state.sessions.login_delay(&user, address.ip()) {
        None => return failed(&state),
        Some(delay) if !delay.is_zero() => tokio::time::sleep(delay).await,
        Some(_) => {}
    }
    match state.app.login(&user, &form.passphrase).await {
        Ok(session) => {
            state.sessions.login_succeeded(&user, address.ip());
            if let Some(old) = cookie(&headers, session_cookie_name(&state)) {
                state.sessions.end(old);
            }
            let (id, _) = state
                .sessions
                .start(session)
                .map_err(|error| app_error(error, context.lang))?;
            let secure = if state.transport == Transport::Secure {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{}={id}; Path=/; HttpOnly; SameSite=Strict{secure}",
                session_cookie_name(&state)
            );
            let mut response = Redirect::to("/dashboard").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            Ok(response)
        }
        Err(AppError::BadLogin) => failed(&state),
        Err(error) => Err(app_error(error, context.lang)),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let context = context(&state, &headers);
    if let Err(response) = check_post(&context, &headers, &form.csrf) {
        return response;
    }
    if let Some(id) = cookie(&headers, session_cookie_name(&state)) {
        state.sessions.end(id);
    }
    let mut response = Redirect::to("/login").into_response();
    let secure = if state.transport == Transport::Secure {
        "; Secure"
    } else {
        ""
    };
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
        session_cookie_name(&state)
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

// ---------------------------------------------------------------------------------------
// Dashboard.

pub struct BacklogRowView {
    location: String,
    kind: String,
    capacity: u32,
    present: u64,
    occupancy: String,
    waiting: usize,
    median: String,
    p90: String,
    max: String,
    over_target: usize,
    incidents: String,
    over: bool,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardTemplate {
    page: Page,
    alerts: Vec<String>,
    rows: Vec<BacklogRowView>,
    over_label: String,
    histogram_svg: String,
    flow_svg: String,
}

fn days(value: Option<i64>) -> String {
    value.map_or("-".to_string(), |days| days.to_string())
}

pub async fn dashboard(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> PageResult {
    let context = context(&state, &headers);
    let web = require_session(&context)?;
    let lang = context.lang;
    let session = &web.session;
    let lines = state
        .app
        .backlog(session, None)
        .await
        .map_err(|e| app_error(e, lang))?;
    let target = lines.first().map_or(60, |line| line.target_wait_days);
    let mut alerts = Vec::new();
    for line in &lines {
        if line.present > u64::from(line.capacity) {
            alerts.push(lang.t_args(
                "alert-over-capacity",
                &[
                    ("location", line.location.clone()),
                    ("present", line.present.to_string()),
                    ("capacity", line.capacity.to_string()),
                ],
            ));
        }
    }
    let over_target: usize = lines.iter().map(|line| line.waits.over_target).sum();
    if over_target > 0 {
        alerts.push(lang.t_args(
            "alert-over-target",
            &[
                ("count", over_target.to_string()),
                ("days", target.to_string()),
            ],
        ));
    }
    if allowed(session.role(), Action::ViewIncidents) {
        // At most 20 lines; the incidents page lists them all.
        let (severe, total) = state
            .app
            .open_incidents_at_least(session, 3, 20)
            .await
            .map_err(|e| app_error(e, lang))?;
        for incident in &severe {
            alerts.push(lang.t_args(
                "alert-severe-incident",
                &[
                    ("code", incident.incident.code.clone()),
                    ("location", incident.location_code.clone()),
                    ("severity", incident.incident.severity.to_string()),
                ],
            ));
        }
        if total > severe.len() {
            alerts.push(lang.t_args(
                "alert-more",
                &[("count", (total - severe.len()).to_string())],
            ));
        }
    }
    if allowed(session.role(), Action::ViewPeople) && allowed(session.role(), Action::ViewBatches) {
        let planned: std::collections::HashSet<PersonId> = state
            .app
            .batches(session)
            .await
            .map_err(|e| app_error(e, lang))?
            .into_iter()
            .filter(|batch| matches!(batch.status, BatchStatus::Draft | BatchStatus::Confirmed))
            .flat_map(|batch| batch.manifest)
            .collect();
        // At most 20 people per flag, longest waiting first; the people list has them all.
        const SHOWN: usize = 20;
        for flag in [Flag::SelfHarmRisk, Flag::MedicalUrgent] {
            let query = PeopleQuery {
                flag: Some(flag),
                waiting_longer_than_days: Some(-1),
                // Enough that the planned ones, skipped below, cannot crowd out the rest.
                limit: Some(u32::try_from(SHOWN + 1 + planned.len()).unwrap_or(u32::MAX)),
                ..PeopleQuery::default()
            };
            let unplanned: Vec<_> = state
                .app
                .list_people(session, &query)
                .await
                .map_err(|e| app_error(e, lang))?
                .into_iter()
                .filter(|view| !planned.contains(&view.person.id))
                .collect();
            for view in unplanned.iter().take(SHOWN) {
                alerts.push(lang.t_args(
                    "alert-urgent-unplanned",
                    &[
                        ("code", view.person.code.clone()),
                        ("flag", flag.to_string()),
                    ],
                ));
            }
            if unplanned.len() > SHOWN {
                alerts.push(lang.t_args("alert-more-flagged", &[("flag", flag.to_string())]));
            }
        }
    }
    let rows = lines
        .iter()
        .map(|line| BacklogRowView {
            location: line.location.clone(),
            kind: line.kind.to_string(),
            capacity: line.capacity,
            present: line.present,
            occupancy: line
                .occupancy_percent
                .map_or("-".into(), |p| format!("{p:.0}%")),
            waiting: line.waits.waiting,
            median: days(line.waits.median_days),
            p90: days(line.waits.p90_days),
            max: days(line.waits.max_days),
            over_target: line.waits.over_target,
            incidents: format!(
                "{}/{}/{}/{}",
                line.open_incidents[0],
                line.open_incidents[1],
                line.open_incidents[2],
                line.open_incidents[3]
            ),
            over: line.present > u64::from(line.capacity),
        })
        .collect();
    let waiting_days: Vec<(i64, u64)> = lines
        .iter()
        .flat_map(|line| line.waiting_days.iter().copied())
        .collect();
    let flow = state
        .app
        .monthly_flow(session, 12)
        .await
        .map_err(|e| app_error(e, lang))?;
    let labels: Vec<String> = flow
        .iter()
        .map(|(month, _, _)| month[2..].to_string())
        .collect();
    let flow_svg = charts::bars(
        &labels,
        &[
            (
                "in",
                "#1b7837",
                flow.iter().map(|(_, entered, _)| *entered as f64).collect(),
            ),
            (
                "out",
                "#762a83",
                flow.iter().map(|(_, _, left)| *left as f64).collect(),
            ),
        ],
    );
    html(
        DashboardTemplate {
            page: context.page(lang.t("dashboard-title")),
            alerts,
            rows,
            over_label: lang.t_args("col-over", &[("days", target.to_string())]),
            histogram_svg: charts::histogram(&waiting_days, 15, &lang.t("col-days")),
            flow_svg,
        },
        lang,
    )
}

// ---------------------------------------------------------------------------------------
// People.

pub struct PersonRow {
    code: String,
    household: String,
    sex: String,
    born: String,
    stage: String,
    location: String,
    since: String,
    days: i64,
    flags: String,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeopleTemplate {
    page: Page,
    stages: Vec<(String, bool)>,
    locations: Vec<(String, bool)>,
    flags: Vec<(String, bool)>,
    waiting_over: String,
    can_search: bool,
    can_register: bool,
    rows: Vec<PersonRow>,
    summary: String,
}

#[derive(Deserialize, Default)]
pub struct PeopleFilter {
    #[serde(default)]
    stage: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    flag: String,
    #[serde(default)]
    waiting_over: String,
    #[serde(default)]
    name: String,
}

fn options<T: ToString>(items: impl IntoIterator<Item = T>, selected: &str) -> Vec<(String, bool)> {
    items
        .into_iter()
        .map(|item| {
            let text = item.to_string();
            let chosen = text == selected;
            (text, chosen)
        })
        .collect()
}

async fn location_codes(
    state: &State,
    session: &refuge_app::Session,
    lang: Lang,
) -> Result<Vec<String>, WebError> {
    Ok(state
        .app
        .locations(session, false)
        .await
        .map_err(|e| app_error(e, lang))?
        .into_iter()
        .map(|view| view.location.code)
        .collect())
}

pub async fn people(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Query(filter): Query<PeopleFilter>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = require_session(&context)?;
    let lang = context.lang;
    let mut page = context.page(lang.t("people-title"));
    let mut query = PeopleQuery {
        limit: Some(500),
        ..PeopleQuery::default()
    };
    let mut problems = Vec::new();
    if !filter.stage.is_empty() {
        match filter.stage.parse() {
            Ok(stage) => query.stage = Some(stage),
            Err(error) => problems.push(format!("{error}")),
        }
    }
    if !filter.flag.is_empty() {
        match filter.flag.parse() {
            Ok(flag) => query.flag = Some(flag),
            Err(error) => problems.push(format!("{error}")),
        }
    }
    if !filter.location.is_empty() {
        query.location = Some(filter.location.clone());
    }
    if !filter.waiting_over.trim().is_empty() {
        match filter.waiting_over.trim().parse::<i64>() {
            Ok(days) if days >= 0 => query.waiting_longer_than_days = Some(days),
            _ => problems.push(format!(
                "'{}' is not a number of days",
                filter.waiting_over.trim()
            )),
        }
    }
    if !filter.name.trim().is_empty() {
        query.name = Some(filter.name.clone());
    }
    let views = if problems.is_empty() {
        match state.app.list_people(&web.session, &query).await {
            Ok(views) => views,
            Err(AppError::Invalid { field, reason }) => {
                problems.push(format!("{field}: {reason}"));
                Vec::new()
            }
            Err(AppError::NotFound { what, code }) => {
                problems.push(format!("no {what} with code {code}"));
                Vec::new()
            }
            Err(error) => return Err(app_error(error, lang)),
        }
    } else {
        Vec::new()
    };
    page.problem = problems.join("; ");
    let rows: Vec<PersonRow> = views
        .iter()
        .map(|view| PersonRow {
            code: view.person.code.clone(),
            household: view.household_code.clone(),
            sex: view.person.sex.to_string(),
            born: view.person.birth_year.map_or("-".into(), |y| y.to_string()),
            stage: view.person.stage.to_string(),
            location: view.location_code.clone(),
            since: view.person.since.to_string(),
            days: view.waiting_days,
            flags: view
                .person
                .flags
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let role = web.session.role();
    html(
        PeopleTemplate {
            page,
            stages: options(refuge_core::stage::ALL_STAGES, &filter.stage),
            locations: options(
                location_codes(&state, &web.session, lang).await?,
                &filter.location,
            ),
            flags: options(Flag::ALL.iter(), &filter.flag),
            waiting_over: filter.waiting_over.clone(),
            can_search: allowed(role, Action::SearchByName),
            can_register: allowed(role, Action::RegisterPeople),
            summary: format!("{} / {}", rows.len(), lang.t("people-title")),
            rows,
        },
        lang,
    )
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonTemplate {
    page: Page,
    code: String,
    facts: Vec<(String, String)>,
    sealed: String,
    identity: Vec<(String, String)>,
    can_reveal: bool,
    can_act: bool,
    locations: Vec<(String, bool)>,
    stages: Vec<(String, bool)>,
    flags: Vec<(String, bool)>,
    reasons: Vec<String>,
    documents_ready: bool,
    screening_done: bool,
    today: String,
    timeline: Vec<String>,
}

async fn person_page(
    state: &State,
    context: &Context,
    web: &WebSession,
    code: &str,
    reveal: bool,
    notice: String,
    problem: String,
) -> PageResult {
    let lang = context.lang;
    let session = &web.session;
    let view = state
        .app
        .show_person(session, code, reveal)
        .await
        .map_err(|e| app_error(e, lang))?;
    let person = &view.person;
    let mut page = context.page(lang.t_args("person-title", &[("code", person.code.clone())]));
    page.notice = notice;
    page.problem = problem;
    let facts = vec![
        (lang.t("col-household"), view.household_code.clone()),
        (lang.t("col-sex"), person.sex.to_string()),
        (
            lang.t("col-born"),
            person.birth_year.map_or("-".into(), |y| y.to_string()),
        ),
        (lang.t("col-stage"), person.stage.to_string()),
        (lang.t("col-location"), view.location_code.clone()),
        (
            lang.t("col-since"),
            format!("{} ({})", person.since, view.waiting_days),
        ),
        (
            lang.t("col-flags"),
            person
                .flags
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            lang.t("hold"),
            person.hold.map_or("-".into(), |r| r.to_string()),
        ),
    ];
    let mut timeline = Vec::new();
    if allowed(session.role(), Action::ViewHistory) {
        state
            .app
            .history(session, Some(&person.code), |page| {
                timeline.extend(page.into_iter().map(|event| {
                    format!("{}: {}", context.zone.show(event.recorded), event.summary)
                }));
                Ok(())
            })
            .await
            .map_err(|e| app_error(e, lang))?;
    }
    let role = session.role();
    html(
        PersonTemplate {
            code: person.code.clone(),
            facts,
            sealed: lang.t_args(
                "identity-sealed",
                &[(
                    "fields",
                    person
                        .sealed
                        .keys()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )],
            ),
            identity: view
                .identity
                .as_ref()
                .map(|fields| {
                    fields
                        .iter()
                        .map(|(field, value)| {
                            (field.as_str().to_string(), value.as_str().to_string())
                        })
                        .collect()
                })
                .unwrap_or_default(),
            can_reveal: allowed(role, Action::RevealIdentity),
            can_act: allowed(role, Action::MovePeople),
            locations: options(
                location_codes(state, session, lang).await?,
                &view.location_code,
            ),
            stages: options(refuge_core::stage::ALL_STAGES, person.stage.as_str()),
            flags: options(Flag::ALL.iter(), ""),
            reasons: HoldReason::ALL.iter().map(|r| r.to_string()).collect(),
            documents_ready: person.documents_ready,
            screening_done: person.screening_done,
            today: state.app.today().to_string(),
            timeline,
            page,
        },
        lang,
    )
}

pub async fn person(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = require_session(&context)?;
    person_page(
        &state,
        &context,
        &web,
        &code,
        false,
        String::new(),
        String::new(),
    )
    .await
}

pub async fn reveal(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    person_page(
        &state,
        &context,
        &web,
        &code,
        true,
        String::new(),
        String::new(),
    )
    .await
}

/// After a change to a person: back to their page with a notice, or the problem shown.
async fn after_change(
    state: &State,
    context: &Context,
    web: &WebSession,
    code: &str,
    result: Result<String, AppError>,
) -> PageResult {
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/people/{}", escape(code))).into_response()),
        Err(
            error @ (AppError::Invalid { .. } | AppError::Store(_) | AppError::NotFound { .. }),
        ) => {
            let problem = app_error(error, context.lang).message();
            let mut response =
                person_page(state, context, web, code, false, String::new(), problem).await?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(error) => Err(app_error(error, context.lang)),
    }
}

#[derive(Deserialize)]
pub struct MoveForm {
    csrf: String,
    to: String,
    stage: String,
    #[serde(default)]
    at: String,
    #[serde(default)]
    over_capacity: String,
}

pub async fn move_person(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<MoveForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let result = async {
        let stage: Stage = form
            .stage
            .parse()
            .map_err(|e: refuge_core::stage::UnknownStage| AppError::Invalid {
                field: "stage".into(),
                reason: e.to_string(),
            })?;
        let at = if form.at.trim().is_empty() {
            None
        } else {
            Some(parse_day(&form.at).ok_or_else(|| AppError::Invalid {
                field: "date".into(),
                reason: format!("'{}' is not a date", form.at),
            })?)
        };
        state
            .app
            .move_to(
                &web.session,
                &code,
                &form.to,
                Some(stage),
                at,
                form.over_capacity == "yes",
            )
            .await
            .map(|report| report.location)
    }
    .await;
    after_change(&state, &context, &web, &code, result).await
}

#[derive(Deserialize)]
pub struct FlagForm {
    csrf: String,
    flag: String,
    on: String,
}

pub async fn flag(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<FlagForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let result = async {
        let flag: Flag = form
            .flag
            .parse()
            .map_err(|e: UnknownName| AppError::Invalid {
                field: "flag".into(),
                reason: e.to_string(),
            })?;
        state
            .app
            .set_flags(&web.session, &code, &[(flag, form.on == "yes")])
            .await
            .map(|p| p.code)
    }
    .await;
    after_change(&state, &context, &web, &code, result).await
}

#[derive(Deserialize)]
pub struct HoldForm {
    csrf: String,
    reason: String,
    action: String,
}

pub async fn hold(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<HoldForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let result = async {
        let reason = if form.action == "release" {
            None
        } else {
            Some(
                form.reason
                    .parse()
                    .map_err(|e: UnknownName| AppError::Invalid {
                        field: "reason".into(),
                        reason: e.to_string(),
                    })?,
            )
        };
        state
            .app
            .set_hold(&web.session, &code, reason)
            .await
            .map(|codes| codes.join(","))
    }
    .await;
    after_change(&state, &context, &web, &code, result).await
}

#[derive(Deserialize)]
pub struct ReadyForm {
    csrf: String,
    #[serde(default)]
    documents: String,
    #[serde(default)]
    screening: String,
}

pub async fn ready(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<ReadyForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let result = state
        .app
        .set_ready(
            &web.session,
            &code,
            Some(form.documents == "yes"),
            Some(form.screening == "yes"),
        )
        .await
        .map(|codes| codes.join(","));
    after_change(&state, &context, &web, &code, result).await
}

#[derive(Template)]
#[template(path = "person_new.html")]
struct RegisterTemplate {
    page: Page,
    name_label: String,
    sexes: Vec<String>,
    locations: Vec<(String, bool)>,
    stages: Vec<(String, bool)>,
    form: RegisterEcho,
}

/// The operational fields typed so far, shown back on a failed form (never the identity).
#[derive(Default)]
pub struct RegisterEcho {
    birth_year: String,
    since: String,
    household: String,
}

async fn register_page(
    state: &State,
    context: &Context,
    web: &WebSession,
    echo: RegisterEcho,
    location: &str,
    problem: String,
) -> PageResult {
    let lang = context.lang;
    let mut page = context.page(lang.t("register"));
    page.problem = problem;
    html(
        RegisterTemplate {
            name_label: "name".into(),
            sexes: Sex::ALL.iter().map(|s| s.to_string()).collect(),
            locations: options(location_codes(state, &web.session, lang).await?, location),
            stages: options(
                [
                    Stage::Sheltered,
                    Stage::Detained,
                    Stage::Transit,
                    Stage::Hiding,
                ],
                "sheltered",
            ),
            form: echo,
            page,
        },
        lang,
    )
}

pub async fn register_form(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> PageResult {
    let context = context(&state, &headers);
    let web = require_session(&context)?;
    // The refusal is refuge-app's decision, as for every use case.
    web.session
        .require(Action::RegisterPeople)
        .map_err(|e| app_error(e, context.lang))?;
    let echo = RegisterEcho {
        since: state.app.today().to_string(),
        ..RegisterEcho::default()
    };
    register_page(&state, &context, &web, echo, "", String::new()).await
}

#[derive(Deserialize)]
pub struct RegisterForm {
    csrf: String,
    name: String,
    #[serde(default)]
    name_romanized: String,
    #[serde(default)]
    sex: String,
    #[serde(default)]
    birth_year: String,
    location: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    household: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    notes: String,
}

pub async fn register(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let result = async {
        let invalid = |field: &str, reason: String| AppError::Invalid {
            field: field.into(),
            reason,
        };
        let birth_year = match form.birth_year.trim() {
            "" => None,
            text => Some(
                text.parse::<i32>()
                    .map_err(|_| invalid("birth year", format!("'{text}' is not a year")))?,
            ),
        };
        let since = match form.since.trim() {
            "" => None,
            text => Some(
                parse_day(text)
                    .ok_or_else(|| invalid("since", format!("'{text}' is not a date")))?,
            ),
        };
        let sex = form
            .sex
            .parse()
            .map_err(|e: UnknownName| invalid("sex", e.to_string()))?;
        let stage = match form.stage.as_str() {
            "" => None,
            text => Some(
                text.parse()
                    .map_err(|e: refuge_core::stage::UnknownStage| {
                        invalid("stage", e.to_string())
                    })?,
            ),
        };
        let mut identity = BTreeMap::new();
        for (field, value) in [
            (PersonField::Name, &form.name),
            (PersonField::NameRomanized, &form.name_romanized),
            (PersonField::Origin, &form.origin),
            (PersonField::Notes, &form.notes),
        ] {
            if !value.trim().is_empty() {
                identity.insert(field, value.clone());
            }
        }
        let new = NewPerson {
            household: Some(form.household.trim().to_string()).filter(|h| !h.is_empty()),
            sex: Some(sex),
            birth_year,
            location: form.location.clone(),
            stage,
            since,
            identity,
            ..NewPerson::default()
        };
        state.app.add_person(&web.session, new).await
    }
    .await;
    match result {
        Ok(person) => Ok(Redirect::to(&format!("/people/{}", person.code)).into_response()),
        Err(
            error @ (AppError::Invalid { .. } | AppError::Store(_) | AppError::NotFound { .. }),
        ) => {
            let problem = app_error(error, context.lang).message();
            let echo = RegisterEcho {
                birth_year: form.birth_year.clone(),
                since: form.since.clone(),
                household: form.household.clone(),
            };
            let mut response =
                register_page(&state, &context, &web, echo, &form.location, problem).await?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(error) => Err(app_error(error, context.lang)),
    }
}

// ---------------------------------------------------------------------------------------
// Tables: locations, incidents, transfers, forecast, audit, users.

#[derive(Template)]
#[template(path = "table.html")]
struct TableTemplate {
    page: Page,
    before: String,
    headers: Vec<String>,
    /// Cells: (text, link or empty).
    rows: Vec<Vec<(String, String)>>,
    after: String,
}

fn cell(text: impl ToString) -> (String, String) {
    (text.to_string(), String::new())
}

fn link(text: impl ToString, href: String) -> (String, String) {
    (text.to_string(), href)
}

/// A small form built in code: every value escaped.
fn form(action: &str, csrf: &str, fields: &[(&str, &str, &str)], submit: &str) -> String {
    let mut html = format!(
        "<form method=\"post\" action=\"{}\" class=\"stack\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(action),
        escape(csrf)
    );
    for (label, name, value) in fields {
        html.push_str(&format!(
            "<label>{} <input name=\"{}\" value=\"{}\"></label>",
            escape(label),
            escape(name),
            escape(value)
        ));
    }
    html.push_str(&format!(
        "<button type=\"submit\">{}</button></form>",
        escape(submit)
    ));
    html
}

pub async fn locations(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> PageResult {
    let context = context(&state, &headers);
    let web = require_session(&context)?;
    let lang = context.lang;
    let views = state
        .app
        .locations(&web.session, false)
        .await
        .map_err(|e| app_error(e, lang))?;
    let rows = views
        .iter()
        .map(|view| {
            vec![
                cell(&view.location.code),
                cell(view.location.kind),
                cell(&view.location.country),
                cell(view.location.capacity),
                cell(view.present),
            ]
        })
        .collect();
    html(
        TableTemplate {
            page: context.page(lang.t("locations-title")),
            before: String::new(),
            headers: vec![
                lang.t("col-code"),
                lang.t("col-kind"),
                "CC".into(),
                lang.t("col-beds"),
                lang.t("col-present"),
            ],
            rows,
            after: String::new(),
        },
        lang,
    )
}

pub async fn incidents(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> PageResult {
    incidents_page(&state, &headers, String::new()).await
}

async fn incidents_page(state: &State, headers: &HeaderMap, problem: String) -> PageResult {
    let context = context(state, headers);
    let web = require_session(&context)?;
    let lang = context.lang;
    let views = state
        .app
        .incidents(&web.session, false, false)
        .await
        .map_err(|e| app_error(e, lang))?;
    let can_close = allowed(web.session.role(), Action::CloseIncident);
    let rows = views
        .iter()
        .map(|view| {
            let incident = &view.incident;
            let status = if incident.status == IncidentStatus::Open && can_close {
                (
                    incident.status.to_string(),
                    format!("/incidents/{}/close", incident.code),
                )
            } else {
                cell(incident.status)
            };
            vec![
                cell(&incident.code),
                cell(incident.occurred),
                cell(&view.location_code),
                cell(incident.kind),
                cell(incident.severity),
                status,
                cell(view.people_codes.join(", ")),
            ]
        })
        .collect();
    let mut page = context.page(lang.t("incidents-title"));
    page.problem = problem;
    let before = if allowed(web.session.role(), Action::RecordIncident) {
        format!(
            "<h2>{}</h2>{}",
            escape(&lang.t("record-incident")),
            form(
                "/incidents",
                &web.csrf,
                &[
                    (&lang.t("col-location"), "location", ""),
                    (&lang.t("kind"), "kind", "conflict"),
                    (&lang.t("severity"), "severity", "2"),
                    (&lang.t("people-codes"), "people", ""),
                    (&lang.t("note"), "note", ""),
                ],
                &lang.t("save"),
            )
        )
    } else {
        String::new()
    };
    html(
        TableTemplate {
            page,
            before,
            headers: vec![
                lang.t("col-code"),
                lang.t("date"),
                lang.t("col-location"),
                lang.t("kind"),
                lang.t("severity"),
                lang.t("status"),
                lang.t("people-title"),
            ],
            rows,
            after: String::new(),
        },
        lang,
    )
}

#[derive(Deserialize)]
pub struct IncidentForm {
    csrf: String,
    location: String,
    kind: String,
    severity: String,
    #[serde(default)]
    people: String,
    #[serde(default)]
    note: String,
}

pub async fn record_incident(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Form(form): Form<IncidentForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let result = async {
        let kind = form
            .kind
            .parse()
            .map_err(|e: UnknownName| AppError::Invalid {
                field: "kind".into(),
                reason: e.to_string(),
            })?;
        let severity = form
            .severity
            .trim()
            .parse::<u8>()
            .map_err(|_| AppError::Invalid {
                field: "severity".into(),
                reason: format!("'{}' is not 1 to 4", form.severity),
            })?;
        let people: Vec<String> = form
            .people
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        let note = Some(form.note.as_str()).filter(|n| !n.trim().is_empty());
        state
            .app
            .add_incident(
                &web.session,
                &form.location,
                kind,
                severity,
                &people,
                note,
                None,
            )
            .await
    }
    .await;
    after_post(result, "/incidents", context.lang, |problem| {
        incidents_page(&state, &headers, problem)
    })
    .await
}

pub async fn close_incident(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    state
        .app
        .close_incident(&web.session, &code)
        .await
        .map_err(|e| app_error(e, context.lang))?;
    Ok(Redirect::to("/incidents").into_response())
}

pub async fn transfers(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> PageResult {
    transfers_page(&state, &headers, String::new()).await
}

async fn transfers_page(state: &State, headers: &HeaderMap, problem: String) -> PageResult {
    let context = context(state, headers);
    let web = require_session(&context)?;
    let lang = context.lang;
    let batches = state
        .app
        .batches(&web.session)
        .await
        .map_err(|e| app_error(e, lang))?;
    let rows = batches
        .iter()
        .map(|batch| {
            vec![
                link(&batch.code, format!("/transfers/{}", batch.code)),
                cell(batch.status),
                cell(batch.departure),
                cell(batch.seats),
                cell(batch.manifest.len()),
            ]
        })
        .collect();
    let mut page = context.page(lang.t("transfers-title"));
    page.problem = problem;
    let before = if allowed(web.session.role(), Action::PlanTransfers) {
        let tomorrow = (state.app.today() + time::Duration::days(7)).to_string();
        format!(
            "<h2>{}</h2>{}",
            escape(&lang.t("create-batch")),
            form(
                "/transfers",
                &web.csrf,
                &[
                    (&lang.t("departs"), "date", &tomorrow),
                    (&lang.t("seats"), "seats", "80"),
                    (&lang.t("origins"), "origins", ""),
                    (&lang.t("destination"), "destination", ""),
                ],
                &lang.t("create-batch"),
            )
        )
    } else {
        String::new()
    };
    html(
        TableTemplate {
            page,
            before,
            headers: vec![
                lang.t("col-code"),
                lang.t("status"),
                lang.t("departs"),
                lang.t("seats"),
                lang.t("manifest"),
            ],
            rows,
            after: String::new(),
        },
        lang,
    )
}

#[derive(Deserialize)]
pub struct TransferForm {
    csrf: String,
    date: String,
    seats: String,
    #[serde(default)]
    origins: String,
    destination: String,
}

pub async fn create_transfer(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Form(form): Form<TransferForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let result = async {
        let date = parse_day(&form.date).ok_or_else(|| AppError::Invalid {
            field: "date".into(),
            reason: format!("'{}' is not a date", form.date),
        })?;
        let seats = form
            .seats
            .trim()
            .parse::<u32>()
            .map_err(|_| AppError::Invalid {
                field: "seats".into(),
                reason: format!("'{}' is not a number", form.seats),
            })?;
        let origins = form
            .origins
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        let request = BatchRequest {
            label: String::new(),
            date,
            seats,
            origins,
        };
        state
            .app
            .create_batch(
                &web.session,
                &request,
                &form.destination,
                &PlanPolicy::default(),
            )
            .await
    }
    .await;
    match result {
        Ok((batch, _)) => Ok(Redirect::to(&format!("/transfers/{}", batch.code)).into_response()),
        Err(
            error @ (AppError::Invalid { .. } | AppError::NotFound { .. } | AppError::Store(_)),
        ) => {
            let mut response =
                transfers_page(&state, &headers, app_error(error, context.lang).message()).await?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(error) => Err(app_error(error, context.lang)),
    }
}

pub async fn transfer(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = require_session(&context)?;
    let lang = context.lang;
    let view = state
        .app
        .show_batch(&web.session, &code, &PlanPolicy::default())
        .await
        .map_err(|e| app_error(e, lang))?;
    let batch = &view.batch;
    let mut before = format!(
        "<p>{} {} · {} {} · {} · {}</p>",
        escape(&lang.t("departs")),
        batch.departure,
        batch.seats,
        escape(&lang.t("seats")),
        escape(batch.status.as_str()),
        escape(&view.origin_codes.join(", "))
    );
    if allowed(web.session.role(), Action::PlanTransfers) {
        let action = format!("/transfers/{}/status", batch.code);
        let mut buttons = String::new();
        for (status, key) in [
            ("confirmed", "confirm"),
            ("draft", "unconfirm"),
            ("departed", "depart"),
            ("completed", "complete"),
            ("cancelled", "cancel"),
        ] {
            if batch
                .status
                .can_become(status.parse().unwrap_or(BatchStatus::Draft))
            {
                buttons.push_str(&format!(
                    "<button type=\"submit\" name=\"status\" value=\"{status}\">{}</button> ",
                    escape(&lang.t(key))
                ));
            }
        }
        before.push_str(&format!(
            "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">{buttons}</form>",
            escape(&action),
            escape(&web.csrf)
        ));
    }
    before.push_str(&format!(
        "<p><a href=\"/transfers/{}/manifest.csv\">{}</a></p><h2>{}</h2>",
        escape(&batch.code),
        escape(&lang.t("download-manifest")),
        escape(&lang.t("manifest"))
    ));
    let rows = view
        .manifest
        .iter()
        .map(|(person, household, from)| {
            vec![
                link(person, format!("/people/{person}")),
                cell(household),
                cell(from),
            ]
        })
        .collect();
    let mut after = String::new();
    if let Some(report) = &view.report {
        after.push_str(&format!(
            "<h2>{}</h2><p>{}</p><div class=\"scroll\"><table><tbody>",
            escape(&lang.t("explanations")),
            escape(&lang.t_args(
                "plan-summary",
                &[
                    ("objective", format!("{:.1}", report.plan.objective)),
                    ("gap", format!("{:.1e}", report.plan.gap))
                ]
            ))
        ));
        for explanation in &report.plan.explanations {
            let (word, reason) = match &explanation.decision {
                refuge_plan::Decision::Selected { reason, .. } => ("selected", reason),
                refuge_plan::Decision::Ineligible { reason } => ("ineligible", reason),
                refuge_plan::Decision::NotSelected { reason } => ("not selected", reason),
            };
            after.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><form method=\"post\" action=\"/transfers/{}/pin\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"household\" value=\"{}\"><button name=\"pin\" value=\"in\">{}</button> <button name=\"pin\" value=\"out\">{}</button> <button name=\"pin\" value=\"clear\">{}</button></form></td></tr>",
                escape(&explanation.household),
                escape(word),
                escape(reason),
                escape(&batch.code),
                escape(&web.csrf),
                escape(&explanation.household),
                escape(&lang.t("pin-in")),
                escape(&lang.t("pin-out")),
                escape(&lang.t("pin-clear"))
            ));
        }
        after.push_str("</tbody></table></div>");
    }
    html(
        TableTemplate {
            page: context.page(format!("{} {}", lang.t("transfers-title"), batch.code)),
            before,
            headers: vec![
                lang.t("col-code"),
                lang.t("col-household"),
                lang.t("col-location"),
            ],
            rows,
            after,
        },
        lang,
    )
}

#[derive(Deserialize)]
pub struct PinForm {
    csrf: String,
    household: String,
    pin: String,
}

pub async fn pin(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<PinForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let pin = match form.pin.as_str() {
        "in" => Some(BatchPin::In),
        "out" => Some(BatchPin::Out),
        _ => None,
    };
    state
        .app
        .pin_household(
            &web.session,
            &code,
            &form.household,
            pin,
            &PlanPolicy::default(),
        )
        .await
        .map_err(|e| app_error(e, context.lang))?;
    Ok(Redirect::to(&format!("/transfers/{}", escape(&code))).into_response())
}

#[derive(Deserialize)]
pub struct StatusForm {
    csrf: String,
    status: String,
}

pub async fn transfer_status(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<StatusForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let status: BatchStatus = form.status.parse().map_err(|e: UnknownName| {
        WebError::new(StatusCode::BAD_REQUEST, e.to_string(), context.lang)
    })?;
    state
        .app
        .set_batch_status(&web.session, &code, status)
        .await
        .map_err(|e| app_error(e, context.lang))?;
    Ok(Redirect::to(&format!("/transfers/{}", escape(&code))).into_response())
}

pub async fn manifest(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = require_session(&context)?;
    let mut csv = Vec::new();
    state
        .app
        .manifest_csv(&web.session, &code, false, &mut csv)
        .await
        .map_err(|e| app_error(e, context.lang))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.csv\"", escape(&code)),
            ),
        ],
        csv,
    )
        .into_response())
}

#[derive(Deserialize, Default)]
pub struct ForecastQuery {
    #[serde(default)]
    horizon: String,
    #[serde(default)]
    extra_date: String,
    #[serde(default)]
    extra_seats: String,
    #[serde(default)]
    arrival_factor: String,
}

pub async fn forecast(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Query(query): Query<ForecastQuery>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = require_session(&context)?;
    let lang = context.lang;
    let mut page = context.page(lang.t("forecast-title"));
    let mut what_if = WhatIf {
        horizon_days: 180.0,
        replications: 200,
        ..WhatIf::default()
    };
    let mut problems = Vec::new();
    if let Ok(horizon) = query.horizon.trim().parse::<f64>() {
        if (1.0..=1095.0).contains(&horizon) {
            what_if.horizon_days = horizon;
        } else {
            problems.push("horizon: 1 to 1095 days".to_string());
        }
    }
    if let Ok(factor) = query.arrival_factor.trim().parse::<f64>() {
        what_if.arrival_factor = factor;
    }
    if !query.extra_date.trim().is_empty() {
        match (
            parse_day(&query.extra_date),
            query.extra_seats.trim().parse::<u32>(),
        ) {
            (Some(date), Ok(seats)) if seats > 0 => what_if.extra_transfers.push((date, seats)),
            _ => problems.push(format!("{}: DATE and SEATS", lang.t("extra-transfer"))),
        }
    }
    let today = state.app.today();
    let mut after = String::new();
    let scenario = state.app.scenario_from_db(&web.session, &what_if).await;
    match scenario.and_then(|scenario| state.app.forecast(&web.session, &scenario, 2)) {
        Ok(result) => {
            after.push_str(&refuge_sim::chart::svg(
                &result,
                &format!("{} {today}", lang.t("forecast-title")),
            ));
            after.push_str(&format!(
                "<p>{}</p>",
                escape(&lang.t_args(
                    "wait-stats",
                    &[
                        ("mean", format!("{:.0}", result.wait.mean)),
                        ("p50", format!("{:.0}", result.wait.p50)),
                        ("p90", format!("{:.0}", result.wait.p90)),
                        ("p99", format!("{:.0}", result.wait.p99)),
                    ]
                ))
            ));
            let target = format!("{:.0}", result.target_wait_days);
            let line = match result.backlog_below_target_day {
                Some(day) => lang.t_args(
                    "below-target",
                    &[
                        ("days", target),
                        (
                            "date",
                            (today + time::Duration::days(i64::from(day))).to_string(),
                        ),
                    ],
                ),
                None => lang.t_args("stays-above", &[("days", target)]),
            };
            after.push_str(&format!("<p>{}</p>", escape(&line)));
        }
        Err(AppError::Invalid { field, reason }) => problems.push(format!("{field}: {reason}")),
        Err(error) => return Err(app_error(error, lang)),
    }
    page.problem = problems.join("; ");
    let before = format!(
        "<form method=\"get\" action=\"/forecast\" class=\"filters\"><label>{} <input name=\"horizon\" value=\"{}\"></label><label>{} <input name=\"extra_date\" type=\"date\" value=\"{}\"></label><label>{} <input name=\"extra_seats\" value=\"{}\"></label><label>{} <input name=\"arrival_factor\" value=\"{}\"></label><button type=\"submit\">{}</button></form>",
        escape(&lang.t("horizon")),
        what_if.horizon_days,
        escape(&lang.t("extra-transfer")),
        escape(&query.extra_date),
        escape(&lang.t("seats")),
        escape(&query.extra_seats),
        escape(&lang.t("arrival-factor")),
        what_if.arrival_factor,
        escape(&lang.t("run"))
    );
    html(
        TableTemplate {
            page,
            before,
            headers: Vec::new(),
            rows: Vec::new(),
            after,
        },
        lang,
    )
}

pub async fn audit(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> PageResult {
    let context = context(&state, &headers);
    let web = require_session(&context)?;
    let lang = context.lang;
    let mut entries = state
        .app
        .access_log(&web.session, None)
        .await
        .map_err(|e| app_error(e, lang))?;
    entries.reverse();
    entries.truncate(500);
    let rows = entries
        .iter()
        .map(|entry| {
            vec![
                cell(entry.seq),
                cell(context.zone.show_text(&entry.at)),
                cell(&entry.actor),
                cell(&entry.action),
                cell(&entry.subject),
                cell(&entry.detail),
            ]
        })
        .collect();
    html(
        TableTemplate {
            page: context.page(lang.t("audit-title")),
            before: String::new(),
            headers: vec![
                "#".into(),
                lang.t("date"),
                lang.t("login-user"),
                "action".into(),
                "subject".into(),
                "detail".into(),
            ],
            rows,
            after: String::new(),
        },
        lang,
    )
}

pub async fn users(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> PageResult {
    users_page(&state, &headers, String::new()).await
}

async fn users_page(state: &State, headers: &HeaderMap, problem: String) -> PageResult {
    let context = context(state, headers);
    let web = require_session(&context)?;
    let lang = context.lang;
    let users = state
        .app
        .users(&web.session)
        .await
        .map_err(|e| app_error(e, lang))?;
    let codes = state
        .app
        .location_codes()
        .await
        .map_err(|e| app_error(e, lang))?;
    let rows = users
        .iter()
        .map(|user| {
            let compartments: Vec<&str> = user
                .locations
                .iter()
                .filter_map(|id| codes.get(id).map(String::as_str))
                .collect();
            vec![
                cell(&user.name),
                cell(user.role),
                cell(if user.active { "yes" } else { "no" }),
                cell(compartments.join(", ")),
            ]
        })
        .collect();
    let mut page = context.page(lang.t("users-title"));
    page.problem = problem;
    let before = if allowed(web.session.role(), Action::ManageUsers) {
        format!(
            "<h2>{}</h2>{}",
            escape(&lang.t("add-user")),
            form(
                "/users",
                &web.csrf,
                &[(&lang.t("login-user"), "name", ""), (&lang.t("role"), "role", "caseworker"), (&lang.t("compartments"), "locations", "")],
                &lang.t("add-user"),
            )
            .replace("<button", &format!("<label>{} <input name=\"passphrase\" type=\"password\" autocomplete=\"new-password\"></label><button", escape(&lang.t("passphrase"))))
        )
        + &format!(
            "<h2>{}</h2>{}",
            escape(&lang.t("change-user")),
            form(
                "/users/change",
                &web.csrf,
                &[
                    (&lang.t("login-user"), "name", ""),
                    (&lang.t("role"), "role", ""),
                    (&lang.t("compartments"), "locations", ""),
                    (&lang.t("user-active"), "active", ""),
                ],
                &lang.t("change-user"),
            )
        )
        + &format!(
            "<h2>{}</h2>{}",
            escape(&lang.t("reset-passphrase")),
            form("/users/passphrase", &web.csrf, &[(&lang.t("login-user"), "name", "")], &lang.t("reset-passphrase")).replace(
                "<button",
                &format!(
                    "<label>{} <input name=\"passphrase\" type=\"password\" autocomplete=\"new-password\"></label><button",
                    escape(&lang.t("passphrase"))
                )
            )
        )
    } else {
        String::new()
    };
    html(
        TableTemplate {
            page,
            before,
            headers: vec![
                lang.t("login-user"),
                lang.t("role"),
                lang.t("user-active"),
                lang.t("nav-locations"),
            ],
            rows,
            after: String::new(),
        },
        lang,
    )
}

#[derive(Deserialize)]
pub struct UserForm {
    csrf: String,
    name: String,
    role: String,
    #[serde(default)]
    locations: String,
    passphrase: String,
}

pub async fn add_user(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Form(form): Form<UserForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let result = async {
        let role: Role = form
            .role
            .parse()
            .map_err(|e: UnknownName| AppError::Invalid {
                field: "role".into(),
                reason: e.to_string(),
            })?;
        let locations: Vec<String> = form
            .locations
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        state
            .app
            .add_user(
                &web.session,
                NewUser {
                    name: form.name.trim(),
                    role,
                    location_codes: &locations,
                    passphrase: &form.passphrase,
                },
            )
            .await
    }
    .await;
    after_post(result, "/users", context.lang, |problem| {
        users_page(&state, &headers, problem)
    })
    .await
}

#[derive(Deserialize)]
pub struct ChangeUserForm {
    csrf: String,
    name: String,
    /// Empty: unchanged.
    #[serde(default)]
    role: String,
    /// Comma-separated codes; empty: unchanged.
    #[serde(default)]
    locations: String,
    /// yes / no; empty: unchanged.
    #[serde(default)]
    active: String,
}

/// Changes a user's role, compartments or whether they may log in (blank fields unchanged).
pub async fn change_user(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Form(form): Form<ChangeUserForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let result = async {
        let role = match form.role.trim() {
            "" => None,
            text => Some(
                text.parse::<Role>()
                    .map_err(|e: UnknownName| AppError::Invalid {
                        field: "role".into(),
                        reason: e.to_string(),
                    })?,
            ),
        };
        let active = match form.active.trim().to_ascii_lowercase().as_str() {
            "" => None,
            "yes" | "y" | "true" | "1" => Some(true),
            "no" | "n" | "false" | "0" => Some(false),
            other => {
                return Err(AppError::Invalid {
                    field: "active".into(),
                    reason: format!("'{other}' is not yes or no"),
                });
            }
        };
        let locations: Vec<String> = form
            .locations
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        state
            .app
            .change_user(
                &web.session,
                form.name.trim(),
                UserChange {
                    role,
                    location_codes: (!locations.is_empty()).then_some(locations.as_slice()),
                    active,
                },
            )
            .await
    }
    .await;
    after_post(result, "/users", context.lang, |problem| {
        users_page(&state, &headers, problem)
    })
    .await
}

#[derive(Deserialize)]
pub struct PassphraseForm {
    csrf: String,
    name: String,
    passphrase: String,
}

/// Sets a user's passphrase: the data key is wrapped again under the new one.
pub async fn set_passphrase(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Form(form): Form<PassphraseForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let result = state
        .app
        .reset_passphrase(&web.session, form.name.trim(), &form.passphrase)
        .await;
    after_post(result, "/users", context.lang, |problem| {
        users_page(&state, &headers, problem)
    })
    .await
}

/// The answer to a form post: on success, see `next`; on bad input (or a refusal the user
/// can act on), the form's page again with the problem, as 422; anything else, an error page.
async fn after_post<T, Page>(
    result: Result<T, AppError>,
    next: &str,
    lang: Lang,
    page_with_problem: impl FnOnce(String) -> Page,
) -> PageResult
where
    Page: std::future::Future<Output = PageResult>,
{
    use refuge_store::StoreError;
    match result {
        Ok(_) => Ok(Redirect::to(next).into_response()),
        Err(
            error @ (AppError::Invalid { .. }
            | AppError::NotFound { .. }
            | AppError::Store(
                StoreError::Conflict { .. }
                | StoreError::AtCapacity { .. }
                | StoreError::Rejected(_)
                | StoreError::Duplicate { .. },
            )),
        ) => {
            let mut response = page_with_problem(app_error(error, lang).message()).await?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(error) => Err(app_error(error, lang)),
    }
}

// ---------------------------------------------------------------------------------------
// API tokens.

pub async fn tokens(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
) -> PageResult {
    tokens_page(&state, &headers, String::new(), String::new()).await
}

/// The token list and the form to create one; `created` is a new token's text, shown here
/// once.
async fn tokens_page(
    state: &State,
    headers: &HeaderMap,
    created: String,
    problem: String,
) -> PageResult {
    let context = context(state, headers);
    let web = require_session(&context)?;
    let lang = context.lang;
    let tokens = state
        .app
        .tokens(&web.session)
        .await
        .map_err(|e| app_error(e, lang))?;
    let names: std::collections::HashMap<UserId, String> = if tokens
        .iter()
        .any(|token| token.user != web.session.user().id)
    {
        state
            .app
            .users(&web.session)
            .await
            .map_err(|e| app_error(e, lang))?
            .into_iter()
            .map(|user| (user.id, user.name))
            .collect()
    } else {
        std::iter::once((web.session.user().id, web.session.user().name.clone())).collect()
    };
    let rows = tokens
        .iter()
        .map(|token| {
            let status = match &token.revoked {
                Some(at) => format!("{} {}", lang.t("token-revoked"), context.zone.show_text(at)),
                None => lang.t("token-active"),
            };
            vec![
                cell(&token.id),
                cell(names.get(&token.user).map_or("?", String::as_str)),
                cell(&token.label),
                cell(context.zone.show_text(&token.created)),
                cell(status),
            ]
        })
        .collect();
    let mut page = context.page(lang.t("tokens-title"));
    page.problem = problem;
    let mut before = String::new();
    if !created.is_empty() {
        before.push_str(&format!(
            "<p class=\"notice\">{}</p><p><code class=\"token\">{}</code></p>",
            escape(&lang.t("token-shown-once")),
            escape(&created)
        ));
    }
    before.push_str(&format!(
        "<p>{}</p><h2>{}</h2>{}",
        escape(&lang.t("tokens-about")),
        escape(&lang.t("token-create")),
        form(
            "/tokens",
            &web.csrf,
            &[(&lang.t("token-label"), "label", "")],
            &lang.t("token-create"),
        )
    ));
    if tokens.iter().any(|token| token.revoked.is_none()) {
        before.push_str(&format!(
            "<h2>{}</h2>{}",
            escape(&lang.t("token-revoke")),
            form(
                "/tokens/revoke",
                &web.csrf,
                &[("ID", "id", "")],
                &lang.t("token-revoke"),
            )
        ));
    }
    html(
        TableTemplate {
            page,
            before,
            headers: vec![
                "ID".into(),
                lang.t("login-user"),
                lang.t("token-label"),
                lang.t("token-created"),
                lang.t("token-status"),
            ],
            rows,
            after: String::new(),
        },
        lang,
    )
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: String,
    #[serde(default)]
    label: String,
}

pub async fn create_token(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    match state.app.create_token(&web.session, &form.label).await {
        // Shown on this response only (no redirect: the text is in no URL and no history).
        Ok((_, text)) => tokens_page(&state, &headers, text, String::new()).await,
        Err(error @ AppError::Invalid { .. }) => {
            let mut response = tokens_page(
                &state,
                &headers,
                String::new(),
                app_error(error, context.lang).message(),
            )
            .await?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(error) => Err(app_error(error, context.lang)),
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: String,
    #[serde(default)]
    id: String,
}

pub async fn revoke_token(
    axum::extract::State(state): axum::extract::State<State>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> PageResult {
    let context = context(&state, &headers);
    let web = check_post(&context, &headers, &form.csrf)?;
    let result = state.app.revoke_token(&web.session, &form.id).await;
    after_post(result, "/tokens", context.lang, |problem| {
        tokens_page(&state, &headers, String::new(), problem)
    })
    .await
}
