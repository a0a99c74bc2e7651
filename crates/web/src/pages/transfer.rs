//! One transfer batch: its manifest, status changes, the plan's explanations with pins, and
//! the manifest as CSV.

use crate::Shared;
use crate::extract::{CsrfForm, SignedIn};
use crate::layout::{Cell, Page, PageResult, cell, html, link, parse_field, record_path};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use refuge_app::{Action, Decision, PlanPolicy, allowed};
use refuge_core::{BatchPin, BatchStatus};
use serde::Deserialize;

/// One household's line in the plan's explanation.
pub struct ExplanationRow {
    household: String,
    decision: &'static str,
    reason: String,
}

#[derive(Template)]
#[template(path = "transfer.html")]
struct TransferTemplate {
    page: Page,
    code: String,
    departure: String,
    seats: u32,
    status: String,
    origins: String,
    /// Status buttons the batch can take now: (value, label).
    statuses: Vec<(&'static str, String)>,
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
    plan_summary: Option<String>,
    explanations: Vec<ExplanationRow>,
}

/// Each status a coordinator may move a batch to, with its button's label.
const STATUS_BUTTONS: [(BatchStatus, &str, &str); 5] = [
    (BatchStatus::Confirmed, "confirmed", "confirm"),
    (BatchStatus::Draft, "draft", "unconfirm"),
    (BatchStatus::Departed, "departed", "depart"),
    (BatchStatus::Completed, "completed", "complete"),
    (BatchStatus::Cancelled, "cancelled", "cancel"),
];

pub async fn show(
    State(shared): State<Shared>,
    user: SignedIn,
    Path(code): Path<String>,
) -> PageResult {
    let lang = user.lang;
    let view = shared
        .app
        .show_batch(user.session(), &code, &PlanPolicy::default())
        .await?;
    let batch = &view.batch;
    let statuses = if allowed(user.session().role(), Action::PlanTransfers) {
        STATUS_BUTTONS
            .iter()
            .filter(|(status, _, _)| batch.status.can_become(*status))
            .map(|(_, value, key)| (*value, lang.t(key)))
            .collect()
    } else {
        Vec::new()
    };
    let rows = view
        .manifest
        .iter()
        .map(|(person, household, from)| {
            vec![
                link(person, record_path("/people", person)),
                cell(household),
                cell(from),
            ]
        })
        .collect();
    let plan_summary = view.report.as_ref().map(|report| {
        lang.t_args(
            "plan-summary",
            &[
                ("objective", format!("{:.1}", report.plan.objective)),
                ("gap", format!("{:.1e}", report.plan.gap)),
            ],
        )
    });
    let explanations = view
        .report
        .iter()
        .flat_map(|report| report.plan.explanations.iter())
        .map(|explanation| {
            let (decision, reason) = match &explanation.decision {
                Decision::Selected { reason, .. } => ("selected", reason),
                Decision::Ineligible { reason } => ("ineligible", reason),
                Decision::NotSelected { reason } => ("not selected", reason),
            };
            ExplanationRow {
                household: explanation.household.clone(),
                decision,
                reason: reason.clone(),
            }
        })
        .collect();
    html(TransferTemplate {
        page: user.page(format!("{} {}", lang.t("transfers-title"), batch.code)),
        code: batch.code.clone(),
        departure: batch.departure.to_string(),
        seats: batch.seats,
        status: lang.word(batch.status),
        origins: view.origin_codes.join(", "),
        statuses,
        headers: vec![
            lang.t("col-code"),
            lang.t("col-household"),
            lang.t("col-location"),
        ],
        rows,
        plan_summary,
        explanations,
    })
}

#[derive(Deserialize)]
pub struct PinForm {
    household: String,
    pin: String,
}

pub async fn pin(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<PinForm>,
) -> PageResult {
    let pin = match form.pin.as_str() {
        "in" => Some(BatchPin::In),
        "out" => Some(BatchPin::Out),
        _ => None,
    };
    shared
        .app
        .pin_household(
            user.session(),
            &code,
            &form.household,
            pin,
            &PlanPolicy::default(),
        )
        .await?;
    Ok(Redirect::to(&record_path("/transfers", &code)).into_response())
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

pub async fn set_status(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<StatusForm>,
) -> PageResult {
    let status: BatchStatus = parse_field("status", &form.status)?;
    shared
        .app
        .set_batch_status(user.session(), &code, status)
        .await?;
    Ok(Redirect::to(&record_path("/transfers", &code)).into_response())
}

pub async fn manifest(
    State(shared): State<Shared>,
    user: SignedIn,
    Path(code): Path<String>,
) -> PageResult {
    let mut csv = Vec::new();
    shared
        .app
        .manifest_csv(user.session(), &code, false, &mut csv)
        .await?;
    // The batch exists (the use case found it), so its code is a real one.
    let file = record_path("", &code);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.csv\"", &file[1..]),
            ),
        ],
        csv,
    )
        .into_response())
}
