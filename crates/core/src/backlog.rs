//! Backlog figures per location, computed from operational fields only.

use serde::Serialize;

/// Waiting-time summary of the people waiting at one location.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WaitSummary {
    pub waiting: usize,
    pub median_days: Option<i64>,
    pub p90_days: Option<i64>,
    pub max_days: Option<i64>,
    pub over_target: usize,
}

/// Nearest-rank percentile (`p` in 0..=100) of sorted values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1);
    let index = usize::try_from(rank - 1).unwrap_or(usize::MAX);
    sorted.get(index.min(sorted.len() - 1)).copied()
}

/// Summarises waiting days (in any order) against the target wait.
pub fn summarize_waits(mut waiting_days: Vec<i64>, target_wait_days: i64) -> WaitSummary {
    waiting_days.sort_unstable();
    WaitSummary {
        waiting: waiting_days.len(),
        median_days: percentile(&waiting_days, 50),
        p90_days: percentile(&waiting_days, 90),
        max_days: waiting_days.last().copied(),
        over_target: waiting_days
            .iter()
            .filter(|days| **days > target_wait_days)
            .count(),
    }
}

/// Summarises waiting days given as (days, people) pairs, in any order.
pub fn summarize_weighted_waits(mut waits: Vec<(i64, u64)>, target_wait_days: i64) -> WaitSummary {
    waits.retain(|(_, people)| *people > 0);
    waits.sort_unstable();
    let total: u64 = waits.iter().map(|(_, people)| people).sum();
    let at_rank = |p: u64| -> Option<i64> {
        if total == 0 {
            return None;
        }
        let rank = (p * total).div_ceil(100).max(1);
        let mut seen = 0;
        waits
            .iter()
            .find(|(_, people)| {
                seen += people;
                seen >= rank
            })
            .map(|(days, _)| *days)
    };
    WaitSummary {
        waiting: usize::try_from(total).unwrap_or(usize::MAX),
        median_days: at_rank(50),
        p90_days: at_rank(90),
        max_days: waits.last().map(|(days, _)| *days),
        over_target: usize::try_from(
            waits
                .iter()
                .filter(|(days, _)| *days > target_wait_days)
                .map(|(_, people)| people)
                .sum::<u64>(),
        )
        .unwrap_or(usize::MAX),
    }
}

/// Occupancy in percent of capacity (None for a location with no beds).
pub fn occupancy_percent(present: u64, capacity: u32) -> Option<f64> {
    (capacity > 0).then(|| present as f64 * 100.0 / f64::from(capacity))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&values, 50), Some(5));
        assert_eq!(percentile(&values, 90), Some(9));
        assert_eq!(percentile(&values, 100), Some(10));
        assert_eq!(percentile(&[42], 90), Some(42));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn weighted_summary_equals_the_expanded_one() {
        let pairs = vec![(120, 1), (10, 3), (61, 2), (60, 1), (30, 0)];
        let expanded: Vec<i64> = pairs
            .iter()
            .flat_map(|(d, n)| std::iter::repeat_n(*d, *n as usize))
            .collect();
        assert_eq!(
            summarize_weighted_waits(pairs, 60),
            summarize_waits(expanded, 60)
        );
        assert_eq!(
            summarize_weighted_waits(Vec::new(), 60),
            summarize_waits(Vec::new(), 60)
        );
    }

    #[test]
    fn summary_counts_people_over_target() {
        let summary = summarize_waits(vec![120, 10, 61, 60, 30], 60);
        assert_eq!(summary.waiting, 5);
        assert_eq!(summary.median_days, Some(60));
        assert_eq!(summary.max_days, Some(120));
        assert_eq!(summary.over_target, 2);
        assert_eq!(occupancy_percent(150, 100), Some(150.0));
        assert_eq!(occupancy_percent(1, 0), None);
    }
}
