//! The outlook: `refuge backlog` and `refuge forecast`.

use crate::args::ForecastArgs;
use crate::config::Config;
use crate::output;
use crate::output_file::OutputFile;
use anyhow::{Context, Result};
use refuge_app::WhatIf;
use refuge_sim::{Forecast, Scenario};
use std::path::{Path, PathBuf};
use time::{Date, Duration};

/// Where the forecast's scenario comes from.
enum Source {
    /// A scenario file (TOML), independent of any database.
    File(PathBuf),
    /// Today's data, with what-if changes.
    Database(WhatIf),
}

fn read_scenario(path: &Path) -> Result<Scenario> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let scenario: Scenario =
        toml::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
    scenario
        .validate()
        .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
    Ok(scenario)
}

fn label(day: usize, start: Option<Date>) -> String {
    match start {
        Some(date) => (date + Duration::days(day as i64)).to_string(),
        None => format!("day {day}"),
    }
}

fn print_forecast(forecast: &Forecast, start: Option<Date>) -> std::io::Result<()> {
    let days = forecast.waiting.p50.len();
    out!("{:<12} {:>17}", "", "WAITING p10/50/90");
    for shelter in &forecast.shelters {
        out!("  {:>18}", format!("{} inside/beds P>", shelter.name));
    }
    outln!();
    let mut day = 0usize;
    while day < days {
        out!(
            "{:<12} {:>17}",
            label(day, start),
            format!(
                "{:.0}/{:.0}/{:.0}",
                forecast.waiting.p10[day], forecast.waiting.p50[day], forecast.waiting.p90[day]
            )
        );
        for shelter in &forecast.shelters {
            out!(
                "  {:>18}",
                format!(
                    "{:.0}/{} {:>3.0}%",
                    shelter.occupancy.p50[day],
                    shelter
                        .capacity
                        .map_or("-".to_string(), |beds| beds.to_string()),
                    shelter.p_over_capacity[day] * 100.0
                )
            );
        }
        outln!();
        day += 30;
    }
    let wait = &forecast.wait;
    outln!(
        "\nWait from arrival to departure ({} departures over {} replications): mean {:.1}, p50 {:.1}, p90 {:.1}, p99 {:.1} days",
        wait.departed,
        forecast.replications,
        wait.mean,
        wait.p50,
        wait.p90,
        wait.p99
    );
    match forecast.backlog_below_target_day {
        Some(day) => outln!(
            "The backlog (median days waited by those present) is at or below the {:.0}-day target from {} on.",
            forecast.target_wait_days,
            label(day as usize, start)
        ),
        None => outln!(
            "The backlog stays above the {:.0}-day target through the horizon.",
            forecast.target_wait_days
        ),
    }
    for shelter in &forecast.shelters {
        if shelter.turned_away.mean > 0.0 {
            outln!(
                "{} turns away {:.0} people on average (p10 {:.0}, p90 {:.0}).",
                shelter.name,
                shelter.turned_away.mean,
                shelter.turned_away.p10,
                shelter.turned_away.p90
            );
        }
    }
    outln!("P> is the share of runs in which demand exceeds the shelter's beds on that day.");
    Ok(())
}

/// `refuge backlog`.
pub async fn backlog(
    config: &Config<'_>,
    json: bool,
    target_wait: Option<i64>,
    by_destination: bool,
) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    if by_destination {
        let lines = app.backlog_by_destination(&session, target_wait).await?;
        if session.compartments().is_some() && !json {
            outln!(
                "The waiting by destination counts the whole organisation: it is not shown to a user limited to some locations."
            );
            return Ok(());
        }
        if json {
            outln!("{}", serde_json::to_string_pretty(&lines)?);
        } else {
            output::backlog_by_destination(&lines)?;
        }
        return Ok(());
    }
    let lines = app.backlog(&session, target_wait).await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&lines)?);
    } else {
        output::backlog(&lines)?;
    }
    Ok(())
}

/// `refuge forecast`.
pub async fn forecast_command(config: &Config<'_>, args: ForecastArgs) -> Result<()> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let source = if args.from_db {
        Source::Database(WhatIf {
            horizon_days: args.horizon,
            replications: args.replications,
            seed: args.seed,
            extra_transfers: args.extra_transfer,
            arrival_factor: args.arrival_factor,
            capacities: args.capacity,
            destination: args.destination,
        })
    } else {
        match args.scenario {
            Some(path) => Source::File(path),
            None => anyhow::bail!("give --scenario FILE or --from-db"),
        }
    };
    let (forecast, start, title) = match &source {
        Source::File(path) => {
            let scenario = read_scenario(path)?;
            refuge_app::FORECAST_BUDGET.check(&scenario)?;
            let forecast = refuge_sim::forecast(&scenario, threads)?;
            (forecast, None, format!("Forecast: {}", path.display()))
        }
        Source::Database(what_if) => {
            let (app, session) = config.sign_in().await?;
            let scenario = app.scenario_from_db(&session, what_if).await?;
            if args.show_scenario {
                outln!("{}", toml::to_string(&scenario)?);
            }
            let forecast = app.forecast(&session, &scenario, threads)?;
            let title = match &what_if.destination {
                Some(country) => {
                    let country = country.to_ascii_uppercase();
                    if !args.json {
                        outln!(
                            "Only those who may go to {country} (they want to, or were not asked yet) and the transfers going there; arrivals are taken to wish as those waiting now do."
                        );
                    }
                    format!(
                        "Forecast from {} for those who may go to {country}",
                        app.today()
                    )
                }
                None => format!("Forecast from {}", app.today()),
            };
            (forecast, Some(app.today()), title)
        }
    };
    if let Some(path) = &args.svg {
        let mut file = OutputFile::create(path, args.force, config.db_url())?;
        std::io::Write::write_all(file.file(), chart_svg(&forecast, &title, start).as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        file.finish()?;
    }
    if args.json {
        outln!("{}", serde_json::to_string(&forecast)?);
    } else {
        print_forecast(&forecast, start)?;
    }
    Ok(())
}

/// The chart in English: ticks on the first of each month from `start` when the forecast
/// starts today, by day number for a scenario file.
fn chart_svg(forecast: &Forecast, title: &str, start: Option<Date>) -> String {
    let days = forecast.waiting.p50.len().saturating_sub(1) as f64;
    let ticks = match start {
        Some(start) => refuge_app::month_ticks(start, days),
        None => refuge_sim::chart::day_ticks(days),
    };
    let inside = |name: &str| format!("{name} inside (median); dashed: beds");
    refuge_sim::chart::svg(
        forecast,
        &refuge_sim::chart::ChartText::english(title, ticks, &inside),
    )
}
