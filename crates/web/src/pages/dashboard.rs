//! The dashboard: alerts, the backlog at every shelter, and two charts.

use crate::Shared;
use crate::charts;
use crate::extract::SignedIn;
use crate::i18n::Lang;
use crate::layout::{Page, PageResult, html};
use askama::Template;
use axum::extract::State;
use refuge_app::{Alert, DestinationBacklog};

pub struct BacklogRowView {
    location: String,
    kind: String,
    capacity: u32,
    present: u64,
    occupancy: String,
    waiting: usize,
    median: String,
    p90: String,
    max: String,
    over_target: usize,
    incidents: String,
    checks_due: u64,
    over: bool,
}

/// One line of the waiting by destination.
pub struct DestinationRowView {
    wish: String,
    waiting: usize,
    median: String,
    p90: String,
    max: String,
    over_target: usize,
    seats_planned: u64,
}

impl DestinationRowView {
    fn of(lang: Lang, line: &DestinationBacklog) -> Self {
        DestinationRowView {
            wish: line
                .wish
                .map_or_else(|| lang.t("wish-not-asked"), |wish| lang.wish(&wish)),
            waiting: line.waits.waiting,
            median: days(line.waits.median_days),
            p90: days(line.waits.p90_days),
            max: days(line.waits.max_days),
            over_target: line.waits.over_target,
            seats_planned: line.seats_planned,
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardTemplate {
    page: Page,
    alerts: Vec<String>,
    rows: Vec<BacklogRowView>,
    destinations: Vec<DestinationRowView>,
    over_label: String,
    histogram_svg: String,
    flow_svg: String,
}

fn days(value: Option<i64>) -> String {
    value.map_or("-".to_string(), |days| days.to_string())
}

/// One alert in the user's language.
fn alert_text(lang: Lang, alert: &Alert) -> String {
    match alert {
        Alert::OverCapacity {
            location,
            present,
            capacity,
        } => lang.t_args(
            "alert-over-capacity",
            &[
                ("location", location.clone()),
                ("present", present.to_string()),
                ("capacity", capacity.to_string()),
            ],
        ),
        Alert::OverTarget {
            people,
            target_days,
        } => lang.t_args(
            "alert-over-target",
            &[
                ("count", people.to_string()),
                ("days", target_days.to_string()),
            ],
        ),
        Alert::SevereIncident {
            code,
            location,
            severity,
        } => lang.t_args(
            "alert-severe-incident",
            &[
                ("code", code.clone()),
                ("location", location.clone()),
                ("severity", severity.to_string()),
            ],
        ),
        Alert::MoreIncidents { count } => {
            lang.t_args("alert-more", &[("count", count.to_string())])
        }
        Alert::UrgentUnplanned { code, flag } => lang.t_args(
            "alert-urgent-unplanned",
            &[("code", code.clone()), ("flag", lang.word(*flag))],
        ),
        Alert::MoreFlagged { flag } => {
            lang.t_args("alert-more-flagged", &[("flag", lang.word(*flag))])
        }
        Alert::FollowUpDue { code, due } => lang.t_args(
            "alert-follow-up",
            &[("code", code.clone()), ("date", due.to_string())],
        ),
        Alert::MoreFollowUps { count } => lang.t_count("alert-more-follow-ups", *count),
        Alert::CheckDue {
            code,
            location,
            due,
            reason,
        } => lang.t_args(
            "alert-check-due",
            &[
                ("code", code.clone()),
                ("location", location.clone()),
                ("date", due.to_string()),
                ("reason", lang.word(*reason)),
            ],
        ),
        Alert::MoreChecks { count } => lang.t_count("alert-more-checks", *count),
        Alert::Conflicts { count } => lang.t_count("alert-conflicts", *count as u64),
    }
}

pub async fn show(State(shared): State<Shared>, user: SignedIn) -> PageResult {
    let lang = user.lang;
    let dashboard = shared.app.dashboard(user.session()).await?;
    let rows = dashboard
        .backlog
        .iter()
        .map(|line| BacklogRowView {
            location: line.location.clone(),
            kind: lang.word(line.kind),
            capacity: line.capacity,
            present: line.present,
            occupancy: line
                .occupancy_percent
                .map_or("-".into(), |percent| format!("{percent:.0}%")),
            waiting: line.waits.waiting,
            median: days(line.waits.median_days),
            p90: days(line.waits.p90_days),
            max: days(line.waits.max_days),
            over_target: line.waits.over_target,
            incidents: line
                .open_incidents
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join("/"),
            checks_due: line.welfare_checks_due,
            over: line.present > u64::from(line.capacity),
        })
        .collect();
    let waiting_days: Vec<(i64, u64)> = dashboard
        .backlog
        .iter()
        .flat_map(|line| line.waiting_days.iter().copied())
        .collect();
    let flow = &dashboard.monthly_flow;
    let labels: Vec<String> = flow
        .iter()
        .map(|(month, _, _)| month[2..].to_string())
        .collect();
    // No chart where there is no flow to show (a caseworker: it is organisation-wide).
    let flow_svg = if flow.is_empty() {
        String::new()
    } else {
        let (entered, departed) = (lang.t("flow-entered"), lang.t("flow-departed"));
        charts::bars(
            &labels,
            &[
                (
                    &entered,
                    "#1b7837",
                    flow.iter().map(|(_, entered, _)| *entered as f64).collect(),
                ),
                (
                    &departed,
                    "#762a83",
                    flow.iter().map(|(_, _, left)| *left as f64).collect(),
                ),
            ],
        )
    };
    html(DashboardTemplate {
        page: user.titled("dashboard-title"),
        alerts: dashboard
            .alerts
            .iter()
            .map(|alert| alert_text(lang, alert))
            .collect(),
        rows,
        destinations: dashboard
            .by_destination
            .iter()
            .map(|line| DestinationRowView::of(lang, line))
            .collect(),
        over_label: lang.t_args(
            "col-over",
            &[("days", dashboard.target_wait_days.to_string())],
        ),
        histogram_svg: charts::histogram(&waiting_days, 15, &lang.t("col-days")),
        flow_svg,
    })
}
