//! XLSX sheets, as volunteers keep them: the first sheet is read into CSV in memory (never
//! on disk: it may hold names) and imported like a CSV file, row numbers as line numbers.

use super::*;
use calamine::{Data, Reader, Xlsx};

/// The largest workbook read (it is read whole into memory).
pub const MAX_XLSX_BYTES: usize = 64 * 1024 * 1024;

impl App {
    /// Imports people from the first sheet of an XLSX workbook; see `import_people`.
    pub async fn import_people_xlsx(
        &self,
        session: &Session,
        workbook: &[u8],
        options: ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> AppResult<ImportReport> {
        session.require(Action::Import)?;
        let csv = sheet_as_csv(workbook)?;
        self.import_people(session, csv.as_slice(), options, progress)
            .await
    }
}

/// The first sheet as CSV bytes, or what is wrong with the workbook (never a cell's value).
fn sheet_as_csv(workbook: &[u8]) -> AppResult<Vec<u8>> {
    if workbook.len() > MAX_XLSX_BYTES {
        return Err(AppError::invalid(
            "file",
            Reason::new("workbook-too-large")
                .count("mebibytes", (MAX_XLSX_BYTES / 1024 / 1024) as u64),
        ));
    }
    // calamine panics on some malformed workbooks (a cell reference whose row number
    // overflows, found by fuzz/import_xlsx): to the volunteer, one more unreadable sheet.
    let sheet = std::panic::catch_unwind(|| first_sheet(workbook))
        .unwrap_or_else(|_| Err(AppError::invalid("file", Reason::new("sheet-unreadable"))))?;
    if sheet.height() > MAX_IMPORT_ROWS + 1 {
        return Err(AppError::invalid(
            "file",
            Reason::new("too-many-rows").count("most", MAX_IMPORT_ROWS as u64),
        ));
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in sheet.rows() {
        // A row of empty cells (the formatting Excel leaves below a list) ends nothing but
        // is no person: skip it.
        if row.iter().all(|cell| matches!(cell, Data::Empty)) {
            continue;
        }
        writer
            .write_record(row.iter().map(cell_text))
            .map_err(|error| AppError::csv_output("sheet", error))?;
    }
    writer
        .into_inner()
        .map_err(|_| AppError::invalid("file", Reason::new("sheet-unconvertible")))
}

fn first_sheet(workbook: &[u8]) -> AppResult<calamine::Range<Data>> {
    let mut book = Xlsx::new(std::io::Cursor::new(workbook))
        .map_err(|_| AppError::invalid("file", Reason::new("not-a-workbook")))?;
    book.worksheet_range_at(0)
        .ok_or_else(|| AppError::invalid("file", Reason::new("workbook-without-sheet")))?
        .map_err(|_| AppError::invalid("file", Reason::new("sheet-unreadable")))
}

/// A cell as the CSV import reads it: numbers without a needless ".0" (a birth year typed as
/// a number), dates as YYYY-MM-DD, an error cell as its Excel code (the import names it).
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(text) => text.clone(),
        Data::Int(number) => number.to_string(),
        Data::Float(number) if number.fract() == 0.0 && number.abs() < 1e15 => {
            format!("{number:.0}")
        }
        Data::Float(number) => number.to_string(),
        Data::Bool(value) => value.to_string(),
        Data::DateTime(date) if date.is_datetime() => {
            let (year, month, day, ..) = date.to_ymd_hms_milli();
            format!("{year:04}-{month:02}-{day:02}")
        }
        Data::DateTime(duration) => duration.as_f64().to_string(),
        Data::DateTimeIso(text) => text.get(..10).unwrap_or(text).to_string(),
        Data::DurationIso(text) => text.clone(),
        Data::Error(error) => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_no_workbook_is_named_as_such() {
        let refused = sheet_as_csv(b"household_ref,name\n")
            .unwrap_err()
            .to_string();
        assert!(refused.contains("not an XLSX workbook"), "{refused}");
    }

    /// Found by the fuzz target: calamine overflowed on this workbook's cell reference and
    /// panicked (in a build with overflow checks, as the tests and `cargo run` are).
    #[test]
    fn a_workbook_that_makes_the_reader_panic_is_an_unreadable_sheet() {
        let workbook = include_bytes!("../../tests/fixtures/overflowing-cell-reference.xlsx");
        let refused = sheet_as_csv(workbook).unwrap_err().to_string();
        assert!(refused.contains("cannot be read"), "{refused}");
    }

    #[test]
    fn cells_read_as_a_volunteer_typed_them() {
        assert_eq!(cell_text(&Data::Float(1990.0)), "1990");
        assert_eq!(cell_text(&Data::Float(2.5)), "2.5");
        assert_eq!(cell_text(&Data::Int(3)), "3");
        assert_eq!(
            cell_text(&Data::DateTimeIso("2026-10-01T00:00:00".into())),
            "2026-10-01"
        );
        let date =
            calamine::ExcelDateTime::new(46_296.0, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(date)), "2026-10-01");
    }
}
