//! API tokens: the list, creating one (shown once) and revoking one.

use crate::Shared;
use crate::extract::{CsrfForm, SignedIn};
use crate::layout::{Cell, Page, PageResult, after_post, cell, html, shown_back};
use askama::Template;
use axum::extract::State;
use refuge_core::UserId;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensTemplate {
    page: Page,
    /// A new token's text, shown on this response only.
    created: String,
    can_revoke: bool,
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

/// The token list and the form to create one; `created` is a new token's text.
async fn page(shared: &Shared, user: &SignedIn, created: String, problem: String) -> PageResult {
    let lang = user.lang;
    let me = user.session().user();
    let tokens = shared.app.tokens(user.session()).await?;
    let names: HashMap<UserId, String> = if tokens.iter().any(|token| token.user != me.id) {
        shared
            .app
            .users(user.session())
            .await?
            .into_iter()
            .map(|listed| (listed.id, listed.name))
            .collect()
    } else {
        std::iter::once((me.id, me.name.clone())).collect()
    };
    let rows = tokens
        .iter()
        .map(|token| {
            let status = match &token.revoked {
                Some(at) => format!("{} {}", lang.t("token-revoked"), user.zone.show_text(at)),
                None => lang.t("token-active"),
            };
            vec![
                cell(&token.id),
                cell(names.get(&token.user).map_or("?", String::as_str)),
                // Another user's label is sealed under their own key.
                cell(if token.user != me.id && token.label.is_empty() {
                    lang.t("token-label-theirs")
                } else {
                    token.label.clone()
                }),
                cell(user.zone.show_text(&token.created)),
                cell(status),
            ]
        })
        .collect();
    html(TokensTemplate {
        page: user.titled("tokens-title").with_problem(problem),
        created,
        can_revoke: tokens.iter().any(|token| token.revoked.is_none()),
        headers: vec![
            "ID".into(),
            lang.t("login-user"),
            lang.t("token-label"),
            lang.t("token-created"),
            lang.t("token-status"),
        ],
        rows,
    })
}

pub async fn list(State(shared): State<Shared>, user: SignedIn) -> PageResult {
    page(&shared, &user, String::new(), String::new()).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    label: String,
}

pub async fn create(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<TokenForm>,
) -> PageResult {
    match shared.app.create_token(user.session(), &form.label).await {
        // Shown on this response only (no redirect: the text is in no URL and no history).
        Ok((_, text)) => page(&shared, &user, text, String::new()).await,
        Err(error) => {
            shown_back(error, user.lang, |problem| {
                page(&shared, &user, String::new(), problem)
            })
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    id: String,
}

pub async fn revoke(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<RevokeForm>,
) -> PageResult {
    let result = shared.app.revoke_token(user.session(), &form.id).await;
    after_post(result, "/tokens", user.lang, |problem| {
        page(&shared, &user, String::new(), problem)
    })
    .await
}
