//! The forecast as an SVG chart: people waiting (p10–p90 band and median) and each shelter's
//! median occupancy against its capacity. Plain SVG, no script, no external resources.

use crate::forecast::{Bands, Forecast};

// A narrow canvas with large text: on a 360-pixel phone the text is still about 11 px.
const WIDTH: f64 = 480.0;
const PLOT_HEIGHT: f64 = 260.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 28.0;
const LEGEND_LINE: f64 = 18.0;
const COLOURS: [&str; 6] = [
    "#1b7837", "#762a83", "#e08214", "#2166ac", "#b2182b", "#4d4d4d",
];

/// The chart's words, in the reader's language.
pub struct ChartText<'a> {
    pub title: &'a str,
    /// The ticks of the time axis: (day, label), day 0 the forecast's first day.
    pub ticks: Vec<(f64, String)>,
    /// The legend of the waiting band.
    pub waiting: &'a str,
    /// The legend of one shelter's line, from its name.
    pub inside: &'a dyn Fn(&str) -> String,
}

impl ChartText<'_> {
    /// English (for files written by the command line).
    pub fn english<'a>(
        title: &'a str,
        ticks: Vec<(f64, String)>,
        inside: &'a dyn Fn(&str) -> String,
    ) -> ChartText<'a> {
        ChartText {
            title,
            ticks,
            waiting: "people waiting (median, p10–p90)",
            inside,
        }
    }
}

/// Ticks every 30 days, labelled by day number, at most six (a scenario with no dates).
pub fn day_ticks(days: f64) -> Vec<(f64, String)> {
    let step = (days / 30.0 / 6.0).ceil().max(1.0) * 30.0;
    let mut ticks = Vec::new();
    let mut day = 0.0;
    while day <= days + 0.5 {
        ticks.push((day, format!("day {day:.0}")));
        day += step;
    }
    ticks
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Frame {
    days: f64,
    top: f64,
}

impl Frame {
    fn x(&self, day: f64) -> f64 {
        LEFT + day / self.days.max(1.0) * (WIDTH - LEFT - RIGHT)
    }
    fn y(&self, value: f64) -> f64 {
        PLOT_HEIGHT - BOTTOM - value / self.top.max(1.0) * (PLOT_HEIGHT - TOP - BOTTOM)
    }
    fn line(&self, values: &[f64]) -> String {
        values
            .iter()
            .enumerate()
            .map(|(day, value)| format!("{:.1},{:.1}", self.x(day as f64), self.y(*value)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn band(frame: &Frame, bands: &Bands) -> String {
    let upper = frame.line(&bands.p90);
    let lower: Vec<String> = bands
        .p10
        .iter()
        .enumerate()
        .rev()
        .map(|(day, value)| format!("{:.1},{:.1}", frame.x(day as f64), frame.y(*value)))
        .collect();
    format!("{upper} {}", lower.join(" "))
}

/// Renders the chart; every text is escaped. The legend sits under the plot, so it never
/// covers a curve.
pub fn svg(forecast: &Forecast, text: &ChartText<'_>) -> String {
    let days = forecast.waiting.p50.len().saturating_sub(1) as f64;
    let capacity_top = forecast
        .shelters
        .iter()
        .filter_map(|s| s.capacity)
        .map(f64::from)
        .fold(0.0, f64::max);
    let top = forecast
        .waiting
        .p90
        .iter()
        .copied()
        .fold(capacity_top, f64::max)
        * 1.08;
    let frame = Frame {
        days,
        top: top.max(1.0),
    };
    let height = PLOT_HEIGHT + LEGEND_LINE * (1 + forecast.shelters.len()) as f64 + 8.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{}\" font-family=\"sans-serif\" font-size=\"13\">\n",
        escape(text.title)
    );
    out.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"18\" font-size=\"15\">{}</text>\n",
        escape(text.title)
    ));
    axes(&mut out, &frame, text);
    out.push_str(&format!(
        "<polygon points=\"{}\" fill=\"#bbbbbb\" fill-opacity=\"0.5\"/>\n<polyline points=\"{}\" fill=\"none\" stroke=\"#000\" stroke-width=\"2\"/>\n",
        band(&frame, &forecast.waiting),
        frame.line(&forecast.waiting.p50)
    ));
    let mut legend_y = PLOT_HEIGHT + LEGEND_LINE;
    out.push_str(&format!(
        "<rect x=\"{LEFT}\" y=\"{:.1}\" width=\"14\" height=\"10\" fill=\"#bbbbbb\" stroke=\"#000\"/><text x=\"{}\" y=\"{legend_y:.1}\">{}</text>\n",
        legend_y - 10.0,
        LEFT + 20.0,
        escape(text.waiting)
    ));
    for (index, shelter) in forecast.shelters.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        out.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>\n",
            frame.line(&shelter.occupancy.p50)
        ));
        if let Some(capacity) = shelter.capacity {
            let y = frame.y(f64::from(capacity));
            out.push_str(&format!(
                "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-dasharray=\"4 3\"/>\n",
                WIDTH - RIGHT
            ));
        }
        legend_y += LEGEND_LINE;
        out.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{legend_y:.1}\" fill=\"{colour}\">{}</text>\n",
            LEFT + 14.0,
            legend_y - 4.0,
            legend_y - 4.0,
            LEFT + 20.0,
            escape(&(text.inside)(&shelter.name))
        ));
    }
    out.push_str("</svg>\n");
    out
}

/// The axes: time at the caller's ticks, five value ticks.
fn axes(out: &mut String, frame: &Frame, text: &ChartText<'_>) {
    out.push_str(&format!(
        "<path d=\"M{LEFT},{TOP} V{} H{}\" fill=\"none\" stroke=\"#444\"/>\n",
        PLOT_HEIGHT - BOTTOM,
        WIDTH - RIGHT
    ));
    for (day, label) in text
        .ticks
        .iter()
        .filter(|(day, _)| *day <= frame.days + 0.5)
    {
        let x = frame.x(*day);
        out.push_str(&format!(
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#444\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            PLOT_HEIGHT - BOTTOM,
            PLOT_HEIGHT - BOTTOM + 4.0,
            PLOT_HEIGHT - BOTTOM + 18.0,
            escape(label)
        ));
    }
    for step in 0..=4 {
        let value = frame.top / 4.0 * f64::from(step);
        let y = frame.y(value);
        out.push_str(&format!(
            "<line x1=\"{}\" x2=\"{LEFT}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#444\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}</text>\n",
            LEFT - 4.0,
            LEFT - 6.0,
            y + 4.0,
            value
        ));
    }
}
