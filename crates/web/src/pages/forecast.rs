//! The forecast from the live database, with what-if changes typed into the form.

use crate::Shared;
use crate::errors::Failure;
use crate::extract::SignedIn;
use crate::i18n::Lang;
use crate::layout::{Page, PageResult, html};
use askama::Template;
use axum::extract::{Query, State};
use refuge_app::{ErrorKind, Forecast, WhatIf, forecast_chart, month_ticks};
use serde::Deserialize;
use time::Date;

/// A forecast as shown.
pub struct ForecastView {
    chart_svg: String,
    wait_line: String,
    target_line: String,
}

#[derive(Template)]
#[template(path = "forecast.html")]
struct ForecastTemplate {
    page: Page,
    horizon: String,
    extra_date: String,
    extra_seats: String,
    arrival_factor: String,
    destination: String,
    /// What a forecast of one destination counts, when one is given.
    scope_line: Option<String>,
    result: Option<ForecastView>,
}

#[derive(Deserialize, Default)]
pub struct ForecastQuery {
    #[serde(default)]
    horizon: String,
    #[serde(default)]
    extra_date: String,
    #[serde(default)]
    extra_seats: String,
    #[serde(default)]
    arrival_factor: String,
    #[serde(default)]
    destination: String,
}

/// Threads the simulator may use for one page.
const THREADS: usize = 2;

pub async fn show(
    State(shared): State<Shared>,
    user: SignedIn,
    Query(query): Query<ForecastQuery>,
) -> PageResult {
    let lang = user.lang;
    let (what_if, mut problems) = what_if_of(lang, &query);
    let today = shared.app.today();
    let session = user.session();
    let forecast = match shared.app.scenario_from_db(session, &what_if).await {
        // Minutes of work at most (the budget), on a blocking thread: the server's request
        // threads stay free for everyone else meanwhile.
        Ok(scenario) => {
            let shared = shared.clone();
            let web = user.web.clone();
            tokio::task::spawn_blocking(move || {
                shared.app.forecast(&web.session, &scenario, THREADS)
            })
            .await
            .map_err(|_| Failure::internal())?
        }
        Err(error) => Err(error),
    };
    let result = match forecast {
        Ok(result) => Some(view_of(lang, today, &result)),
        Err(error) if error.kind() == ErrorKind::Invalid => {
            problems.push(Failure::from(error).message(lang));
            None
        }
        Err(error) => return Err(error.into()),
    };
    html(ForecastTemplate {
        page: user
            .titled("forecast-title")
            .with_problem(problems.join("; ")),
        horizon: what_if.horizon_days.to_string(),
        extra_date: query.extra_date,
        extra_seats: query.extra_seats,
        arrival_factor: what_if.arrival_factor.to_string(),
        scope_line: result
            .as_ref()
            .and(what_if.destination.as_ref())
            .map(|country| {
                lang.t_args(
                    "forecast-for-destination",
                    &[("country", country.to_ascii_uppercase())],
                )
            }),
        destination: query.destination,
        result,
    })
}

/// The what-if the query asks for (empty fields keep the defaults), and what is wrong with it.
fn what_if_of(lang: Lang, query: &ForecastQuery) -> (WhatIf, Vec<String>) {
    let mut what_if = WhatIf {
        horizon_days: 180.0,
        replications: 200,
        ..WhatIf::default()
    };
    let mut problems = Vec::new();
    // Empty fields keep the defaults; anything else must be a number.
    for (field, text, value) in [
        ("horizon", &query.horizon, &mut what_if.horizon_days),
        (
            "arrival-factor",
            &query.arrival_factor,
            &mut what_if.arrival_factor,
        ),
    ] {
        match text.trim() {
            "" => {}
            typed => match typed.parse::<f64>() {
                Ok(number) => *value = number,
                Err(_) => problems.push(lang.t_args(
                    "forecast-not-a-number",
                    &[("field", lang.t(field)), ("typed", typed.to_string())],
                )),
            },
        }
    }
    let destination = query.destination.trim();
    if !destination.is_empty() {
        what_if.destination = Some(destination.to_string());
    }
    if !query.extra_date.trim().is_empty() {
        match (
            refuge_core::parse_day(&query.extra_date),
            query.extra_seats.trim().parse::<u32>(),
        ) {
            (Some(date), Ok(seats)) if seats > 0 => what_if.extra_transfers.push((date, seats)),
            _ => problems.push(lang.t_args(
                "forecast-extra-transfer-needs",
                &[("field", lang.t("extra-transfer"))],
            )),
        }
    }
    (what_if, problems)
}

/// The forecast as the page shows it: the chart, the wait's figures, when (if ever) the
/// backlog's wait falls below the target.
fn view_of(lang: Lang, today: Date, result: &Forecast) -> ForecastView {
    let target = format!("{:.0}", result.target_wait_days);
    ForecastView {
        chart_svg: {
            let title = format!("{} {today}", lang.t("forecast-title"));
            let waiting = lang.t("chart-waiting");
            let inside = |name: &str| lang.t_args("chart-inside", &[("name", name.to_string())]);
            forecast_chart::svg(
                result,
                &forecast_chart::ChartText {
                    title: &title,
                    ticks: month_ticks(today, result.waiting.p50.len().saturating_sub(1) as f64),
                    waiting: &waiting,
                    inside: &inside,
                },
            )
        },
        wait_line: lang.t_args(
            "wait-stats",
            &[
                ("mean", format!("{:.0}", result.wait.mean)),
                ("p50", format!("{:.0}", result.wait.p50)),
                ("p90", format!("{:.0}", result.wait.p90)),
                ("p99", format!("{:.0}", result.wait.p99)),
            ],
        ),
        target_line: match result.backlog_below_target_day {
            Some(day) => lang.t_args(
                "below-target",
                &[
                    ("days", target),
                    (
                        "date",
                        (today + time::Duration::days(i64::from(day))).to_string(),
                    ),
                ],
            ),
            None => lang.t_args("stays-above", &[("days", target)]),
        },
    }
}
