//! The failed-login throttle: slow the guesser, not the user (OWASP's and kanidm's pattern).
//!
//! - Per (account, address) pair: a delay before each attempt that doubles with every failure
//!   (`first_delay` up to `max_delay`), a lock of `lock_for` after `lock_after` failures that
//!   further attempts do not extend, and one attempt in flight at a time (a parallel guess is
//!   refused without being tried). A success clears the pair.
//! - Per account: at most `account_guesses_per_day` attempts evaluated in a day, from every
//!   address together; per address: at most `address_guesses_per_hour` (an office behind one
//!   proxy shares it). Attempts are counted when they are admitted, before the key derivation,
//!   under one lock, so parallel guesses cannot slip past a budget.
//! - A known-good browser (one that logged in to that account before: a random token in a
//!   cookie, remembered in server memory for `known_browser_for`) is exempt from both
//!   budgets, so a guesser elsewhere cannot lock the real user out; only its own pair's delay
//!   and lock apply to it.
//!
//! Refused and failed attempts get the same answer as a wrong passphrase. Everything is in
//! server memory, bounded to `MAX_TRACKED` entries per table.

use crate::sessions::{SessionPolicy, lock, random_token};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use time::OffsetDateTime;

/// Entries kept per table; beyond it, the oldest are forgotten.
const MAX_TRACKED: usize = 100_000;
const DAY: Duration = Duration::from_secs(24 * 3600);
const HOUR: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct Pair {
    failures: u32,
    last_failure: Option<OffsetDateTime>,
    in_flight: bool,
}

/// Attempts counted in a window that starts at the first of them.
struct Window {
    started: OffsetDateTime,
    attempts: u32,
}

#[derive(Default)]
struct State {
    pairs: HashMap<(String, IpAddr), Pair>,
    accounts: HashMap<String, Window>,
    addresses: HashMap<IpAddr, Window>,
    /// Browser token → (account, remembered until).
    known_browsers: HashMap<String, (String, OffsetDateTime)>,
}

pub struct Throttle {
    policy: SessionPolicy,
    state: Mutex<State>,
}

/// An admitted attempt: wait `delay`, try the passphrase, then say how it went. Dropping it
/// unsaid (the client went away) frees the pair for the next attempt.
pub struct Ticket<'a> {
    throttle: &'a Throttle,
    pair: (String, IpAddr),
    pub delay: Duration,
}

/// The name attempts are counted under: over-long names (never an account) share one entry,
/// so typed garbage cannot grow the tables.
fn account_key(user: &str) -> &str {
    if user.len() > 64 { "(over-long)" } else { user }
}

/// Counts one attempt in a window of `length`; false when `limit` are used up.
fn count(window: &mut Window, now: OffsetDateTime, length: Duration, limit: u32) -> bool {
    if now - window.started >= length {
        *window = Window {
            started: now,
            attempts: 0,
        };
    }
    if window.attempts >= limit {
        return false;
    }
    window.attempts += 1;
    true
}

/// Keeps a table within `MAX_TRACKED` entries by forgetting those `stale` says are old.
fn bound<K: std::hash::Hash + Eq, V>(table: &mut HashMap<K, V>, stale: impl Fn(&V) -> bool) {
    if table.len() >= MAX_TRACKED {
        table.retain(|_, value| !stale(value));
    }
    if table.len() >= MAX_TRACKED {
        table.clear();
    }
}

impl Throttle {
    pub fn new(policy: SessionPolicy) -> Self {
        Throttle {
            policy,
            state: Mutex::new(State::default()),
        }
    }

    fn delay_after(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let shift = (failures - 1).min(16);
        (self.policy.first_delay * 2u32.pow(shift)).min(self.policy.max_delay)
    }

    /// Decides whether a login attempt is tried at all (None: refused, with the answer a
    /// wrong passphrase gets), and how long it waits first.
    pub fn admit(
        &self,
        user: &str,
        address: IpAddr,
        browser: Option<&str>,
        now: OffsetDateTime,
    ) -> Option<Ticket<'_>> {
        let account = account_key(user).to_string();
        let mut state = lock(&self.state);
        let known = browser.is_some_and(|token| {
            state
                .known_browsers
                .get(token)
                .is_some_and(|(owner, until)| *owner == account && now < *until)
        });
        let pair_key = (account.clone(), address);
        let lock_for = self.policy.lock_for;
        bound(&mut state.pairs, |pair: &Pair| {
            !pair.in_flight && pair.last_failure.is_none_or(|last| now - last > lock_for)
        });
        let pair = state.pairs.entry(pair_key.clone()).or_default();
        if pair.in_flight {
            return None;
        }
        if pair.failures >= self.policy.lock_after {
            if pair.last_failure.is_some_and(|last| now - last < lock_for) {
                return None;
            }
            pair.failures = 0;
        }
        let delay = self.delay_after(pair.failures);
        if !known {
            let State {
                accounts,
                addresses,
                ..
            } = &mut *state;
            bound(accounts, |window: &Window| now - window.started >= DAY);
            bound(addresses, |window: &Window| now - window.started >= HOUR);
            let fresh = || Window {
                started: now,
                attempts: 0,
            };
            let account_ok = count(
                accounts.entry(account.clone()).or_insert_with(fresh),
                now,
                DAY,
                self.policy.account_guesses_per_day,
            );
            if !account_ok {
                return None;
            }
            let address_ok = count(
                addresses.entry(address).or_insert_with(fresh),
                now,
                HOUR,
                self.policy.address_guesses_per_hour,
            );
            if !address_ok {
                return None;
            }
        }
        if let Some(pair) = state.pairs.get_mut(&pair_key) {
            pair.in_flight = true;
        }
        Some(Ticket {
            throttle: self,
            pair: pair_key,
            delay,
        })
    }
}

impl Ticket<'_> {
    /// The passphrase was wrong (or the account unknown).
    pub fn failed(self, now: OffsetDateTime) {
        let mut state = lock(&self.throttle.state);
        if let Some(pair) = state.pairs.get_mut(&self.pair) {
            pair.failures += 1;
            pair.last_failure = Some(now);
        }
    }

    /// The login succeeded: the pair is cleared, and the browser is remembered as known-good
    /// for this account. Returns the token for its cookie.
    pub fn succeeded(self, now: OffsetDateTime) -> Option<String> {
        let token = random_token().ok()?;
        let mut state = lock(&self.throttle.state);
        state.pairs.remove(&self.pair);
        let until = now + self.throttle.policy.known_browser_for;
        bound(&mut state.known_browsers, |(_, until)| *until <= now);
        state
            .known_browsers
            .insert(token.clone(), (self.pair.0.clone(), until));
        Some(token)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.throttle.state);
        if let Some(pair) = state.pairs.get_mut(&self.pair) {
            pair.in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-29 09:00 UTC);

    fn address(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    fn throttle() -> Throttle {
        Throttle::new(SessionPolicy::default())
    }

    #[test]
    fn parallel_guesses_from_one_address_are_tried_one_at_a_time() {
        let throttle = throttle();
        let first = throttle.admit("analyst", address(1), None, NOW).unwrap();
        assert!(throttle.admit("analyst", address(1), None, NOW).is_none());
        first.failed(NOW);
        assert!(throttle.admit("analyst", address(1), None, NOW).is_some());
    }

    #[test]
    fn a_locked_pair_does_not_lock_the_account_from_elsewhere_and_is_not_extended() {
        let throttle = throttle();
        let policy = SessionPolicy::default();
        for _ in 0..policy.lock_after {
            throttle
                .admit("analyst", address(1), None, NOW)
                .unwrap()
                .failed(NOW);
        }
        assert!(
            throttle.admit("analyst", address(1), None, NOW).is_none(),
            "locked"
        );
        // Refused attempts do not restart the lock.
        let later = NOW + policy.lock_for - Duration::from_secs(1);
        assert!(throttle.admit("analyst", address(1), None, later).is_none());
        assert!(
            throttle
                .admit("analyst", address(1), None, NOW + policy.lock_for)
                .is_some()
        );
        // The real user elsewhere was never locked.
        let real = throttle.admit("analyst", address(2), None, NOW).unwrap();
        assert_eq!(real.delay, Duration::ZERO);
    }

    #[test]
    fn made_up_names_do_not_lock_real_users_at_the_same_address() {
        let throttle = throttle();
        for name in 0..20 {
            throttle
                .admit(&format!("nobody-{name}"), address(1), None, NOW)
                .unwrap()
                .failed(NOW);
        }
        let real = throttle.admit("analyst", address(1), None, NOW).unwrap();
        assert_eq!(real.delay, Duration::ZERO);
    }

    #[test]
    fn budgets_cap_guesses_but_not_a_known_good_browser() {
        let policy = SessionPolicy::default();
        let throttle = throttle();
        let browser = throttle
            .admit("analyst", address(9), None, NOW)
            .unwrap()
            .succeeded(NOW)
            .unwrap();
        // A distributed guesser: one guess from each of many addresses.
        let mut evaluated = 0;
        for attacker in 0..=255u8 {
            for _ in 0..2 {
                if let Some(ticket) =
                    throttle.admit("analyst", IpAddr::from([10, 1, 0, attacker]), None, NOW)
                {
                    evaluated += 1;
                    ticket.failed(NOW);
                }
            }
        }
        // The browser's own login counted too.
        assert_eq!(evaluated + 1, policy.account_guesses_per_day);
        assert!(
            throttle.admit("analyst", address(9), None, NOW).is_none(),
            "budget used up"
        );
        assert!(
            throttle
                .admit("analyst", address(9), Some(&browser), NOW)
                .is_some(),
            "the known-good browser still logs in"
        );
        assert!(
            throttle
                .admit("analyst", address(9), Some(&browser), NOW + DAY)
                .is_some()
        );
    }
}
