//! One transfer batch: its manifest, status changes, the plan's explanations with pins, and
//! the manifest as CSV.

use crate::Shared;
use crate::extract::{CsrfForm, SignedIn};
use crate::i18n::Lang;
use crate::layout::{Cell, Page, PageResult, cell, html, link, parse_field, record_path};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use refuge_app::{Action, BatchRoom, Blocker, Decision, PlanPolicy, PlanReport, Why, allowed};
use refuge_core::{BatchPin, BatchStatus};
use serde::Deserialize;

/// One household's line in the plan's explanation.
pub struct ExplanationRow {
    household: String,
    decision: String,
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
    plan_summary: Option<Vec<String>>,
    explanations: Vec<ExplanationRow>,
}

/// What the plan does, for a coordinator: seats filled of seats offered, who is chosen, how
/// many are not eligible and why (counted by reason), and whether the choice is proven best.
fn plan_summary(lang: Lang, report: &PlanReport) -> Vec<String> {
    let plan = &report.plan;
    let offered: i64 = plan.batches.iter().map(|batch| batch.seats).sum();
    let filled: i64 = plan.batches.iter().map(|batch| batch.used).sum();
    let chosen: Vec<i64> = plan
        .explanations
        .iter()
        .filter(|explanation| matches!(explanation.decision, Decision::Selected { .. }))
        .map(|explanation| explanation.size)
        .collect();
    let number = |value: i64| value.max(0).unsigned_abs();
    let mut lines = vec![lang.t_numbers(
        "plan-summary",
        &[
            ("filled", number(filled)),
            ("offered", number(offered)),
            ("households", chosen.len() as u64),
            ("people", number(chosen.iter().sum())),
        ],
    )];
    // Households not eligible, counted once per reason they have.
    let mut by_reason: [(u64, &str); 6] = [
        (0, "plan-count-not-waiting"),
        (0, "plan-count-on-hold"),
        (0, "plan-count-not-ready"),
        (0, "plan-count-on-batch"),
        (0, "plan-count-apart"),
        (0, "plan-count-wants-elsewhere"),
    ];
    let mut ineligible = 0;
    let mut not_chosen = 0;
    for explanation in &plan.explanations {
        match explanation.decision {
            Decision::Ineligible { .. } => ineligible += 1,
            Decision::NotSelected { .. } => not_chosen += 1,
            Decision::Selected { .. } => continue,
        }
        let Some(unit) = report.units.get(&explanation.household) else {
            continue;
        };
        let mut seen = [false; 6];
        for blocker in &unit.blockers {
            let slot = match blocker {
                Blocker::NotWaiting { .. } => 0,
                Blocker::OnHold { .. } => 1,
                Blocker::NotReady { .. } => 2,
                Blocker::OnBatch { .. } => 3,
                Blocker::ApartLocations => 4,
                Blocker::WantsElsewhere { .. } => 5,
            };
            seen[slot] = true;
        }
        for (slot, counted) in seen.iter().enumerate() {
            if *counted {
                by_reason[slot].0 += 1;
            }
        }
    }
    if ineligible > 0 {
        let reasons: Vec<String> = by_reason
            .iter()
            .filter(|(count, _)| *count > 0)
            .map(|(count, key)| lang.t_count(key, *count))
            .collect();
        lines.push(lang.t_numbers_and(
            "plan-ineligible",
            &[("count", ineligible)],
            &[("reasons", reasons.join(", "))],
        ));
    }
    if not_chosen > 0 {
        lines.push(lang.t_count("plan-not-chosen", not_chosen));
    }
    lines.push(if plan.optimal {
        lang.t("plan-proven")
    } else {
        lang.t_args(
            "plan-gap",
            &[("percent", format!("{:.2}", plan.gap * 100.0))],
        )
    });
    lines
}

/// One household's reason in the reader's language.
fn why_text(lang: Lang, why: &Why, blockers: &[Blocker]) -> String {
    match why {
        Why::Chosen {
            batch,
            pinned,
            priority,
            ..
        } => lang.t_args(
            if *pinned {
                "why-chosen-pinned"
            } else {
                "why-chosen"
            },
            &[
                ("batch", batch.clone()),
                ("priority", format!("{:.2}", priority.total)),
            ],
        ),
        Why::Ineligible { reason } if blockers.is_empty() => reason.clone(),
        Why::Ineligible { .. } => blockers
            .iter()
            .map(|blocker| blocker_text(lang, blocker))
            .collect::<Vec<_>>()
            .join("; "),
        Why::PinnedOut => lang.t("why-pinned-out"),
        Why::NoPickup { origin } => lang.t_args("why-no-pickup", &[("origin", origin.clone())]),
        Why::TooLarge { size, origin } => lang.t_args(
            "why-too-large",
            &[("size", size.to_string()), ("origin", origin.clone())],
        ),
        Why::Outranked {
            priority,
            size,
            batches,
        } => {
            let mut parts = vec![lang.t_numbers_and(
                "why-outranked",
                &[("size", size.unsigned_abs())],
                &[("priority", format!("{priority:.2}"))],
            )];
            parts.extend(batches.iter().map(|room| room_text(lang, room)));
            parts.join("; ")
        }
        Why::NotPlaced => lang.t("why-not-placed"),
    }
}

fn room_text(lang: Lang, room: &BatchRoom) -> String {
    let mut args = vec![
        ("batch", room.batch.clone()),
        ("spare", room.spare.to_string()),
        ("seats", room.seats.to_string()),
    ];
    let key = match (room.share_used_up, room.lowest_selected) {
        (true, _) => "why-room-share",
        (false, Some(cutoff)) => {
            args.push(("cutoff", format!("{cutoff:.2}")));
            "why-room"
        }
        (false, None) => "why-room-empty",
    };
    lang.t_args(key, &args)
}

fn blocker_text(lang: Lang, blocker: &Blocker) -> String {
    match blocker {
        Blocker::NotWaiting { person, stage } => lang.t_args(
            "blocker-not-waiting",
            &[("person", person.clone()), ("stage", lang.word(*stage))],
        ),
        Blocker::OnHold { person, reason } => lang.t_args(
            "blocker-on-hold",
            &[("person", person.clone()), ("reason", lang.word(*reason))],
        ),
        Blocker::NotReady { person } => {
            lang.t_args("blocker-not-ready", &[("person", person.clone())])
        }
        Blocker::OnBatch { person, batch } => lang.t_args(
            "blocker-on-batch",
            &[("person", person.clone()), ("batch", batch.clone())],
        ),
        Blocker::ApartLocations => lang.t("blocker-apart"),
        Blocker::WantsElsewhere {
            person,
            wish,
            destination,
        } => match wish.country() {
            Some(_) => lang.t_args(
                "blocker-wants-elsewhere",
                &[
                    ("person", person.clone()),
                    ("wish", lang.wish(wish)),
                    ("destination", destination.clone().unwrap_or_default()),
                ],
            ),
            None => lang.t_args(
                "blocker-wish",
                &[("person", person.clone()), ("wish", lang.wish(wish))],
            ),
        },
    }
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
    let plan_summary = view
        .report
        .as_ref()
        .map(|report| plan_summary(lang, report));
    let explanations = view
        .report
        .iter()
        .flat_map(|report| {
            report.plan.explanations.iter().map(|explanation| {
                let blockers = report
                    .units
                    .get(&explanation.household)
                    .map_or(&[][..], |unit| unit.blockers.as_slice());
                ExplanationRow {
                    household: explanation.household.clone(),
                    decision: lang.t(match &explanation.decision {
                        Decision::Selected { .. } => "plan-decision-selected",
                        Decision::Ineligible { .. } => "plan-decision-ineligible",
                        Decision::NotSelected { .. } => "plan-decision-not-selected",
                    }),
                    reason: why_text(lang, &explanation.why, blockers),
                }
            })
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
