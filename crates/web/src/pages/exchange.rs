//! Exchange with other installations, for admins and coordinators (docs/exchange.md): this
//! installation's device fingerprint and its peers; a bundle written for a peer (a download)
//! and one received checked or merged (an upload); the conflicts merges left, each settled
//! here.

use crate::Shared;
use crate::extract::{CsrfForm, CsrfUpload, SignedIn};
use crate::layout::{
    Cell, Choice, Page, PageResult, cell, codes, html, link, options, parse_date, parse_field,
    parse_number, shown_back,
};
use crate::timeline::change_text;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use refuge_app::{
    Action, AppError, BundleRequest, Conflict, ConflictSide, DEFAULT_EXPIRY_DAYS, MergeReport,
    Reason, allowed,
};
use refuge_core::{CodeKind, Kept};
use serde::Deserialize;

/// A conflict as the page lists it: its cells, and what settling it posts.
struct ConflictRow {
    cells: Vec<Cell>,
    /// The event of the value not shown, which names the conflict.
    event: String,
    /// False for a contradiction: the event not shown cannot be kept.
    can_keep_other: bool,
}

#[derive(Template)]
#[template(path = "exchange.html")]
struct ExchangeTemplate {
    page: Page,
    fingerprint: String,
    peer_headers: Vec<String>,
    peers: Vec<Vec<Cell>>,
    /// The export form: the peers a bundle can go to, and what was typed.
    recipients: Vec<Choice>,
    export: ExportForm,
    can_reveal: bool,
    /// What the last upload held and did, line by line.
    report: Vec<String>,
    conflict_count: String,
    conflict_headers: Vec<String>,
    conflicts: Vec<ConflictRow>,
}

/// The export form as typed: shown back as it was when something in it is wrong.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    people: String,
    #[serde(default)]
    households: String,
    #[serde(default)]
    locations: String,
    #[serde(default)]
    batches: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    reveal: String,
    #[serde(default)]
    expires_in: String,
}

/// What the page shows besides its lists.
#[derive(Default)]
struct Shown {
    export: ExportForm,
    problem: String,
    notice: String,
    report: Vec<String>,
}

async fn page(shared: &Shared, user: &SignedIn, shown: Shown) -> PageResult {
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
    let recipients = options(
        peers
            .iter()
            .filter(|peer| peer.removed.is_none())
            .map(|peer| peer.name.clone()),
        &shown.export.to,
    );
    let mut export = shown.export;
    if export.expires_in.is_empty() {
        export.expires_in = DEFAULT_EXPIRY_DAYS.to_string();
    }
    let mut page = user.titled("exchange-title").with_problem(shown.problem);
    page.notice = shown.notice;
    html(ExchangeTemplate {
        page,
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
        recipients,
        export,
        can_reveal: allowed(session.role(), Action::RevealIdentity),
        report: shown.report,
        conflict_count: lang.t_count("conflict-count", conflicts.len() as u64),
        conflict_headers: vec![
            lang.t("conflict-record"),
            lang.t("conflict-field"),
            lang.t("conflict-shown"),
            lang.t("conflict-other"),
            lang.t("conflict-settle"),
        ],
        conflicts: conflict_rows(user, &conflicts),
    })
}

/// A failed settling or upload: the page again, the problem above it.
async fn shown_with_problem(shared: &Shared, user: &SignedIn, error: AppError) -> PageResult {
    shown_back(error, user.lang, |problem| {
        page(
            shared,
            user,
            Shown {
                problem,
                ..Shown::default()
            },
        )
    })
    .await
}

#[derive(Deserialize)]
pub struct ShowQuery {
    /// `shown` or `other`: a conflict was just settled so, said above the page.
    #[serde(default)]
    settled: String,
}

pub async fn show(
    State(shared): State<Shared>,
    user: SignedIn,
    Query(query): Query<ShowQuery>,
) -> PageResult {
    let notice = match query.settled.as_str() {
        "shown" => user.lang.t("conflict-settled-shown"),
        "other" => user.lang.t("conflict-settled-other"),
        _ => String::new(),
    };
    page(
        &shared,
        &user,
        Shown {
            notice,
            ..Shown::default()
        },
    )
    .await
}

/// A conflict a row: the record (a person links to their page), what, the value shown and the
/// other one, each as the history says it, with where and when it was written.
fn conflict_rows(user: &SignedIn, conflicts: &[Conflict]) -> Vec<ConflictRow> {
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
            ConflictRow {
                cells: vec![
                    record,
                    cell(lang.t(&format!("conflict-field-{field}"))),
                    cell(
                        conflict
                            .shown
                            .as_ref()
                            .map_or_else(|| lang.t("conflict-not-applied"), side_text),
                    ),
                    cell(side_text(&conflict.other)),
                ],
                event: conflict.other.event.to_string(),
                can_keep_other: conflict.shown.is_some(),
            }
        })
        .collect()
}

#[derive(Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    conflict: String,
    #[serde(default)]
    keep: String,
}

/// Settles a conflict, then shows the page again with what was done said above it.
pub async fn resolve(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<ResolveForm>,
) -> PageResult {
    let result = async {
        let kept: Kept = parse_field("keep", &form.keep)?;
        shared
            .app
            .resolve_conflict(user.session(), &form.conflict, kept)
            .await
    }
    .await;
    match result {
        Ok(resolved) => Ok(
            Redirect::to(&format!("/exchange?settled={}#conflicts", resolved.kept)).into_response(),
        ),
        Err(error) => shown_with_problem(&shared, &user, error).await,
    }
}

/// Writes a bundle for a peer and sends it as a download (logged as `refuge bundle export`
/// is); a wrong field shows the page again with what was typed.
pub async fn export(
    State(shared): State<Shared>,
    CsrfForm(user, form): CsrfForm<ExportForm>,
) -> PageResult {
    let result = async {
        let request = BundleRequest {
            to: form.to.trim().to_string(),
            people: codes(&form.people),
            households: codes(&form.households),
            locations: codes(&form.locations),
            batches: codes(&form.batches),
            since: match form.since.trim() {
                "" => None,
                since => Some(parse_date("since", since)?),
            },
            reveal: form.reveal == "yes",
            expires_in_days: match form.expires_in.trim() {
                "" => DEFAULT_EXPIRY_DAYS,
                days => parse_number("expires-in", days)?,
            },
        };
        let mut file = Vec::new();
        let summary = shared
            .app
            .export_bundle(user.session(), &request, &mut file)
            .await?;
        Ok::<_, AppError>((request.to, summary.sequence, file))
    }
    .await;
    match result {
        Ok((to, sequence, file)) => Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}-{sequence}.refuge\"",
                        file_name(&to)
                    ),
                ),
            ],
            file,
        )
            .into_response()),
        Err(error) => {
            shown_back(error, user.lang, |problem| {
                page(
                    &shared,
                    &user,
                    Shown {
                        export: form.clone(),
                        problem,
                        ..Shown::default()
                    },
                )
            })
            .await
        }
    }
}

/// A peer's name as part of a file name: its letters, digits, '-', '_' and '.' (all a peer
/// name may hold), anything else dropped.
fn file_name(peer: &str) -> String {
    let name: String = peer
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    format!("bundle-{name}")
}

/// Checks a received bundle (ticked "dry run") or merges it, and shows what it held and did.
pub async fn import(State(shared): State<Shared>, upload: CsrfUpload) -> PageResult {
    let user = &upload.user;
    let dry_run = upload.field("dry_run") == "yes";
    let result = async {
        if upload.file.is_empty() {
            return Err(AppError::invalid(
                "bundle",
                Reason::new("bundle-file-missing"),
            ));
        }
        shared
            .app
            .import_bundle(user.session(), &upload.file, dry_run)
            .await
    }
    .await;
    match result {
        Ok(report) => {
            let lines = report_lines(user, &report);
            let notice = user.lang.t(if report.merged {
                "bundle-merged"
            } else {
                "bundle-checked"
            });
            page(
                &shared,
                user,
                Shown {
                    notice,
                    report: lines,
                    ..Shown::default()
                },
            )
            .await
        }
        Err(error) => shown_with_problem(&shared, user, error).await,
    }
}

/// What `refuge bundle import` prints, in the reader's language.
fn report_lines(user: &SignedIn, report: &MergeReport) -> Vec<String> {
    let lang = user.lang;
    let bundle = &report.bundle;
    let (people, households, locations) = bundle.new_records;
    let mut lines = vec![
        lang.t_args(
            "bundle-report-from",
            &[
                ("sequence", bundle.sequence.to_string()),
                ("sender", bundle.sender.clone()),
                ("fingerprint", bundle.fingerprint.clone()),
                ("created", user.zone.show_text(&bundle.created)),
                ("expires", user.zone.show_text(&bundle.expires)),
            ],
        ),
        lang.t_args(
            "bundle-report-events",
            &[
                ("events", bundle.events.to_string()),
                ("new", bundle.new_events.to_string()),
                ("known", bundle.known_events.to_string()),
                ("people", people.to_string()),
                ("households", households.to_string()),
                ("locations", locations.to_string()),
            ],
        ),
    ];
    lines.extend(report.local_codes.iter().map(|(code, local)| {
        lang.t_args(
            "bundle-report-local-code",
            &[("code", code.clone()), ("local", local.clone())],
        )
    }));
    if report.identities > 0 {
        lines.push(lang.t_count("bundle-report-identities", report.identities as u64));
    }
    lines.push(lang.t_args(
        "bundle-report-conflicts",
        &[
            ("conflicts", report.conflicts.to_string()),
            ("new", report.new_conflicts.to_string()),
        ],
    ));
    lines
}
