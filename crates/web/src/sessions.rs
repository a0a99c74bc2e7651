//! Sessions in server memory (the failed-login throttle is in `throttle.rs`). The current
//! time is a parameter of every step (the app's injected clock), never read here.

use crate::throttle::Throttle;
use refuge_app::Session;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use time::OffsetDateTime;

/// Timeouts and throttling, configurable for tests.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
    /// The delay after the first failed login of an (account, address) pair; it doubles
    /// with each failure.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Failures of an (account, address) pair before it is locked for `lock_for`.
    pub lock_after: u32,
    pub lock_for: Duration,
    /// Attempts evaluated per account per day, from every address together.
    pub account_guesses_per_day: u32,
    /// Attempts evaluated per address per hour, for every account together.
    pub address_guesses_per_hour: u32,
    /// How long a browser that logged in stays known-good (exempt from those budgets).
    pub known_browser_for: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::from_secs(15 * 60),
            absolute: Duration::from_secs(12 * 3600),
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            lock_after: 8,
            lock_for: Duration::from_secs(15 * 60),
            account_guesses_per_day: 100,
            address_guesses_per_hour: 300,
            known_browser_for: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

/// One logged-in browser: the refuge session (with its key copy), a CSRF token, a language.
pub struct WebSession {
    pub session: Session,
    pub csrf: String,
    pub created: OffsetDateTime,
    pub last_seen: Mutex<OffsetDateTime>,
    /// Who was just moved out of this user's sight, and where to: said once on her next page
    /// of the list (kept here, not in a URL, so that no link can fake it).
    pub moved_out: Mutex<Option<(String, String)>>,
    /// A change was just saved: the next person or incident page says so, once.
    pub saved: Mutex<bool>,
    /// Record forms already sent, by the token their page gave them: a form sent twice (a
    /// double click, a reload that sends again) records once.
    pub submitted: Mutex<Submissions>,
}

/// What became of a form's earlier sends.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Not sent before: it is now being written.
    First,
    /// Sent before and still being written.
    InFlight,
    /// Sent before and recorded as this code.
    Recorded(String),
}

/// The tokens of the last forms sent in a session and what each became.
#[derive(Default)]
pub struct Submissions(std::collections::VecDeque<(String, Option<String>)>);

impl Submissions {
    /// How many sends are remembered per session.
    const KEPT: usize = 64;

    /// Claims `token` for a send.
    pub fn claim(&mut self, token: &str) -> Sent {
        match self.0.iter().find(|(sent, _)| sent == token) {
            Some((_, Some(code))) => Sent::Recorded(code.clone()),
            Some((_, None)) => Sent::InFlight,
            None => {
                if self.0.len() == Self::KEPT {
                    self.0.pop_front();
                }
                self.0.push_back((token.to_string(), None));
                Sent::First
            }
        }
    }

    /// Ends the send of `token`: recorded as `code`, or (`None`, it failed) forgotten, so
    /// that the corrected form can be sent with it again.
    pub fn finish(&mut self, token: &str, code: Option<String>) {
        match code {
            Some(code) => {
                if let Some(entry) = self.0.iter_mut().find(|(sent, _)| sent == token) {
                    entry.1 = Some(code);
                }
            }
            None => self.0.retain(|(sent, _)| sent != token),
        }
    }
}

pub struct Sessions {
    policy: SessionPolicy,
    live: Mutex<HashMap<String, Arc<WebSession>>>,
    pub throttle: Throttle,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// 32 random bytes as hex, from the operating system.
pub fn random_token() -> refuge_app::AppResult<String> {
    let bytes = refuge_app::random_token_bytes()?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

impl Sessions {
    pub fn new(policy: SessionPolicy) -> Self {
        Sessions {
            policy,
            live: Mutex::new(HashMap::new()),
            throttle: Throttle::new(policy),
        }
    }

    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// Starts a session under a new random id.
    pub fn start(
        &self,
        session: Session,
        now: OffsetDateTime,
    ) -> refuge_app::AppResult<(String, Arc<WebSession>)> {
        let id = random_token()?;
        let web = Arc::new(WebSession {
            session,
            csrf: random_token()?,
            created: now,
            last_seen: Mutex::new(now),
            moved_out: Mutex::new(None),
            saved: Mutex::new(false),
            submitted: Mutex::new(Submissions::default()),
        });
        lock(&self.live).insert(id.clone(), web.clone());
        Ok((id, web))
    }

    /// The live session for an id, if it has not timed out; touching it keeps it alive.
    pub fn get(&self, id: &str, now: OffsetDateTime) -> Option<Arc<WebSession>> {
        let mut live = lock(&self.live);
        let web = live.get(id)?.clone();
        let expired = {
            let last = lock(&web.last_seen);
            now - *last > self.policy.idle || now - web.created > self.policy.absolute
        };
        if expired {
            live.remove(id);
            return None;
        }
        *lock(&web.last_seen) = now;
        Some(web)
    }

    /// Ends a session: its key copy is dropped (and zeroed) with the last reference.
    pub fn end(&self, id: &str) {
        lock(&self.live).remove(id);
    }

    /// Ends every session of the user named `name` (deactivated, changed, new passphrase).
    pub fn end_user(&self, name: &str) {
        lock(&self.live).retain(|_, web| web.session.user().name != name);
    }

    /// Ends every session (the organisation was erased under duress: their keys are void).
    pub fn end_all(&self) {
        lock(&self.live).clear();
    }

    /// Drops every timed-out session.
    pub fn sweep(&self, now: OffsetDateTime) {
        lock(&self.live).retain(|_, web| {
            now - *lock(&web.last_seen) <= self.policy.idle
                && now - web.created <= self.policy.absolute
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_sent_twice_finds_what_the_first_send_recorded() {
        let mut sent = Submissions::default();
        assert_eq!(sent.claim("a"), Sent::First);
        assert_eq!(sent.claim("a"), Sent::InFlight);
        sent.finish("a", Some("I-00001".into()));
        assert_eq!(sent.claim("a"), Sent::Recorded("I-00001".into()));
        // A send that failed may be sent again, corrected.
        assert_eq!(sent.claim("b"), Sent::First);
        sent.finish("b", None);
        assert_eq!(sent.claim("b"), Sent::First);
        for n in 0..Submissions::KEPT {
            sent.claim(&n.to_string());
        }
        assert_eq!(sent.claim("a"), Sent::First, "the oldest are forgotten");
    }
}
