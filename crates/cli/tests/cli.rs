//! Drives the real `refuge` binary in a temporary directory.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on what it does not expect"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PASSPHRASE: &str = "synthetic passphrase 1";

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

struct Workspace {
    dir: tempfile::TempDir,
    /// Inputs the test itself writes live outside the scanned directory.
    inputs: tempfile::TempDir,
    /// The database URL when not the default ./refuge.db.
    db: Option<String>,
}

impl Workspace {
    fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
            inputs: tempfile::tempdir().unwrap(),
            db: None,
        }
    }

    fn on(db: String) -> Self {
        Workspace {
            db: Some(db),
            ..Workspace::new()
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_refuge"));
        command
            .current_dir(self.dir.path())
            .env_remove("REFUGE_USER")
            .env("REFUGE_PASSPHRASE", PASSPHRASE);
        match &self.db {
            Some(db) => command.env("REFUGE_DB", db),
            None => command.env_remove("REFUGE_DB"),
        };
        command
    }

    fn run_as(&self, user: Option<&str>, passphrase: &str, args: &[&str]) -> Output {
        let mut command = self.command();
        command
            .env("REFUGE_PASSPHRASE", passphrase)
            .env("REFUGE_NEW_PASSPHRASE", PASSPHRASE)
            .env("REFUGE_LOG", "debug")
            .args(args);
        if let Some(user) = user {
            command.args(["--user", user]);
        }
        command.output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_as(None, PASSPHRASE, args)
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs and expects failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(!output.status.success(), "{args:?} should have failed");
        String::from_utf8(output.stderr).unwrap()
    }

    fn input(&self, name: &str, text: &str) -> PathBuf {
        let path = self.inputs.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn code_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    &text[start..start + 7]
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The last line of a command's standard error (debug logging may come before it).
fn last_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// The PostgreSQL server named by `REFUGE_TEST_POSTGRES` (a superuser URL), or None, said on
/// the terminal (past the harness's capture), when there is none.
fn postgres_admin(test: &str) -> Option<String> {
    use std::io::Write as _;
    let admin = std::env::var("REFUGE_TEST_POSTGRES").ok();
    if admin.is_none() {
        writeln!(
            std::io::stderr(),
            "{test}: skipped, no PostgreSQL (set REFUGE_TEST_POSTGRES; scripts/test does)"
        )
        .ok();
    }
    admin
}

/// A PostgreSQL client program of the server's version.
fn pg_tool(name: &str) -> PathBuf {
    let bin = std::env::var("REFUGE_PG_BIN").unwrap_or("/usr/lib/postgresql/15/bin".into());
    Path::new(&bin).join(name)
}

/// A fresh, empty database on the test server; returns its URL.
fn postgres_database(admin: &str) -> String {
    let name = format!("refuge_cli_{}", uuid::Uuid::now_v7().simple());
    let output = Command::new(pg_tool("psql"))
        .args([admin, "-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

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

#[test]
fn wrong_passphrase_is_a_clear_error_like_an_unknown_user() {
    let ws = Workspace::new();
    ws.ok(&["init"]);
    let wrong = ws.run_as(None, "not the passphrase!", &["backlog"]);
    let unknown = ws.run_as(Some("nobody"), "not the passphrase!", &["backlog"]);
    assert!(!wrong.status.success() && !unknown.status.success());
    assert_eq!(last_line(&wrong), "error: wrong user name or passphrase");
    assert_eq!(last_line(&wrong), last_line(&unknown));
    let short = ws.run_as(None, "short", &["init"]);
    assert!(!short.status.success());
    let error = ws.fails(&["--db", "other.db", "backlog"]);
    assert!(error.contains("no database at other.db"), "{error}");
    assert!(
        !ws.dir.path().join("other.db").exists(),
        "a typo never creates an empty database"
    );
    let error = ws.fails(&["init"]);
    assert!(error.contains("already exists"), "{error}");
}

/// The recovery code printed by init, as printed.
fn recovery_code_in(init_output: &str) -> String {
    let lines: Vec<&str> = init_output.lines().collect();
    let heading = lines
        .iter()
        .position(|line| line.starts_with("Organisation recovery code"))
        .expect("init prints a recovery code");
    lines[heading + 1].trim().to_string()
}

#[test]
fn the_recovery_code_sets_a_new_admin_passphrase_and_a_new_code_retires_the_old() {
    let ws = Workspace::new();
    let code = recovery_code_in(&ws.ok(&["init"]));
    let groups: Vec<&str> = code.split('-').collect();
    assert_eq!(groups.len(), 8, "{code}");
    assert!(
        groups
            .iter()
            .all(|group| group.len() == 6 && group.bytes().all(|b| b.is_ascii_digit()))
    );
    let recover = |code: &str, new_passphrase: &str| {
        ws.command()
            .env("REFUGE_RECOVERY_CODE", code)
            .env("REFUGE_NEW_PASSPHRASE", new_passphrase)
            .args(["recover", "--admin", "admin"])
            .output()
            .unwrap()
    };
    // A mistyped digit in the third group is named, and nothing changes.
    let mut typo: Vec<char> = code.chars().collect();
    let third = 2 * 7 + 1;
    typo[third] = if typo[third] == '0' { '1' } else { '0' };
    let typo: String = typo.into_iter().collect();
    let output = recover(&typo, "a forgotten-no-more passphrase");
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("recovery code: group 3 is mistyped"),
        "{error}"
    );
    assert!(
        !error.contains(&typo) && !error.contains(&code),
        "never echoed"
    );
    ws.ok(&["backlog"]);
    // The right code, typed with spaces: the new passphrase opens, the old one no longer.
    let output = recover(&code.replace('-', " "), "a forgotten-no-more passphrase");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let old = ws.run(&["backlog"]);
    assert!(!old.status.success());
    let new = ws.run_as(
        None,
        "a forgotten-no-more passphrase",
        &["recovery-code", "status"],
    );
    assert!(new.status.success());
    assert!(String::from_utf8_lossy(&new.stdout).contains("was made on"));
    let new_code = ws.run_as(
        None,
        "a forgotten-no-more passphrase",
        &["recovery-code", "new"],
    );
    assert!(new_code.status.success());
    let new_code = recovery_code_in(&String::from_utf8(new_code.stdout).unwrap());
    assert_ne!(new_code, code);
    let output = recover(&code, "yet another synthetic passphrase");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("recovery code: this one does not open this organisation")
    );
    let log = ws.run_as(
        None,
        "a forgotten-no-more passphrase",
        &["access-log", "--limit", "20"],
    );
    let log = String::from_utf8(log.stdout).unwrap();
    for action in ["recovered", "recovery_code_made", "login_failed"] {
        assert!(log.contains(action), "{action} in\n{log}");
    }
    // Only admins make recovery codes.
    ws.run_as(
        None,
        "a forgotten-no-more passphrase",
        &["user", "add", "cw", "--role", "coordinator"],
    );
    let refused = ws.run_as(Some("cw"), PASSPHRASE, &["recovery-code", "new"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("may not manage the organisation's keys")
    );
}

#[test]
fn a_duress_passphrase_typed_at_unlock_leaves_an_empty_organisation() {
    let ws = Workspace::new();
    ws.ok(&["init"]);
    ws.ok(&[
        "location",
        "add",
        "SHL-A",
        "--kind",
        "shelter",
        "--country",
        "TH",
        "--capacity",
        "9",
    ]);
    ws.ok(&[
        "person",
        "add",
        "--location",
        "SHL-A",
        "--name",
        "Kim Synthetic",
    ]);
    let duress = "a synthetic duress phrase";
    let armed = ws
        .command()
        .env("REFUGE_NEW_PASSPHRASE", duress)
        .args(["user", "duress"])
        .output()
        .unwrap();
    assert!(
        armed.status.success(),
        "{}",
        String::from_utf8_lossy(&armed.stderr)
    );
    assert!(String::from_utf8_lossy(&armed.stdout).contains("Duress passphrase of 'admin' set"));
    assert!(ws.ok(&["person", "list"]).contains("P-"));
    // Typed at an unlock, it answers like the passphrase, on an organisation with nothing.
    let listed = ws.run_as(None, duress, &["person", "list"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("P-"));
    assert!(
        ws.run_as(None, duress, &["location", "list"])
            .status
            .success()
    );
    let old = ws.run(&["backlog"]);
    assert!(!old.status.success());
    assert_eq!(last_line(&old), "error: wrong user name or passphrase");
    let verified = ws.run_as(None, duress, &["verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}

#[test]
fn short_passphrases_are_refused_at_init() {
    let ws = Workspace::new();
    let output = ws.run_as(None, "short", &["init"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("passphrase: must be at least 12 characters")
    );
    assert!(
        !ws.dir.path().join("refuge.db").exists(),
        "a failed init leaves no database behind"
    );
}

#[test]
fn bad_input_names_the_record_and_the_reason_and_writes_nothing() {
    let ws = Workspace::new();
    ws.ok(&["init"]);
    ws.ok(&[
        "location",
        "add",
        "SHL-1",
        "--kind",
        "shelter",
        "--country",
        "TH",
        "--capacity",
        "1",
    ]);
    let added = ws.ok(&[
        "person",
        "add",
        "--location",
        "SHL-1",
        "--name",
        "Synthetic One",
    ]);
    let person = code_after(&added, "P-").to_string();
    let before = ws.ok(&["log"]);
    assert!(
        ws.fails(&[
            "location",
            "add",
            "SHL-2",
            "--kind",
            "tent",
            "--country",
            "TH",
            "--capacity",
            "1"
        ])
        .contains("unknown location kind 'tent'")
    );
    assert!(
        ws.fails(&[
            "location",
            "add",
            "SHL-2",
            "--kind",
            "shelter",
            "--country",
            "Thailand",
            "--capacity",
            "1"
        ])
        .contains("country")
    );
    assert!(
        ws.fails(&[
            "person",
            "add",
            "--location",
            "NOPE",
            "--name",
            "Synthetic Two"
        ])
        .contains("no location with code NOPE")
    );
    assert!(
        ws.fails(&[
            "person",
            "add",
            "--location",
            "SHL-1",
            "--name",
            "Synthetic Two"
        ])
        .contains("location SHL-1 has too few free beds")
    );
    assert!(
        ws.fails(&["move", "P-00000", "--to", "SHL-1"])
            .contains("no person with code P-00000")
    );
    assert!(
        ws.fails(&["move", &person, "--to", "SHL-1", "--stage", "arrived"])
            .contains("cannot go from stage sheltered to stage arrived")
    );
    assert!(
        ws.fails(&["flag", &person, "brave"])
            .contains("must start with + (set) or - (clear)")
    );
    assert!(
        ws.fails(&[
            "incident",
            "add",
            "--location",
            "SHL-1",
            "--kind",
            "conflict",
            "--severity",
            "9"
        ])
        .contains("severity: 9 is not between 1 and 4")
    );
    let csv = ws.input("bad.csv", "household_ref,name,sex,birth_year,location,stage,since,flags\nh,Synthetic,female,1990,SHL-9,sheltered,2026-01-01,\n");
    let error = ws.fails(&["import", "people", csv.to_str().unwrap()]);
    assert!(
        error.contains("line 2, column location: no location with code 'SHL-9'"),
        "{error}"
    );
    assert_eq!(ws.ok(&["log"]), before, "nothing was written");
    ws.ok(&["verify"]);
}

#[test]
fn roles_are_enforced_from_the_command_line() {
    let ws = Workspace::new();
    ws.ok(&["init"]);
    ws.ok(&[
        "location",
        "add",
        "SHL-1",
        "--kind",
        "shelter",
        "--country",
        "TH",
        "--capacity",
        "10",
    ]);
    ws.ok(&["user", "add", "ana", "--role", "analyst"]);
    ws.ok(&[
        "user",
        "add",
        "cw",
        "--role",
        "caseworker",
        "--location",
        "SHL-1",
    ]);
    let added = ws.ok(&[
        "person",
        "add",
        "--location",
        "SHL-1",
        "--name",
        "Synthetic Person",
    ]);
    let person = code_after(&added, "P-").to_string();
    let analyst = ws.run_as(
        Some("ana"),
        PASSPHRASE,
        &["person", "show", &person, "--reveal"],
    );
    assert_eq!(
        last_line(&analyst),
        "error: the analyst role may not reveal identities"
    );
    let allowed = ws.run_as(Some("ana"), PASSPHRASE, &["backlog"]);
    assert!(allowed.status.success());
    let caseworker = ws.run_as(
        Some("cw"),
        PASSPHRASE,
        &["person", "show", &person, "--reveal"],
    );
    assert!(caseworker.status.success());
    let users = ws.ok(&["user", "list"]);
    assert!(users.contains("cw") && users.contains("SHL-1"), "{users}");
    // The analyst's refused reveal is in the access log, as is her way in.
    let refused = ws.ok(&["access-log", "--action", "refused"]);
    assert!(
        refused.contains("ana") && refused.contains("analyst: reveal_identity"),
        "{refused}"
    );
    assert!(
        ws.ok(&["access-log", "--by", "ana", "--action", "unlock"])
            .contains("unlock")
    );
    let wrong = ws.run(&["access-log", "--action", "peeked"]);
    assert!(
        last_line(&wrong).contains("action"),
        "the bad filter is named"
    );
}

#[test]
fn demo_builds_an_organisation_that_verifies() {
    let ws = Workspace::new();
    let out = ws.ok(&["--db", "demo.db", "demo", "--people", "400", "--seed", "7"]);
    assert!(out.contains("400 people"), "{out}");
    assert!(out.contains("coordinator") && out.contains("auditor"));
    let backlog = ws.run_as(
        Some("analyst"),
        PASSPHRASE,
        &["--db", "demo.db", "backlog", "--json"],
    );
    assert!(backlog.status.success());
    let lines: serde_json::Value = serde_json::from_slice(&backlog.stdout).unwrap();
    let lines = lines.as_array().unwrap();
    assert!(lines.len() >= 4, "shelters and detention");
    assert!(
        lines
            .iter()
            .all(|line| line["median_days"].is_number() && line["occupancy_percent"].is_number())
    );
    let verify = ws.run_as(Some("auditor"), PASSPHRASE, &["--db", "demo.db", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// Runs `args`, kills it with SIGKILL (no destructor, no rollback by the program itself)
/// after `delay_ms`; returns whether it had finished successfully first.
fn killed_after(ws: &Workspace, args: &[&str], delay_ms: u64) -> bool {
    let mut child = ws
        .command()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    #[allow(
        clippy::disallowed_methods,
        reason = "a real process is killed after a real delay; no clock to move"
    )]
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    child.kill().ok();
    child.wait().unwrap().success()
}

/// `refuge key rotate` killed (SIGKILL) at moments spread over its run, then run again: after
/// each kill the database verifies and opens every record; a rotation that completes leaves
/// nothing under the old generations (verify checks every record key's generation).
#[test]
fn a_rotation_killed_at_any_moment_loses_nothing_and_runs_again() {
    let ws = Workspace::new();
    ws.ok(&["--db", "demo.db", "demo", "--people", "1500", "--seed", "3"]);
    let listed = ws.ok(&["--db", "demo.db", "person", "list", "--limit", "1"]);
    let code = code_after(&listed, "P-").to_string();
    let check = |ws: &Workspace| {
        let verify = ws.run_as(Some("auditor"), PASSPHRASE, &["--db", "demo.db", "verify"]);
        assert!(
            verify.status.success(),
            "{}",
            String::from_utf8_lossy(&verify.stdout)
        );
        let shown = ws.run_as(
            Some("coordinator"),
            PASSPHRASE,
            &["--db", "demo.db", "person", "show", &code, "--reveal"],
        );
        assert!(
            shown.status.success(),
            "{}",
            String::from_utf8_lossy(&shown.stderr)
        );
    };
    let mut completed = 0;
    for (run, delay_ms) in [
        60, 120, 180, 240, 300, 360, 450, 600, 800, 1_000, 1_300, 1_700,
    ]
    .into_iter()
    .enumerate()
    {
        // Every other run re-seals: the log rewritten and chained again.
        let mut args = vec!["--db", "demo.db", "key", "rotate"];
        if run % 2 == 1 {
            args.push("--reseal");
        }
        if killed_after(&ws, &args, delay_ms) {
            completed += 1;
        }
        check(&ws);
    }
    let out = ws.ok(&["--db", "demo.db", "key", "rotate"]);
    assert!(out.contains("record keys re-wrapped"), "{out}");
    check(&ws);
    let out = ws.ok(&["--db", "demo.db", "key", "rotate", "--reseal"]);
    assert!(out.contains("records have new keys"), "{out}");
    check(&ws);
    assert!(completed < 12, "some runs were killed before they finished");
}

/// The crash harness: an import, a household's move, an incident, a batch confirmed (or
/// returned to draft) and a full re-seal, in turn,
/// each killed with SIGKILL at moments spread over its run, while `refuge serve` takes case
/// notes through the API. After every kill: `verify` passes (SQLite's integrity check, every
/// chain, the replay, the keys); every note the API acknowledged (201) is there; a command that
/// finished has its effect; an import is all or nothing. `REFUGE_CRASH_CYCLES` sets the cycles
/// (24 here; `bench/crash.sh` runs 1,000 on a release build).
#[test]
fn commands_killed_at_any_moment_leave_nothing_half_done_and_lose_nothing_acknowledged() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let cycles: usize = std::env::var("REFUGE_CRASH_CYCLES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(24);
    let ws = Workspace::new();
    ws.ok(&["demo", "--people", "300", "--seed", "11"]);
    let token = ws.ok(&["token", "create", "--label", "synthetic crash harness"]);
    let token = token.trim().to_string();
    let listed = ws.ok(&["person", "list", "--stage", "sheltered", "--limit", "1"]);
    let noted = code_after(&listed, "P-").to_string();
    let household = code_after(&listed, "H-").to_string();
    let member = noted.clone();
    const ROWS: u64 = 40;
    let csv = ws.inputs.path().join("crash.csv");
    let mut text = String::from("household_ref,name,sex,birth_year,location,stage,since\n");
    for row in 0..ROWS {
        text.push_str(&format!(
            "crash-{},Synthetic Crash-{row},female,1990,SHL-BKK-1,sheltered,2026-11-20\n",
            row / 4
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let csv = csv.display().to_string();

    let created = ws.ok(&[
        "batch",
        "create",
        "--date",
        "2026-12-20",
        "--seats",
        "10",
        "--to",
        "RCP-KR",
    ]);
    let batch = code_after(&created, "B-").to_string();
    let status_of = |ws: &Workspace| -> bool {
        ws.ok(&["batch", "show", &batch])
            .contains(&format!("{batch} (confirmed)"))
    };
    let server = Server::start(&ws);
    let stop = AtomicBool::new(false);
    let notes_before = ws
        .ok(&["note", "list", &noted])
        .lines()
        .last()
        .and_then(|last| last.strip_suffix(" notes."))
        .and_then(|count| count.parse::<u64>().ok())
        .unwrap_or(0);
    let acknowledged = AtomicU64::new(0);
    let people_of = |ws: &Workspace| -> (u64, String) {
        let verify = ws.run_as(Some("auditor"), PASSPHRASE, &["verify"]);
        let out = String::from_utf8_lossy(&verify.stdout).to_string();
        assert!(
            verify.status.success() && out.contains("OK:"),
            "verify after a kill: {out}"
        );
        let people = out
            .split(", ")
            .find_map(|part| part.strip_suffix(" people"))
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or_else(|| panic!("no count of people in {out}"));
        (people, out)
    };
    let notes_of = |ws: &Workspace| -> u64 {
        let listed = ws.ok(&["note", "list", &noted]);
        let last = listed.lines().last().unwrap_or("").to_string();
        last.strip_suffix(" notes.")
            .and_then(|count| count.parse().ok())
            .unwrap_or_else(|| panic!("no count of notes in {last}"))
    };
    let incidents_of = |ws: &Workspace| -> usize {
        ws.ok(&["incident", "list"])
            .lines()
            .filter(|line| line.starts_with("I-"))
            .count()
    };
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut number = 0;
            while !stop.load(Ordering::SeqCst) {
                number += 1;
                let answer = agent
                    .post(&format!("{}/api/v1/people/{noted}/notes", server.base))
                    .header("Authorization", &format!("Bearer {token}"))
                    .content_type("application/json")
                    .send(format!("{{\"text\":\"Synthetic crash note {number}\"}}"));
                if answer.is_ok_and(|reply| reply.status().as_u16() == 201) {
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                }
                // A steady writer, not a flood: unthrottled it wrote 650,000 notes in 25
                // minutes and every re-seal rewrote them all.
                #[allow(
                    clippy::disallowed_methods,
                    reason = "paces a real writer against a real server"
                )]
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        });
        let (mut people, _) = people_of(&ws);
        let mut at_second = false;
        let mut confirmed = false;
        let (mut killed, mut finished) = (0, 0);
        for cycle in 0..cycles {
            let incidents = incidents_of(&ws);
            let target = if at_second { "SHL-BKK-1" } else { "SHL-BKK-2" };
            let args: Vec<&str> = match cycle % 5 {
                0 => vec![
                    "import",
                    "people",
                    &csv,
                    "--allow-duplicates",
                    "--over-capacity",
                ],
                1 => vec!["move", &household, "--to", target, "--over-capacity"],
                2 => vec![
                    "incident",
                    "add",
                    "--location",
                    "SHL-BKK-1",
                    "--kind",
                    "conflict",
                    "--severity",
                    "2",
                    "--note",
                    "Synthetic crash narrative",
                ],
                3 => vec![
                    "batch",
                    if confirmed { "unconfirm" } else { "confirm" },
                    &batch,
                ],
                _ => vec!["key", "rotate", "--reseal"],
            };
            // Spread over a command's run: from its start-up to past its end.
            let delay = 20 + (cycle as u64 * 53) % 700;
            let completed = killed_after(&ws, &args, delay);
            if completed {
                finished += 1;
            } else {
                killed += 1;
            }
            let acknowledged_before = acknowledged.load(Ordering::SeqCst);
            let (now, _) = people_of(&ws);
            match cycle % 5 {
                0 => {
                    assert!(
                        now == people || now == people + ROWS,
                        "an import is all or nothing: {people} then {now}"
                    );
                    assert!(
                        !completed || now == people + ROWS,
                        "a finished import is there"
                    );
                }
                1 if completed => {
                    let shown = ws.ok(&["person", "show", &member]);
                    assert!(shown.contains(target), "a finished move is there: {shown}");
                    at_second = !at_second;
                }
                1 => {
                    // Killed: the move is there or not; follow where the household is.
                    at_second = ws.ok(&["person", "show", &member]).contains("SHL-BKK-2");
                }
                2 => {
                    let after = incidents_of(&ws);
                    assert!(after == incidents || after == incidents + 1);
                    assert!(!completed || after == incidents + 1);
                }
                3 => {
                    let now_confirmed = status_of(&ws);
                    assert!(
                        !completed || now_confirmed != confirmed,
                        "a finished confirmation (or return to draft) is there"
                    );
                    confirmed = now_confirmed;
                }
                _ => {}
            }
            people = now;
            assert!(
                notes_of(&ws) >= notes_before + acknowledged_before,
                "every acknowledged note is there"
            );
        }
        stop.store(true, Ordering::SeqCst);
        eprintln!("crash harness: {cycles} cycles, {killed} killed, {finished} finished");
        assert!(killed > 0, "some runs were killed before they finished");
    });
    drop(server);
    assert!(notes_of(&ws) >= notes_before + acknowledged.load(Ordering::SeqCst));
    assert!(
        acknowledged.load(Ordering::SeqCst) > 0,
        "the server took writes meanwhile"
    );
}

/// `refuge upgrade-keys` on the fixture made by the release before compartment keys: a new
/// recovery code printed, the waiting users named and marked in the user list, verify
/// passing, the records opening as before; run again, it says there is nothing to do.
#[test]
fn an_organisation_from_before_compartments_upgrades_from_the_command_line() {
    let mut ws = Workspace::new();
    let db = ws.dir.path().join("old.db");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../app/tests/fixtures/single-key.db"
        ),
        &db,
    )
    .unwrap();
    ws.db = Some(db.display().to_string());
    let passphrase = "synthetic fixture passphrase";
    let run = |user: &str, args: &[&str]| {
        let output = ws.run_as(Some(user), passphrase, args);
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let (_, before, _) = run("admin", &["person", "list"]);
    let (ok, out, err) = run("admin", &["upgrade-keys"]);
    assert!(ok, "{err}");
    assert!(out.contains("Upgraded to compartment keys"), "{out}");
    assert!(out.contains("Organisation recovery code"), "{out}");
    assert!(out.contains("caseworker.idc"), "{out}");
    let (_, users, _) = run("admin", &["user", "list"]);
    assert!(
        users
            .lines()
            .any(|line| line.starts_with("caseworker.idc") && line.contains("first login")),
        "{users}"
    );
    let (ok, verified, _) = run("auditor", &["verify"]);
    assert!(ok, "{verified}");
    let (_, after, _) = run("admin", &["person", "list"]);
    assert_eq!(after, before);
    let (ok, _, err) = run("admin", &["upgrade-keys"]);
    assert!(!ok);
    assert!(err.contains("already uses compartment keys"), "{err}");
    let (_, users, _) = run("admin", &["user", "list"]);
    assert!(
        users
            .lines()
            .any(|line| line.starts_with("auditor") && !line.contains("first login")),
        "the auditor's verify was her first login: {users}"
    );
}

/// `refuge backup` and `refuge restore`: the backup is 0600 and holds no plain SQLite page;
/// it restores with the recovery code into a database that verifies and writes as a new node;
/// an existing database is not replaced without --force; a flipped byte, a cut end, another
/// file or a wrong code are refused with a clear message, leaving nothing behind.
#[test]
fn a_backup_restores_with_the_recovery_code_and_a_damaged_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    let code =
        recovery_code_in(&ws.ok(&["--db", "org.db", "demo", "--people", "120", "--seed", "5"]));
    let backup = ws.dir.path().join("org.backup");
    let out = ws.ok(&["--db", "org.db", "backup", "--out", "org.backup"]);
    assert!(out.contains("read back and checked"), "{out}");
    let bytes = std::fs::read(&backup).unwrap();
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(bytes.starts_with(b"refuge-backup/v1 "));
    assert!(
        !bytes
            .windows(16)
            .any(|window| window == b"SQLite format 3\0"),
        "the copy is encrypted"
    );
    let again = ws.run(&["--db", "org.db", "backup", "--out", "org.backup"]);
    assert!(
        !again.status.success(),
        "an existing backup is kept without --force"
    );

    let restore = |target: &str, file: &str, code: &str, force: bool| {
        let mut args = vec!["--db", target, "restore", file];
        if force {
            args.push("--force");
        }
        ws.command()
            .env("REFUGE_RECOVERY_CODE", code)
            .args(&args)
            .output()
            .unwrap()
    };
    let restored = restore("restored.db", "org.backup", &code, false);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(String::from_utf8_lossy(&restored.stdout).contains("New device epoch"));
    let listed_before = ws.ok(&["--db", "org.db", "person", "list", "--limit", "5"]);
    let listed_after = ws.ok(&["--db", "restored.db", "person", "list", "--limit", "5"]);
    assert_eq!(listed_before, listed_after);
    ws.ok(&[
        "--db",
        "restored.db",
        "location",
        "add",
        "SHL-AFTER",
        "--kind",
        "shelter",
        "--country",
        "TH",
        "--capacity",
        "5",
    ]);
    let verified = ws.run_as(
        Some("auditor"),
        PASSPHRASE,
        &["--db", "restored.db", "verify"],
    );
    let verified = String::from_utf8_lossy(&verified.stdout).to_string();
    assert!(verified.contains("from 2 node(s)"), "{verified}");
    assert!(verified.contains("OK:"), "{verified}");

    let refused = restore("restored.db", "org.backup", &code, false);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    let forced = restore("restored.db", "org.backup", &code, true);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    std::fs::write(ws.dir.path().join("flipped.backup"), &flipped).unwrap();
    std::fs::write(ws.dir.path().join("cut.backup"), &bytes[..bytes.len() - 64]).unwrap();
    std::fs::write(ws.dir.path().join("other.backup"), b"not a backup at all\n").unwrap();
    for (file, expected) in [
        ("flipped.backup", "damaged or incomplete"),
        ("cut.backup", "damaged or incomplete"),
        ("other.backup", "not a refuge backup"),
    ] {
        let output = restore("fresh.db", file, &code, false);
        assert!(!output.status.success(), "{file}");
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(error.contains(expected), "{file}: {error}");
        assert!(
            !ws.dir.path().join("fresh.db").exists(),
            "{file}: nothing left"
        );
    }
    let other_code = recovery_code_in(&ws.ok(&["--db", "other.db", "init"]));
    let output = restore("fresh.db", "org.backup", &other_code, false);
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("not the recovery code this backup was made under"),
        "{error}"
    );
    assert!(!error.contains(&other_code));
    let leftovers: Vec<String> = std::fs::read_dir(ws.dir.path())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().to_string())
        .filter(|name| name.starts_with(".refuge-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn tampering_with_an_event_is_found_by_verify() {
    let ws = Workspace::new();
    ws.ok(&["init"]);
    ws.ok(&[
        "location",
        "add",
        "SHL-1",
        "--kind",
        "shelter",
        "--country",
        "TH",
        "--capacity",
        "10",
    ]);
    let db = ws.dir.path().join("refuge.db");
    // Flip one byte of the stored event, as an attacker with the file could.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite:{}", db.display())).await.unwrap();
        sqlx::query("DROP TRIGGER events_no_update").execute(&mut connection).await.unwrap();
        sqlx::query("UPDATE events SET body = replace(body, '\"capacity\":10', '\"capacity\":90') WHERE seq = 2")
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    });
    let output = ws.run(&["verify"]);
    assert!(!output.status.success());
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        report.contains("/2 (location_added): hash does not match its contents"),
        "{report}"
    );
}

#[test]
fn plan_a_stand_alone_instance_and_a_batch_from_the_database() {
    let ws = Workspace::new();
    let instance = ws.input(
        "instance.json",
        r#"{"batches": [{"id": "F1", "day": 10, "seats": 3, "origins": ["SHL-1"]}],
            "households": [
              {"id": "H1", "size": 2, "origin": "SHL-1", "waiting_days": 90, "flags": ["minor", "minor"]},
              {"id": "H2", "size": 2, "origin": "SHL-1", "waiting_days": 30},
              {"id": "H3", "size": 1, "origin": "SHL-1", "waiting_days": 10, "pin": "in"}]}"#,
    );
    let plan: serde_json::Value =
        serde_json::from_str(&ws.ok(&["plan", "--input", instance.to_str().unwrap(), "--json"]))
            .unwrap();
    assert_eq!(
        plan["batches"][0]["households"],
        serde_json::json!(["H1", "H3"])
    );
    assert_eq!(plan["optimal"], true);
    assert_eq!(plan["explanations"][1]["decision"], "not_selected");
    let bad = ws.input(
        "bad.json",
        r#"{"batches": [{"id": "F1", "day": 10, "seats": 0, "origins": ["A"]}], "households": []}"#,
    );
    assert!(
        ws.fails(&["plan", "--input", bad.to_str().unwrap()])
            .contains("batches[0].seats: 0 is not a positive number of seats")
    );
    let malformed = ws.input("malformed.json", r#"{"batches": [}"#);
    assert!(
        ws.fails(&["plan", "--input", malformed.to_str().unwrap()])
            .contains("malformed.json")
    );
    let policy = ws.input("policy.toml", "target_wait_days = 30\nmystery = 1\n");
    assert!(
        ws.fails(&[
            "plan",
            "--input",
            instance.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap()
        ])
        .contains("unknown field `mystery`")
    );

    ws.ok(&["init"]);
    ws.ok(&[
        "location",
        "add",
        "SHL-1",
        "--kind",
        "shelter",
        "--country",
        "TH",
        "--capacity",
        "10",
    ]);
    ws.ok(&[
        "location",
        "add",
        "RCP",
        "--kind",
        "reception",
        "--country",
        "KR",
        "--capacity",
        "10",
    ]);
    let person = code_after(
        &ws.ok(&[
            "person",
            "add",
            "--location",
            "SHL-1",
            "--name",
            "Synthetic Traveller",
            "--since",
            "2026-09-01",
        ]),
        "P-",
    )
    .to_string();
    ws.ok(&["ready", &person, "--documents", "yes", "--screening", "yes"]);
    let created = ws.ok(&[
        "batch",
        "create",
        "--date",
        "2099-01-01",
        "--seats",
        "5",
        "--to",
        "RCP",
    ]);
    let batch = code_after(&created, "B-").to_string();
    assert!(created.contains("with 1 people planned"), "{created}");
    ws.ok(&["batch", "confirm", &batch]);
    ws.ok(&["batch", "depart", &batch]);
    assert!(
        ws.ok(&["person", "show", &person])
            .contains("departed at RCP")
    );
    let manifest = ws.ok(&["batch", "manifest", &batch]);
    assert!(
        manifest.contains(&person) && !manifest.contains("Synthetic"),
        "{manifest}"
    );
    ws.ok(&["verify"]);
}

/// A `refuge serve` process on the test database, on a free loopback port.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Server {
    fn start(ws: &Workspace) -> Server {
        Server::start_with(ws, &[])
    }

    fn start_with(ws: &Workspace, extra: &[&str]) -> Server {
        use std::io::BufRead as _;
        let mut child = ws
            .command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let line = lines.next().unwrap().unwrap();
        let base = line
            .split_whitespace()
            .find(|word| word.starts_with("http://") || word.starts_with("https://"))
            .unwrap_or_else(|| panic!("no address in {line}"))
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, base }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Already gone is fine.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// One browser-like client: a session cookie and its CSRF token.
struct Client {
    agent: ureq::Agent,
    base: String,
    cookie: String,
    csrf: String,
}

impl Client {
    fn login(base: &str, user: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        let reply = agent
            .post(&format!("{base}/login"))
            .send_form([("user", user), ("passphrase", PASSPHRASE)])
            .unwrap();
        assert_eq!(reply.status().as_u16(), 303, "login as {user}");
        let cookie = reply.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let mut page = agent
            .get(&format!("{base}/dashboard"))
            .header("Cookie", &cookie)
            .call()
            .unwrap();
        let body = page.body_mut().read_to_string().unwrap();
        let marker = "name=\"csrf\" value=\"";
        let at = body.find(marker).expect("a csrf field") + marker.len();
        Client {
            agent,
            base: base.to_string(),
            cookie,
            csrf: body[at..at + 64].to_string(),
        }
    }

    /// Posts a form; returns the status and the Location header.
    fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let mut fields = vec![("csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        let reply = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .send_form(fields)
            .unwrap();
        let location = reply
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_string())
            .unwrap_or_default();
        (reply.status().as_u16(), location)
    }
}

/// What the writers saw acknowledged (303) and refused as a conflict (409, 422).
#[derive(Default, Debug)]
struct Tally {
    moves: u64,
    incidents: u64,
    confirmed: u64,
    refused: u64,
}

/// Events of one kind in `refuge log`.
fn logged(ws: &Workspace, kind: &str) -> u64 {
    ws.ok(&["log"])
        .lines()
        .filter(|line| line.split_whitespace().nth(4) == Some(kind))
        .count() as u64
}

#[test]
fn two_servers_on_one_postgres_database_lose_no_write() {
    let Some(admin) = postgres_admin("two_servers_on_one_postgres_database_lose_no_write") else {
        return;
    };
    const WRITERS: usize = 50;
    let seconds: u64 = std::env::var("REFUGE_CONCURRENCY_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(60);
    let ws = Workspace::on(postgres_database(&admin));
    ws.ok(&["demo", "--people", "400"]);
    let people: Vec<serde_json::Value> =
        serde_json::from_str(&ws.ok(&["person", "list", "--stage", "sheltered", "--json"]))
            .unwrap();
    let codes: Vec<String> = people
        .iter()
        .map(|person| person["code"].as_str().unwrap().to_string())
        .collect();
    assert!(codes.len() > 20, "the demo has people waiting in shelters");
    let shelters = ["SHL-BKK-1", "SHL-BKK-2", "SHL-CNX-3"];
    let before = [
        logged(&ws, "person_moved"),
        logged(&ws, "incident_recorded"),
        logged(&ws, "batch_status_changed"),
    ];

    let servers = [Server::start(&ws), Server::start(&ws)];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let codes = std::sync::Arc::new(codes);
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let base = servers[writer % 2].base.clone();
            let codes = codes.clone();
            std::thread::spawn(move || {
                let client = Client::login(&base, "coordinator");
                let mut tally = Tally::default();
                let mut round = writer;
                while std::time::Instant::now() < deadline {
                    round += WRITERS;
                    // A few people, moved by many writers at once: real races.
                    let code = &codes[round % 7];
                    // 303: acknowledged; 409 (changed by someone else, full) and 422
                    // (refused with the reason on the page): cleanly refused.
                    let (status, counter) = match round % 10 {
                        0 => {
                            let (status, location) = client.post(
                                "/transfers",
                                &[
                                    ("date", "2027-03-01"),
                                    ("seats", "3"),
                                    ("destination", "RCP-KR"),
                                ],
                            );
                            assert_eq!(status, 303, "writer {writer}: batch created");
                            let (status, _) = client
                                .post(&format!("{location}/status"), &[("status", "confirmed")]);
                            (status, &mut tally.confirmed)
                        }
                        1..=3 => {
                            let (status, _) = client.post(
                                "/incidents",
                                &[
                                    ("location", shelters[round % 3]),
                                    ("kind", "conflict"),
                                    ("severity", "2"),
                                    ("people", code),
                                ],
                            );
                            (status, &mut tally.incidents)
                        }
                        _ => {
                            let (status, _) = client.post(
                                &format!("/people/{code}/move"),
                                &[
                                    ("to", shelters[(round / 10) % 3]),
                                    ("stage", "sheltered"),
                                    ("over_capacity", "yes"),
                                ],
                            );
                            (status, &mut tally.moves)
                        }
                    };
                    match status {
                        303 => *counter += 1,
                        409 | 422 => tally.refused += 1,
                        other => panic!("writer {writer}: unexpected status {other}"),
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for writer in writers {
        let tally = writer.join().unwrap();
        total.moves += tally.moves;
        total.incidents += tally.incidents;
        total.confirmed += tally.confirmed;
        total.refused += tally.refused;
    }
    drop(servers);
    {
        use std::io::Write as _;
        writeln!(
            std::io::stderr(),
            "{WRITERS} writers on two servers for {seconds} s: {total:?}"
        )
        .ok();
    }
    assert!(total.moves > 0 && total.incidents > 0 && total.confirmed > 0);
    // Every acknowledged write is in the log, once; nothing else is.
    assert_eq!(logged(&ws, "person_moved") - before[0], total.moves);
    assert_eq!(
        logged(&ws, "incident_recorded") - before[1],
        total.incidents
    );
    assert_eq!(
        logged(&ws, "batch_status_changed") - before[2],
        total.confirmed
    );
    // One unbroken chain, sequence numbers without gaps or repeats, tables = replay.
    let verified = ws.ok(&["verify"]);
    assert!(verified.contains("OK:"), "{verified}");
}

#[test]
fn serve_speaks_tls_with_secure_host_cookies() {
    let ws = Workspace::new();
    ws.ok(&["init"]);
    let certificate = ws.inputs.path().join("cert.pem");
    let key = ws.inputs.path().join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=refuge-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    // A key that is not a key is a clear error naming the file.
    let broken = ws.input("broken.pem", "not a key");
    let refused = ws.fails(&[
        "serve",
        "--tls-cert",
        certificate.to_str().unwrap(),
        "--tls-key",
        broken.to_str().unwrap(),
    ]);
    assert!(refused.contains("broken.pem"), "{refused}");
    // Without TLS or a proxy, only loopback.
    let refused = ws.fails(&["serve", "--listen", "0.0.0.0:0"]);
    assert!(refused.contains("--tls-cert"), "{refused}");

    let server = Server::start_with(
        &ws,
        &[
            "--tls-cert",
            certificate.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let curl = |args: &[&str]| {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(&certificate)
            .args(args)
            .output()
            .unwrap()
    };
    let page = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{}/login", server.base),
    ]);
    assert_eq!(String::from_utf8_lossy(&page.stdout), "200");
    let login = curl(&[
        "-i",
        "--data-urlencode",
        "user=admin",
        "--data-urlencode",
        &format!("passphrase={PASSPHRASE}"),
        &format!("{}/login", server.base),
    ]);
    let head = String::from_utf8_lossy(&login.stdout).to_lowercase();
    let cookie = head
        .lines()
        .find(|line| line.starts_with("set-cookie: __host-refuge="))
        .unwrap_or_else(|| panic!("no __Host- session cookie: {head}"));
    assert!(
        cookie.contains("secure") && cookie.contains("httponly"),
        "{cookie}"
    );
    // Plain HTTP on the TLS port gets no page.
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(server.base.replace("https://", "http://") + "/login")
        .output()
        .unwrap();
    assert!(!plain.status.success() || !String::from_utf8_lossy(&plain.stdout).contains("<main>"));
}

#[test]
fn postgres_over_tls_checks_the_server_certificate() {
    let Some(admin) = postgres_admin("postgres_over_tls_checks_the_server_certificate") else {
        return;
    };
    let Ok(ca) = std::env::var("REFUGE_TEST_POSTGRES_CA") else {
        return;
    };
    let url = postgres_database(&admin);
    let ws = Workspace::on(format!("{url}?sslmode=verify-full&sslrootcert={ca}"));
    ws.ok(&["init"]);
    assert!(ws.ok(&["backlog"]).contains("LOCATION"));
    // A certificate signed by someone else is refused, and said so.
    let stranger = ws.inputs.path().join("stranger.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=stranger"])
        .arg("-keyout")
        .arg(ws.inputs.path().join("stranger.key"))
        .arg("-out")
        .arg(&stranger)
        .output()
        .unwrap();
    assert!(made.status.success());
    let doubtful = Workspace::on(format!(
        "{url}?sslmode=verify-full&sslrootcert={}",
        stranger.display()
    ));
    let refused = doubtful.fails(&["backlog"]);
    assert!(refused.contains("cannot reach the database"), "{refused}");
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

/// A reader that stops early (`refuge log | head -1`) is not an error: the command leaves
/// quietly with 141, as a shell expects, whatever it was printing.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let ws = Workspace::new();
    // Enough history that the log is larger than a pipe holds (64 KiB): the writer must
    // still be writing when the reader goes away.
    ws.ok(&["demo", "--people", "400"]);
    let mut child = ws
        .command()
        .arg("log")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(141), "refuge log");
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
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

/// `serve --demo` left its database behind after every stop: now it is removed when the
/// server stops, and a later demo sweeps away what a killed one left.
#[test]
fn the_demo_server_removes_its_database_when_it_stops() {
    let ws = Workspace::new();
    let mut child = ws
        .command()
        .args([
            "serve",
            "--demo",
            "--demo-people",
            "60",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("TMPDIR", ws.dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut path = None;
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0 {
        if let Some(rest) = line.strip_prefix("Demo organisation: ") {
            path = rest
                .split(" in ")
                .nth(1)
                .map(|rest| PathBuf::from(rest.split(" (removed").next().unwrap().trim()));
        }
        if line.starts_with("Serving on") {
            break;
        }
        line.clear();
    }
    let path = path.expect("the demo says where its database is");
    assert!(path.exists());
    assert!(path.starts_with(ws.dir.path()));
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    assert!(child.wait().unwrap().success());
    assert!(!path.exists(), "{} is still there", path.display());
}
