//! `Idempotency-Key` for the API's writes: a client that sends a write again with the same
//! key (after a timeout, a lost answer) gets the first answer back and nothing is written
//! twice. Kept in memory only, per user, for a day and at most `MAX_KEPT` keys: nothing
//! derived from a request's body reaches the disk (the body may hold a name). A restart
//! forgets the keys; docs/web.md says so.

use crate::sessions::lock;
use axum::http::StatusCode;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most keys remembered (the oldest are forgotten first).
const MAX_KEPT: usize = 10_000;
/// How long a key is remembered.
const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// A write's fingerprint: what was asked, so that a key reused for another request is told.
pub type Fingerprint = String;

pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> Fingerprint {
    refuge_app::request_fingerprint(&[method.as_bytes(), path.as_bytes(), body])
}

/// What an earlier send with the same key became.
#[derive(Debug, PartialEq)]
pub enum Claim {
    /// Not seen: this send does the write.
    First,
    /// Seen, and answered: the same answer again.
    Answered(StatusCode, serde_json::Value),
    /// Seen, still being written.
    InFlight,
    /// The key was used for another request.
    Reused,
}

enum Entry {
    InFlight(Fingerprint),
    Answered(Fingerprint, StatusCode, serde_json::Value),
}

/// (user, key).
type KeyOf = (String, String);

/// The keys with when each was first sent and what became of it, and their order of arrival.
#[derive(Default)]
struct Kept {
    entries: HashMap<KeyOf, (Instant, Entry)>,
    order: VecDeque<KeyOf>,
}

#[derive(Default)]
pub struct Replies {
    kept: Mutex<Kept>,
}

impl Replies {
    /// Forgets every kept reply (the organisation they came from was erased).
    pub fn forget_all(&self) {
        *lock(&self.kept) = Kept::default();
    }

    /// Claims (`user`, `key`) for a request with `fingerprint`, at `now`.
    pub fn claim(&self, user: &str, key: &str, fingerprint: Fingerprint, now: Instant) -> Claim {
        let mut guard = lock(&self.kept);
        let Kept { entries, order } = &mut *guard;
        // Forget what is too old, and the oldest beyond the bound.
        while let Some(oldest) = order.front() {
            let expired = entries
                .get(oldest)
                .is_none_or(|(at, _)| now.duration_since(*at) > KEPT_FOR);
            if !expired && order.len() < MAX_KEPT {
                break;
            }
            if let Some(oldest) = order.pop_front() {
                entries.remove(&oldest);
            }
        }
        let id = (user.to_string(), key.to_string());
        match entries.get(&id) {
            Some((_, Entry::InFlight(seen) | Entry::Answered(seen, ..)))
                if *seen != fingerprint =>
            {
                Claim::Reused
            }
            Some((_, Entry::InFlight(_))) => Claim::InFlight,
            Some((_, Entry::Answered(_, status, body))) => Claim::Answered(*status, body.clone()),
            None => {
                entries.insert(id.clone(), (now, Entry::InFlight(fingerprint)));
                order.push_back(id);
                Claim::First
            }
        }
    }

    /// Keeps the answer of a claimed send; a server failure (5xx) is forgotten instead, so
    /// the client may try again with the same key.
    pub fn answer(&self, user: &str, key: &str, status: StatusCode, body: &serde_json::Value) {
        let mut guard = lock(&self.kept);
        let entries = &mut guard.entries;
        let id = (user.to_string(), key.to_string());
        if status.is_server_error() {
            entries.remove(&id);
            return;
        }
        if let Some((_, entry)) = entries.get_mut(&id) {
            let fingerprint = match entry {
                Entry::InFlight(fingerprint) | Entry::Answered(fingerprint, ..) => {
                    std::mem::take(fingerprint)
                }
            };
            *entry = Entry::Answered(fingerprint, status, body.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_write_sent_again_gets_its_first_answer_and_a_reused_key_is_told() {
        let replies = Replies::default();
        let now = Instant::now();
        let asked = fingerprint("POST", "/api/v1/people", b"{}");
        assert_eq!(replies.claim("ana", "k1", asked.clone(), now), Claim::First);
        assert_eq!(
            replies.claim("ana", "k1", asked.clone(), now),
            Claim::InFlight
        );
        replies.answer("ana", "k1", StatusCode::CREATED, &json!({"code": "P-1"}));
        assert_eq!(
            replies.claim("ana", "k1", asked.clone(), now),
            Claim::Answered(StatusCode::CREATED, json!({"code": "P-1"}))
        );
        let other = fingerprint("POST", "/api/v1/people", b"{\"x\":1}");
        assert_eq!(
            replies.claim("ana", "k1", other.clone(), now),
            Claim::Reused
        );
        // Keys are the user's own; a failure of the server may be tried again.
        assert_eq!(replies.claim("bo", "k1", other.clone(), now), Claim::First);
        replies.answer("bo", "k1", StatusCode::INTERNAL_SERVER_ERROR, &json!({}));
        assert_eq!(replies.claim("bo", "k1", other.clone(), now), Claim::First);
        // A day later the key is forgotten.
        let later = now + KEPT_FOR + Duration::from_secs(1);
        assert_eq!(replies.claim("ana", "k1", other, later), Claim::First);
    }
}
