//! `refuge node keys`, `peer` and `bundle` between two installations, and the emergency
//! opening of a bundle with Debian's `age` tool (docs/exchange.md).

use crate::support::Workspace;
use std::process::Command;

fn device_key(output: &str) -> String {
    output
        .lines()
        .find_map(|line| line.strip_prefix("Device key:"))
        .unwrap()
        .trim()
        .to_string()
}

/// The person codes of a `person list`.
fn codes_of(list: &str) -> Vec<String> {
    list.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| word.starts_with("P-"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_bundle_goes_to_a_peer_is_checked_there_and_opens_with_the_age_tool() {
    let shelter = Workspace::new();
    shelter.ok(&["demo", "--people", "600", "--seed", "5"]);
    let reception = Workspace::new();
    reception.ok(&["init"]);
    let shelter_key = device_key(&shelter.ok(&["node", "keys"]));
    let identity = reception.inputs.path().join("device.age");
    let identity_arg = identity.to_str().unwrap();
    let reception_key =
        device_key(&reception.ok(&["node", "keys", "--age-identity", identity_arg]));
    assert_ne!(shelter_key, reception_key);
    let added = shelter.ok(&["peer", "add", "reception", "--key", &reception_key]);
    assert!(added.contains("fingerprint"), "{added}");
    reception.ok(&["peer", "add", "shelter-net", "--key", &shelter_key]);
    assert!(shelter.ok(&["peer", "list"]).contains("reception"));

    let bundle = shelter.dir.path().join("to-reception.bundle");
    let bundle_arg = bundle.to_str().unwrap();
    let written = shelter.ok(&[
        "bundle",
        "export",
        "--to",
        "reception",
        "--location",
        "SHL-BKK-1",
        "--out",
        bundle_arg,
    ]);
    assert!(written.starts_with("Bundle 1 for reception"), "{written}");
    let error = shelter.fails(&[
        "bundle",
        "export",
        "--to",
        "reception",
        "--location",
        "SHL-BKK-1",
        "--out",
        bundle_arg,
    ]);
    assert!(error.contains("exists"), "{error}");

    let report = reception.ok(&["bundle", "inspect", bundle_arg]);
    assert!(report.starts_with("Bundle 1 from shelter-net"), "{report}");
    assert!(report.contains("nothing was written"), "{report}");
    let error = shelter.fails(&["bundle", "inspect", bundle_arg]);
    assert!(error.contains("not for this installation"), "{error}");
    let junk = reception.input("junk.bundle", "synthetic, not a bundle");
    let error = reception.fails(&["bundle", "inspect", junk.to_str().unwrap()]);
    assert!(error.contains("not a bundle"), "{error}");

    // The emergency path: the standard age tool and the identity file, then gunzip.
    let opened = Command::new("sh")
        .arg("-c")
        .arg("age -d -i \"$1\" \"$2\" | tail -n +4 | gunzip")
        .args(["sh", identity_arg, bundle_arg])
        .output()
        .expect("Debian's age package (scripts/test installs it)");
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    let payload: serde_json::Value = serde_json::from_slice(&opened.stdout).unwrap();
    assert!(!payload["events"].as_array().unwrap().is_empty());

    // Everyone (well over 200 households: their members found in one pass) goes whole.
    let mut everywhere = vec!["bundle", "export", "--to", "reception"];
    let codes: Vec<String> = shelter
        .ok(&["location", "list"])
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().next().unwrap().to_string())
        .collect();
    for code in &codes {
        everywhere.extend(["--location", code.as_str()]);
    }
    let all = shelter.dir.path().join("everyone.bundle");
    everywhere.extend(["--out", all.to_str().unwrap()]);
    let written = shelter.ok(&everywhere);
    assert!(
        written.starts_with("Bundle 2 for reception: 600 people"),
        "{written}"
    );
    let report = reception.ok(&["bundle", "inspect", all.to_str().unwrap()]);
    assert!(report.contains("new records: 600 people"), "{report}");

    // Merged at the reception: a dry run first (nothing written), then the merge; the
    // people are there by their codes, sealed (no --reveal), and verify passes.
    let dry = reception.ok(&["bundle", "import", all.to_str().unwrap(), "--dry-run"]);
    assert!(dry.contains("nothing was written"), "{dry}");
    assert!(reception.ok(&["person", "list"]).lines().count() <= 2);
    let merged = reception.ok(&["bundle", "import", all.to_str().unwrap()]);
    assert!(merged.contains("Merged."), "{merged}");
    assert!(merged.contains("Conflicts: 0 (0 new)"), "{merged}");
    let someone = codes_of(&shelter.ok(&["person", "list"]))[0].clone();
    let shown = reception.ok(&["person", "show", &someone]);
    assert!(shown.contains(&someone), "{shown}");
    assert_eq!(reception.ok(&["conflicts"]).trim(), "No conflicts.");
    let again = reception.fails(&["bundle", "import", all.to_str().unwrap()]);
    assert!(again.contains("replay"), "{again}");
    reception.ok(&["verify"]);

    // Held for one reason at the reception while the shelter chose another: a conflict,
    // listed with the event to name, settled by keeping the other value.
    reception.ok(&["hold", &someone, "--reason", "legal"]);
    shelter.ok(&["hold", &someone, "--reason", "medical"]);
    let held = shelter.dir.path().join("held.bundle");
    shelter.ok(&[
        "bundle",
        "export",
        "--to",
        "reception",
        "--person",
        &someone,
        "--out",
        held.to_str().unwrap(),
    ]);
    let merged = reception.ok(&["bundle", "import", held.to_str().unwrap()]);
    assert!(merged.contains("Conflicts: 1 (1 new)"), "{merged}");
    let listed = reception.ok(&["conflicts"]);
    let event = listed
        .split("(event ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("{listed}"))
        .to_string();
    let wrong = reception.fails(&["conflicts", "resolve", &event, "--keep", "both"]);
    assert!(wrong.contains("both"), "{wrong}");
    let settled = reception.ok(&["conflicts", "resolve", &event, "--keep", "other"]);
    assert!(settled.contains("the other value kept"), "{settled}");
    assert_eq!(reception.ok(&["conflicts"]).trim(), "No conflicts.");
    let twice = reception.fails(&["conflicts", "resolve", &event, "--keep", "shown"]);
    assert!(twice.contains("no open conflict"), "{twice}");
    reception.ok(&["verify"]);
    let no_batch = shelter.fails(&[
        "bundle",
        "export",
        "--to",
        "reception",
        "--batch",
        "B-NOSUCH",
        "--out",
        shelter.dir.path().join("flight.bundle").to_str().unwrap(),
    ]);
    assert!(no_batch.contains("B-NOSUCH"), "{no_batch}");

    shelter.ok(&["peer", "remove", "reception"]);
    let error = shelter.fails(&[
        "bundle",
        "export",
        "--to",
        "reception",
        "--location",
        "SHL-BKK-1",
        "--out",
        shelter.dir.path().join("again.bundle").to_str().unwrap(),
    ]);
    assert!(error.contains("no peer with code reception"), "{error}");
    let log = shelter.ok(&["access-log", "--action", "export"]);
    assert!(log.contains("bundle 1 to reception"), "{log}");
    shelter.ok(&["verify"]);
}
