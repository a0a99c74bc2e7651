//! The person page's forms: move, flags, hold, readiness, case notes and follow-ups,
//! corrections, household, split and merge. Each comes back to the page, saying it was saved
//! or showing the problem beside what was typed.

use super::{CheckInEcho, Echo, NoteEcho, after_change};
use crate::Shared;
use crate::extract::{CsrfForm, NoFields};
use crate::layout::{PageResult, parse_date, parse_field, record_path, shown};
use crate::sessions::lock;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use refuge_app::{Action, AppError, CorrectionRequest, NewCheckIn, Reason};
use refuge_core::{DestinationWish, Flag, HoldReason, Need, PersonField, Stage};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
pub struct MoveForm {
    to: String,
    stage: String,
    #[serde(default)]
    at: String,
    #[serde(default)]
    over_capacity: String,
    /// `household`: the whole household moves; `person` (or nothing): this person only.
    #[serde(default)]
    who: String,
}

pub async fn move_to(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<MoveForm>,
) -> PageResult {
    let result = async {
        let stage: Stage = parse_field("stage", &form.stage)?;
        let at = match form.at.trim() {
            "" => None,
            text => Some(parse_date("date", text)?),
        };
        // The whole household, by its code (every member must be inside the compartments).
        let moving = match form.who.as_str() {
            "household" => {
                shared
                    .app
                    .show_person(user.session(), &code, false)
                    .await?
                    .household_code
            }
            "person" | "" => code.clone(),
            _ => {
                return Err(AppError::invalid("who", Reason::new("household-or-person")));
            }
        };
        shared
            .app
            .move_to(
                user.session(),
                &moving,
                &form.to,
                Some(stage),
                at,
                form.over_capacity == "yes",
            )
            .await
    }
    .await;
    if let Ok(report) = &result {
        // A caseworker may hand people over to another shelter; she then no longer sees
        // them. Say so on her list instead of an error page about their page.
        let still_seen = shared.app.sees_person(user.session(), &code).await?;
        if !still_seen {
            *lock(&user.web.moved_out) = Some((report.moved.join(", "), report.location.clone()));
            return Ok(Redirect::to("/people").into_response());
        }
    }
    after_change(&shared, &user, &code, result, Echo::default()).await
}

#[derive(Deserialize)]
pub struct FlagForm {
    flag: String,
    on: String,
}

pub async fn flag(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<FlagForm>,
) -> PageResult {
    let result = async {
        let flag: Flag = parse_field("flag", &form.flag)?;
        shared
            .app
            .set_flags(user.session(), &code, &[(flag, form.on == "yes")])
            .await
    }
    .await;
    after_change(&shared, &user, &code, result, Echo::default()).await
}

#[derive(Deserialize)]
pub struct HoldForm {
    reason: String,
    action: String,
}

pub async fn hold(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<HoldForm>,
) -> PageResult {
    let result = async {
        let reason = if form.action == "release" {
            None
        } else {
            Some(parse_field::<HoldReason>("reason", &form.reason)?)
        };
        shared.app.set_hold(user.session(), &code, reason).await
    }
    .await;
    after_change(&shared, &user, &code, result, Echo::default()).await
}

#[derive(Deserialize)]
pub struct WishForm {
    /// `country` (then `country` says which), `undecided` or `stay`.
    choice: String,
    #[serde(default)]
    country: String,
    /// `household`: every member of the household; `person` (or nothing): this person.
    #[serde(default)]
    who: String,
}

pub async fn wish(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<WishForm>,
) -> PageResult {
    let result = async {
        let text = match form.choice.as_str() {
            "country" => form.country.as_str(),
            "undecided" | "stay" => form.choice.as_str(),
            _ => return Err(AppError::invalid("choice", Reason::new("wish-choice"))),
        };
        let wish: DestinationWish = text.parse().map_err(|_| {
            AppError::invalid(
                "country",
                Reason::new("not-a-country").with("text", shown(text)),
            )
        })?;
        let whose = match form.who.as_str() {
            "household" => {
                shared
                    .app
                    .show_person(user.session(), &code, false)
                    .await?
                    .household_code
            }
            "person" | "" => code.clone(),
            _ => return Err(AppError::invalid("who", Reason::new("household-or-person"))),
        };
        shared.app.set_wish(user.session(), &whose, wish).await
    }
    .await;
    let echo = Echo {
        wish: Some((form.choice.clone(), form.country.clone())),
        ..Echo::default()
    };
    after_change(&shared, &user, &code, result, echo).await
}

#[derive(Deserialize)]
pub struct ReadyForm {
    #[serde(default)]
    documents: String,
    #[serde(default)]
    screening: String,
}

pub async fn ready(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<ReadyForm>,
) -> PageResult {
    let result = shared
        .app
        .set_ready(
            user.session(),
            &code,
            Some(form.documents == "yes"),
            Some(form.screening == "yes"),
        )
        .await;
    after_change(&shared, &user, &code, result, Echo::default()).await
}

#[derive(Deserialize)]
pub struct NoteForm {
    text: String,
    #[serde(default)]
    follow_up: String,
}

pub async fn add_note(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<NoteForm>,
) -> PageResult {
    let result = async {
        let follow_up = match form.follow_up.trim() {
            "" => None,
            text => Some(parse_date("follow_up", text)?),
        };
        shared
            .app
            .add_note(user.session(), &code, &form.text, follow_up)
            .await
    }
    .await;
    // A problem brings the form back with what was typed.
    let echo = Echo {
        note: NoteEcho {
            text: form.text,
            follow_up: form.follow_up,
        },
        ..Echo::default()
    };
    after_change(&shared, &user, &code, result, echo).await
}

/// The check-in form: how the person is, the needs ticked (`need-medical=yes`), what was
/// said and a follow-up.
#[derive(Deserialize)]
pub struct CheckInForm {
    #[serde(default)]
    wellbeing: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    follow_up: String,
    #[serde(flatten)]
    ticks: BTreeMap<String, String>,
}

pub async fn record_check_in(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<CheckInForm>,
) -> PageResult {
    let needs: Vec<String> = form
        .ticks
        .iter()
        .filter(|(_, value)| *value == "yes")
        .filter_map(|(name, _)| name.strip_prefix("need-").map(String::from))
        .collect();
    let result = async {
        if form.wellbeing.trim().is_empty() {
            return Err(AppError::invalid(
                "wellbeing",
                Reason::new("check-in-needs-wellbeing"),
            ));
        }
        let check_in = NewCheckIn {
            wellbeing: parse_field("wellbeing", &form.wellbeing)?,
            needs: needs
                .iter()
                .map(|need| parse_field::<Need>("needs", need))
                .collect::<Result<_, _>>()?,
            note: form.note.clone(),
            follow_up: match form.follow_up.trim() {
                "" => None,
                text => Some(parse_date("follow_up", text)?),
            },
        };
        shared
            .app
            .record_check_in(user.session(), &code, check_in)
            .await
    }
    .await;
    let echo = Echo {
        check_in: CheckInEcho {
            wellbeing: form.wellbeing,
            needs,
            note: form.note,
            follow_up: form.follow_up,
        },
        ..Echo::default()
    };
    after_change(&shared, &user, &code, result, echo).await
}

pub async fn follow_up_done(
    State(shared): State<Shared>,
    Path((code, note)): Path<(String, String)>,
    CsrfForm(user, NoFields {}): CsrfForm<NoFields>,
) -> PageResult {
    let result = shared
        .app
        .complete_follow_up(user.session(), &code, &note)
        .await;
    after_change(&shared, &user, &code, result, Echo::default()).await
}

/// Every field of the correction form, by name (protected fields, `sex`, `birth_year`).
#[derive(Deserialize)]
pub struct CorrectForm {
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

pub async fn correct(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<CorrectForm>,
) -> PageResult {
    let result = async {
        let mut request = CorrectionRequest::default();
        for (name, value) in &form.fields {
            let value = value.trim();
            match name.as_str() {
                "csrf" => {}
                "sex" if !value.is_empty() => request.sex = Some(parse_field("sex", value)?),
                "birth_year" if !value.is_empty() => {
                    request.birth_year = Some(value.parse().map_err(|_| {
                        AppError::invalid(
                            "birth year",
                            Reason::new("not-a-year").with("text", shown(value)),
                        )
                    })?)
                }
                "sex" | "birth_year" => {}
                field => {
                    let field: PersonField = parse_field("field", field)?;
                    request.identity.insert(field, value.to_string());
                }
            }
        }
        shared
            .app
            .correct_person(user.session(), &code, &request)
            .await
    }
    .await;
    let echo = Echo {
        correction: Some(form.fields),
        ..Echo::default()
    };
    after_change(&shared, &user, &code, result, echo).await
}

#[derive(Deserialize)]
pub struct HouseholdForm {
    /// A household code, or nothing: a household of their own.
    #[serde(default)]
    to: String,
}

pub async fn household(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<HouseholdForm>,
) -> PageResult {
    let result = shared
        .app
        .rehouse(user.session(), &code, Some(form.to.as_str()))
        .await;
    let echo = Echo {
        household_to: form.to,
        ..Echo::default()
    };
    after_change(&shared, &user, &code, result, echo).await
}

#[derive(Deserialize)]
pub struct SplitForm {
    #[serde(default)]
    split: String,
}

pub async fn split(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<SplitForm>,
) -> PageResult {
    let result = async {
        let household = shared
            .app
            .show_person(user.session(), &code, false)
            .await?
            .household_code;
        shared
            .app
            .set_split_allowed(user.session(), &household, form.split == "yes")
            .await
    }
    .await;
    after_change(&shared, &user, &code, result, Echo::default()).await
}

#[derive(Deserialize)]
pub struct MergeForm {
    /// The code of the record to keep.
    into: String,
    /// `yes`: the user checked that both records are the same person.
    #[serde(default)]
    confirm: String,
}

/// Merges this record into another one: it is undone by nothing, so it asks for a
/// confirmation; the page of the kept record follows.
pub async fn merge(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, form): CsrfForm<MergeForm>,
) -> PageResult {
    // A role that may not merge is refused as such, confirmed or not.
    let result = match user.session().require(Action::RegisterPeople) {
        Ok(()) if form.confirm != "yes" => Err(AppError::invalid(
            "confirm",
            Reason::new("confirm-same-person"),
        )),
        Ok(()) => {
            shared
                .app
                .merge_person(user.session(), &code, &form.into)
                .await
        }
        Err(refused) => Err(refused),
    };
    let echo = Echo {
        merge_into: form.into.clone(),
        ..Echo::default()
    };
    match result {
        Ok(kept) => {
            *lock(&user.web.saved) = true;
            Ok(Redirect::to(&record_path("/people", &kept)).into_response())
        }
        // The problem is said beside the merge form too (far down the page on a phone).
        Err(error) => {
            let echo = Echo {
                merge_failed: true,
                ..echo
            };
            after_change(&shared, &user, &code, Err::<(), _>(error), echo).await
        }
    }
}
