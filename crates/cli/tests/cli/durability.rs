//! Crash safety under kill -9 and backups that restore.

use crate::support::{PASSPHRASE, Server, Workspace, code_after, killed_after, recovery_code_in};

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
        // A failed check unwinds through here: the writer stops, and the scope can end and
        // report it (without this the run waited for the writer for ever).
        let _stop_writer = StopOnDrop(&stop);
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

/// A backup taken while `refuge serve` takes case notes through the API restores to an
/// organisation that `verify` accepts and that holds every note acknowledged before the
/// backup started (and none that was never written); the writer went on during the backup.
#[test]
fn a_backup_taken_while_serve_writes_holds_every_write_acknowledged_before_it() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let ws = Workspace::new();
    let code = recovery_code_in(&ws.ok(&["demo", "--people", "300", "--seed", "13"]));
    let token = ws.ok(&["token", "create", "--label", "synthetic backup writer"]);
    let token = token.trim().to_string();
    let listed = ws.ok(&["person", "list", "--stage", "sheltered", "--limit", "1"]);
    let noted = code_after(&listed, "P-").to_string();
    let notes_in = |db: &str| -> u64 {
        let listed = ws.ok(&["--db", db, "note", "list", &noted]);
        let last = listed.lines().last().unwrap_or("").to_string();
        last.strip_suffix(" notes.")
            .and_then(|count| count.parse().ok())
            .unwrap_or(0)
    };
    let notes_before = notes_in("refuge.db");
    let server = Server::start(&ws);
    let stop = AtomicBool::new(false);
    let acknowledged = AtomicU64::new(0);
    let wait_for = |count: u64| {
        for _ in 0..3_000 {
            if acknowledged.load(Ordering::SeqCst) >= count {
                return;
            }
            #[allow(
                clippy::disallowed_methods,
                reason = "waits for a real writer against a real server"
            )]
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the writer did not reach {count} notes");
    };
    let (before_backup, during_backup) = std::thread::scope(|scope| {
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
                    .send(format!("{{\"text\":\"Synthetic backup note {number}\"}}"));
                if answer.is_ok_and(|reply| reply.status().as_u16() == 201) {
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        wait_for(20);
        let before_backup = acknowledged.load(Ordering::SeqCst);
        let out = ws.ok(&["backup", "--out", "busy.backup"]);
        assert!(out.contains("read back and checked"), "{out}");
        let during_backup = acknowledged.load(Ordering::SeqCst) - before_backup;
        wait_for(acknowledged.load(Ordering::SeqCst) + 5);
        stop.store(true, Ordering::SeqCst);
        (before_backup, during_backup)
    });
    let written = acknowledged.load(Ordering::SeqCst);
    drop(server);
    let restored = ws
        .command()
        .env("REFUGE_RECOVERY_CODE", &code)
        .args(["--db", "restored.db", "restore", "busy.backup"])
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let verified = ws.run_as(
        Some("auditor"),
        PASSPHRASE,
        &["--db", "restored.db", "verify"],
    );
    let verified = String::from_utf8_lossy(&verified.stdout).to_string();
    assert!(verified.contains("OK:"), "{verified}");
    let in_backup = notes_in("restored.db") - notes_before;
    assert!(
        (before_backup..=written).contains(&in_backup),
        "{in_backup} notes in the backup: {before_backup} acknowledged before it started, \
         {during_backup} while it ran, {written} in all"
    );
    assert!(
        notes_in("refuge.db") - notes_before >= written,
        "the live database kept every write"
    );
}

/// Sets the flag when dropped, a panic's unwinding included.
struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
