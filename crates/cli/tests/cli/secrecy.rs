//! No protected value reaches the disk, a dump or the output unless revealed, and outputs never
//! clobber files.

use crate::support::{
    Workspace, code_after, contains, files_under, pg_tool, postgres_admin, postgres_database,
};
use std::path::Path;
use std::process::{Command, Output};

/// Distinctive synthetic identities planted to be searched for afterwards.
const PLANTED: &[&str] = &[
    "Zyxwv Plantedname",
    "깊숙한가짜이름",
    "Qqorigin Plantedcounty",
    "Plantednote Xylophone",
    "Plantedcontact 555-0199",
    "Plantedshelter Quokka",
    "Plantednarrative Wombat",
    "Plantedimport Kumquat",
    "Plantedcasenote 사례메모가짜",
    "Plantedcorrection Okapi",
];

#[test]
fn no_protected_value_reaches_the_disk_or_the_output_unless_revealed() {
    plant_and_scan(Workspace::new());
}

#[test]
fn no_protected_value_reaches_a_postgres_dump() {
    if let Some(admin) = postgres_admin("no_protected_value_reaches_a_postgres_dump") {
        plant_and_scan(Workspace::on(postgres_database(&admin)));
    }
}

/// Plants distinctive identities through every command that takes them, then scans every
/// byte the runs wrote (the SQLite files, or a `pg_dump` of the PostgreSQL database, and the
/// export) and every output: none may hold them unless revealed on purpose.
fn plant_and_scan(ws: Workspace) {
    let mut outputs = Vec::new();
    let mut record = |output: Output| {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        outputs.push(output);
    };
    record(ws.run(&["init"]));
    record(ws.run(&[
        "location",
        "add",
        "SHL-1",
        "--kind",
        "shelter",
        "--country",
        "TH",
        "--capacity",
        "50",
        "--name",
        PLANTED[5],
    ]));
    let identity = ws.input(
        "identity.txt",
        &format!(
            "name={}\nname_romanized={}\norigin={}\nnotes={}\ncontact={}\n",
            PLANTED[0], PLANTED[1], PLANTED[2], PLANTED[3], PLANTED[4]
        ),
    );
    let added = ws.run(&[
        "person",
        "add",
        "--location",
        "SHL-1",
        "--birth-year",
        "1988",
        "--sex",
        "female",
        "--identity-file",
        identity.to_str().unwrap(),
    ]);
    let person = code_after(&String::from_utf8_lossy(&added.stdout), "P-").to_string();
    record(added);
    let csv = ws.input(
        "people.csv",
        &format!(
            "household_ref,name,sex,birth_year,location,stage,since,flags,notes\n\
             f1,{},female,1992,SHL-1,sheltered,2026-10-01,minor,{}\n\
             f1,Another Synthetic,male,2012,SHL-1,sheltered,2026-10-01,minor,\n",
            PLANTED[7], PLANTED[3]
        ),
    );
    record(ws.run(&[
        "import",
        "people",
        csv.to_str().unwrap(),
        "--codes-out",
        "codes.csv",
    ]));
    let codes = std::fs::read_to_string(ws.dir.path().join("codes.csv")).unwrap();
    let lines: Vec<&str> = codes.lines().collect();
    assert_eq!(lines[0], "line,person,household");
    assert!(
        lines[1].starts_with("2,P-") && lines[2].starts_with("3,P-"),
        "{codes}"
    );
    assert_eq!(
        lines[1].rsplit(',').next(),
        lines[2].rsplit(',').next(),
        "one household for the family"
    );
    record(ws.run(&["move", &person, "--to", "SHL-1", "--stage", "detained"]));
    record(ws.run(&["flag", &person, "+self_harm_risk", "-minor"]));
    record(ws.run(&["hold", &person, "--reason", "medical"]));
    record(ws.run(&["ready", &person, "--documents", "yes"]));
    record(ws.run(&[
        "incident",
        "add",
        "--location",
        "SHL-1",
        "--kind",
        "conflict",
        "--severity",
        "3",
        "--people",
        &person,
        "--note",
        PLANTED[6],
    ]));
    let note = ws.input("note.txt", &format!("{}\nsecond line\n", PLANTED[8]));
    // The command line runs on the real clock.
    let today = time::OffsetDateTime::from(std::time::SystemTime::now())
        .date()
        .to_string();
    record(ws.run(&[
        "note",
        "add",
        &person,
        "--follow-up",
        &today,
        "--text-file",
        note.to_str().unwrap(),
    ]));
    let due = ws.run(&["note", "due"]);
    assert!(String::from_utf8_lossy(&due.stdout).contains(&format!("{today}  {person}")));
    record(due);
    record(ws.run(&["note", "list", &person]));
    // A welfare check-in whose words are protected: sealed like a note, never shown.
    let words = ws.input("check-in.txt", &format!("{}\n", PLANTED[8]));
    let checked = ws.run(&[
        "welfare",
        "check-in",
        &person,
        "--wellbeing",
        "struggling",
        "--need",
        "medical",
        "--text-file",
        words.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&checked.stdout).contains("struggling"),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    record(checked);
    // Flagged self_harm_risk just before and checked today: not due; the others are listed.
    let due = ws.run(&["welfare", "due", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&due.stdout).unwrap();
    assert!(
        listed["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|check| check["person"] != person.as_str()),
        "{listed}"
    );
    record(due);
    let wrong = ws.fails(&["welfare", "check-in", &person, "--wellbeing", "fine"]);
    assert!(wrong.contains("unknown wellbeing 'fine'"), "{wrong}");
    let schedule = ws.ok(&["welfare", "schedule", "--every-days", "21"]);
    assert!(schedule.contains("every_days             21"), "{schedule}");
    let refused = ws.fails(&["welfare", "schedule", "--flagged-every-days", "0"]);
    assert!(refused.contains("flagged_every_days"), "{refused}");
    assert!(
        ws.ok(&["welfare", "schedule"])
            .contains("flagged_every_days     7")
    );
    let corrected = ws.input("corrected.txt", &format!("relatives={}\n", PLANTED[9]));
    record(ws.run(&[
        "person",
        "correct",
        &person,
        "--identity-file",
        corrected.to_str().unwrap(),
    ]));
    // The same person registered twice, then the second record merged into the first.
    let twin = ws.run(&[
        "person",
        "add",
        "--location",
        "SHL-1",
        "--birth-year",
        "1988",
        "--allow-duplicate",
        "--identity-file",
        identity.to_str().unwrap(),
    ]);
    let twin_code = code_after(&String::from_utf8_lossy(&twin.stdout), "P-").to_string();
    record(twin);
    record(ws.run(&["person", "merge", &twin_code, "--into", &person]));
    let shown = ws.run(&["person", "show", &twin_code]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains(&format!("Person     {person}")));
    assert!(String::from_utf8_lossy(&shown.stderr).contains("was merged into"));
    record(shown);
    record(ws.run(&["person", "show", &person]));
    record(ws.run(&["person", "list", "--name", PLANTED[0]]));
    record(ws.run(&["person", "list", "--flag", "self_harm_risk", "--json"]));
    record(ws.run(&["incident", "list"]));
    record(ws.run(&["location", "list"]));
    record(ws.run(&["backlog", "--json"]));
    record(ws.run(&["export", "people", "--output", "export.csv"]));
    record(ws.run(&["export", "people", "--bom", "--output", "export-bom.csv"]));
    let marked = std::fs::read(ws.dir.path().join("export-bom.csv")).unwrap();
    assert!(
        marked.starts_with("\u{feff}".as_bytes()),
        "a byte-order mark first"
    );
    record(ws.run(&["log"]));
    record(ws.run(&["access-log"]));
    record(ws.run(&["verify"]));

    // Every byte of every file the runs wrote: the database, its WAL and shm, the export;
    // on PostgreSQL, a whole dump of the database.
    let files = files_under(ws.dir.path());
    assert!(files.iter().any(|file| file.ends_with("export.csv")));
    let mut scanned: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|file| (file.display().to_string(), std::fs::read(file).unwrap()))
        .collect();
    match &ws.db {
        None => assert!(files.iter().any(|file| file.ends_with("refuge.db"))),
        Some(url) => {
            let dump = Command::new(pg_tool("pg_dump")).arg(url).output().unwrap();
            assert!(
                dump.status.success(),
                "{}",
                String::from_utf8_lossy(&dump.stderr)
            );
            assert!(contains(&dump.stdout, "COPY public.people"), "a real dump");
            scanned.push(("pg_dump".to_string(), dump.stdout));
        }
    }
    for (name, bytes) in &scanned {
        for planted in PLANTED {
            assert!(!contains(bytes, planted), "{planted} found in {name}");
        }
    }
    for output in &outputs {
        for planted in PLANTED {
            assert!(!contains(&output.stdout, planted), "{planted} in stdout");
            assert!(
                !contains(&output.stderr, planted),
                "{planted} in stderr (debug logging on)"
            );
        }
    }

    // Revealing on purpose shows them, and is logged.
    let shown = ws.ok(&["person", "show", &person, "--reveal"]);
    assert!(
        shown.contains(PLANTED[0]) && shown.contains(PLANTED[2]),
        "{shown}"
    );
    let incidents = ws.ok(&["incident", "list", "--reveal"]);
    assert!(incidents.contains(PLANTED[6]));
    assert!(
        ws.ok(&["person", "show", &person, "--reveal"])
            .contains(PLANTED[9]),
        "the correction is what the record says now"
    );
    let notes = ws.ok(&["note", "list", &person, "--reveal"]);
    assert!(notes.contains(PLANTED[8]), "{notes}");
    let log = ws.ok(&["access-log"]);
    assert!(log.contains(&format!("reveal           {person}")), "{log}");
    assert!(!log.contains(PLANTED[0]));
}

/// Control characters planted in a name (window title, clear screen, fake lines) are refused
/// when registered, naming the field and never echoing the value.
#[test]
fn a_name_with_terminal_escapes_is_refused_and_never_echoed() {
    let ws = Workspace::new();
    ws.ok(&["demo", "--people", "60"]);
    let identity = ws.input("identity.txt", "name=Synthetic \u{1b}]0;owned\u{7}Kim\n");
    let stderr = ws.fails(&[
        "person",
        "add",
        "--location",
        "SHL-BKK-1",
        "--sex",
        "female",
        "--identity-file",
        identity.to_str().unwrap(),
    ]);
    let error = stderr
        .lines()
        .find(|line| line.starts_with("error:"))
        .unwrap();
    assert!(
        error.contains("name: contains a control character"),
        "{error}"
    );
    assert!(!error.contains('\u{1b}'), "{error:?}");
    assert!(!stderr.contains("owned"), "the value is in no log line");
}

/// `export --output` onto the database truncated it to 0 bytes; outputs replaced files
/// without asking and followed symbolic links; files were created readable by everyone;
/// and a 0-byte database file was silently given an empty schema.
#[test]
fn outputs_never_clobber_the_database_or_other_files_and_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    ws.ok(&["demo", "--people", "60"]);
    let database = ws.dir.path().join("refuge.db");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&database), 0o600, "the database is private");
    for target in ["refuge.db", "refuge.db-wal", "./refuge.db"] {
        let refused = ws.fails(&["export", "people", "--output", target, "--force"]);
        assert!(refused.contains("is the database"), "{target}: {refused}");
    }
    ws.ok(&["verify"]);

    ws.ok(&["export", "people", "--output", "people.csv"]);
    let export = ws.dir.path().join("people.csv");
    assert_eq!(mode(&export), 0o600, "the export is private");
    let again = ws.fails(&["export", "people", "--output", "people.csv"]);
    assert!(again.contains("exists; give --force"), "{again}");
    ws.ok(&["export", "people", "--output", "people.csv", "--force"]);

    std::os::unix::fs::symlink(&database, ws.dir.path().join("link.csv")).unwrap();
    let linked = ws.fails(&["export", "people", "--output", "link.csv", "--force"]);
    assert!(linked.contains("symbolic link"), "{linked}");
    ws.ok(&["verify"]);
    let leftovers: Vec<_> = std::fs::read_dir(ws.dir.path())
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "no half-written files");

    std::fs::write(ws.dir.path().join("empty.db"), b"").unwrap();
    let empty = ws.fails(&["--db", "empty.db", "backlog"]);
    assert!(empty.contains("not a refuge database"), "{empty}");
    assert_eq!(
        std::fs::metadata(ws.dir.path().join("empty.db"))
            .unwrap()
            .len(),
        0
    );
}
