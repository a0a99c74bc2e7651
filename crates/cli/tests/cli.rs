//! Drives the real `refuge` binary in a temporary directory.

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
];

struct Workspace {
    dir: tempfile::TempDir,
    /// Inputs the test itself writes live outside the scanned directory.
    inputs: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
            inputs: tempfile::tempdir().unwrap(),
        }
    }

    fn run_as(&self, user: Option<&str>, passphrase: &str, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_refuge"));
        command
            .current_dir(self.dir.path())
            .env_remove("REFUGE_DB")
            .env_remove("REFUGE_USER")
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

#[test]
fn no_protected_value_reaches_the_disk_or_the_output_unless_revealed() {
    let ws = Workspace::new();
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
    record(ws.run(&["import", "people", csv.to_str().unwrap()]));
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
    record(ws.run(&["person", "show", &person]));
    record(ws.run(&["person", "list", "--name", PLANTED[0]]));
    record(ws.run(&["person", "list", "--flag", "self_harm_risk", "--json"]));
    record(ws.run(&["incident", "list"]));
    record(ws.run(&["location", "list"]));
    record(ws.run(&["backlog", "--json"]));
    record(ws.run(&["export", "people", "--csv", "--output", "export.csv"]));
    record(ws.run(&["log"]));
    record(ws.run(&["access-log"]));
    record(ws.run(&["verify"]));

    // Every byte of every file the runs wrote: the database, its WAL and shm, the export.
    let files = files_under(ws.dir.path());
    assert!(files.iter().any(|file| file.ends_with("refuge.db")));
    assert!(files.iter().any(|file| file.ends_with("export.csv")));
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for planted in PLANTED {
            assert!(
                !contains(&bytes, planted),
                "{planted} found in {}",
                file.display()
            );
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
        .contains("location SHL-1 is full")
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
