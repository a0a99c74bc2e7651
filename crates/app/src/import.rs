//! `refuge import people FILE.csv`: all or nothing, every problem reported at once.

use crate::people::{check_birth_year, seal_identity};
use crate::*;
use refuge_store::Guard;
use std::collections::{BTreeMap, HashMap};

/// Columns every import file must have.
pub const IMPORT_REQUIRED: &[&str] = &[
    "household_ref",
    "name",
    "sex",
    "birth_year",
    "location",
    "stage",
    "since",
    "flags",
];

/// Columns an import file may have.
pub const IMPORT_OPTIONAL: &[&str] = &[
    "name_romanized",
    "aliases",
    "date_of_birth",
    "origin",
    "relatives",
    "contact",
    "notes",
    "entered",
    "split_allowed",
];

#[derive(Clone, Copy, Debug, Default)]
pub struct ImportOptions {
    /// Import rows that look like people already registered (or like other rows).
    pub allow_duplicates: bool,
    /// Import even where a location would go over capacity (recorded in the access log).
    pub over_capacity: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct ImportProgress {
    pub phase: &'static str,
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub people: usize,
    pub households: usize,
    /// Likely duplicates that were imported anyway (with `allow_duplicates`).
    pub duplicates: Vec<String>,
}

/// One parsed, valid row.
struct Row {
    line: u64,
    household_ref: String,
    split_allowed: bool,
    sex: Sex,
    birth_year: Option<i32>,
    location: LocationId,
    stage: Stage,
    since: Date,
    entered: Date,
    flags: Vec<Flag>,
    identity: BTreeMap<PersonField, String>,
}

/// Rows sealed between two progress reports.
const SEAL_BLOCK_ROWS: usize = 10_000;

/// Splits a flags cell: `minor;pregnant`, `minor|pregnant` or `minor pregnant`.
fn split_flags(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', '|', ' ', ','])
        .map(str::trim)
        .filter(|word| !word.is_empty())
}

impl App {
    /// Imports people from CSV. Validates every row first and reports every problem (line,
    /// column, reason) without writing anything; then writes all rows in one transaction.
    pub async fn import_people<R: std::io::Read>(
        &self,
        session: &Session,
        input: R,
        options: ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> AppResult<ImportReport> {
        session.require(Action::Import)?;
        session.require(Action::RegisterPeople)?;
        let today = self.today();
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
        let header_error = |message: String| {
            AppError::Import(vec![RowError {
                line: 1,
                column: "header".into(),
                message,
            }])
        };
        let headers: Vec<String> = reader
            .headers()
            .map_err(|error| header_error(format!("unreadable: {error}")))?
            .iter()
            .map(|name| name.trim().to_ascii_lowercase())
            .collect();
        let missing: Vec<&str> = IMPORT_REQUIRED
            .iter()
            .copied()
            .filter(|name| !headers.iter().any(|header| header == name))
            .collect();
        let unknown: Vec<&str> = headers
            .iter()
            .map(String::as_str)
            .filter(|name| !IMPORT_REQUIRED.contains(name) && !IMPORT_OPTIONAL.contains(name))
            .collect();
        if !missing.is_empty() || !unknown.is_empty() {
            let mut message = Vec::new();
            if !missing.is_empty() {
                message.push(format!("missing column(s): {}", missing.join(", ")));
            }
            if !unknown.is_empty() {
                message.push(format!(
                    "unknown column(s): {} (known: {}, {})",
                    unknown.join(", "),
                    IMPORT_REQUIRED.join(", "),
                    IMPORT_OPTIONAL.join(", ")
                ));
            }
            return Err(header_error(message.join("; ")));
        }
        let column: HashMap<&str, usize> = headers
            .iter()
            .enumerate()
            .map(|(index, name)| (name.as_str(), index))
            .collect();

        let locations: HashMap<String, Location> = self
            .store
            .locations()
            .await?
            .into_iter()
            .map(|location| (location.code.clone(), location))
            .collect();

        let mut errors = Vec::new();
        let mut rows = Vec::new();
        for (index, record) in reader.records().enumerate() {
            let line = index as u64 + 2;
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    let line = error.position().map_or(line, |position| position.line());
                    // The csv error can quote the offending field: report its kind only.
                    let reason = match error.kind() {
                        csv::ErrorKind::UnequalLengths {
                            expected_len, len, ..
                        } => {
                            format!("has {len} fields, the header has {expected_len}")
                        }
                        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
                        _ => "cannot be read as CSV".to_string(),
                    };
                    errors.push(RowError {
                        line,
                        column: "row".into(),
                        message: reason,
                    });
                    continue;
                }
            };
            let cell = |name: &str| {
                column
                    .get(name)
                    .and_then(|index| record.get(*index))
                    .map(str::trim)
                    .unwrap_or("")
            };
            let mut fail = |column: &str, message: String| {
                errors.push(RowError {
                    line,
                    column: column.to_string(),
                    message,
                });
            };
            let household_ref = cell("household_ref").to_string();
            if household_ref.is_empty() {
                fail(
                    "household_ref",
                    "is empty (rows with the same value form one household)".into(),
                );
            }
            if cell("name").is_empty() {
                fail("name", "is empty".into());
            }
            let sex = match cell("sex") {
                "" => Sex::Unknown,
                text => text.parse().unwrap_or_else(|error: UnknownName| {
                    fail("sex", error.to_string());
                    Sex::Unknown
                }),
            };
            let birth_year = match cell("birth_year") {
                "" => None,
                text => match text.parse::<i32>() {
                    Ok(year) => {
                        if let Err(reason) = check_birth_year(year, today) {
                            fail("birth_year", reason);
                        }
                        Some(year)
                    }
                    Err(_) => {
                        fail("birth_year", format!("'{text}' is not a year"));
                        None
                    }
                },
            };
            let location_code = cell("location").to_ascii_uppercase();
            let location = match locations.get(&location_code) {
                Some(location) => {
                    if !session.sees_location(location.id) {
                        fail(
                            "location",
                            format!("{location_code} is outside your compartments"),
                        );
                    }
                    Some(location.id)
                }
                None => {
                    fail(
                        "location",
                        format!("no location with code '{location_code}'"),
                    );
                    None
                }
            };
            let stage = match cell("stage") {
                "" => Stage::Sheltered,
                text => match text.parse::<Stage>() {
                    Ok(stage) if stage.is_present() => stage,
                    Ok(stage) => {
                        fail(
                            "stage",
                            format!(
                                "people are imported at stage hiding, transit, sheltered or detained, not {stage}"
                            ),
                        );
                        stage
                    }
                    Err(error) => {
                        fail("stage", error.to_string());
                        Stage::Sheltered
                    }
                },
            };
            let since = match parse_day(cell("since")) {
                Some(date) if date > today => {
                    fail("since", format!("{date} is in the future"));
                    date
                }
                Some(date) => date,
                None => {
                    fail(
                        "since",
                        format!("'{}' is not a date (YYYY-MM-DD)", cell("since")),
                    );
                    today
                }
            };
            let entered = match cell("entered") {
                "" => since,
                text => match parse_day(text) {
                    Some(date) if date > since => {
                        fail(
                            "entered",
                            "is after since (arrival at the current location)".into(),
                        );
                        date
                    }
                    Some(date) => date,
                    None => {
                        fail("entered", format!("'{text}' is not a date (YYYY-MM-DD)"));
                        since
                    }
                },
            };
            let mut flags = Vec::new();
            for word in split_flags(cell("flags")) {
                match word.parse::<Flag>() {
                    Ok(flag) => flags.push(flag),
                    Err(error) => fail("flags", error.to_string()),
                }
            }
            let split_allowed = match cell("split_allowed").to_ascii_lowercase().as_str() {
                "" | "no" | "false" | "0" => false,
                "yes" | "true" | "1" => true,
                other => {
                    fail("split_allowed", format!("'{other}' is not yes or no"));
                    false
                }
            };
            let mut identity = BTreeMap::new();
            for field in PersonField::ALL {
                let value = cell(field.as_str());
                if !value.is_empty() {
                    identity.insert(*field, value.to_string());
                }
            }
            if let Some(dob) = identity.get(&PersonField::DateOfBirth) {
                // Never echo a protected value in an error.
                match parse_day(dob) {
                    None => fail("date_of_birth", "is not a date (YYYY-MM-DD)".into()),
                    Some(date) if birth_year.is_some_and(|year| year != date.year()) => {
                        fail("date_of_birth", "does not match birth_year".into());
                    }
                    Some(_) => {}
                }
            }
            if let Some(location) = location {
                rows.push(Row {
                    line,
                    household_ref,
                    split_allowed,
                    sex,
                    birth_year,
                    location,
                    stage,
                    since,
                    entered,
                    flags,
                    identity,
                });
            }
            if line.is_multiple_of(10_000) {
                progress(ImportProgress {
                    phase: "checking",
                    done: line - 1,
                    total: 0,
                });
            }
        }
        let total = rows.len() as u64;
        progress(ImportProgress {
            phase: "checking",
            done: total,
            total,
        });

        // Households named by an existing code join it; other references form new households.
        let mut existing_households: HashMap<String, HouseholdId> = HashMap::new();
        for row in &rows {
            if CodeKind::of_code(&row.household_ref) == Some(CodeKind::Household)
                && !existing_households.contains_key(&row.household_ref)
            {
                match self
                    .store
                    .household_by_code(&normalize_code(&row.household_ref))
                    .await?
                {
                    Some(household) => {
                        existing_households.insert(row.household_ref.clone(), household.id);
                    }
                    None => errors.push(RowError {
                        line: row.line,
                        column: "household_ref".into(),
                        message: format!("no household with code {}", row.household_ref),
                    }),
                }
            }
        }

        if !errors.is_empty() {
            errors.sort_by_key(|error| error.line);
            return Err(AppError::Import(errors));
        }

        // Seal and index.
        let index_bits = self.name_index_bits().await?;
        let mut person_codes = self.fresh_codes(CodeKind::Person, rows.len()).await?;
        // New household references in order of first appearance, with that first row (whose
        // split_allowed decides the household's).
        let mut first_row: HashMap<&str, &Row> = HashMap::new();
        let mut new_refs: Vec<&String> = Vec::new();
        for row in &rows {
            if !existing_households.contains_key(&row.household_ref)
                && !first_row.contains_key(row.household_ref.as_str())
            {
                first_row.insert(row.household_ref.as_str(), row);
                new_refs.push(&row.household_ref);
            }
        }
        let mut household_codes = self
            .fresh_codes(CodeKind::Household, new_refs.len())
            .await?;
        let mut events = Vec::with_capacity(rows.len() + new_refs.len());
        let mut household_of: HashMap<String, HouseholdId> = existing_households;
        for reference in &new_refs {
            let first = first_row.get(reference.as_str());
            let household = Household {
                id: HouseholdId(self.new_uuid()?),
                code: household_codes.pop().unwrap_or_default(),
                head: None,
                split_allowed: first.is_some_and(|row| row.split_allowed),
                version: 0,
            };
            household_of.insert((*reference).clone(), household.id);
            events.push(self.new_event(session, EventBody::HouseholdAdded { household })?);
        }
        let mut people = Vec::with_capacity(rows.len());
        for row in &rows {
            people.push(Person::registered(
                PersonId(self.new_uuid()?),
                person_codes.pop().unwrap_or_default(),
                household_of[&row.household_ref],
                Registration {
                    sex: row.sex,
                    birth_year: row.birth_year,
                    flags: row.flags.iter().copied().collect(),
                    stage: row.stage,
                    location: row.location,
                    since: row.since,
                    entered: row.entered,
                },
            ));
        }
        // Sealing is most of the import's own work: blocks of rows, each sealed on every core.
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let sealer = session.sealer();
        for (block, (people, rows)) in people
            .chunks_mut(SEAL_BLOCK_ROWS)
            .zip(rows.chunks(SEAL_BLOCK_ROWS))
            .enumerate()
        {
            progress(ImportProgress {
                phase: "sealing",
                done: (block * SEAL_BLOCK_ROWS) as u64,
                total,
            });
            let share = people.len().div_ceil(threads).max(1);
            std::thread::scope(|scope| {
                let workers: Vec<_> = people
                    .chunks_mut(share)
                    .zip(rows.chunks(share))
                    .map(|(people, rows)| {
                        scope.spawn(move || {
                            people.iter_mut().zip(rows).try_for_each(|(person, row)| {
                                seal_identity(sealer, person, &row.identity, index_bits)
                            })
                        })
                    })
                    .collect();
                workers.into_iter().try_for_each(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
            })?;
        }
        progress(ImportProgress {
            phase: "sealing",
            done: total,
            total,
        });

        let duplicates = self.find_duplicates(session, &rows, &people).await?;
        if !options.allow_duplicates {
            errors.extend(duplicates.iter().map(|(line, like)| RowError {
                line: *line,
                column: "name".into(),
                message: format!(
                    "likely duplicate of {like} (same name and birth year); use --allow-duplicates to import anyway"
                ),
            }));
        }
        // Capacity per location, unless the import says it may go over.
        let mut arriving: BTreeMap<LocationId, u32> = BTreeMap::new();
        for row in &rows {
            *arriving.entry(row.location).or_default() += 1;
        }
        if !options.over_capacity {
            let occupancy: HashMap<LocationId, u64> =
                self.store.occupancy().await?.into_iter().collect();
            for location in locations.values() {
                let coming = arriving.get(&location.id).copied().unwrap_or_default();
                let present = occupancy.get(&location.id).copied().unwrap_or_default();
                if coming > 0 && present + u64::from(coming) > u64::from(location.capacity) {
                    errors.push(RowError {
                        line: 1,
                        column: "location".into(),
                        message: format!(
                            "{} would hold {} people in {} beds ({present} present, {coming} imported); use --over-capacity to import anyway",
                            location.code,
                            present + u64::from(coming),
                            location.capacity
                        ),
                    });
                }
            }
        }

        if !errors.is_empty() {
            errors.sort_by_key(|error| error.line);
            return Err(AppError::Import(errors));
        }

        for person in &people {
            events.push(self.new_event(
                session,
                EventBody::PersonAdded {
                    person: person.clone(),
                },
            )?);
        }
        progress(ImportProgress {
            phase: "writing",
            done: 0,
            total,
        });
        let guards = if options.over_capacity {
            Vec::new()
        } else {
            arriving
                .iter()
                .map(|(location, count)| Guard::LocationHasRoom {
                    location: *location,
                    arriving: *count,
                })
                .collect()
        };
        let detail = format!(
            "{} people{}",
            people.len(),
            if options.over_capacity {
                ", over capacity allowed"
            } else {
                ""
            }
        );
        self.commit(Commit {
            events,
            guards,
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::Import,
                "people",
                &detail,
            )],
            ..Commit::default()
        })
        .await?;
        progress(ImportProgress {
            phase: "writing",
            done: total,
            total,
        });
        Ok(ImportReport {
            people: people.len(),
            households: new_refs.len(),
            duplicates: duplicates
                .iter()
                .map(|(line, like)| format!("line {line} looks like {like}"))
                .collect(),
        })
    }

    /// Rows that look like a registered person or an earlier row: same blind index, then
    /// confirmed by comparing the opened names and birth years. (line, the look-alike).
    async fn find_duplicates(
        &self,
        session: &Session,
        rows: &[Row],
        people: &[Person],
    ) -> AppResult<Vec<(u64, String)>> {
        let mut found = Vec::new();
        let key_of = |row: &Row| {
            (
                normalize_name(
                    row.identity
                        .get(&PersonField::Name)
                        .map_or("", String::as_str),
                ),
                row.birth_year,
            )
        };
        let mut first_line: HashMap<(String, Option<i32>), u64> = HashMap::new();
        for row in rows {
            if let Some(line) = first_line.get(&key_of(row)) {
                found.push((row.line, format!("line {line}")));
            } else {
                first_line.insert(key_of(row), row.line);
            }
        }
        let indexes: Vec<i64> = people
            .iter()
            .filter_map(|person| person.duplicate_index)
            .collect();
        let candidates = self.store.people_by_duplicate_index(&indexes).await?;
        let mut by_index: HashMap<i64, Vec<&Person>> = HashMap::new();
        for candidate in &candidates {
            if let Some(index) = candidate.duplicate_index {
                by_index.entry(index).or_default().push(candidate);
            }
        }
        for (row, person) in rows.iter().zip(people) {
            let Some(matches) = person
                .duplicate_index
                .and_then(|index| by_index.get(&index))
            else {
                continue;
            };
            let (name, year) = key_of(row);
            for candidate in matches {
                if candidate.birth_year != year {
                    continue;
                }
                let id_text = candidate.id.to_string();
                if let Some(sealed) = candidate.sealed.get(&PersonField::Name) {
                    let other = session
                        .sealer()
                        .open(&sealed.0, person_context(&id_text, PersonField::Name))?;
                    if normalize_name(other.as_str()) == name {
                        found.push((row.line, candidate.code.clone()));
                    }
                }
            }
        }
        found.sort();
        Ok(found)
    }
}
