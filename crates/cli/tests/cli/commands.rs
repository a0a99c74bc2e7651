//! Commands as a user runs them: bad input named, roles enforced, the demo, verify, the planner,
//! closed pipes.

use crate::support::{PASSPHRASE, Workspace, code_after, last_line};

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
    let by_destination = ws.run_as(
        Some("analyst"),
        PASSPHRASE,
        &["--db", "demo.db", "backlog", "--by-destination"],
    );
    let table = String::from_utf8_lossy(&by_destination.stdout);
    assert!(by_destination.status.success(), "{table}");
    assert!(table.starts_with("WANTS"), "{table}");
    assert!(
        table.lines().any(|line| line.starts_with("KR "))
            && table.lines().any(|line| line.starts_with("undecided ")),
        "{table}"
    );
    let hers = ws.run_as(
        Some("caseworker"),
        PASSPHRASE,
        &["--db", "demo.db", "backlog", "--by-destination"],
    );
    assert!(
        String::from_utf8_lossy(&hers.stdout).contains("counts the whole organisation"),
        "{}",
        String::from_utf8_lossy(&hers.stdout)
    );
    let forecast = ws.run_as(
        Some("analyst"),
        PASSPHRASE,
        &[
            "--db",
            "demo.db",
            "forecast",
            "--from-db",
            "--destination",
            "kr",
            "--replications",
            "20",
        ],
    );
    let said = String::from_utf8_lossy(&forecast.stdout);
    assert!(forecast.status.success(), "{said}");
    assert!(said.contains("Only those who may go to KR"), "{said}");
    let wrong = ws.run_as(
        Some("analyst"),
        PASSPHRASE,
        &[
            "--db",
            "demo.db",
            "forecast",
            "--from-db",
            "--destination",
            "stay",
        ],
    );
    assert!(!wrong.status.success());
    let complaint = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        complaint.contains("destination")
            && complaint.contains("'stay' is not a two-letter country code"),
        "{complaint}"
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
            .contains("batches[0].seats: 0 is not a number of seats from 1 to 5000")
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
