//! Imports from CSV and XLSX, and exports: all or nothing, every problem named, bounded.

use crate::support::{NOW, TestDb, identity, org};
use refuge_app::*;
use refuge_core::*;

const HEADER: &str =
    "household_ref,name,sex,birth_year,location,stage,since,flags,origin,date_of_birth\n";

/// An import of at least 10,000 people into a smaller organisation drops the people indexes
/// and builds them again after the insert (on SQLite): afterwards every index is as it was,
/// the name search finds an imported person through the rebuilt blind index, and verify
/// agrees with the tables.
async fn a_large_import_leaves_every_index_as_it_was(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let indexes = if org.db.postgres {
        "SELECT string_agg(indexname || ' ' || indexdef, ' | ' ORDER BY indexname) \
         FROM pg_indexes WHERE tablename = 'people'"
    } else {
        "SELECT group_concat(name || ' ' || coalesce(sql, 'constraint'), ' | ') FROM \
         (SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'people' \
          ORDER BY name)"
    };
    let mut raw = org.db.raw().await;
    let before = raw.text(indexes, &[]).await;
    assert!(before.contains("people_duplicate_index"), "{before}");
    let mut csv = String::from(HEADER);
    for index in 0..10_000 {
        csv.push_str(&format!(
            "bulk-{},Synthetic Bulk-{index:05},female,1990,SHL-{},sheltered,2026-10-01,,Synthetic origin,1990-01-02\n",
            index / 3,
            if index % 2 == 0 { 'A' } else { 'B' }
        ));
    }
    let report = app
        .import_people(
            &org.admin,
            csv.as_bytes(),
            ImportOptions {
                over_capacity: true,
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.people, 10_000);
    assert_eq!(raw.text(indexes, &[]).await, before);
    let found = app
        .list_people(
            &org.admin,
            &PeopleQuery {
                name: Some("Synthetic Bulk-04321".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

async fn import_is_all_or_nothing_and_reports_every_problem(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let before = org.store.load_state().await.unwrap();
    let bad = format!(
        "{HEADER}\
         h1,Kim Import-1,female,1990,SHL-A,sheltered,2026-10-01,minor,Synthetic origin,1990-03-04\n\
         h1,,female,1890,SHL-Z,flying,2026-13-01,brave,Synthetic origin,not-a-date\n\
         h2,Lee Import-2,robot,1985,SHL-B,departed,2026-10-01,,,\n"
    );
    let error = app
        .import_people(
            &org.admin,
            bad.as_bytes(),
            ImportOptions {
                over_capacity: true,
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
        .unwrap_err();
    let AppError::Import(problems) = &error else {
        panic!("{error}")
    };
    let found: Vec<(u64, &str)> = problems
        .iter()
        .map(|problem| (problem.line, problem.column.as_str()))
        .collect();
    for expected in [
        (3, "name"),
        (3, "birth_year"),
        (3, "location"),
        (3, "stage"),
        (3, "since"),
        (3, "flags"),
        (3, "date_of_birth"),
        (4, "sex"),
        (4, "stage"),
    ] {
        assert!(
            found.contains(&expected),
            "{expected:?} missing from {found:?}"
        );
    }
    assert!(
        !error.to_string().contains("not-a-date"),
        "protected values are not echoed"
    );
    assert_eq!(
        org.store.load_state().await.unwrap(),
        before,
        "nothing written"
    );

    let missing_column = app
        .import_people(
            &org.admin,
            "name,sex\nx,female\n".as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing_column
            .contains("line 1, column header: missing column(s): household_ref, birth_year"),
        "{missing_column}"
    );

    let good = format!(
        "{HEADER}\
         fam-1,Kim Import-1,female,1990,SHL-A,sheltered,2026-10-01,minor;pregnant,Synthetic origin,1990-03-04\n\
         fam-1,Kim Import-2,male,2015,SHL-A,sheltered,2026-10-01,minor,,\n"
    );
    let report = app
        .import_people(
            &org.admin,
            good.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!((report.people, report.households), (2, 1));
    let family = app
        .list_people(
            &org.admin,
            &PeopleQuery {
                name: Some("Kim Import-2".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(family.len(), 1);

    // The same file again: every row is a likely duplicate, refused without the flag.
    let error = app
        .import_people(
            &org.admin,
            good.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("line 2, column name: likely duplicate of P-"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("SHL-A would hold 5 people in 3 beds"),
        "{error}"
    );
    let over = app
        .import_people(
            &org.admin,
            good.as_bytes(),
            ImportOptions {
                allow_duplicates: true,
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        over.to_string()
            .contains("SHL-A would hold 5 people in 3 beds"),
        "{over}"
    );
    let report = app
        .import_people(
            &org.admin,
            good.as_bytes(),
            ImportOptions {
                allow_duplicates: true,
                over_capacity: true,
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.duplicates.len(), 2);
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// A volunteer's spreadsheet as she saved it (.xlsx, the birth year a number, Korean words,
/// an empty row below the list) imports like the same sheet saved as CSV.
async fn an_xlsx_sheet_imports_like_its_csv(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let workbook = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/volunteers.xlsx"
    ))
    .unwrap();
    let report = app
        .import_people_xlsx(&org.admin, &workbook, ImportOptions::default(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!((report.people, report.households), (2, 1));
    assert_eq!(report.codes[1].line, 3, "row numbers are line numbers");
    let first = app
        .show_person(&org.admin, &report.codes[0].person, false)
        .await
        .unwrap();
    assert_eq!(first.person.sex, Sex::Female);
    assert_eq!(first.person.birth_year, Some(1990));
    assert_eq!(first.person.stage, Stage::Sheltered);
    assert_eq!(first.person.since, time::macros::date!(2026 - 10 - 01));
    let refused = app
        .import_people_xlsx(
            &org.admin,
            b"not a workbook",
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("not an XLSX workbook"), "{refused}");
}

/// A volunteer's sheet with day-first dates, someone already registered and a shelter that
/// does not exist: every problem comes back at once (the duplicate too), the dates are read
/// only in the order given, and the import says which codes each line became.
async fn an_import_reads_dates_as_told_lists_every_problem_at_once_and_gives_each_lines_codes(
    db: TestDb,
) {
    let org = org(db).await;
    let app = &org.app;
    let sheet = "household_ref,name,sex,birth_year,location,stage,since,flags\n\
                 h1,Kim Synthetic-A,female,1990,SHL-A,sheltered,01/10/2026,\n\
                 h1,Yoon Dates-2,male,2012,SHL-A,sheltered,02/10/2026,\n\
                 h2,Han Dates-3,female,1985,SHL-NOWHERE,sheltered,2026-10-03,\n";
    let admin = &org.admin;
    let import = async |sheet: &'static str, date_order: Option<DateOrder>| {
        app.import_people(
            admin,
            sheet.as_bytes(),
            ImportOptions {
                date_order,
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
    };
    let guessed = import(sheet, None).await.unwrap_err().to_string();
    assert!(
        guessed.contains("line 2, column since: '01/10/2026' is not a date")
            && guessed.contains("--date-order"),
        "{guessed}"
    );
    let refused = import(sheet, Some(DateOrder::DayFirst))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("2 problem(s)"), "{refused}");
    assert!(
        refused.contains("line 2, column name: likely duplicate of"),
        "the duplicate in the same pass: {refused}"
    );
    assert!(refused.contains("line 4, column location"), "{refused}");
    let report = import(
        "household_ref,name,sex,birth_year,location,stage,since,flags\n\
         h1,Yoon Dates-2,male,2012,SHL-A,sheltered,02/10/2026,\n",
        Some(DateOrder::DayFirst),
    )
    .await
    .unwrap();
    assert_eq!(report.codes.len(), 1);
    let line = &report.codes[0];
    assert_eq!(line.line, 2);
    let view = app
        .show_person(&org.admin, &line.person, false)
        .await
        .unwrap();
    assert_eq!(
        view.person.since,
        time::macros::date!(2026 - 10 - 02),
        "day first"
    );
    assert_eq!(view.household_code, line.household);
}

/// A volunteer's sheet: headers in their own words and case, F/M and 여/남, Korean stage
/// words, an extra phone column left out on request. Without the request the extra column
/// is named; a column given twice under two names is refused.
async fn an_import_takes_the_spellings_volunteers_use(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let sheet = "Household,Full Name,Gender,Birth Year,Shelter,Status,Arrival Date,Flags,Remarks\n\
                 h1,Kim Spelling-1,F,1990,SHL-A,보호소,2026-10-01,,call later\n\
                 h1,Lee Spelling-2,남,2015,SHL-A,sheltered,2026-10-01,minor,\n\
                 h2,Park Spelling-3,여자,1970,SHL-B,구금,2026-10-02,,\n";
    let refused = app
        .import_people(
            &org.admin,
            sheet.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("unknown column(s): remarks"), "{refused}");
    let report = app
        .import_people(
            &org.admin,
            sheet.as_bytes(),
            ImportOptions {
                ignore_columns: vec!["Remarks".into()],
                ..ImportOptions::default()
            },
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!((report.people, report.households), (3, 2));
    let listed = app
        .list_people(
            &org.admin,
            &PeopleQuery {
                name: Some("Park Spelling-3".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed[0].person.sex, Sex::Female);
    assert_eq!(listed[0].person.stage, Stage::Detained);
    let twice = app
        .import_people(
            &org.admin,
            "household_ref,name,sex,gender,birth_year,location,stage,since,flags\n".as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        twice.contains("given twice (under one name or another): sex"),
        "{twice}"
    );
}

/// A sheet's destination column (under any of its names, with the Korean words) records
/// each person's wish as said on the day of the import, in their history; a word that is no
/// destination is refused with its line and column, and nothing is written.
async fn an_import_records_where_people_want_to_go(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let header = "household_ref,name,sex,birth_year,location,stage,since,flags,희망국\n";
    let wrong = format!(
        "{header}h1,Kim Wish-1,female,1990,SHL-A,sheltered,2026-10-01,,KR\n\
         h2,Lee Wish-2,male,1991,SHL-B,sheltered,2026-10-01,,Mars\n"
    );
    let before = org.store.load_state().await.unwrap();
    let error = app
        .import_people(
            &org.admin,
            wrong.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
    let AppError::Import(problems) = &error else {
        panic!("{error}")
    };
    let found: Vec<(u64, &str)> = problems
        .iter()
        .map(|problem| (problem.line, problem.column.as_str()))
        .collect();
    assert_eq!(found, [(3, "destination")]);
    assert!(
        error.to_string().contains("'Mars' is not a destination"),
        "{error}"
    );
    assert_eq!(org.store.load_state().await.unwrap(), before);

    let sheet = format!(
        "{header}h1,Kim Wish-1,female,1990,SHL-A,sheltered,2026-10-01,,kr\n\
         h2,Lee Wish-2,male,1991,SHL-B,sheltered,2026-10-01,,미정\n\
         h3,Park Wish-3,female,1992,SHL-B,sheltered,2026-10-01,,\n"
    );
    let report = app
        .import_people(
            &org.admin,
            sheet.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap();
    let wish_of = async |line: usize| {
        let code = &report.codes[line].person;
        let view = app.show_person(&org.admin, code, false).await.unwrap();
        (view.person.wish, view.person.wish_recorded)
    };
    assert_eq!(
        wish_of(0).await,
        (Some("KR".parse().unwrap()), Some(NOW.date()))
    );
    assert_eq!(
        wish_of(1).await,
        (Some(DestinationWish::Undecided), Some(NOW.date()))
    );
    assert_eq!(wish_of(2).await, (None, None));
    let mut said = Vec::new();
    app.history(&org.admin, Some(&report.codes[0].person), |page| {
        said.extend(page.into_iter().map(|event| event.change.to_string()));
        Ok(())
    })
    .await
    .unwrap();
    assert!(
        said.iter().any(|line| line.starts_with("wants: KR")),
        "{said:?}"
    );
    let counted: Vec<(Option<String>, usize)> = app
        .backlog_by_destination(&org.admin, None)
        .await
        .unwrap()
        .iter()
        .map(|line| (line.wish.map(|wish| wish.to_string()), line.waits.waiting))
        .collect();
    assert_eq!(
        counted,
        [
            (Some("KR".to_string()), 1),
            (Some("undecided".to_string()), 1),
            (None, 3)
        ]
    );
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// A shelter's list of residents, some of whom came from another shelter: the import gives
/// them their whole wait, not the days since they arrived here.
async fn an_import_keeps_a_wait_begun_at_an_earlier_shelter(db: TestDb) {
    let org = org(db).await;
    let app = &org.app;
    let header = "household_ref,name,sex,birth_year,location,stage,since,flags,waiting_since\n";
    let wrong = format!(
        "{header}h1,Kim Waiting-1,female,1990,SHL-A,sheltered,2026-10-01,,2026-11-01\n\
         h2,Lee Waiting-2,male,1991,SHL-A,sheltered,2026-10-01,,last spring\n"
    );
    let error = app
        .import_people(
            &org.admin,
            wrong.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
    let AppError::Import(problems) = &error else {
        panic!("{error}")
    };
    let found: Vec<(u64, &str)> = problems
        .iter()
        .map(|problem| (problem.line, problem.column.as_str()))
        .collect();
    assert_eq!(
        found,
        [(2, "waiting_since"), (3, "waiting_since")],
        "{error}"
    );

    let right =
        format!("{header}h1,Kim Waiting-1,female,1990,SHL-A,sheltered,2026-10-01,,2026-07-01\n");
    let report = app
        .import_people(
            &org.admin,
            right.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.people, 1);
    let imported = app
        .list_people(
            &org.admin,
            &PeopleQuery {
                location: Some("SHL-A".into()),
                ..PeopleQuery::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .find(|view| view.person.since == time::macros::date!(2026 - 10 - 01))
        .unwrap();
    assert_eq!(
        imported.person.waiting_since,
        Some(time::macros::date!(2026 - 07 - 01))
    );
    assert_eq!(
        imported.waiting_days,
        Some((NOW.date() - time::macros::date!(2026 - 07 - 01)).whole_days())
    );
    assert!(app.verify(&org.admin).await.unwrap().ok());
}

/// A writer that takes this many bytes more, then fails as a closed pipe does.
struct CutOff(usize);

impl std::io::Write for CutOff {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the reader went away",
            ));
        }
        self.0 -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `export --reveal | head -c …` once handed out most of the revealed rows with no trace in
/// the access log; and a name typed as a formula ran when the export was opened in a
/// spreadsheet.
#[tokio::test]
async fn a_cut_off_export_is_on_record_and_formulas_are_neutralised() {
    let org = org(TestDb::sqlite()).await;
    let app = &org.app;
    app.add_person(
        &org.admin,
        NewPerson {
            location: "SHL-A".into(),
            identity: identity("=HYPERLINK(\"http://attacker.example\")"),
            ..NewPerson::default()
        },
    )
    .await
    .unwrap();
    let error = app
        .export_people(&org.admin, true, CutOff(10))
        .await
        .unwrap_err();
    assert!(matches!(error, AppError::Output(_)), "{error}");
    let log = app.access_log(&org.admin, None).await.unwrap();
    assert!(
        log.iter().any(|entry| entry.action == "export"
            && entry.detail.starts_with("started")
            && entry.detail.contains("identities revealed")),
        "{log:?}"
    );

    let mut out = Vec::new();
    app.export_people(&org.admin, true, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("'=HYPERLINK"), "{text}");
    assert!(!text.contains(",=HYPERLINK") && !text.contains(",\"=HYPERLINK"));
}

/// A 100 MB single line took 1.9 GB of memory, a bad 1M-row file printed a million error
/// lines, and NUL bytes were accepted. Lines are bounded, problems are listed up to 100 and
/// counted beyond, and control characters in text are refused.
#[tokio::test]
async fn imports_are_bounded_in_line_length_problems_and_text() {
    let org = org(TestDb::sqlite()).await;
    let import = async |text: String| match org
        .app
        .import_people(
            &org.admin,
            text.as_bytes(),
            ImportOptions::default(),
            &mut |_| {},
        )
        .await
    {
        Err(AppError::Import(problems)) => problems,
        other => panic!("expected a refused import, got {other:?}"),
    };
    let long_line = format!(
        "{HEADER}h1,{},female,1990,SHL-A,sheltered,2026-10-01,,,\n",
        "x".repeat(MAX_LINE_BYTES * 2)
    );
    let problems = import(long_line).await;
    assert!(
        problems[0].message.to_string().contains("longer than"),
        "{:?}",
        problems[0]
    );

    let mut many = HEADER.to_string();
    for row in 0..1_000 {
        many.push_str(&format!(
            "h{row},,robot,1990,SHL-A,sheltered,2026-10-01,,,\n"
        ));
    }
    let problems = import(many).await;
    assert_eq!(problems.len(), MAX_LISTED_PROBLEMS);
    assert!(problems.more() >= 1_000);
    let error = AppError::Import(problems);
    assert!(
        error
            .to_string()
            .contains("more (the first 100 are listed)")
    );

    let nul = format!("{HEADER}h1,Kim\u{0}Import,female,1990,SHL-A,sheltered,2026-10-01,,,\n");
    let problems = import(nul).await;
    assert!(
        problems
            .iter()
            .any(|problem| problem.column == "name"
                && problem.message.to_string().contains("control")),
        "{problems:?}"
    );
}

refuge_store::conformance!(
    an_xlsx_sheet_imports_like_its_csv,
    an_import_reads_dates_as_told_lists_every_problem_at_once_and_gives_each_lines_codes,
    an_import_takes_the_spellings_volunteers_use,
    an_import_keeps_a_wait_begun_at_an_earlier_shelter,
    an_import_records_where_people_want_to_go,
    import_is_all_or_nothing_and_reports_every_problem,
    a_large_import_leaves_every_index_as_it_was,
);
