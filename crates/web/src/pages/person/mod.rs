//! One person: operational facts, the identity and the case notes (sealed unless revealed,
//! which is logged), the actions the role allows (move, flags, hold, readiness, notes) and
//! the timeline.

use crate::Shared;
use crate::extract::{CsrfForm, NoFields, SignedIn};
use crate::layout::{
    Choice, Page, PageResult, after_post, html, options, record_path, word_options,
};
use crate::pages::people::location_codes;
use crate::sessions::lock;
use crate::timeline::change_text;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use refuge_app::{Action, AppError, PeopleQuery, PersonView, allowed};
use refuge_core::{Flag, HoldReason, Need, PersonField, Sex, Stage, Wellbeing};
use std::collections::BTreeMap;

mod forms;
pub use forms::*;

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
    welfare: WelfareSection,
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
    /// The wish form's choice: `country`, `undecided` or `stay`, and the country typed.
    wish_choice: String,
    wish_country: String,
    /// Conflicts merges left about this person (for the roles that exchange).
    conflicts: usize,
}

/// A case note as listed: the text only when revealed.
struct NoteRow {
    id: String,
    heading: String,
    /// What a welfare check-in found ("Welfare check-in: struggling · needs medical care").
    check_in: String,
    text: Option<String>,
    follow_up: String,
    due: bool,
}

/// What was typed into a form, given back with its problem.
#[derive(Default)]
pub struct Echo {
    note: NoteEcho,
    check_in: CheckInEcho,
    /// The correction form's fields (name → value); the form is shown with them.
    correction: Option<BTreeMap<String, String>>,
    merge_into: String,
    /// The problem came from the merge form.
    merge_failed: bool,
    /// What was typed into the household form.
    household_to: String,
    /// What was chosen and typed into the wish form: (choice, country).
    wish: Option<(String, String)>,
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

/// The welfare section: the schedule's lines and the check-in form.
struct WelfareSection {
    /// The next check, how overdue, the last check-in.
    lines: Vec<String>,
    /// The next check is overdue (the lines are shown as an alert).
    overdue: bool,
    /// The form's choices: how the person is, and what they need (ticked).
    wellbeings: Vec<Choice>,
    needs: Vec<Choice>,
    typed: CheckInEcho,
}

/// What was chosen and typed into the check-in form, given back with a problem.
#[derive(Default)]
pub struct CheckInEcho {
    wellbeing: String,
    needs: Vec<String>,
    note: String,
    follow_up: String,
}

/// How many conflicts merges of received bundles left about this person, for the roles that
/// exchange (0 for the others).
async fn conflicts_about(shared: &Shared, user: &SignedIn, code: &str) -> Result<usize, AppError> {
    if !allowed(user.session().role(), Action::Exchange) {
        return Ok(0);
    }
    let conflicts = shared.app.conflicts(user.session()).await?;
    Ok(conflicts
        .iter()
        .filter(|conflict| conflict.record == code)
        .count())
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
    let role = session.role();
    let (correction, correction_sex, correction_birth_year) =
        correction_form(user, &view, echo.correction.as_ref());
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
    let (wish_choice, wish_country) = wish_form(person, echo.wish);
    let conflicts = conflicts_about(shared, user, &person.code).await?;
    html(PersonTemplate {
        welfare: welfare_section(shared, user, person, echo.check_in).await?,
        page: frame(user, &person.code, problem),
        code: person.code.clone(),
        facts: facts(user, &view),
        sealed: match person.purged {
            Some(on) => lang.t_args("identity-purged", &[("on", on.to_string())]),
            None => lang.t_args(
                "identity-sealed",
                &[("fields", lang.words(person.sealed.keys().copied()))],
            ),
        },
        identity: identity_rows(user, &view),
        can_reveal: allowed(role, Action::RevealIdentity) && person.purged.is_none(),
        can_act: allowed(role, Action::MovePeople),
        locations: options(location_codes(shared, user).await?, &view.location_code),
        // Merging is its own form, never a move.
        stages: word_options(
            lang,
            Stage::ALL.iter().copied().filter(|s| *s != Stage::Merged),
            person.stage.as_str(),
        ),
        flags: word_options(lang, Flag::ALL.iter().copied(), ""),
        household_others: household_others(shared, user, &view).await?,
        reasons: word_options(lang, HoldReason::ALL.iter().copied(), ""),
        documents_ready: person.documents_ready,
        screening_done: person.screening_done,
        // The move's default day and the earliest follow-up: the user's own day.
        today: user.zone.local(shared.app.now()).date().to_string(),
        timeline: timeline(shared, user, &view).await?,
        can_history: allowed(role, Action::ViewHistory),
        // Revealing opens the notes too (the same permission, logged by the use case).
        notes: note_rows(shared, user, &person.code, reveal).await?,
        incidents: incident_lines(shared, user, &person.code).await?,
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
        wish_choice,
        wish_country,
        conflicts,
    })
}

/// The wish form's choice and country: what was typed (after a problem), else the record's.
fn wish_form(person: &refuge_core::Person, typed: Option<(String, String)>) -> (String, String) {
    typed.unwrap_or_else(|| match person.wish {
        Some(wish) => (
            wish.word().unwrap_or("country").to_string(),
            wish.country().unwrap_or_default().to_string(),
        ),
        None => ("country".to_string(), String::new()),
    })
}

/// The page frame, saying once (on the page a change came back to) that it was saved.
fn frame(user: &SignedIn, code: &str, problem: String) -> Page {
    let lang = user.lang;
    let mut page = user
        .page(lang.t_args("person-title", &[("code", code.to_string())]))
        .with_problem(problem);
    if std::mem::take(&mut *lock(&user.web.saved)) {
        page.notice = lang.t("saved-change");
    }
    page
}

/// The revealed identity as (field, value) rows; none unless revealed.
fn identity_rows(user: &SignedIn, view: &PersonView) -> Vec<(String, String)> {
    view.identity
        .iter()
        .flatten()
        .map(|(field, value)| (user.lang.word(*field), value.as_str().to_string()))
        .collect()
}

/// How many other members of the household the user can see (the move form asks who moves).
async fn household_others(
    shared: &Shared,
    user: &SignedIn,
    view: &PersonView,
) -> Result<usize, AppError> {
    let query = PeopleQuery {
        household: Some(view.household_code.clone()),
        ..PeopleQuery::default()
    };
    let members = shared.app.list_people(user.session(), &query).await?;
    Ok(members.len().saturating_sub(1))
}

/// The operational facts, as (label, value) rows.
fn facts(user: &SignedIn, view: &PersonView) -> Vec<(String, String)> {
    let lang = user.lang;
    let person = &view.person;
    vec![
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
        (
            lang.t("col-wish"),
            match (person.wish, person.wish_recorded) {
                (Some(wish), Some(on)) => lang.t_args(
                    "wish-said-on",
                    &[("wish", lang.wish(&wish)), ("on", on.to_string())],
                ),
                _ => lang.t("wish-not-asked"),
            },
        ),
    ]
}

/// The history of the person (and of the records merged into them), one line per change
/// with who made it, for the roles that may read the history; empty for the others.
async fn timeline(
    shared: &Shared,
    user: &SignedIn,
    view: &PersonView,
) -> Result<Vec<String>, AppError> {
    let session = user.session();
    let mut timeline = Vec::new();
    if !allowed(session.role(), Action::ViewHistory) {
        return Ok(timeline);
    }
    // With records merged in, each line says which record it is about.
    let several = !view.merged_from.is_empty();
    shared
        .app
        .history(session, Some(&view.person.code), |page| {
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
                    change_text(user.lang, &event.change)
                )
            }));
            Ok(())
        })
        .await?;
    Ok(timeline)
}

/// The correction form (its fields, sex and birth year) for the roles that register people:
/// after a problem, with what was typed; after "reveal", with the record's values; else
/// not shown.
fn correction_form(
    user: &SignedIn,
    view: &PersonView,
    typed: Option<&BTreeMap<String, String>>,
) -> (Option<Vec<CorrectionField>>, String, String) {
    let lang = user.lang;
    let person = &view.person;
    match (typed, &view.identity) {
        _ if !allowed(user.session().role(), Action::RegisterPeople) => {
            (None, String::new(), String::new())
        }
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
    }
}

/// The person's welfare schedule as lines (the next check and why, overdue or not, and the
/// last check-in) and the check-in form, with what was typed.
async fn welfare_section(
    shared: &Shared,
    user: &SignedIn,
    person: &refuge_core::Person,
    typed: CheckInEcho,
) -> Result<WelfareSection, AppError> {
    let lang = user.lang;
    let today = shared.app.today();
    let mut lines = Vec::new();
    let next = shared.app.next_check(person).await?;
    match next {
        Some(next) => {
            lines.push(lang.t_args(
                "welfare-next",
                &[
                    ("date", next.due.to_string()),
                    ("reason", lang.word(next.reason)),
                ],
            ));
            let late = (today - next.due).whole_days();
            if late > 0 {
                lines.push(lang.t_count("welfare-overdue", late.unsigned_abs()));
            }
        }
        None => lines.push(lang.t("welfare-not-scheduled")),
    }
    lines.push(match person.checked_in {
        Some(date) => lang.t_args("welfare-last", &[("date", date.to_string())]),
        None => lang.t("welfare-never"),
    });
    Ok(WelfareSection {
        lines,
        overdue: next.is_some_and(|next| next.due < today),
        wellbeings: word_options(lang, Wellbeing::ALL.iter().copied(), &typed.wellbeing),
        needs: Need::ALL
            .iter()
            .map(|need| Choice {
                value: need.as_str().to_string(),
                label: lang.word(*need),
                selected: typed.needs.iter().any(|ticked| ticked == need.as_str()),
            })
            .collect(),
        typed,
    })
}

/// The case notes, newest first; their texts only when revealed.
async fn note_rows(
    shared: &Shared,
    user: &SignedIn,
    code: &str,
    reveal: bool,
) -> Result<Vec<NoteRow>, AppError> {
    let lang = user.lang;
    let today = shared.app.today();
    Ok(shared
        .app
        .notes(user.session(), code, reveal)
        .await?
        .into_iter()
        .map(|note| NoteRow {
            id: note.id.to_string(),
            heading: format!("{} · {}", note.written, note.author),
            check_in: note.check_in.as_ref().map_or_else(String::new, |check_in| {
                let mut line = lang.t_args(
                    "note-check-in",
                    &[("wellbeing", lang.word(check_in.wellbeing))],
                );
                if !check_in.needs.is_empty() {
                    line.push_str(" · ");
                    line.push_str(&lang.t_args(
                        "note-check-in-needs",
                        &[("needs", lang.words(check_in.needs.iter().copied()))],
                    ));
                }
                line
            }),
            due: note.overdue(today),
            follow_up: match (note.follow_up, note.follow_up_done) {
                (_, Some(done)) => lang.t_args("follow-up-done-on", &[("date", done.to_string())]),
                (Some(date), None) => lang.t_args("follow-up-by", &[("date", date.to_string())]),
                (None, None) => String::new(),
            },
            text: note.text.map(|text| text.as_str().to_string()),
        })
        .collect())
}

/// The incidents the person was involved in, (code, one line) each, for the roles that may
/// see incidents.
async fn incident_lines(
    shared: &Shared,
    user: &SignedIn,
    code: &str,
) -> Result<Option<Vec<(String, String)>>, AppError> {
    let lang = user.lang;
    let session = user.session();
    if !allowed(session.role(), Action::ViewIncidents) {
        return Ok(None);
    }
    let lines = shared
        .app
        .incidents_of(session, code)
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
        .collect();
    Ok(Some(lines))
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
