//! Tables and JSON for the terminal.

use indicatif::{ProgressBar, ProgressStyle};
use refuge_app::*;
use refuge_core::*;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::IsTerminal;
use time::OffsetDateTime;

pub fn flags(flags: &BTreeSet<Flag>) -> String {
    if flags.is_empty() {
        "-".to_string()
    } else {
        flags
            .iter()
            .map(|flag| flag.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

pub fn timestamp(at: OffsetDateTime) -> String {
    format!(
        "{} {:02}:{:02}:{:02}Z",
        at.date(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

fn days(value: Option<i64>) -> String {
    value.map_or("-".to_string(), |days| days.to_string())
}

pub fn backlog(lines: &[BacklogLine]) -> std::io::Result<()> {
    outln!(
        "{:<12} {:<9} {:>2} {:>5} {:>6} {:>6} {:>7} {:>6} {:>5} {:>5} {:>6} {:>6}  INCIDENTS s1/s2/s3/s4",
        "LOCATION",
        "KIND",
        "CC",
        "BEDS",
        "HERE",
        "OCC%",
        "WAITING",
        "MEDIAN",
        "P90",
        "MAX",
        "OVER",
        "CHECKS"
    );
    for line in lines {
        outln!(
            "{:<12} {:<9} {:>2} {:>5} {:>6} {:>6} {:>7} {:>6} {:>5} {:>5} {:>6} {:>6}  {}/{}/{}/{}",
            line.location,
            line.kind.as_str(),
            line.country,
            line.capacity,
            line.present,
            line.occupancy_percent
                .map_or("-".to_string(), |percent| format!("{percent:.0}")),
            line.waits.waiting,
            days(line.waits.median_days),
            days(line.waits.p90_days),
            days(line.waits.max_days),
            line.waits.over_target,
            line.welfare_checks_due,
            line.open_incidents[0],
            line.open_incidents[1],
            line.open_incidents[2],
            line.open_incidents[3],
        );
    }
    if let Some(first) = lines.first() {
        outln!(
            "Waiting days are days at the current location; OVER counts people waiting more than {} days; CHECKS the welfare checks due (refuge welfare due).",
            first.target_wait_days
        );
    }
    Ok(())
}

pub fn backlog_by_destination(lines: &[DestinationBacklog]) -> std::io::Result<()> {
    outln!(
        "{:<12} {:>7} {:>6} {:>5} {:>5} {:>6} {:>7}",
        "WANTS",
        "WAITING",
        "MEDIAN",
        "P90",
        "MAX",
        "OVER",
        "SEATS"
    );
    for line in lines {
        outln!(
            "{:<12} {:>7} {:>6} {:>5} {:>5} {:>6} {:>7}",
            line.wish
                .map_or("not asked".to_string(), |wish| wish.to_string()),
            line.waits.waiting,
            days(line.waits.median_days),
            days(line.waits.p90_days),
            days(line.waits.max_days),
            line.waits.over_target,
            line.seats_planned,
        );
    }
    if let Some(first) = lines.first() {
        outln!(
            "OVER counts people waiting more than {} days; SEATS are the seats on draft and confirmed transfers still to leave for that country. Those not asked may travel on any transfer.",
            first.target_wait_days
        );
    } else {
        outln!("No one is waiting.");
    }
    Ok(())
}

pub fn locations(views: &[LocationView]) -> std::io::Result<()> {
    outln!(
        "{:<12} {:<10} {:>2} {:>6} {:>6}  NAME",
        "CODE",
        "KIND",
        "CC",
        "BEDS",
        "HERE"
    );
    for view in views {
        let location = &view.location;
        let name = match (&view.name, &location.name) {
            (Some(name), _) => name.as_str().to_string(),
            (None, Some(_)) => "(sealed)".to_string(),
            (None, None) => "-".to_string(),
        };
        outln!(
            "{:<12} {:<10} {:>2} {:>6} {:>6}  {name}",
            location.code,
            location.kind.as_str(),
            location.country,
            location.capacity,
            view.present
        );
    }
    Ok(())
}

pub fn people(views: &[PersonView]) -> std::io::Result<()> {
    outln!(
        "{:<8} {:<8} {:<7} {:>4} {:<11} {:<11} {:<10} {:>5}  {:<6} FLAGS",
        "CODE",
        "HOUSE",
        "SEX",
        "BORN",
        "STAGE",
        "LOCATION",
        "WAITING",
        "DAYS",
        "READY"
    );
    for view in views {
        let person = &view.person;
        let ready = format!(
            "{}{}{}",
            if person.documents_ready { "D" } else { "-" },
            if person.screening_done { "S" } else { "-" },
            if person.hold.is_some() { "H" } else { "" }
        );
        outln!(
            "{:<8} {:<8} {:<7} {:>4} {:<11} {:<11} {:<10} {:>5}  {:<6} {}",
            person.code,
            view.household_code,
            person.sex.as_str(),
            person
                .birth_year
                .map_or("-".to_string(), |year| year.to_string()),
            person.stage.as_str(),
            view.location_code,
            person
                .waiting_since
                .map_or("-".to_string(), |date| date.to_string()),
            view.waiting_days
                .map_or("-".to_string(), |days| days.to_string()),
            ready,
            flags(&person.flags)
        );
    }
    outln!(
        "{} people. READY: D documents, S screening, H on hold.",
        views.len()
    );
    Ok(())
}

pub fn person_json(view: &PersonView) -> Value {
    let person = &view.person;
    let mut value = json!({
        "code": person.code,
        "household": view.household_code,
        "sex": person.sex,
        "birth_year": person.birth_year,
        "stage": person.stage,
        "location": view.location_code,
        "since": person.since.to_string(),
        "entered": person.entered.to_string(),
        "flags": person.flags,
        "documents_ready": person.documents_ready,
        "screening_done": person.screening_done,
        "hold": person.hold,
        "sealed_fields": person.sealed.keys().map(|field| field.as_str()).collect::<Vec<_>>(),
        "merged_from": view.merged_from,
    });
    if let (Some((since, days)), Value::Object(map)) = (view.waiting(), &mut value) {
        // Absent, not null, for someone not waiting.
        map.insert("waiting_since".into(), since.to_string().into());
        map.insert("waiting_days".into(), days.into());
    }
    if let (Some(identity), Value::Object(map)) = (&view.identity, &mut value) {
        let fields: serde_json::Map<String, Value> = identity
            .iter()
            .map(|(field, revealed)| {
                (
                    field.as_str().to_string(),
                    Value::String(revealed.as_str().to_string()),
                )
            })
            .collect();
        map.insert("identity".into(), Value::Object(fields));
    }
    value
}

pub fn people_json(views: &[PersonView]) -> Value {
    Value::Array(views.iter().map(person_json).collect())
}

pub fn person(view: &PersonView) -> std::io::Result<()> {
    let person = &view.person;
    outln!("Person     {}", person.code);
    outln!("Household  {}", view.household_code);
    outln!("Sex        {}", person.sex);
    outln!(
        "Born       {}",
        person
            .birth_year
            .map_or("-".to_string(), |year| year.to_string())
    );
    outln!(
        "Stage      {} at {} since {}",
        person.stage,
        view.location_code,
        person.since
    );
    match view.waiting() {
        Some((since, days)) => outln!("Waiting    since {since} ({days} days)"),
        None => outln!("Waiting    not waiting for a transfer"),
    }
    outln!("Entered    {}", person.entered);
    if !view.merged_from.is_empty() {
        outln!("Merged     {}", view.merged_from.join(", "));
    }
    outln!("Flags      {}", flags(&person.flags));
    outln!(
        "Documents  {}",
        if person.documents_ready {
            "ready"
        } else {
            "not ready"
        }
    );
    outln!(
        "Screening  {}",
        if person.screening_done {
            "done"
        } else {
            "not done"
        }
    );
    outln!(
        "Hold       {}",
        person
            .hold
            .map_or("-".to_string(), |reason| reason.to_string())
    );
    match &view.identity {
        Some(identity) => {
            for (field, value) in identity {
                outln!("{:<10} {}", field.as_str(), value.as_str());
            }
        }
        None if !person.sealed.is_empty() => {
            let fields: Vec<&str> = person.sealed.keys().map(|field| field.as_str()).collect();
            outln!("Identity   sealed ({}); use --reveal", fields.join(", "));
        }
        None => {}
    }
    Ok(())
}

pub fn incidents(views: &[IncidentView]) -> std::io::Result<()> {
    outln!(
        "{:<8} {:<16} {:<11} {:<10} {:>3} {:<7} PEOPLE",
        "CODE",
        "WHEN",
        "LOCATION",
        "KIND",
        "SEV",
        "STATUS"
    );
    for view in views {
        let incident = &view.incident;
        outln!(
            "{:<8} {:<16} {:<11} {:<10} {:>3} {:<7} {}",
            incident.code,
            incident.occurred_text(),
            view.location_code,
            incident.kind.as_str(),
            incident.severity,
            incident.status.as_str(),
            view.people_codes.join(",")
        );
        if let Some(narrative) = &view.narrative {
            outln!("         {}", narrative.as_str());
        }
    }
    Ok(())
}

pub fn notes(notes: &[NoteView], today: time::Date) -> std::io::Result<()> {
    for note in notes {
        let follow_up = match (note.follow_up, note.follow_up_done) {
            (_, Some(done)) => format!("  follow-up done {done}"),
            (Some(date), None) if note.overdue(today) => format!("  FOLLOW-UP DUE {date}"),
            (Some(date), None) => format!("  follow up by {date}"),
            (None, None) => String::new(),
        };
        outln!("{}  {}  {}{follow_up}", note.written, note.author, note.id);
        if let Some(text) = &note.text {
            outln!("    {}", text.as_str());
        }
    }
    outln!("{} notes.", notes.len());
    Ok(())
}

/// A progress bar on a terminal; nothing otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) =
                ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Progress { bar }
    }

    pub fn update(&mut self, phase: &str, done: u64, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(phase.to_string());
            bar.set_length(total.max(done));
            bar.set_position(done);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Text for a terminal: every control character but line breaks and tabs is shown as an
/// escape (`\u{1b}`), so that a name, a note or a typed user name cannot move the cursor,
/// retitle the window, clear the screen or fake lines. Every line the CLI prints goes
/// through this.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    let escaped = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if escaped(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod terminal_tests {
    use super::for_terminal;

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        assert_eq!(
            for_terminal("Kim\u{1b}]0;owned\u{7}\u{1b}[2J"),
            "Kim\\u{1b}]0;owned\\u{7}\\u{1b}[2J"
        );
        assert_eq!(for_terminal("fake\rline\u{9b}"), "fake\\u{d}line\\u{9b}");
        assert_eq!(
            for_terminal("two\nlines\tand a tab"),
            "two\nlines\tand a tab"
        );
        assert_eq!(for_terminal("김 데모"), "김 데모");
    }
}
