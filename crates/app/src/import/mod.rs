//! `refuge import people FILE.csv`: all or nothing, every problem reported at once.
//!
//! In named phases: parse (header and rows, `parse.rs`) → resolve households (existing codes
//! join, other references form new households) → build and seal the records (on every
//! core) → check (likely duplicates, capacity) → commit (one transaction). The first two
//! checks report every problem before anything is sealed; nothing is written unless every
//! check passes.

mod parse;

use crate::keyring::NewKeys;
use crate::people::seal_identity;
use crate::*;
mod xlsx;

pub use parse::DateOrder;
use parse::{LineLimit, RowContext, parse_rows, read_columns};
pub use parse::{MAX_IMPORT_ROWS, MAX_LINE_BYTES};
use refuge_store::{Guard, RecordKey, SideWrite};
use std::collections::{BTreeMap, HashMap};
pub use xlsx::MAX_XLSX_BYTES;

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
    "waiting_since",
    "split_allowed",
    "destination",
];

#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Columns of the file to leave out (a volunteer's extra `phone` column), by header name
    /// as the file spells it (case and spaces do not matter).
    pub ignore_columns: Vec<String>,
    /// Import rows that look like people already registered (or like other rows).
    pub allow_duplicates: bool,
    /// Import even where a location would go over capacity (recorded in the access log).
    pub over_capacity: bool,
    /// How dates that are not ISO are read (`--date-order`); without it only ISO is.
    pub date_order: Option<DateOrder>,
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
    /// The codes each line of the file became, in the file's order.
    pub codes: Vec<ImportedCode>,
    /// Likely duplicates that were imported anyway (with `allow_duplicates`).
    pub duplicates: Vec<String>,
}

/// What one line of the file became: the sheet can be updated with codes, without names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedCode {
    pub line: u64,
    pub person: String,
    pub household: String,
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
    /// Given when the wait began at an earlier place.
    waiting_since: Option<Date>,
    entered: Date,
    flags: Vec<Flag>,
    /// Where they want to go, as the sheet says (recorded as said on the day of the import).
    wish: Option<DestinationWish>,
    identity: BTreeMap<PersonField, String>,
}

/// Rows sealed between two progress reports.
const SEAL_BLOCK_ROWS: usize = 10_000;

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
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(LineLimit::new(input));
        let columns = read_columns(&mut reader, &options.ignore_columns)?;
        let locations: HashMap<String, Location> = self
            .store
            .locations()
            .await?
            .into_iter()
            .map(|location| (location.code.clone(), location))
            .collect();
        let context = RowContext {
            columns: &columns,
            locations: &locations,
            session,
            today: self.today(),
            date_order: options.date_order,
        };
        let mut errors = ImportProblems::default();
        let rows = parse_rows(&mut reader, &context, &mut errors, progress);
        let total = rows.len() as u64;
        progress(ImportProgress {
            phase: "checking",
            done: total,
            total,
        });
        // Every problem in one pass: the rows that parsed go on to the household, duplicate and
        // capacity checks even when others did not, and the import is refused once, with all.
        let existing = self
            .existing_households(session, &rows, &mut errors)
            .await?;

        let households = self.new_households(session, &rows, existing).await?;
        let mut people = self
            .registered_people(&rows, &households.of_reference)
            .await?;
        let keys = self
            .seal_imported(session, &rows, &mut people, progress)
            .await?;

        let duplicates = self.find_duplicates(session, &rows, &people).await?;
        if !options.allow_duplicates {
            for problem in duplicate_problems(&duplicates) {
                errors.add(problem);
            }
        }
        let mut arriving: BTreeMap<LocationId, u32> = BTreeMap::new();
        rows.iter()
            .for_each(|row| *arriving.entry(row.location).or_default() += 1);
        if !options.over_capacity {
            for problem in self.capacity_problems(&locations, &arriving).await? {
                errors.add(problem);
            }
        }
        refuse(errors)?;

        let imported = people.len();
        let codes = imported_codes(&rows, &people, &households.code_of_reference);
        self.commit_import(
            session,
            households.events,
            (people, keys.into_side_writes()),
            &arriving,
            options,
            progress,
        )
        .await?;
        Ok(ImportReport {
            people: imported,
            households: households.created,
            codes,
            duplicates: duplicates
                .iter()
                .map(|(line, like)| format!("line {line} looks like {like}"))
                .collect(),
        })
    }

    /// Phase 4: every identity sealed under its record's new key (in its location's
    /// compartment), the blind indexes made. Returns the new keys.
    async fn seal_imported(
        &self,
        session: &Session,
        rows: &[Row],
        people: &mut [Person],
        progress: &mut dyn FnMut(ImportProgress),
    ) -> AppResult<NewKeys> {
        let index_bits = self.name_index_bits().await?;
        let mut keys = self.new_keys(session).await?;
        for row in rows {
            keys.prepare(&row.location.to_string())?;
        }
        let sealing = Sealing {
            keys: &keys,
            index: &*self.index_sealer(session)?,
            index_bits,
        };
        for key in seal_rows(&sealing, people, rows, progress)? {
            keys.keep(Some(key));
        }
        Ok(keys)
    }

    /// Phase 2: rows whose household reference is an existing household's code join it; a
    /// code that names no household (or one outside the user's compartments) is a problem.
    async fn existing_households(
        &self,
        session: &Session,
        rows: &[Row],
        errors: &mut ImportProblems,
    ) -> AppResult<HashMap<String, HouseholdId>> {
        let mut existing: HashMap<String, HouseholdId> = HashMap::new();
        for row in rows {
            if CodeKind::of_code(&row.household_ref) == Some(CodeKind::Household)
                && !existing.contains_key(&row.household_ref)
            {
                match self.household_for(session, &row.household_ref).await {
                    Ok(household) => {
                        existing.insert(row.household_ref.clone(), household.id);
                    }
                    Err(AppError::NotFound { .. }) => errors.add(RowError {
                        line: row.line,
                        column: "household_ref".into(),
                        message: Reason::new("no-such-household").with("code", &row.household_ref),
                    }),
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(existing)
    }

    /// Phase 3a: a new household for every other reference, in order of first appearance;
    /// that first row's `split_allowed` decides the household's.
    async fn new_households(
        &self,
        session: &Session,
        rows: &[Row],
        existing: HashMap<String, HouseholdId>,
    ) -> AppResult<NewHouseholds> {
        let mut first_row: HashMap<&str, &Row> = HashMap::new();
        let mut new_refs: Vec<&String> = Vec::new();
        for row in rows {
            if !existing.contains_key(&row.household_ref)
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
        // An existing household's reference is its code.
        let mut code_of_reference: HashMap<String, String> = existing
            .keys()
            .map(|reference| (reference.clone(), reference.clone()))
            .collect();
        let mut of_reference = existing;
        for reference in &new_refs {
            let first = first_row.get(reference.as_str());
            let household = Household {
                id: HouseholdId(self.new_uuid()?),
                code: household_codes.pop().unwrap_or_default(),
                head: None,
                split_allowed: first.is_some_and(|row| row.split_allowed),
                version: 0,
            };
            of_reference.insert((*reference).clone(), household.id);
            code_of_reference.insert((*reference).clone(), household.code.clone());
            events.push(self.new_event(session, EventBody::HouseholdAdded { household })?);
        }
        Ok(NewHouseholds {
            events,
            of_reference,
            code_of_reference,
            created: new_refs.len(),
        })
    }

    /// Phase 3b: a registered person for every row, each with a fresh code.
    async fn registered_people(
        &self,
        rows: &[Row],
        household_of: &HashMap<String, HouseholdId>,
    ) -> AppResult<Vec<Person>> {
        let mut person_codes = self.fresh_codes(CodeKind::Person, rows.len()).await?;
        let today = self.today();
        rows.iter()
            .map(|row| {
                let mut person = Person::registered(
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
                        waiting_since: row.waiting_since,
                        entered: row.entered,
                    },
                );
                person.wish = row.wish;
                person.wish_recorded = row.wish.map(|_| today);
                Ok(person)
            })
            .collect()
    }

    /// Phase 4b: locations the import would fill beyond their beds.
    async fn capacity_problems(
        &self,
        locations: &HashMap<String, Location>,
        arriving: &BTreeMap<LocationId, u32>,
    ) -> AppResult<Vec<RowError>> {
        let occupancy: HashMap<LocationId, u64> =
            self.store.occupancy().await?.into_iter().collect();
        let mut problems = Vec::new();
        for location in locations.values() {
            let coming = arriving.get(&location.id).copied().unwrap_or_default();
            let present = occupancy.get(&location.id).copied().unwrap_or_default();
            if coming > 0 && present + u64::from(coming) > u64::from(location.capacity) {
                problems.push(RowError {
                    line: 1,
                    column: "location".into(),
                    message: Reason::new("import-over-capacity")
                        .with("code", &location.code)
                        .count("total", present + u64::from(coming))
                        .count("beds", location.capacity.into())
                        .count("present", present)
                        .count("coming", coming.into()),
                });
            }
        }
        Ok(problems)
    }

    /// Phase 5: every event in one transaction, with the capacity guards (unless the import
    /// may go over) and the access-log entry.
    async fn commit_import(
        &self,
        session: &Session,
        mut events: Vec<NewEvent>,
        (people, record_keys): (Vec<Person>, Vec<SideWrite>),
        arriving: &BTreeMap<LocationId, u32>,
        options: ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> AppResult<()> {
        let total = people.len() as u64;
        let detail = format!(
            "{total} people{}",
            if options.over_capacity {
                ", over capacity allowed"
            } else {
                ""
            }
        );
        for mut person in people {
            // A wish is its own event, as when it is said on the person's page: the history
            // shows it, and a later one replaces it.
            let wish = person.wish.take().zip(person.wish_recorded.take());
            let id = person.id;
            events.push(self.new_event(session, EventBody::PersonAdded { person })?);
            if let Some((wish, on)) = wish {
                events.push(self.new_event(
                    session,
                    EventBody::DestinationWishSet {
                        person: id,
                        wish,
                        on,
                    },
                )?);
            }
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
        self.commit(Commit {
            events,
            guards,
            side_writes: record_keys,
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
        Ok(())
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
        let ids: Vec<String> = candidates.iter().map(|c| c.id.to_string()).collect();
        let sealers = self.record_sealers(session, &ids).await?;
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
                    // Someone outside the session's compartments is not confirmed.
                    let Some(sealer) = sealers.get(&id_text) else {
                        continue;
                    };
                    let other =
                        sealer.open(&sealed.0, person_context(&id_text, PersonField::Name))?;
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

/// The households an import creates (their events), and the household of every reference.
struct NewHouseholds {
    events: Vec<NewEvent>,
    of_reference: HashMap<String, HouseholdId>,
    /// The code of every household a reference names (new or existing).
    code_of_reference: HashMap<String, String>,
    created: usize,
}

/// All or nothing: the problems found so far, sorted by line, refuse the whole import.
fn refuse(mut errors: ImportProblems) -> AppResult<()> {
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort();
    Err(AppError::Import(errors))
}

/// What sealing rows needs: the command's record keys (envelopes prepared for every row's
/// location), and the blind-index sealer.
struct Sealing<'a> {
    keys: &'a NewKeys,
    index: &'a Sealer,
    index_bits: u32,
}

/// Each line's new person code and household code, for the report.
fn imported_codes(
    rows: &[Row],
    people: &[Person],
    household_codes: &HashMap<String, String>,
) -> Vec<ImportedCode> {
    rows.iter()
        .zip(people)
        .map(|(row, person)| ImportedCode {
            line: row.line,
            person: person.code.clone(),
            household: household_codes
                .get(&row.household_ref)
                .cloned()
                .unwrap_or_default(),
        })
        .collect()
}

/// Each likely duplicate as a problem of its line, naming whom it looks like.
fn duplicate_problems(duplicates: &[(u64, String)]) -> impl Iterator<Item = RowError> + '_ {
    duplicates.iter().map(|(line, like)| RowError {
        line: *line,
        column: "name".into(),
        message: Reason::new("import-likely-duplicate").with("like", like),
    })
}

/// Phase 3c: gives every row a record key (wrapped to its location) and seals and indexes its
/// identity under it. Sealing is most of the import's own work: blocks of rows (progress
/// between them), each sealed on every core. Returns the wrapped record keys.
fn seal_rows(
    sealing: &Sealing<'_>,
    people: &mut [Person],
    rows: &[Row],
    progress: &mut dyn FnMut(ImportProgress),
) -> AppResult<Vec<RecordKey>> {
    let mut record_keys = Vec::with_capacity(rows.len());
    let total = rows.len() as u64;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
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
                        people
                            .iter_mut()
                            .zip(rows)
                            .map(|(person, row)| {
                                let (sealer, key) = sealing
                                    .keys
                                    .make(&person.id.to_string(), &row.location.to_string())?;
                                seal_identity(
                                    &sealer,
                                    sealing.index,
                                    person,
                                    &row.identity,
                                    sealing.index_bits,
                                )?;
                                Ok(key)
                            })
                            .collect::<AppResult<Vec<Option<RecordKey>>>>()
                    })
                })
                .collect();
            for worker in workers {
                let keys = worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
                record_keys.extend(keys.into_iter().flatten());
            }
            AppResult::Ok(())
        })?;
    }
    progress(ImportProgress {
        phase: "sealing",
        done: total,
        total,
    });
    Ok(record_keys)
}
