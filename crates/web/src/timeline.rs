//! What an event changed, in the reader's language: the timeline of the person page.

use crate::i18n::Lang;
use refuge_app::Change;
use refuge_core::Kept;

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

/// One change as a sentence in `lang` (locales/*/main.ftl, `change-…`).
#[expect(
    clippy::too_many_lines,
    reason = "one arm per kind of change: the table of what each says"
)]
pub fn change_text(lang: Lang, change: &Change) -> String {
    let (key, args): (&str, Vec<(&'static str, String)>) = match change {
        Change::UserAdded { name, role } => (
            "change-user-added",
            vec![("name", name.clone()), ("role", lang.word(*role))],
        ),
        Change::UserChanged { role, active } => (
            "change-user-changed",
            vec![("role", lang.word(*role)), ("active", yes_no(*active))],
        ),
        Change::LocationAdded {
            code,
            kind,
            country,
            capacity,
        } => (
            "change-location-added",
            vec![
                ("code", code.clone()),
                ("kind", lang.word(*kind)),
                ("country", country.clone()),
                ("capacity", capacity.to_string()),
            ],
        ),
        Change::HouseholdAdded { split_allowed } => (
            "change-household-added",
            vec![("split", yes_no(*split_allowed))],
        ),
        Change::PersonAdded {
            stage,
            location,
            since,
        } => (
            "change-person-added",
            vec![
                ("stage", lang.word(*stage)),
                ("location", location.clone()),
                ("since", since.to_string()),
            ],
        ),
        Change::PersonMoved {
            to,
            stage,
            at,
            over_capacity,
        } => (
            if *over_capacity {
                "change-person-moved-over-capacity"
            } else {
                "change-person-moved"
            },
            vec![
                ("location", to.clone()),
                ("stage", lang.word(*stage)),
                ("at", at.to_string()),
            ],
        ),
        Change::FlagSet { flag, on } => (
            if *on {
                "change-flag-set"
            } else {
                "change-flag-cleared"
            },
            vec![("flag", lang.word(*flag))],
        ),
        Change::HoldSet { reason } => match reason {
            Some(reason) => ("change-hold-set", vec![("reason", lang.word(*reason))]),
            None => ("change-hold-released", vec![]),
        },
        Change::ReadinessSet {
            documents_ready,
            screening_done,
        } => (
            "change-readiness",
            vec![
                ("documents", yes_no(*documents_ready)),
                ("screening", yes_no(*screening_done)),
            ],
        ),
        Change::DestinationWishSet { wish, on } => (
            "change-wish",
            vec![("wish", lang.wish(wish)), ("on", on.to_string())],
        ),
        Change::IncidentRecorded {
            kind,
            severity,
            location,
        } => (
            "change-incident-recorded",
            vec![
                ("kind", lang.word(*kind)),
                ("severity", severity.to_string()),
                ("location", location.clone()),
            ],
        ),
        Change::IncidentClosed { at } => ("change-incident-closed", vec![("at", at.to_string())]),
        Change::PersonRehoused { from, to } => (
            "change-person-rehoused",
            vec![("from", from.clone()), ("to", to.clone())],
        ),
        Change::PersonMerged { duplicate, into } => (
            "change-person-merged",
            vec![("duplicate", duplicate.clone()), ("into", into.clone())],
        ),
        Change::HouseholdSplitSet { split_allowed } => (
            "change-household-split",
            vec![("split", yes_no(*split_allowed))],
        ),
        Change::PersonCorrected { fields } => {
            let fields: Vec<String> = fields
                .iter()
                .map(|field| match *field {
                    "sex" => lang.t("col-sex"),
                    "birth_year" => lang.t("col-born"),
                    other => other
                        .parse::<refuge_core::PersonField>()
                        .map_or(other.to_string(), |field| lang.word(field)),
                })
                .collect();
            (
                "change-person-corrected",
                vec![("fields", fields.join(", "))],
            )
        }
        Change::NoteAdded {
            follow_up,
            check_in: Some(wellbeing),
        } => match follow_up {
            Some(date) => (
                "change-check-in-follow-up",
                vec![
                    ("wellbeing", lang.word(*wellbeing)),
                    ("date", date.to_string()),
                ],
            ),
            None => (
                "change-check-in",
                vec![("wellbeing", lang.word(*wellbeing))],
            ),
        },
        Change::NoteAdded {
            follow_up,
            check_in: None,
        } => match follow_up {
            Some(date) => (
                "change-note-added-follow-up",
                vec![("date", date.to_string())],
            ),
            None => ("change-note-added", vec![]),
        },
        Change::FollowUpDone { at } => ("change-follow-up-done", vec![("at", at.to_string())]),
        Change::PersonPurged { arrived_before, on } => (
            "change-person-purged",
            vec![
                ("arrived_before", arrived_before.to_string()),
                ("on", on.to_string()),
            ],
        ),
        Change::NarrativePurged { on } => ("change-narrative-purged", vec![("on", on.to_string())]),
        Change::ConflictResolved { kept } => (
            match kept {
                Kept::Shown => "change-conflict-kept-shown",
                Kept::Other => "change-conflict-kept-other",
            },
            vec![],
        ),
        Change::BatchCreated {
            departure,
            seats,
            destination,
        } => (
            "change-batch-created",
            vec![
                ("departure", departure.to_string()),
                ("seats", seats.to_string()),
                ("destination", destination.clone()),
            ],
        ),
        Change::BatchPinned { pin } => match pin {
            Some(pin) => ("change-batch-pinned", vec![("pin", lang.word(*pin))]),
            None => ("change-batch-pin-cleared", vec![]),
        },
        Change::BatchPlanned { people } => {
            return lang.t_count("change-batch-planned", *people as u64);
        }
        Change::BatchStatusChanged { status } => {
            ("change-batch-status", vec![("status", lang.word(*status))])
        }
    };
    lang.t_args(key, &args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_move_reads_in_both_languages() {
        let moved = Change::PersonMoved {
            to: "SHL-B".into(),
            stage: refuge_core::Stage::Sheltered,
            at: date!(2026 - 11 - 29),
            over_capacity: true,
        };
        assert_eq!(
            change_text(Lang::English, &moved),
            "moved to SHL-B as sheltered on 2026-11-29 (over capacity)"
        );
        assert_eq!(
            change_text(Lang::Korean, &moved),
            "SHL-B(으)로 이동, 보호소 대기, 2026-11-29 (정원 초과)"
        );
        let ready = Change::ReadinessSet {
            documents_ready: true,
            screening_done: false,
        };
        assert_eq!(
            change_text(Lang::Korean, &ready),
            "서류 준비됨, 심사 미완료"
        );
    }
}
