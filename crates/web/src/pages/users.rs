//! Users: the list, and for admins adding one, changing one, and setting a passphrase.

use crate::Shared;
use crate::extract::{CsrfForm, SignedIn};
use crate::layout::shown;
use crate::layout::{
    Cell, Choice, Page, PageResult, after_post, cell, codes, html, parse_field, word_options,
};
use crate::sessions::lock;
use askama::Template;
use axum::extract::State;
use refuge_app::{Action, AppError, NewUser, Reason, UserChange, allowed};
use refuge_core::Role;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "users.html")]
struct UsersTemplate {
    page: Page,
    can_manage: bool,
    /// The role choices of the add form (caseworker first chosen) and of the change form.
    roles_new: Vec<Choice>,
    roles: Vec<Choice>,
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

async fn page(shared: &Shared, user: &SignedIn, problem: String) -> PageResult {
    let lang = user.lang;
    let users = shared.app.users(user.session()).await?;
    let location_codes = shared.app.location_codes().await?;
    let waiting = shared.app.users_pending_first_login().await?;
    let rows = users
        .iter()
        .map(|listed| {
            let compartments: Vec<&str> = listed
                .locations
                .iter()
                .filter_map(|id| location_codes.get(id).map(String::as_str))
                .collect();
            vec![
                cell(&listed.name),
                cell(lang.word(listed.role)),
                cell(lang.t(if waiting.contains(&listed.name) {
                    "user-keys-waiting"
                } else if listed.active {
                    "yes"
                } else {
                    "no"
                })),
                cell(compartments.join(", ")),
            ]
        })
        .collect();
    let mut frame = user.titled("users-title").with_problem(problem);
    if std::mem::take(&mut *lock(&user.web.saved)) {
        frame.notice = lang.t("saved-change");
    }
    html(UsersTemplate {
        page: frame,
        can_manage: allowed(user.session().role(), Action::ManageUsers),
        roles_new: word_options(lang, Role::ALL.iter().copied(), "caseworker"),
        roles: word_options(lang, Role::ALL.iter().copied(), ""),
        headers: vec![
            lang.t("login-user"),
            lang.t("role"),
            lang.t("user-active"),
            lang.t("nav-locations"),
        ],
        rows,
    })
}

/// A change answered: on success back to the list, which then says once that it was saved
/// (an admin saw the same form again and could not tell); otherwise the form with the problem.
async fn saved_or_shown_back<T>(
    shared: &Shared,
    user: &SignedIn,
    result: Result<T, AppError>,
) -> PageResult {
    if result.is_ok() {
        *lock(&user.web.saved) = true;
    }
    after_post(result, "/users", user.lang, |problem| {
        page(shared, user, problem)
    })
    .await
}

pub async fn list(State(shared): State<Shared>, user: SignedIn) -> PageResult {
    page(&shared, &user, String::new()).await
}

#[derive(Deserialize)]
pub struct UserForm {
    name: String,
    role: String,
    #[serde(default)]
    locations: String,
    passphrase: String,
}

pub async fn add(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<UserForm>,
) -> PageResult {
    let result = async {
        let role: Role = parse_field("role", &form.role)?;
        shared
            .app
            .add_user(
                user.session(),
                NewUser {
                    name: form.name.trim(),
                    role,
                    location_codes: &codes(&form.locations),
                    passphrase: &form.passphrase,
                },
            )
            .await
    }
    .await;
    saved_or_shown_back(&shared, &user, result).await
}

#[derive(Deserialize)]
pub struct ChangeUserForm {
    name: String,
    /// Empty: unchanged.
    #[serde(default)]
    role: String,
    /// Comma-separated codes; empty: unchanged.
    #[serde(default)]
    locations: String,
    /// yes / no; empty: unchanged.
    #[serde(default)]
    active: String,
}

fn yes_or_no(field: &str, text: &str) -> Result<Option<bool>, AppError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "yes" | "y" | "true" | "1" => Ok(Some(true)),
        "no" | "n" | "false" | "0" => Ok(Some(false)),
        other => Err(AppError::invalid(
            field,
            Reason::new("not-yes-or-no").with("text", shown(other)),
        )),
    }
}

/// Changes a user's role, compartments or whether they may log in (blank fields unchanged).
pub async fn change(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<ChangeUserForm>,
) -> PageResult {
    let result = async {
        let role = match form.role.trim() {
            "" => None,
            text => Some(parse_field::<Role>("role", text)?),
        };
        let active = yes_or_no("active", &form.active)?;
        let locations = codes(&form.locations);
        let changed = shared
            .app
            .change_user(
                user.session(),
                form.name.trim(),
                UserChange {
                    role,
                    location_codes: (!locations.is_empty()).then_some(locations.as_slice()),
                    active,
                },
            )
            .await?;
        // Their sessions would stop at their next request; end them (and drop their keys) now.
        shared.sessions.end_user(&changed.name);
        Ok(changed)
    }
    .await;
    saved_or_shown_back(&shared, &user, result).await
}

#[derive(Deserialize)]
pub struct PassphraseForm {
    name: String,
    passphrase: String,
}

/// Sets a user's passphrase: the data key is wrapped again under the new one.
pub async fn set_passphrase(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<PassphraseForm>,
) -> PageResult {
    let name = form.name.trim();
    let result = shared
        .app
        .reset_passphrase(user.session(), name, &form.passphrase)
        .await;
    if result.is_ok() {
        shared.sessions.end_user(name);
    }
    saved_or_shown_back(&shared, &user, result).await
}
