//! Sessions in server memory, and the failed-login throttle. The current time is a
//! parameter of every step (the app's injected clock), never read here.

use refuge_app::Session;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use time::OffsetDateTime;

/// Timeouts and throttling, configurable for tests.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
    /// The delay after the first failed login; it doubles with each failure.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Failures (per account or address) before a temporary lock.
    pub lock_after: u32,
    pub lock_for: Duration,
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
        }
    }
}

/// One logged-in browser: the refuge session (with its key copy), a CSRF token, a language.
pub struct WebSession {
    pub session: Session,
    pub csrf: String,
    pub created: OffsetDateTime,
    pub last_seen: Mutex<OffsetDateTime>,
}

#[derive(Default)]
struct Failures {
    count: u32,
    last: Option<OffsetDateTime>,
}

pub struct Sessions {
    policy: SessionPolicy,
    live: Mutex<HashMap<String, Arc<WebSession>>>,
    failures_by_user: Mutex<HashMap<String, Failures>>,
    failures_by_address: Mutex<HashMap<IpAddr, Failures>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// 32 random bytes as hex, from the operating system.
pub fn random_token() -> refuge_app::AppResult<String> {
    let bytes = refuge_app::random_token_bytes()?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// The name failures are counted under: over-long names (never an account) share one entry,
/// so typed garbage cannot grow the table.
fn throttle_key(user: &str) -> &str {
    if user.len() > 64 { "(over-long)" } else { user }
}

impl Sessions {
    pub fn new(policy: SessionPolicy) -> Self {
        Sessions {
            policy,
            live: Mutex::new(HashMap::new()),
            failures_by_user: Mutex::new(HashMap::new()),
            failures_by_address: Mutex::new(HashMap::new()),
        }
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

    /// Drops every timed-out session.
    pub fn sweep(&self, now: OffsetDateTime) {
        lock(&self.live).retain(|_, web| {
            now - *lock(&web.last_seen) <= self.policy.idle
                && now - web.created <= self.policy.absolute
        });
    }

    fn delay_for(&self, failures: &Failures, now: OffsetDateTime) -> Option<Duration> {
        let last = failures.last?;
        if failures.count >= self.policy.lock_after {
            if now - last < self.policy.lock_for {
                return Some(Duration::MAX);
            }
            return None;
        }
        let shift = failures.count.saturating_sub(1).min(16);
        Some((self.policy.first_delay * 2u32.pow(shift)).min(self.policy.max_delay))
    }

    /// Before a login attempt: how long to wait first, or None when locked out. The same for
    /// known and unknown user names.
    pub fn login_delay(
        &self,
        user: &str,
        address: IpAddr,
        now: OffsetDateTime,
    ) -> Option<Duration> {
        let user = throttle_key(user);
        let by_user = lock(&self.failures_by_user);
        let by_address = lock(&self.failures_by_address);
        let mut delay = Duration::ZERO;
        for failures in [by_user.get(user), by_address.get(&address)]
            .into_iter()
            .flatten()
        {
            match self.delay_for(failures, now) {
                Some(Duration::MAX) => return None,
                Some(wait) => delay = delay.max(wait),
                None => {}
            }
        }
        Some(delay)
    }

    pub fn login_failed(&self, user: &str, address: IpAddr, now: OffsetDateTime) {
        let user = throttle_key(user);
        let mut by_user = lock(&self.failures_by_user);
        let mut by_address = lock(&self.failures_by_address);
        for failures in [
            by_user.entry(user.to_string()).or_default(),
            by_address.entry(address).or_default(),
        ] {
            if failures.count >= self.policy.lock_after
                && failures
                    .last
                    .is_some_and(|last| now - last >= self.policy.lock_for)
            {
                failures.count = 0;
            }
            failures.count += 1;
            failures.last = Some(now);
        }
    }

    pub fn login_succeeded(&self, user: &str, address: IpAddr) {
        let user = throttle_key(user);
        lock(&self.failures_by_user).remove(user);
        lock(&self.failures_by_address).remove(&address);
    }
}
