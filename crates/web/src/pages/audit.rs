//! The access log for auditors: newest first, filtered by user, action, record and days,
//! paged, exported as CSV; with a record's code, also who changed that record and when.

use crate::Shared;
use crate::errors::Failure;
use crate::extract::SignedIn;
use crate::layout::{Choice, Page, PageResult, html, parse_date, word_options};
use crate::timeline::change_text;
use crate::zones::Zone;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use refuge_app::{AccessAction, AccessFilter, Action, AppError, Reason, allowed};
use refuge_core::CodeKind;
use serde::Deserialize;

/// Entries on one page.
const PAGE: u32 = 100;

/// One entry as shown: the columns that matter on a phone first.
struct Row {
    at: String,
    actor: String,
    action: String,
    refused: bool,
    subject: String,
    detail: String,
    seq: i64,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditTemplate {
    page: Page,
    filter: AuditFilter,
    actions: Vec<Choice>,
    rows: Vec<Row>,
    /// The next (older) page, with the same filters.
    next: Option<String>,
    /// The CSV of everything the filters match.
    csv: String,
    /// The newest page with the same filters, when this is an older one.
    newest: Option<String>,
    /// Who changed the record named in the filter, when (for roles that read the history).
    changes: Option<Vec<String>>,
}

/// The filters, as typed (shown back in the form).
#[derive(Clone, Default, Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
}

impl AuditFilter {
    /// The use case's filter, days on the clock of `zone` (the times shown are), or the input
    /// error naming the field.
    fn access_filter(&self, limit: u32, zone: Zone) -> Result<AccessFilter, AppError> {
        let text = |value: &str| Some(value.trim().to_string()).filter(|value| !value.is_empty());
        let day = |field: &str, value: &str| match value.trim() {
            "" => Ok(None),
            value => parse_date(field, value).map(Some),
        };
        Ok(AccessFilter {
            actor: text(&self.user),
            action: text(&self.action),
            subject: text(&self.code).map(|code| code.to_uppercase()),
            from: day("from", &self.from)?,
            to: day("to", &self.to)?,
            offset: Some(zone.offset()),
            before_seq: match self.before.trim() {
                "" => None,
                value => Some(value.parse().map_err(|_| {
                    AppError::invalid("before", Reason::new("not-an-entry-number"))
                })?),
            },
            limit,
        })
    }

    /// The filters for an address (the page position left out).
    fn query(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("user", self.user.as_str()),
            ("action", self.action.as_str()),
            ("code", self.code.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
        ]
        .into_iter()
        .map(|(name, value)| (name, value.trim()))
        .filter(|(_, value)| !value.is_empty())
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

pub async fn list(
    State(shared): State<Shared>,
    user: SignedIn,
    Query(filter): Query<AuditFilter>,
) -> PageResult {
    let lang = user.lang;
    let session = user.session();
    let (entries, problem) = match filter.access_filter(PAGE, user.zone) {
        Ok(access) => match shared.app.access_log_page(session, &access).await {
            Ok(entries) => (entries, String::new()),
            Err(error @ AppError::Invalid { .. }) => {
                (Vec::new(), Failure::from(error).message(lang))
            }
            Err(error) => return Err(error.into()),
        },
        Err(error) => (Vec::new(), Failure::from(error).message(lang)),
    };
    let next = (entries.len() == PAGE as usize)
        .then(|| entries.last())
        .flatten()
        .map(|last| {
            let query = filter.query();
            let joiner = if query.is_empty() { "" } else { "&" };
            format!("/audit?{query}{joiner}before={}", last.seq)
        });
    let rows = entries
        .iter()
        .map(|entry| {
            // An action of an older release, if any, is shown as stored.
            let action = entry.action.parse::<AccessAction>();
            Row {
                at: user.zone.show_text(&entry.at),
                actor: entry.actor.clone(),
                refused: action == Ok(AccessAction::Refused),
                action: action.map_or(entry.action.clone(), |action| lang.word(action)),
                subject: logged_text(lang, &entry.subject),
                detail: detail_text(lang, &entry.detail),
                seq: entry.seq,
            }
        })
        .collect();
    let changes = changes_of(&shared, &user, filter.code.trim()).await?;
    let query = filter.query();
    let newest = (!filter.before.trim().is_empty())
        .then(|| format!("/audit{}{query}", if query.is_empty() { "" } else { "?" }));
    html(AuditTemplate {
        newest,
        page: user.titled("audit-title").with_problem(problem),
        actions: word_options(
            lang,
            AccessAction::ALL.iter().copied(),
            filter.action.trim(),
        ),
        csv: format!(
            "/audit.csv{}{query}",
            if query.is_empty() { "" } else { "?" }
        ),
        filter,
        rows,
        next,
        changes,
    })
}

/// Who changed the person `code`, and when: actors and kinds of change, never an identity.
/// None unless the code names a person and the role may read the history.
async fn changes_of(
    shared: &Shared,
    user: &SignedIn,
    code: &str,
) -> Result<Option<Vec<String>>, AppError> {
    let lang = user.lang;
    let session = user.session();
    Ok(
        if allowed(session.role(), Action::ViewHistory)
            && CodeKind::of_code(&code.to_uppercase()) == Some(CodeKind::Person)
        {
            let mut lines = Vec::new();
            let found = shared
                .app
                .history(session, Some(code), |page| {
                    lines.extend(page.into_iter().map(|event| {
                        format!(
                            "{} · {}: {}",
                            user.zone.show(event.recorded),
                            event.actor,
                            change_text(lang, &event.change)
                        )
                    }));
                    Ok(())
                })
                .await;
            match found {
                Ok(()) => Some(lines),
                Err(AppError::NotFound { .. } | AppError::Merged { .. }) => None,
                Err(error) => return Err(error),
            }
        } else {
            None
        },
    )
}

/// A stored detail in the reader's language where its form is known (a refusal's reason: a
/// role and an action, or outside the compartments); any other is shown as stored.
fn detail_text(lang: crate::i18n::Lang, detail: &str) -> String {
    if detail == refuge_app::OUTSIDE_COMPARTMENTS {
        return lang.t("audit-outside-compartments");
    }
    if let Some((role, action)) = detail.split_once(": ")
        && let (Ok(role), Ok(action)) =
            (role.parse::<refuge_core::Role>(), action.parse::<Action>())
    {
        return lang.t_args(
            "error-forbidden-role",
            &[("role", lang.word(role)), ("action", lang.word(action))],
        );
    }
    // A user added: the detail is their role.
    if let Ok(role) = detail.parse::<refuge_core::Role>() {
        return lang.word(role);
    }
    logged_text(lang, detail)
}

/// The words the use cases log as a subject or a detail (`audit-logged-…`, the stored
/// English with spaces as dashes), in the reader's language; record codes, user names and
/// anything else as stored.
const LOGGED_WORDS: &[&str] = &[
    "access log",
    "created",
    "database",
    "identity",
    "incidents",
    "locations",
    "names",
    "narrative",
    "narratives",
    "new passphrase from the recovery code",
    "ok",
    "organisation",
    "people",
    "problems found",
    "recovery code",
];

fn logged_text(lang: crate::i18n::Lang, text: &str) -> String {
    if LOGGED_WORDS.contains(&text) {
        lang.t(&format!("audit-logged-{}", text.replace(' ', "-")))
    } else {
        text.to_string()
    }
}

/// Everything the filters match, as CSV (the export is logged).
pub async fn csv(
    State(shared): State<Shared>,
    user: SignedIn,
    Query(filter): Query<AuditFilter>,
) -> PageResult {
    let access = filter.access_filter(0, user.zone)?;
    let mut csv = Vec::new();
    shared
        .app
        .access_log_csv(user.session(), &access, &mut csv)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"access-log.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}
