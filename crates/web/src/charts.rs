//! Small server-rendered SVG charts for the dashboard (no script, no external resources).

/// Escapes text for the SVG built here (the one place refuge-web writes markup outside
/// templates).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Bars with labels under them; `series` are (name, colour, values) drawn side by side.
pub fn bars(labels: &[String], series: &[(&str, &str, Vec<f64>)]) -> String {
    let (width, height, left, bottom, top) = (480.0, 200.0, 36.0, 28.0, 18.0);
    let max = series
        .iter()
        .flat_map(|(_, _, values)| values.iter().copied())
        .fold(0.0, f64::max)
        .max(1.0);
    let groups = labels.len().max(1) as f64;
    let group_width = (width - left - 8.0) / groups;
    let bar_width = (group_width * 0.8) / series.len().max(1) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" role=\"img\" font-size=\"9\" font-family=\"sans-serif\">"
    );
    svg.push_str(&format!(
        "<path d=\"M{left},{top} V{} H{}\" fill=\"none\" stroke=\"#444\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{max:.0}</text>",
        height - bottom,
        width - 4.0,
        left - 3.0,
        top + 4.0
    ));
    for (group, label) in labels.iter().enumerate() {
        let x0 = left + 4.0 + group as f64 * group_width;
        for (index, (_, colour, values)) in series.iter().enumerate() {
            let value = values.get(group).copied().unwrap_or(0.0);
            let bar = value / max * (height - top - bottom);
            svg.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"{colour}\"><title>{}: {value:.0}</title></rect>",
                x0 + index as f64 * bar_width,
                height - bottom - bar,
                bar_width.max(1.0),
                escape(label)
            ));
        }
        if groups <= 12.0 || group % 2 == 0 {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x0 + group_width * 0.4,
                height - bottom + 11.0,
                escape(label)
            ));
        }
    }
    let mut legend_x = left + 6.0;
    for (name, colour, _) in series {
        svg.push_str(&format!(
            "<rect x=\"{legend_x}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            height - 10.0,
            legend_x + 11.0,
            height - 2.5,
            escape(name)
        ));
        legend_x += 90.0;
    }
    svg.push_str("</svg>");
    svg
}

/// A histogram of waiting days, given as (days, people), in bins of `bin` days.
pub fn histogram(days: &[(i64, u64)], bin: i64, name: &str) -> String {
    let max_day = days.iter().map(|(day, _)| *day).max().unwrap_or(0);
    let bins = (max_day / bin + 1).clamp(1, 24) as usize;
    let mut counts = vec![0.0; bins];
    for (day, people) in days {
        counts[((day / bin) as usize).min(bins - 1)] += *people as f64;
    }
    let labels: Vec<String> = (0..bins)
        .map(|index| format!("{}", index as i64 * bin))
        .collect();
    bars(&labels, &[(name, "#1f3a4d", counts)])
}

#[cfg(test)]
mod tests {
    #[test]
    fn charts_escape_labels_and_carry_no_script() {
        let svg = super::bars(&["<b>".into()], &[("a&b", "#000", vec![3.0])]);
        assert!(svg.contains("&lt;b&gt;") && svg.contains("a&amp;b") && !svg.contains("<script"));
        assert!(
            super::histogram(&[(0, 1), (14, 2), (15, 1), (200, 4)], 15, "days").starts_with("<svg")
        );
    }
}
