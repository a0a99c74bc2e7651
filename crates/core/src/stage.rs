//! The stage machine: one table of allowed transitions.

crate::vocabulary!(
    /// Where a person is in the journey, in the order of the journey.
    Stage, "stage", {
    Hiding => "hiding",
    Transit => "transit",
    Sheltered => "sheltered",
    Detained => "detained",
    Departed => "departed",
    Arrived => "arrived",
    Repatriated => "repatriated",
    Missing => "missing",
    Withdrawn => "withdrawn",
    Deceased => "deceased",
    // A duplicate record merged into the person's other record: out of every count.
    Merged => "merged",
});

use Stage::*;

/// The exits: a person can leave the pipeline this way from any stage still in it.
const EXITS: [Stage; 4] = [Repatriated, Missing, Withdrawn, Deceased];

/// The one table of allowed transitions (from, to) besides the exits. A move between two
/// locations at the same stage is not a transition and is always allowed while in the
/// pipeline.
const TRANSITIONS: &[(Stage, Stage)] = &[
    (Hiding, Transit),
    (Transit, Sheltered),
    (Transit, Detained),
    (Sheltered, Detained),
    (Detained, Sheltered),
    (Sheltered, Departed),
    (Detained, Departed),
    (Departed, Arrived),
    // Someone reported missing can be found again and picked up at any stage before departure.
    (Missing, Hiding),
    (Missing, Transit),
    (Missing, Sheltered),
    (Missing, Detained),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a person cannot go from stage {from} to stage {to}")]
pub struct TransitionError {
    pub from: Stage,
    pub to: Stage,
}

impl Stage {
    /// Still in the network's care before departure: occupies a bed somewhere.
    pub fn is_present(self) -> bool {
        matches!(self, Hiding | Transit | Sheltered | Detained)
    }

    /// Waiting for a transfer out of the transit country.
    pub fn is_waiting(self) -> bool {
        matches!(self, Sheltered | Detained)
    }

    /// Time at this stage counts as waiting for a transfer: from the first day in transit
    /// (after hiding) to departure, across moves between places.
    pub fn counts_waiting_time(self) -> bool {
        matches!(self, Transit | Sheltered | Detained)
    }

    /// No further transition is possible.
    pub fn is_final(self) -> bool {
        matches!(self, Arrived | Repatriated | Withdrawn | Deceased | Merged)
    }

    /// Checks a change of stage against the table. Staying at the same stage is allowed for
    /// stages in the pipeline (a move between locations).
    pub fn check_transition(self, to: Stage) -> Result<(), TransitionError> {
        let allowed = (self == to && self.is_present())
            || TRANSITIONS.contains(&(self, to))
            || (EXITS.contains(&to) && !self.is_final() && self != to);
        if allowed {
            Ok(())
        } else {
            Err(TransitionError { from: self, to })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_journey_is_allowed() {
        let journey = [
            Hiding, Transit, Sheltered, Detained, Sheltered, Departed, Arrived,
        ];
        for pair in journey.windows(2) {
            assert_eq!(pair[0].check_transition(pair[1]), Ok(()), "{pair:?}");
        }
    }

    #[test]
    fn skipping_or_going_back_is_refused_and_names_both_stages() {
        let error = Hiding.check_transition(Departed).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a person cannot go from stage hiding to stage departed"
        );
        assert!(Arrived.check_transition(Sheltered).is_err());
        assert!(Departed.check_transition(Sheltered).is_err());
        assert!(Sheltered.check_transition(Hiding).is_err());
        assert!(Departed.check_transition(Departed).is_err());
    }

    #[test]
    fn exits_are_reachable_from_the_pipeline_and_final_stages_are_final() {
        for from in [Hiding, Transit, Sheltered, Detained, Departed] {
            for exit in EXITS {
                assert!(from.check_transition(exit).is_ok(), "{from} -> {exit}");
            }
        }
        for from in [Arrived, Repatriated, Withdrawn, Deceased] {
            for &to in Stage::ALL {
                assert!(from.check_transition(to).is_err(), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn stage_names_parse_back() {
        for &stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>(), Ok(stage));
        }
        assert!("flying".parse::<Stage>().is_err());
    }

    proptest! {
        /// The table is the only source of truth: a transition is allowed exactly when it is
        /// listed, is an exit from a non-final stage, or stays within the pipeline.
        #[test]
        fn transition_rule_matches_table(from in 0usize..10, to in 0usize..10) {
            let (from, to) = (Stage::ALL[from], Stage::ALL[to]);
            let listed = TRANSITIONS.contains(&(from, to));
            let exit = EXITS.contains(&to) && !from.is_final() && from != to;
            let stay = from == to && from.is_present();
            prop_assert_eq!(from.check_transition(to).is_ok(), listed || exit || stay);
            if from.is_final() {
                prop_assert!(from.check_transition(to).is_err());
            }
        }
    }
}
