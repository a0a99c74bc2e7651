//! What every page's frame needs (title, language, navigation, the CSRF token for the logout
//! button, a notice or a problem), rendering, and the small helpers the page modules share.

use crate::errors::{self, Failure};
use crate::i18n::Lang;
use crate::sessions::WebSession;
use crate::zones::Zone;
use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use refuge_app::{Action, AppError, Reason, allowed};
use refuge_core::Vocabulary;
use std::future::Future;
use std::str::FromStr;

/// What a handler answers: a page or redirect, or a failure rendered by `errors`.
pub type PageResult = Result<Response, Failure>;

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
    pub can_exchange: bool,
    pub notice: String,
    pub problem: String,
    /// This page's path, which the language and time-zone switches come back to ("" when the
    /// page cannot be fetched again as it is: a form's answer).
    pub back: String,
}

impl Page {
    pub fn new(
        lang: Lang,
        zone: Zone,
        web: Option<&WebSession>,
        title: String,
        back: String,
    ) -> Page {
        let role = web.map(|web| web.session.role());
        let can = |action| role.is_some_and(|role| allowed(role, action));
        Page {
            title,
            lang,
            zone: zone.name(),
            signed_in: web.is_some(),
            signed_in_as: web.map_or_else(String::new, |web| {
                lang.t_args(
                    "signed-in-as",
                    &[
                        ("user", web.session.user().name.clone()),
                        ("role", lang.word(web.session.role())),
                    ],
                )
            }),
            csrf: web.map_or_else(String::new, |web| web.csrf.clone()),
            can_people: can(Action::ViewPeople),
            can_incidents: can(Action::ViewIncidents),
            can_transfers: can(Action::ViewBatches),
            can_forecast: can(Action::Forecast),
            can_audit: can(Action::ViewAccessLog),
            can_users: can(Action::ViewUsers),
            can_exchange: can(Action::Exchange),
            notice: String::new(),
            problem: String::new(),
            back,
        }
    }

    /// The same frame with a problem shown at the top.
    pub fn with_problem(mut self, problem: String) -> Page {
        self.problem = problem;
        self
    }

    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }
    /// A message with a `$count` (Fluent picks the plural form).
    pub fn t_count(&self, key: &str, count: usize) -> String {
        self.lang.t_count(key, count as u64)
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
    /// The link that switches the language and comes back to this page.
    pub fn lang_link(&self) -> String {
        match self.back.as_str() {
            "" => format!("/lang/{}", self.other_lang()),
            back => format!("/lang/{}?back={back}", self.other_lang()),
        }
    }
}

/// A path this site may send the browser back to: on this site only (browsers read "//host",
/// and a backslash for a slash, as another site), and only the characters of its own paths
/// (codes, dashes, slashes), so it needs no escaping in a link or a header.
pub fn safe_back(path: &str) -> Option<&str> {
    let ours = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 200
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    ours.then_some(path)
}

/// A rendered template as an HTML response (a plain 500 if the template fails, which the
/// template tests rule out).
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(error) => {
            tracing::error!(%error, "a template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "error").into_response()
        }
    }
}

pub fn html(template: impl Template) -> PageResult {
    Ok(render(&template))
}

/// A cell of a table: text, and a link when `href` is not empty.
pub struct Cell {
    pub text: String,
    pub href: String,
}

pub fn cell(text: impl ToString) -> Cell {
    Cell {
        text: text.to_string(),
        href: String::new(),
    }
}

pub fn link(text: impl ToString, href: String) -> Cell {
    Cell {
        text: text.to_string(),
        href,
    }
}

/// Choices for a `<select>`: (value, selected).
/// One choice of a `<select>`: the value sent, the text shown.
#[derive(Clone, Debug)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// Choices shown as they are sent (location codes).
pub fn options<T: ToString>(items: impl IntoIterator<Item = T>, selected: &str) -> Vec<Choice> {
    items
        .into_iter()
        .map(|item| {
            let value = item.to_string();
            Choice {
                selected: value == selected,
                label: value.clone(),
                value,
            }
        })
        .collect()
}

/// Choices from a closed vocabulary: the word is sent, its translation shown.
pub fn word_options<V: Vocabulary>(
    lang: Lang,
    items: impl IntoIterator<Item = V>,
    selected: &str,
) -> Vec<Choice> {
    items
        .into_iter()
        .map(|item| Choice {
            value: item.word().to_string(),
            label: lang.word(item),
            selected: item.word() == selected,
        })
        .collect()
}

/// Comma-separated codes as typed into a form field (blanks dropped).
pub fn codes(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(String::from)
        .collect()
}

/// A closed-vocabulary form field, or an input error naming the field (the vocabulary's own
/// message names the value and the choices).
pub fn parse_field<T: FromStr<Err = refuge_core::UnknownName>>(
    field: &str,
    text: &str,
) -> Result<T, AppError> {
    text.trim()
        .parse()
        .map_err(|error| AppError::invalid(field, Reason::unknown_word(&error)))
}

/// A whole-number form field, or an input error naming the field.
pub fn parse_number<T: FromStr>(field: &str, text: &str) -> Result<T, AppError> {
    text.trim().parse().map_err(|_| {
        AppError::invalid(field, Reason::new("not-a-number").with("text", shown(text)))
    })
}

/// A date field (YYYY-MM-DD), or an input error naming the field.
pub fn parse_date(field: &str, text: &str) -> Result<time::Date, AppError> {
    refuge_core::parse_day(text).ok_or_else(|| {
        AppError::invalid(field, Reason::new("not-a-date").with("text", shown(text)))
    })
}

/// A typed value shown back in a problem, cut short (forms never show a protected value this way).
pub fn shown(text: &str) -> String {
    text.trim().chars().take(24).collect()
}

/// The answer to a form post: on success, see `next`; when the user can act on the failure
/// (bad input, a record not found, a conflict, a duplicate), the form's page again with the
/// problem, under the failure's status; anything else, an error page.
pub async fn after_post<T, F>(
    result: Result<T, AppError>,
    next: &str,
    lang: Lang,
    page_with_problem: impl FnOnce(String) -> F,
) -> PageResult
where
    F: Future<Output = PageResult>,
{
    match result {
        Ok(_) => Ok(Redirect::to(next).into_response()),
        Err(error) => shown_back(error, lang, page_with_problem).await,
    }
}

/// A failed form post: its page again with the problem (see `after_post`).
pub async fn shown_back<F>(
    error: AppError,
    lang: Lang,
    page_with_problem: impl FnOnce(String) -> F,
) -> PageResult
where
    F: Future<Output = PageResult>,
{
    use refuge_app::ErrorKind;
    let kind = error.kind();
    match kind {
        ErrorKind::Invalid | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::Duplicate => {
            let failure = Failure::from(error);
            let mut response = page_with_problem(failure.message(lang)).await?;
            *response.status_mut() = errors::status(kind);
            Ok(response)
        }
        _ => Err(error.into()),
    }
}

/// A path to a record's page. Codes are letters, digits and dashes; anything else (which no
/// real code holds) is dropped, so a typed path can never make a redirect header invalid.
pub fn record_path(prefix: &str, code: &str) -> String {
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("{prefix}/{code}")
}
