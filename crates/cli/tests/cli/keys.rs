//! Passphrases, the recovery code, the duress passphrase, key rotation and the upgrade to
//! compartment keys.

use crate::support::{
    PASSPHRASE, Workspace, code_after, killed_after, last_line, recovery_code_in,
};

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
