//! Phase 1: the file's header and rows, checked field by field. Every problem is collected
//! with its line and column; a protected value is never quoted.

use super::Row;
use crate::people::check_birth_year;
use crate::*;
use std::collections::{BTreeMap, HashMap};

/// The most rows one import takes (a larger file is split: memory grows with the rows).
pub const MAX_IMPORT_ROWS: usize = 1_000_000;
/// The longest line an import reads; a longer one stops it.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Reads at most `MAX_LINE_BYTES` between two line breaks: a 100 MB line is refused after
/// 64 KiB instead of being read whole into memory.
pub(super) struct LineLimit<R> {
    inner: R,
    since_line_break: usize,
}

impl<R> LineLimit<R> {
    pub fn new(inner: R) -> Self {
        LineLimit {
            inner,
            since_line_break: 0,
        }
    }
}

impl<R: std::io::Read> std::io::Read for LineLimit<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        for byte in &buffer[..read] {
            if *byte == b'\n' {
                self.since_line_break = 0;
            } else {
                self.since_line_break += 1;
                if self.since_line_break > MAX_LINE_BYTES {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("a line is longer than {MAX_LINE_BYTES} bytes"),
                    ));
                }
            }
        }
        Ok(read)
    }
}

/// A header as written by a volunteer, in the import's own name: case, spaces and dashes do
/// not matter ("Birth year" is `birth_year`), and the common other names and the Korean
/// ones are understood (docs/import.md lists them).
pub fn column_name(header: &str) -> String {
    let plain: String = header
        .trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let name = match plain.as_str() {
        "household" | "family" | "household_code" | "가구" | "가족" => "household_ref",
        "full_name" | "이름" | "성명" => "name",
        "gender" | "성별" => "sex",
        "year_of_birth" | "born" | "birthyear" | "출생년도" | "출생연도" => "birth_year",
        "shelter" | "place" | "장소" | "보호소" => "location",
        "status" | "단계" => "stage",
        "arrived" | "arrival" | "arrival_date" | "도착일" => "since",
        "vulnerabilities" | "표시" => "flags",
        "romanized_name" | "name_in_latin" | "로마자_이름" => "name_romanized",
        "alias" | "별칭" => "aliases",
        "dob" | "birth_date" | "생년월일" => "date_of_birth",
        "from" | "출신지" => "origin",
        "relative" | "친척" => "relatives",
        "phone" | "contacts" | "연락처" => "contact",
        "note" | "메모" => "notes",
        "entry" | "entered_care" => "entered",
        "waiting_from" => "waiting_since",
        "wish" | "destination_wish" | "wants_to_go" | "희망국" | "행선지" | "목적지" => {
            "destination"
        }
        other => other,
    };
    name.to_string()
}

/// The column index of every header name (in the import's own names), or the header's
/// problems. Columns named in `ignore` are left out.
pub(super) fn read_columns<R: std::io::Read>(
    reader: &mut csv::Reader<R>,
    ignore: &[String],
) -> AppResult<HashMap<String, usize>> {
    let ignored: Vec<String> = ignore.iter().map(|name| column_name(name)).collect();
    let header_error = |messages: Vec<Reason>| {
        AppError::Import(ImportProblems::from(
            messages
                .into_iter()
                .map(|message| RowError {
                    line: 1,
                    column: "header".into(),
                    message,
                })
                .collect::<Vec<_>>(),
        ))
    };
    let headers: Vec<String> = reader
        .headers()
        .map_err(|error| {
            header_error(vec![Reason::new("header-unreadable").with("detail", error)])
        })?
        .iter()
        .map(column_name)
        .collect();
    let missing: Vec<&str> = IMPORT_REQUIRED
        .iter()
        .copied()
        .filter(|name| !headers.iter().any(|header| header == name))
        .collect();
    let unknown: Vec<&str> = headers
        .iter()
        .map(String::as_str)
        .filter(|name| {
            !IMPORT_REQUIRED.contains(name)
                && !IMPORT_OPTIONAL.contains(name)
                && !ignored.iter().any(|ignored| ignored == name)
        })
        .collect();
    let mut twice: Vec<&str> = headers
        .iter()
        .enumerate()
        .filter(|(index, name)| headers[..*index].contains(name))
        .map(|(_, name)| name.as_str())
        .collect();
    twice.dedup();
    if !missing.is_empty() || !unknown.is_empty() || !twice.is_empty() {
        let mut message = Vec::new();
        if !twice.is_empty() {
            message.push(Reason::new("columns-twice").with("columns", twice.join(", ")));
        }
        if !missing.is_empty() {
            message.push(Reason::new("columns-missing").with("columns", missing.join(", ")));
        }
        if !unknown.is_empty() {
            message.push(
                Reason::new("columns-unknown")
                    .with("columns", unknown.join(", "))
                    .with(
                        "known",
                        format!(
                            "{}, {}",
                            IMPORT_REQUIRED.join(", "),
                            IMPORT_OPTIONAL.join(", ")
                        ),
                    ),
            );
        }
        return Err(header_error(message));
    }
    Ok(headers
        .into_iter()
        .enumerate()
        .filter(|(_, name)| !ignored.contains(name))
        .map(|(index, name)| (name, index))
        .collect())
}

/// What checking a row needs to know.
pub(super) struct RowContext<'a> {
    pub columns: &'a HashMap<String, usize>,
    pub locations: &'a HashMap<String, Location>,
    pub session: &'a Session,
    pub today: Date,
    /// How a date that is not ISO is read, when the user said (never guessed).
    pub date_order: Option<DateOrder>,
}

/// How a sheet writes its dates besides ISO (`2026-06-01`): day first (`01/06/2026`, most of
/// the world, Korea included for hand-kept lists) or month first (`06/01/2026`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateOrder {
    DayFirst,
    MonthFirst,
}

impl std::str::FromStr for DateOrder {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "dmy" => Ok(DateOrder::DayFirst),
            "mdy" => Ok(DateOrder::MonthFirst),
            other => Err(format!(
                "'{}' is no date order (dmy: day first, mdy: month first)",
                other.chars().take(8).collect::<String>()
            )),
        }
    }
}

/// A date as a sheet writes it: ISO always; `d/m/yyyy` (or with `.` or `-`) in the order
/// given, when one is given.
pub(super) fn sheet_day(text: &str, order: Option<DateOrder>) -> Option<Date> {
    if let Some(date) = parse_day(text) {
        return Some(date);
    }
    let order = order?;
    let parts: Vec<&str> = text.trim().split(['/', '.', '-']).collect();
    let [first, second, year] = parts.as_slice() else {
        return None;
    };
    if year.len() != 4 || first.is_empty() || second.is_empty() {
        return None;
    }
    let (day, month) = match order {
        DateOrder::DayFirst => (first, second),
        DateOrder::MonthFirst => (second, first),
    };
    let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

impl RowContext<'_> {
    fn day(&self, text: &str) -> Option<Date> {
        sheet_day(text, self.date_order)
    }

    /// "is not a date", with the forms this import reads.
    fn not_a_date(&self, text: &str) -> Reason {
        let shown: String = text.trim().chars().take(16).collect();
        Reason::new(match self.date_order {
            None => "import-not-a-date",
            Some(DateOrder::DayFirst) => "import-not-a-date-day-first",
            Some(DateOrder::MonthFirst) => "import-not-a-date-month-first",
        })
        .with("text", shown)
    }
}

/// Every row of the file: the valid ones, and the problems of the others.
pub(super) fn parse_rows<R: std::io::Read>(
    reader: &mut csv::Reader<R>,
    context: &RowContext<'_>,
    errors: &mut ImportProblems,
    progress: &mut dyn FnMut(ImportProgress),
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        if index >= MAX_IMPORT_ROWS {
            errors.add(RowError {
                line,
                column: "row".into(),
                message: Reason::new("too-many-rows").count("most", MAX_IMPORT_ROWS as u64),
            });
            break;
        }
        match record {
            Ok(record) => {
                if let Some(row) = parse_row(&record, line, context, errors) {
                    rows.push(row);
                }
            }
            // A line too long, or the file itself unreadable: nothing after it can be trusted.
            Err(error) if error.is_io_error() => {
                errors.add(RowError {
                    line: error.position().map_or(line, |position| position.line()),
                    column: "row".into(),
                    message: Reason::new("line-unreadable").count("most", MAX_LINE_BYTES as u64),
                });
                break;
            }
            Err(error) => errors.add(unreadable_row(&error, line)),
        }
        if line.is_multiple_of(10_000) {
            progress(ImportProgress {
                phase: "checking",
                done: line - 1,
                total: 0,
            });
        }
    }
    rows
}

/// A row the CSV reader could not read. The csv error can quote the offending field:
/// report its kind only.
fn unreadable_row(error: &csv::Error, line: u64) -> RowError {
    let line = error.position().map_or(line, |position| position.line());
    let reason = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => Reason::new("fields-unlike-header")
            .count("fields", *len)
            .count("header", *expected_len),
        csv::ErrorKind::Utf8 { .. } => Reason::new("not-utf8"),
        _ => Reason::new("not-csv"),
    };
    RowError {
        line,
        column: "row".into(),
        message: reason,
    }
}

/// The problems of one row, as they are found.
struct Problems<'a> {
    line: u64,
    errors: &'a mut ImportProblems,
}

impl Problems<'_> {
    fn add(&mut self, column: &str, message: Reason) {
        self.errors.add(RowError {
            line: self.line,
            column: column.to_string(),
            message,
        });
    }
}

/// One row, checked; None when it names no known location (the problem is recorded).
fn parse_row(
    record: &csv::StringRecord,
    line: u64,
    context: &RowContext<'_>,
    errors: &mut ImportProblems,
) -> Option<Row> {
    let cell = |name: &str| {
        context
            .columns
            .get(name)
            .and_then(|index| record.get(*index))
            .map(str::trim)
            .unwrap_or("")
    };
    let mut problems = Problems { line, errors };
    let household_ref = cell("household_ref").to_string();
    if household_ref.is_empty() {
        problems.add("household_ref", Reason::new("household-ref-empty"));
    }
    if cell("name").is_empty() {
        problems.add("name", Reason::new("empty"));
    }
    let sex = match cell("sex") {
        "" => Sex::Unknown,
        text => sex_spelling(text).unwrap_or_else(|| {
            problems.add(
                "sex",
                Reason::new("import-not-a-sex").with("text", short(text)),
            );
            Sex::Unknown
        }),
    };
    let birth_year = birth_year(cell("birth_year"), context.today, &mut problems);
    let location = location(cell("location"), context, &mut problems);
    let stage = stage(cell("stage"), &mut problems);
    let (since, entered) = dates(cell("since"), cell("entered"), context, &mut problems);
    let waiting_since = waiting_since(cell("waiting_since"), since, context, &mut problems);
    let mut flags = Vec::new();
    for word in split_flags(cell("flags")) {
        match word.parse::<Flag>() {
            Ok(flag) => flags.push(flag),
            Err(error) => problems.add("flags", Reason::unknown_word(&error)),
        }
    }
    let split_allowed = match cell("split_allowed").to_ascii_lowercase().as_str() {
        "" | "no" | "false" | "0" => false,
        "yes" | "true" | "1" => true,
        other => {
            problems.add(
                "split_allowed",
                Reason::new("not-yes-or-no").with("text", short(other)),
            );
            false
        }
    };
    let wish = match cell("destination") {
        "" => None,
        text => wish_spelling(text).or_else(|| {
            problems.add(
                "destination",
                Reason::new("import-not-a-wish").with("text", short(text)),
            );
            None
        }),
    };
    let identity = identity(&cell, birth_year, context, &mut problems);
    location.map(|location| Row {
        line,
        household_ref,
        split_allowed,
        sex,
        birth_year,
        location,
        stage,
        since,
        waiting_since,
        entered,
        flags,
        wish,
        identity,
    })
}

/// A destination as volunteers write it: a country code, `undecided` or `stay`, and the
/// Korean words for the two that are not a country.
fn wish_spelling(text: &str) -> Option<DestinationWish> {
    match text.trim().to_lowercase().as_str() {
        "미정" | "모름" => Some(DestinationWish::Undecided),
        "잔류" | "이동 안 함" | "does not want to move" => Some(DestinationWish::Stay),
        other => other.parse().ok(),
    }
}

/// Splits a flags cell: `minor;pregnant`, `minor|pregnant` or `minor pregnant`.
fn split_flags(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', '|', ' ', ','])
        .map(str::trim)
        .filter(|word| !word.is_empty())
}

fn birth_year(text: &str, today: Date, problems: &mut Problems<'_>) -> Option<i32> {
    match text {
        "" => None,
        text => match text.parse::<i32>() {
            Ok(year) => {
                if let Err(reason) = check_birth_year(year, today) {
                    problems.add("birth_year", reason);
                }
                Some(year)
            }
            Err(_) => {
                problems.add(
                    "birth_year",
                    Reason::new("not-a-year").with("text", short(text)),
                );
                None
            }
        },
    }
}

/// The location named by code, inside the user's compartments.
fn location(
    text: &str,
    context: &RowContext<'_>,
    problems: &mut Problems<'_>,
) -> Option<LocationId> {
    let code = text.to_ascii_uppercase();
    match context.locations.get(&code) {
        Some(location) => {
            if !context.session.sees_location(location.id) {
                problems.add(
                    "location",
                    Reason::new("location-outside-compartments").with("code", &code),
                );
            }
            Some(location.id)
        }
        None => {
            problems.add(
                "location",
                Reason::new("no-such-location").with("code", short(&code)),
            );
            None
        }
    }
}

/// A stage people can be imported at (still in the pipeline); sheltered when empty.
/// The spellings of each sex volunteers use, in English and Korean.
pub fn sex_spelling(text: &str) -> Option<Sex> {
    match text.trim().to_lowercase().as_str() {
        "female" | "f" | "woman" | "w" | "girl" | "여" | "여자" | "여성" => Some(Sex::Female),
        "male" | "m" | "man" | "boy" | "남" | "남자" | "남성" => Some(Sex::Male),
        "other" | "o" | "기타" => Some(Sex::Other),
        "unknown" | "u" | "?" | "미상" | "모름" => Some(Sex::Unknown),
        _ => None,
    }
}

/// A cell shown back in a message, cut short (it is never a protected column).
fn short(text: &str) -> String {
    text.chars().take(24).collect()
}

/// The stages as volunteers write them, in English and Korean.
fn stage_spelling(text: &str) -> String {
    match text.trim().to_lowercase().as_str() {
        "은신" | "숨어 있음" => "hiding",
        "이동" | "이동 중" | "in transit" => "transit",
        "보호소" | "보호" | "보호소 대기" | "shelter" => "sheltered",
        "구금" | "detention" => "detained",
        other => return other.to_string(),
    }
    .to_string()
}

fn stage(text: &str, problems: &mut Problems<'_>) -> Stage {
    match text {
        "" => Stage::Sheltered,
        text => match stage_spelling(text).parse::<Stage>() {
            Ok(stage) if stage.is_present() => stage,
            Ok(stage) => {
                problems.add(
                    "stage",
                    Reason::new("imported-at-present-stage").word("stage", stage),
                );
                stage
            }
            Err(error) => {
                problems.add("stage", Reason::unknown_word(&error));
                Stage::Sheltered
            }
        },
    }
}

/// `waiting_since` (the wait began at an earlier place; not after `since`), or none.
fn waiting_since(
    text: &str,
    since: Date,
    context: &RowContext<'_>,
    problems: &mut Problems<'_>,
) -> Option<Date> {
    if text.is_empty() {
        return None;
    }
    match context.day(text) {
        Some(date) if date > since => {
            problems.add("waiting_since", Reason::new("after-since"));
            None
        }
        Some(date) => Some(date),
        None => {
            problems.add("waiting_since", context.not_a_date(text));
            None
        }
    }
}

/// `since` (arrival at the current location, not in the future) and `entered` (entry into
/// care, not after `since`; `since` when empty).
fn dates(
    since: &str,
    entered: &str,
    context: &RowContext<'_>,
    problems: &mut Problems<'_>,
) -> (Date, Date) {
    let today = context.today;
    let since = match context.day(since) {
        Some(date) if date > today => {
            problems.add(
                "since",
                Reason::new("date-in-the-future").with("date", date),
            );
            date
        }
        Some(date) => date,
        None => {
            problems.add("since", context.not_a_date(since));
            today
        }
    };
    let entered = match entered {
        "" => since,
        text => match context.day(text) {
            Some(date) if date > since => {
                problems.add("entered", Reason::new("after-since"));
                date
            }
            Some(date) => date,
            None => {
                problems.add("entered", context.not_a_date(text));
                since
            }
        },
    };
    (since, entered)
}

/// The protected fields given. Never echoes a protected value in an error.
fn identity<'a>(
    cell: &impl Fn(&str) -> &'a str,
    birth_year: Option<i32>,
    context: &RowContext<'_>,
    problems: &mut Problems<'_>,
) -> BTreeMap<PersonField, String> {
    let mut identity = BTreeMap::new();
    for field in PersonField::ALL {
        let value = cell(field.as_str());
        if !value.is_empty() {
            identity.insert(*field, value.to_string());
        }
    }
    for (field, value) in &identity {
        if let Err(AppError::Invalid { reason, .. }) =
            check_text(field.as_str(), value, *field == PersonField::Notes)
        {
            problems.add(field.as_str(), reason);
        }
    }
    if let Some(dob) = identity.get(&PersonField::DateOfBirth) {
        // Never quoted: a date of birth is a protected value. Kept as ISO whatever the sheet.
        match context.day(dob) {
            None => problems.add("date_of_birth", Reason::new("not-an-iso-date")),
            Some(date) if birth_year.is_some_and(|year| year != date.year()) => {
                problems.add("date_of_birth", Reason::new("date-of-birth-unlike-year"));
            }
            Some(date) => {
                identity.insert(PersonField::DateOfBirth, date.to_string());
            }
        }
    }
    identity
}

#[cfg(test)]
mod tests;
