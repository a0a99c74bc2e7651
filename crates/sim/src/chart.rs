//! The forecast as an SVG chart: people waiting (p10–p90 band and median) and each shelter's
//! median occupancy against its capacity. Plain SVG, no script, no external resources.

use crate::forecast::{Bands, Forecast};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;
const COLOURS: [&str; 6] = [
    "#1b7837", "#762a83", "#e08214", "#2166ac", "#b2182b", "#4d4d4d",
];

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
        HEIGHT - BOTTOM - value / self.top.max(1.0) * (HEIGHT - TOP - BOTTOM)
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

/// Renders the chart; `title` is escaped.
pub fn svg(forecast: &Forecast, title: &str) -> String {
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
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n",
        escape(title)
    );
    out.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"16\" font-size=\"13\">{}</text>\n",
        escape(title)
    ));
    // Axes with ticks every 30.4 days (months) and five value ticks.
    out.push_str(&format!(
        "<path d=\"M{LEFT},{TOP} V{} H{}\" fill=\"none\" stroke=\"#444\"/>\n",
        HEIGHT - BOTTOM,
        WIDTH - RIGHT
    ));
    let mut month = 0.0;
    while month <= days {
        let x = frame.x(month);
        out.push_str(&format!(
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#444\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 4.0,
            HEIGHT - BOTTOM + 16.0,
            (month / 30.4375).round()
        ));
        month += 30.4375 * if days > 400.0 { 3.0 } else { 1.0 };
    }
    out.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">months</text>\n",
        WIDTH - RIGHT,
        HEIGHT - 6.0
    ));
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
    out.push_str(&format!(
        "<polygon points=\"{}\" fill=\"#bbbbbb\" fill-opacity=\"0.5\"/>\n<polyline points=\"{}\" fill=\"none\" stroke=\"#000\" stroke-width=\"2\"/>\n",
        band(&frame, &forecast.waiting),
        frame.line(&forecast.waiting.p50)
    ));
    let mut legend_y = TOP + 4.0;
    out.push_str(&format!(
        "<text x=\"{}\" y=\"{legend_y:.1}\">people waiting (median, p10–p90)</text>\n",
        LEFT + 10.0
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
        legend_y += 14.0;
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{legend_y:.1}\" fill=\"{colour}\">{} inside (median); dashed: beds</text>\n",
            LEFT + 10.0,
            escape(&shelter.name)
        ));
    }
    out.push_str("</svg>\n");
    out
}
