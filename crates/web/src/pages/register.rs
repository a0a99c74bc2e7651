//! Registering a person.

use crate::Shared;
use crate::extract::{CsrfForm, SignedIn};
use crate::layout::shown;
use crate::layout::{
    Choice, Page, PageResult, html, options, parse_date, parse_field, record_path, shown_back,
    word_options,
};
use crate::pages::people::compartment_codes;
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use refuge_app::{Action, AppError, NewPerson, Reason};
use refuge_core::{PersonField, Sex, Stage};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "person_new.html")]
struct RegisterTemplate {
    page: Page,
    sexes: Vec<Choice>,
    locations: Vec<Choice>,
    stages: Vec<Choice>,
    form: RegisterEcho,
}

/// Everything typed so far, shown back on a failed form to the same user over the same
/// connection (the page is `Cache-Control: no-store`; nothing of it reaches a log or a URL).
#[derive(Default)]
pub struct RegisterEcho {
    name: String,
    name_romanized: String,
    sex: String,
    birth_year: String,
    since: String,
    household: String,
    origin: String,
    notes: String,
    /// The likely duplicates the last try found (codes, as links to compare); "register
    /// anyway" is offered when there are any.
    duplicates: Vec<String>,
}

async fn page(
    shared: &Shared,
    user: &SignedIn,
    echo: RegisterEcho,
    location: &str,
    stage: &str,
    problem: String,
) -> PageResult {
    html(RegisterTemplate {
        page: user.titled("register").with_problem(problem),
        sexes: word_options(user.lang, Sex::ALL.iter().copied(), &echo.sex),
        locations: options(compartment_codes(shared, user).await?, location),
        stages: word_options(
            user.lang,
            [
                Stage::Sheltered,
                Stage::Detained,
                Stage::Transit,
                Stage::Hiding,
            ],
            stage,
        ),
        form: echo,
    })
}

pub async fn form(State(shared): State<Shared>, user: SignedIn) -> PageResult {
    // The refusal is refuge-app's decision, as for every use case.
    user.session().require(Action::RegisterPeople)?;
    let echo = RegisterEcho {
        // Her own day, not the server's.
        since: user.zone.local(shared.app.now()).date().to_string(),
        ..RegisterEcho::default()
    };
    page(&shared, &user, echo, "", "sheltered", String::new()).await
}

#[derive(Deserialize)]
pub struct RegisterForm {
    name: String,
    #[serde(default)]
    name_romanized: String,
    #[serde(default)]
    sex: String,
    #[serde(default)]
    birth_year: String,
    location: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    household: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    notes: String,
    /// "yes": register although someone alike is registered (after the warning).
    #[serde(default)]
    allow_duplicate: String,
}

impl RegisterForm {
    /// The use case's input, or the first field that is wrong.
    fn new_person(&self) -> Result<NewPerson, AppError> {
        let birth_year = match self.birth_year.trim() {
            "" => None,
            text => Some(text.parse::<i32>().map_err(|_| {
                AppError::invalid(
                    "birth year",
                    Reason::new("not-a-year").with("text", shown(text)),
                )
            })?),
        };
        let since = match self.since.trim() {
            "" => None,
            text => Some(parse_date("since", text)?),
        };
        let stage = match self.stage.as_str() {
            "" => None,
            text => Some(parse_field::<Stage>("stage", text)?),
        };
        let mut identity = BTreeMap::new();
        for (field, value) in [
            (PersonField::Name, &self.name),
            (PersonField::NameRomanized, &self.name_romanized),
            (PersonField::Origin, &self.origin),
            (PersonField::Notes, &self.notes),
        ] {
            if !value.trim().is_empty() {
                identity.insert(field, value.clone());
            }
        }
        Ok(NewPerson {
            household: Some(self.household.trim().to_string()).filter(|code| !code.is_empty()),
            sex: Some(parse_field("sex", &self.sex)?),
            birth_year,
            location: self.location.clone(),
            stage,
            since,
            identity,
            allow_duplicate: self.allow_duplicate == "yes",
            ..NewPerson::default()
        })
    }
}

pub async fn submit(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<RegisterForm>,
) -> PageResult {
    let result = match form.new_person() {
        Ok(new) => shared.app.add_person(user.session(), new).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(person) => Ok(Redirect::to(&record_path("/people", &person.code)).into_response()),
        Err(error) => {
            let duplicates = match &error {
                AppError::LikelyDuplicate { codes } => codes.clone(),
                _ => Vec::new(),
            };
            shown_back(error, user.lang, |problem| {
                let echo = RegisterEcho {
                    name: form.name.clone(),
                    name_romanized: form.name_romanized.clone(),
                    sex: form.sex.clone(),
                    birth_year: form.birth_year.clone(),
                    since: form.since.clone(),
                    household: form.household.clone(),
                    origin: form.origin.clone(),
                    notes: form.notes.clone(),
                    duplicates: duplicates.clone(),
                };
                page(&shared, &user, echo, &form.location, &form.stage, problem)
            })
            .await
        }
    }
}
