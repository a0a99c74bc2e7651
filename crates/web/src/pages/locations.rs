//! Locations the user may see, with beds and people present.

use crate::Shared;
use crate::extract::SignedIn;
use crate::layout::{Cell, Page, PageResult, cell, html};
use askama::Template;
use axum::extract::State;

#[derive(Template)]
#[template(path = "list.html")]
struct LocationsTemplate {
    page: Page,
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

pub async fn list(State(shared): State<Shared>, user: SignedIn) -> PageResult {
    let lang = user.lang;
    let views = shared.app.locations(user.session(), false).await?;
    let rows = views
        .iter()
        .map(|view| {
            vec![
                cell(&view.location.code),
                cell(lang.word(view.location.kind)),
                cell(&view.location.country),
                cell(view.location.capacity),
                cell(view.present),
            ]
        })
        .collect();
    html(LocationsTemplate {
        page: user.titled("locations-title"),
        headers: vec![
            lang.t("col-code"),
            lang.t("col-kind"),
            lang.t("col-country"),
            lang.t("col-beds"),
            lang.t("col-present"),
        ],
        rows,
    })
}
