//! Your account: a new passphrase, and the duress passphrase. Both need the current
//! passphrase typed again, and both end the session (the key wrap changed): the browser goes
//! to the login page with a line saying why.

use crate::Shared;
use crate::extract::{CsrfForm, SignedIn};
use crate::layout::{Page, PageResult, html, shown_back};
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use refuge_app::{AppError, Reason};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountTemplate {
    page: Page,
}

async fn page(user: &SignedIn, problem: String) -> PageResult {
    html(AccountTemplate {
        page: user.titled("account-title").with_problem(problem),
    })
}

pub async fn show(user: SignedIn) -> PageResult {
    page(&user, String::new()).await
}

/// The forms' own addresses, asked for directly (a reload, a language switch after a
/// problem): the account page.
pub async fn to_account() -> Redirect {
    Redirect::to("/account")
}

/// The same new value typed twice, or an error naming the field.
fn typed_twice(field: &str, first: &str, again: &str) -> Result<(), AppError> {
    if first == again {
        Ok(())
    } else {
        Err(AppError::invalid(field, Reason::new("entries-differ")))
    }
}

/// After a change that ended the session: every session of the user ends, and the login
/// page says what happened.
fn ended(shared: &Shared, user: &SignedIn, changed: &str) -> PageResult {
    shared.sessions.end_user(&user.session().user().name);
    Ok(Redirect::to(&format!("/login?changed={changed}")).into_response())
}

#[derive(Deserialize)]
pub struct PassphraseForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    passphrase: String,
    #[serde(default)]
    again: String,
}

pub async fn set_passphrase(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<PassphraseForm>,
) -> PageResult {
    let result = match typed_twice("new passphrase", &form.passphrase, &form.again) {
        Ok(()) => {
            shared
                .app
                .change_own_passphrase(user.session(), &form.current, &form.passphrase)
                .await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => ended(&shared, &user, "passphrase"),
        Err(error) => shown_back(error, user.lang, |problem| page(&user, problem)).await,
    }
}

#[derive(Deserialize)]
pub struct DuressForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    duress: String,
    #[serde(default)]
    again: String,
    /// "remove" takes the duress passphrase away; anything else sets it.
    #[serde(default)]
    action: String,
}

pub async fn set_duress(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<DuressForm>,
) -> PageResult {
    let duress = (form.action != "remove").then_some(form.duress.as_str());
    let result = match duress {
        Some(duress) => typed_twice("duress passphrase", duress, &form.again),
        None => Ok(()),
    };
    let result = match result {
        Ok(()) => {
            shared
                .app
                .set_duress_passphrase(user.session(), &form.current, duress)
                .await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(()) if duress.is_some() => ended(&shared, &user, "duress-set"),
        Ok(()) => ended(&shared, &user, "duress-removed"),
        Err(error) => shown_back(error, user.lang, |problem| page(&user, problem)).await,
    }
}
