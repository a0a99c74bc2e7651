//! The failed-login throttle: slow the guesser, not the user (OWASP's and kanidm's pattern).
//!
//! - Per (account, address) pair: a delay before each attempt that doubles with every failure
//!   (`first_delay` up to `max_delay`), and a lock of `lock_for` after `lock_after` failures
//!   that further attempts do not extend. Attempts in flight count against the tries left
//!   before the lock: beyond them a parallel attempt waits for one to finish (`Admission::Wait`)
//!   instead of being tried, so no burst can be evaluated past the lock. A success clears
//!   the pair.
//! - Per account: at most `account_guesses_per_day` attempts evaluated in a day, from every
//!   address together; per address: at most `address_guesses_per_hour` (an office behind one
//!   proxy shares it). Attempts are counted when they are admitted, before the key derivation,
//!   under one lock, so parallel guesses cannot slip past a budget; a success gives its count
//!   back.
//! - A known-good browser (one that logged in to that account before: a random token in a
//!   cookie, remembered in server memory for `known_browser_for`) is exempt from both
//!   budgets and has a lane of its own (its token takes the address's place in the pair), so a
//!   guesser cannot lock the real user out, even from the same address.
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

/// Whose attempts are counted together: an account, and where they come from (an address,
/// or a known-good browser's own lane).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum From {
    Address(IpAddr),
    Browser(String),
}

#[derive(Default)]
struct Pair {
    failures: u32,
    last_failure: Option<OffsetDateTime>,
    in_flight: u32,
}

/// Attempts counted in a window that starts at the first of them.
struct Window {
    started: OffsetDateTime,
    attempts: u32,
}

#[derive(Default)]
struct State {
    pairs: HashMap<(String, From), Pair>,
    accounts: HashMap<String, Window>,
    addresses: HashMap<IpAddr, Window>,
    /// Browser token → (account, remembered until).
    known_browsers: HashMap<String, (String, OffsetDateTime)>,
}

pub struct Throttle {
    policy: SessionPolicy,
    state: Mutex<State>,
}

/// What happens to a login attempt.
pub enum Admission<'a> {
    /// Tried, after its delay.
    Try(Ticket<'a>),
    /// As many attempts as may be tried before the lock are in flight: ask again shortly.
    Wait,
    /// Not tried: the same answer as a wrong passphrase.
    Refuse,
}

/// An admitted attempt: wait `delay`, try the passphrase, then say how it went. Dropping it
/// unsaid (the client went away) frees its place for the next attempt.
pub struct Ticket<'a> {
    throttle: &'a Throttle,
    pair: (String, From),
    /// Counted against these budgets (None: a known-good browser's attempt).
    counted: Option<IpAddr>,
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

    /// Decides whether a login attempt is tried, waits or is refused, and how long a tried
    /// one waits first.
    pub fn admit(
        &self,
        user: &str,
        address: IpAddr,
        browser: Option<&str>,
        now: OffsetDateTime,
    ) -> Admission<'_> {
        let account = account_key(user).to_string();
        let mut state = lock(&self.state);
        let known = browser.filter(|token| {
            state
                .known_browsers
                .get(*token)
                .is_some_and(|(owner, until)| *owner == account && now < *until)
        });
        let from = match known {
            Some(token) => From::Browser(token.to_string()),
            None => From::Address(address),
        };
        let pair_key = (account.clone(), from);
        let lock_for = self.policy.lock_for;
        bound(&mut state.pairs, |pair: &Pair| {
            pair.in_flight == 0 && pair.last_failure.is_none_or(|last| now - last > lock_for)
        });
        let pair = state.pairs.entry(pair_key.clone()).or_default();
        if pair.failures >= self.policy.lock_after {
            if pair.last_failure.is_some_and(|last| now - last < lock_for) {
                return Admission::Refuse;
            }
            pair.failures = 0;
        }
        if pair.failures + pair.in_flight >= self.policy.lock_after {
            return Admission::Wait;
        }
        let delay = self.delay_after(pair.failures);
        if known.is_none() {
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
            if !count(
                accounts.entry(account.clone()).or_insert_with(fresh),
                now,
                DAY,
                self.policy.account_guesses_per_day,
            ) {
                return Admission::Refuse;
            }
            if !count(
                addresses.entry(address).or_insert_with(fresh),
                now,
                HOUR,
                self.policy.address_guesses_per_hour,
            ) {
                // Give back the account's count: this attempt is not tried.
                if let Some(window) = accounts.get_mut(&account) {
                    window.attempts = window.attempts.saturating_sub(1);
                }
                return Admission::Refuse;
            }
        }
        if let Some(pair) = state.pairs.get_mut(&pair_key) {
            pair.in_flight += 1;
        }
        Admission::Try(Ticket {
            throttle: self,
            pair: pair_key,
            counted: known.is_none().then_some(address),
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

    /// Gives back what this attempt counted against the budgets.
    fn refund(&self, state: &mut State) {
        if let Some(address) = self.counted {
            if let Some(window) = state.accounts.get_mut(&self.pair.0) {
                window.attempts = window.attempts.saturating_sub(1);
            }
            if let Some(window) = state.addresses.get_mut(&address) {
                window.attempts = window.attempts.saturating_sub(1);
            }
        }
    }

    /// The login succeeded: the pair is cleared, and the browser is remembered as known-good
    /// for this account. Returns the token for its cookie.
    pub fn succeeded(self, now: OffsetDateTime) -> Option<String> {
        let token = random_token().ok()?;
        let mut state = lock(&self.throttle.state);
        self.refund(&mut state);
        if let Some(pair) = state.pairs.get_mut(&self.pair) {
            pair.failures = 0;
            pair.last_failure = None;
        }
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
            pair.in_flight = pair.in_flight.saturating_sub(1);
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

    fn tried<'a>(admission: Admission<'a>) -> Ticket<'a> {
        match admission {
            Admission::Try(ticket) => ticket,
            Admission::Wait => panic!("told to wait"),
            Admission::Refuse => panic!("refused"),
        }
    }

    #[test]
    fn a_burst_of_guesses_is_never_tried_past_the_lock() {
        let throttle = throttle();
        let lock_after = SessionPolicy::default().lock_after;
        let burst: Vec<_> = (0..lock_after)
            .map(|_| tried(throttle.admit("analyst", address(1), None, NOW)))
            .collect();
        assert!(matches!(
            throttle.admit("analyst", address(1), None, NOW),
            Admission::Wait
        ));
        for ticket in burst {
            ticket.failed(NOW);
        }
        assert!(matches!(
            throttle.admit("analyst", address(1), None, NOW),
            Admission::Refuse
        ));
    }

    #[test]
    fn a_locked_pair_does_not_lock_the_account_from_elsewhere_and_is_not_extended() {
        let throttle = throttle();
        let policy = SessionPolicy::default();
        for _ in 0..policy.lock_after {
            tried(throttle.admit("analyst", address(1), None, NOW)).failed(NOW);
        }
        let refused = |at| {
            matches!(
                throttle.admit("analyst", address(1), None, at),
                Admission::Refuse
            )
        };
        assert!(refused(NOW), "locked");
        assert!(
            refused(NOW + policy.lock_for - Duration::from_secs(1)),
            "not extended"
        );
        assert!(!refused(NOW + policy.lock_for));
        let real = tried(throttle.admit("analyst", address(2), None, NOW));
        assert_eq!(
            real.delay,
            Duration::ZERO,
            "the real user elsewhere was never locked"
        );
    }

    #[test]
    fn made_up_names_do_not_lock_real_users_at_the_same_address() {
        let throttle = throttle();
        for name in 0..20 {
            tried(throttle.admit(&format!("nobody-{name}"), address(1), None, NOW)).failed(NOW);
        }
        let real = tried(throttle.admit("analyst", address(1), None, NOW));
        assert_eq!(real.delay, Duration::ZERO);
    }

    #[test]
    fn budgets_cap_guesses_but_not_a_known_good_browser() {
        let policy = SessionPolicy::default();
        let throttle = throttle();
        let browser = tried(throttle.admit("analyst", address(9), None, NOW))
            .succeeded(NOW)
            .unwrap();
        // A distributed guesser: one guess from each of many addresses.
        let mut evaluated = 0;
        for attacker in 0..=255u8 {
            for _ in 0..2 {
                let from = IpAddr::from([10, 1, 0, attacker]);
                if let Admission::Try(ticket) = throttle.admit("analyst", from, None, NOW) {
                    evaluated += 1;
                    ticket.failed(NOW);
                }
            }
        }
        assert_eq!(
            evaluated, policy.account_guesses_per_day,
            "the success was given back"
        );
        assert!(matches!(
            throttle.admit("analyst", address(9), None, NOW),
            Admission::Refuse
        ));
        for _ in 0..policy.lock_after {
            tried(throttle.admit("analyst", address(9), None, NOW + DAY)).failed(NOW + DAY);
        }
        // Its own lane: neither the budget nor a lock at its address stops it.
        tried(throttle.admit("analyst", address(9), Some(&browser), NOW + DAY));
    }

    #[test]
    fn many_real_logins_at_once_are_all_tried_in_turn() {
        let throttle = throttle();
        let lock_after = SessionPolicy::default().lock_after;
        let first: Vec<_> = (0..lock_after)
            .map(|_| tried(throttle.admit("coordinator", address(1), None, NOW)))
            .collect();
        assert!(matches!(
            throttle.admit("coordinator", address(1), None, NOW),
            Admission::Wait
        ));
        for ticket in first {
            ticket.succeeded(NOW);
        }
        tried(throttle.admit("coordinator", address(1), None, NOW));
    }
}
