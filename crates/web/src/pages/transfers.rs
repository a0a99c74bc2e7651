//! Transfer batches: the list, and planning a new one.

use crate::Shared;
use crate::extract::{CsrfForm, SignedIn};
use crate::layout::{
    Cell, Page, PageResult, cell, codes, html, link, parse_date, parse_number, record_path,
    shown_back,
};
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use refuge_app::{Action, BatchRequest, PlanPolicy, allowed};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "transfers.html")]
struct TransfersTemplate {
    page: Page,
    can_plan: bool,
    /// The new batch form's departure date: a week from today.
    default_date: String,
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

async fn page(shared: &Shared, user: &SignedIn, problem: String) -> PageResult {
    let lang = user.lang;
    let batches = shared.app.batches(user.session()).await?;
    let rows = batches
        .iter()
        .map(|batch| {
            vec![
                link(&batch.code, record_path("/transfers", &batch.code)),
                cell(lang.word(batch.status)),
                cell(batch.departure),
                cell(batch.seats),
                cell(batch.manifest.len()),
            ]
        })
        .collect();
    html(TransfersTemplate {
        page: user.titled("transfers-title").with_problem(problem),
        can_plan: allowed(user.session().role(), Action::PlanTransfers),
        default_date: (shared.app.today() + time::Duration::days(7)).to_string(),
        headers: vec![
            lang.t("col-code"),
            lang.t("status"),
            lang.t("departs"),
            lang.t("seats"),
            lang.t("manifest"),
        ],
        rows,
    })
}

pub async fn list(State(shared): State<Shared>, user: SignedIn) -> PageResult {
    page(&shared, &user, String::new()).await
}

#[derive(Deserialize)]
pub struct TransferForm {
    date: String,
    seats: String,
    #[serde(default)]
    origins: String,
    destination: String,
}

pub async fn create(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<TransferForm>,
) -> PageResult {
    let result = async {
        let request = BatchRequest {
            label: String::new(),
            date: parse_date("date", &form.date)?,
            seats: parse_number("seats", &form.seats)?,
            origins: codes(&form.origins),
            destination: None,
        };
        shared
            .app
            .create_batch(
                user.session(),
                &request,
                &form.destination,
                &PlanPolicy::default(),
            )
            .await
    }
    .await;
    match result {
        Ok((batch, _)) => Ok(Redirect::to(&record_path("/transfers", &batch.code)).into_response()),
        Err(error) => shown_back(error, user.lang, |problem| page(&shared, &user, problem)).await,
    }
}
