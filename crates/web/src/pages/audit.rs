//! The access log, newest first.

use crate::Shared;
use crate::extract::SignedIn;
use crate::layout::{Cell, Page, PageResult, cell, html};
use askama::Template;
use axum::extract::State;
use refuge_app::AccessAction;

#[derive(Template)]
#[template(path = "list.html")]
struct AuditTemplate {
    page: Page,
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

/// The newest entries shown.
const SHOWN: usize = 500;

pub async fn list(State(shared): State<Shared>, user: SignedIn) -> PageResult {
    let lang = user.lang;
    let mut entries = shared.app.access_log(user.session(), None).await?;
    entries.reverse();
    entries.truncate(SHOWN);
    let rows = entries
        .iter()
        .map(|entry| {
            vec![
                cell(entry.seq),
                cell(user.zone.show_text(&entry.at)),
                cell(&entry.actor),
                // An action of an older release, if any, is shown as stored.
                cell(
                    entry
                        .action
                        .parse::<AccessAction>()
                        .map_or(entry.action.clone(), |action| lang.word(action)),
                ),
                cell(&entry.subject),
                cell(&entry.detail),
            ]
        })
        .collect();
    html(AuditTemplate {
        page: user.titled("audit-title"),
        headers: vec![
            "#".into(),
            lang.t("date"),
            lang.t("login-user"),
            lang.t("col-action"),
            lang.t("col-subject"),
            lang.t("col-detail"),
        ],
        rows,
    })
}
