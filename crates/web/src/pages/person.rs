//! One person: operational facts, the identity and the case notes (sealed unless revealed,
//! which is logged), the actions the role allows (move, flags, hold, readiness, notes) and
//! the timeline.

use crate::Shared;
use crate::extract::{CsrfForm, NoFields, SignedIn};
use crate::layout::{
    Choice, Page, PageResult, after_post, html, options, parse_date, parse_field, record_path,
    word_options,
};
use crate::pages::people::location_codes;
use crate::sessions::lock;
use crate::timeline::change_text;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use refuge_app::{Action, AppError, CorrectionRequest, PeopleQuery, allowed};
use refuge_core::{Flag, HoldReason, PersonField, Sex, Stage};
use serde::Deserialize;
use std::collections::BTreeMap;

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
    locations: Vec<Choice>,
    stages: Vec<Choice>,
    flags: Vec<Choice>,
    /// Other members of the household the user can see: the move form asks who moves.
    household_others: usize,
    reasons: Vec<Choice>,
    documents_ready: bool,
    screening_done: bool,
    today: String,
    timeline: Vec<String>,
    /// The role may read the history (the timeline is shown).
    can_history: bool,
    notes: Vec<NoteRow>,
    /// The role registers people (and so changes households).
    can_register: bool,
    split_allowed: bool,
    /// The correction form, when shown.
    correction: Option<Vec<CorrectionField>>,
    sexes: Vec<Choice>,
    birth_year: String,
    /// The incidents the person was involved in: (code, one line), when the role may see
    /// incidents.
    incidents: Option<Vec<(String, String)>>,
    can_write_notes: bool,
    note: NoteEcho,
    /// Other records likely of the same person (codes), offered for a merge.
    duplicates: Vec<String>,
    /// What was typed into the merge form, given back with its problem.
    merge_into: String,
    /// The merge form's problem, said beside it.
    merge_problem: String,
    /// The codes of the records merged into this one.
    merged_from: Vec<String>,
    /// What was typed into the household form, given back with its problem.
    household_to: String,
}

/// A case note as listed: the text only when revealed.
struct NoteRow {
    id: String,
    heading: String,
    text: Option<String>,
    follow_up: String,
    due: bool,
}

/// What was typed into a form, given back with its problem.
#[derive(Default)]
pub struct Echo {
    note: NoteEcho,
    /// The correction form's fields (name → value); the form is shown with them.
    correction: Option<BTreeMap<String, String>>,
    merge_into: String,
    /// The problem came from the merge form.
    merge_failed: bool,
    /// What was typed into the household form.
    household_to: String,
}

/// One field of the correction form.
struct CorrectionField {
    name: &'static str,
    label: String,
    value: String,
    multiline: bool,
}

/// What was typed into the note form, given back with a problem (to the same user over the
/// same connection; the page is `no-store`).
#[derive(Default)]
pub struct NoteEcho {
    text: String,
    follow_up: String,
}

/// The person page; `reveal` opens the identity (the use case checks and logs it).
async fn page(
    shared: &Shared,
    user: &SignedIn,
    code: &str,
    reveal: bool,
    problem: String,
    echo: Echo,
) -> PageResult {
    let lang = user.lang;
    let session = user.session();
    let view = shared.app.show_person(session, code, reveal).await?;
    if view.reached_from.is_some() && problem.is_empty() {
        // A merged duplicate's code leads to the record that was kept.
        return Ok(Redirect::to(&record_path("/people", &view.person.code)).into_response());
    }
    let person = &view.person;
    let facts = vec![
        (lang.t("col-household"), view.household_code.clone()),
        (lang.t("col-sex"), lang.word(person.sex)),
        (
            lang.t("col-born"),
            person
                .birth_year
                .map_or("-".into(), |year| year.to_string()),
        ),
        (lang.t("col-stage"), lang.word(person.stage)),
        (lang.t("col-location"), view.location_code.clone()),
        (lang.t("here-since"), person.since.to_string()),
        (
            lang.t("col-waiting-since"),
            match view.waiting() {
                Some((since, days)) => format!(
                    "{since} ({})",
                    lang.t_count("days-waited", days.unsigned_abs())
                ),
                None => lang.t("not-waiting"),
            },
        ),
        (
            lang.t("col-flags"),
            lang.words(person.flags.iter().copied()),
        ),
        (
            lang.t("hold"),
            person.hold.map_or("-".into(), |reason| lang.word(reason)),
        ),
    ];
    let household_others = shared
        .app
        .list_people(
            session,
            &PeopleQuery {
                household: Some(view.household_code.clone()),
                ..PeopleQuery::default()
            },
        )
        .await?
        .len()
        .saturating_sub(1);
    let mut timeline = Vec::new();
    if allowed(session.role(), Action::ViewHistory) {
        shared
            .app
            .history(session, Some(&person.code), |page| {
                // Who did each change, for the roles that may read the history.
                // With records merged in, each line says which record it is about.
                let several = !view.merged_from.is_empty();
                timeline.extend(page.into_iter().map(|event| {
                    let record = if several {
                        format!("{} · ", event.subject)
                    } else {
                        String::new()
                    };
                    format!(
                        "{} · {record}{}: {}",
                        user.zone.show(event.recorded),
                        event.actor,
                        change_text(lang, &event.change)
                    )
                }));
                Ok(())
            })
            .await?;
    }
    let role = session.role();
    let today = shared.app.today();
    // The correction form: after "reveal", with the record's values; after a problem, with
    // what was typed.
    let (correction, correction_sex, correction_birth_year) =
        match (&echo.correction, &view.identity) {
            _ if !allowed(role, Action::RegisterPeople) => (None, String::new(), String::new()),
            (Some(typed), _) => (
                Some(correction_fields(lang, |field| {
                    typed.get(field.as_str()).cloned()
                })),
                typed.get("sex").cloned().unwrap_or_default(),
                typed.get("birth_year").cloned().unwrap_or_default(),
            ),
            (None, Some(identity)) => (
                Some(correction_fields(lang, |field| {
                    identity
                        .iter()
                        .find(|(known, _)| *known == field)
                        .map(|(_, value)| value.as_str().to_string())
                })),
                person.sex.as_str().to_string(),
                person
                    .birth_year
                    .map(|year| year.to_string())
                    .unwrap_or_default(),
            ),
            (None, None) => (None, String::new(), String::new()),
        };
    // Revealing opens the notes too (the same permission, logged by the use case).
    let notes = shared
        .app
        .notes(session, &person.code, reveal)
        .await?
        .into_iter()
        .map(|note| NoteRow {
            id: note.id.to_string(),
            heading: format!("{} · {}", note.written, note.author),
            due: note.overdue(today),
            follow_up: match (note.follow_up, note.follow_up_done) {
                (_, Some(done)) => lang.t_args("follow-up-done-on", &[("date", done.to_string())]),
                (Some(date), None) => lang.t_args("follow-up-by", &[("date", date.to_string())]),
                (None, None) => String::new(),
            },
            text: note.text.map(|text| text.as_str().to_string()),
        })
        .collect();
    let incidents = if allowed(role, Action::ViewIncidents) {
        Some(
            shared
                .app
                .incidents_of(session, &person.code)
                .await?
                .into_iter()
                .map(|view| {
                    let incident = &view.incident;
                    (
                        incident.code.clone(),
                        format!(
                            "{} · {} · {} · {} {} · {}",
                            incident.occurred,
                            view.location_code,
                            lang.word(incident.kind),
                            lang.t("severity"),
                            incident.severity,
                            lang.word(incident.status)
                        ),
                    )
                })
                .collect(),
        )
    } else {
        None
    };
    let merge_problem = if echo.merge_failed {
        problem.clone()
    } else {
        String::new()
    };
    let duplicates = if allowed(role, Action::RegisterPeople) {
        shared
            .app
            .likely_duplicates_of(session, &person.code)
            .await?
    } else {
        Vec::new()
    };
    html(PersonTemplate {
        page: {
            let mut page = user
                .page(lang.t_args("person-title", &[("code", person.code.clone())]))
                .with_problem(problem);
            // Said once, on the page a change came back to.
            if std::mem::take(&mut *lock(&user.web.saved)) {
                page.notice = lang.t("saved-change");
            }
            page
        },
        code: person.code.clone(),
        facts,
        sealed: match person.purged {
            Some(on) => lang.t_args("identity-purged", &[("on", on.to_string())]),
            None => lang.t_args(
                "identity-sealed",
                &[("fields", lang.words(person.sealed.keys().copied()))],
            ),
        },
        identity: view
            .identity
            .as_ref()
            .map(|fields| {
                fields
                    .iter()
                    .map(|(field, value)| (lang.word(*field), value.as_str().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        can_reveal: allowed(role, Action::RevealIdentity) && person.purged.is_none(),
        can_act: allowed(role, Action::MovePeople),
        locations: options(location_codes(shared, user).await?, &view.location_code),
        // Merging is its own form, never a move.
        stages: word_options(
            lang,
            Stage::ALL
                .iter()
                .copied()
                .filter(|stage| *stage != Stage::Merged),
            person.stage.as_str(),
        ),
        flags: word_options(lang, Flag::ALL.iter().copied(), ""),
        household_others,
        reasons: word_options(lang, HoldReason::ALL.iter().copied(), ""),
        documents_ready: person.documents_ready,
        screening_done: person.screening_done,
        // The move's default day and the earliest follow-up: the user's own day.
        today: user.zone.local(shared.app.now()).date().to_string(),
        timeline,
        can_history: allowed(role, Action::ViewHistory),
        notes,
        incidents,
        can_register: allowed(role, Action::RegisterPeople),
        split_allowed: shared
            .app
            .household_split_allowed(session, &view.household_code)
            .await?,
        can_write_notes: allowed(role, Action::WriteNotes) && person.purged.is_none(),
        note: echo.note,
        correction,
        sexes: word_options(lang, Sex::ALL.iter().copied(), &correction_sex),
        birth_year: correction_birth_year,
        duplicates,
        merge_into: echo.merge_into,
        merge_problem,
        merged_from: view.merged_from.clone(),
        household_to: echo.household_to,
    })
}

pub async fn show(
    State(shared): State<Shared>,
    user: SignedIn,
    Path(code): Path<String>,
) -> PageResult {
    page(&shared, &user, &code, false, String::new(), Echo::default()).await
}

pub async fn reveal(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    CsrfForm(user, NoFields {}): CsrfForm<NoFields>,
) -> PageResult {
    page(&shared, &user, &code, true, String::new(), Echo::default()).await
}

/// After a change to a person: back to their page, which says it was saved, or the page
/// again with the problem and what was typed.
async fn after_change<T>(
    shared: &Shared,
    user: &SignedIn,
    code: &str,
    result: Result<T, AppError>,
    echo: Echo,
) -> PageResult {
    if result.is_ok() {
        *lock(&user.web.saved) = true;
    }
    after_post(
        result,
        &record_path("/people", code),
        user.lang,
        |problem| page(shared, user, code, false, problem, echo),
    )
    .await
}

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
                return Err(AppError::Invalid {
                    field: "who".into(),
                    reason: "choose the whole household or only this person".into(),
                });
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

/// The correction form's protected fields, each with its value.
fn correction_fields(
    lang: crate::i18n::Lang,
    value_of: impl Fn(PersonField) -> Option<String>,
) -> Vec<CorrectionField> {
    PersonField::ALL
        .iter()
        .map(|field| CorrectionField {
            name: field.as_str(),
            label: lang.word(*field),
            value: value_of(*field).unwrap_or_default(),
            multiline: *field == PersonField::Notes,
        })
        .collect()
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
                    request.birth_year = Some(value.parse().map_err(|_| AppError::Invalid {
                        field: "birth year".into(),
                        reason: format!(
                            "'{}' is not a year (four digits, like 1990)",
                            value.chars().take(8).collect::<String>()
                        ),
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
        Ok(()) if form.confirm != "yes" => Err(AppError::Invalid {
            field: "confirm".into(),
            reason: "tick the box to confirm that both records are the same person".into(),
        }),
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
