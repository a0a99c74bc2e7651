//! Exchange with other installations, for admins and coordinators: this installation's
//! device fingerprint, its peers, and the conflicts merges left (docs/exchange.md). Bundles
//! are written and merged with the command line (`refuge bundle export`, `bundle import`).

use crate::Shared;
use crate::extract::SignedIn;
use crate::layout::{Cell, Page, PageResult, cell, html, link};
use crate::timeline::change_text;
use askama::Template;
use axum::extract::State;
use refuge_app::{Conflict, ConflictSide};
use refuge_core::CodeKind;

#[derive(Template)]
#[template(path = "exchange.html")]
struct ExchangeTemplate {
    page: Page,
    fingerprint: String,
    peer_headers: Vec<String>,
    peers: Vec<Vec<Cell>>,
    conflict_count: String,
    conflict_headers: Vec<String>,
    conflicts: Vec<Vec<Cell>>,
}

pub async fn show(State(shared): State<Shared>, user: SignedIn) -> PageResult {
    let lang = user.lang;
    let session = user.session();
    let identity = shared.app.node_identity(session).await?;
    let peers = shared.app.peers(session).await?;
    let conflicts = shared.app.conflicts(session).await?;
    let peer_rows = peers
        .iter()
        .map(|peer| {
            vec![
                cell(&peer.name),
                cell(&peer.fingerprint),
                cell(peer.added),
                cell(match peer.removed {
                    Some(on) => lang.t_args("peer-removed-on", &[("on", on.to_string())]),
                    None => lang.t("peer-active"),
                }),
                cell(peer.sent),
                cell(peer.received),
            ]
        })
        .collect();
    let conflict_rows = conflict_rows(&user, &conflicts);
    html(ExchangeTemplate {
        page: user.titled("exchange-title"),
        fingerprint: identity.fingerprint,
        peer_headers: vec![
            lang.t("peer-name"),
            lang.t("peer-fingerprint"),
            lang.t("peer-added"),
            lang.t("peer-status"),
            lang.t("peer-sent"),
            lang.t("peer-received"),
        ],
        peers: peer_rows,
        conflict_count: lang.t_count("conflict-count", conflicts.len() as u64),
        conflict_headers: vec![
            lang.t("conflict-record"),
            lang.t("conflict-field"),
            lang.t("conflict-shown"),
            lang.t("conflict-other"),
        ],
        conflicts: conflict_rows,
    })
}

/// A conflict a row: the record (a person links to their page), what, the value shown and the
/// other one, each as the history says it, with where and when it was written.
fn conflict_rows(user: &SignedIn, conflicts: &[Conflict]) -> Vec<Vec<Cell>> {
    let lang = user.lang;
    let side_text = |side: &ConflictSide| {
        let node = if side.node == "here" {
            lang.t("conflict-here")
        } else {
            side.node.clone()
        };
        format!(
            "{} ({node}, {})",
            change_text(lang, &side.view.change),
            user.zone.show(side.at)
        )
    };
    conflicts
        .iter()
        .map(|conflict: &Conflict| {
            let record = if CodeKind::of_code(&conflict.record) == Some(CodeKind::Person) {
                link(&conflict.record, format!("/people/{}", conflict.record))
            } else {
                cell(&conflict.record)
            };
            let field = conflict
                .field
                .split_once(':')
                .map_or(conflict.field.as_str(), |(field, _)| field);
            vec![
                record,
                cell(lang.t(&format!("conflict-field-{field}"))),
                cell(
                    conflict
                        .shown
                        .as_ref()
                        .map_or_else(|| lang.t("conflict-not-applied"), side_text),
                ),
                cell(side_text(&conflict.other)),
            ]
        })
        .collect()
}
