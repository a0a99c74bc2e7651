//! A logged-in user: the user record and the keys unwrapped with the passphrase.

use crate::access::{Action, allowed};
use crate::error::{AppError, AppResult};
use crate::keyring::Keyring;
use refuge_core::{LocationId, Role, User};

/// Holds the keys unwrapped at login for as long as it lives; dropping it zeroes them.
pub struct Session {
    user: User,
    keys: Keyring,
    /// The key wrap this session was opened with (credential, wrapped key): a new
    /// passphrase, or a revoked token, replaces or deletes it, and the session is no longer
    /// current (`App::session_is_current`).
    opened_with: (String, String),
    /// Where refusals go, to be written to the access log (`App::log_refusals`).
    refusals: Refusals,
    /// Opened by a duress passphrase, right after the organisation was erased: whoever keeps
    /// other sessions (the web server) drops them and their keys now.
    after_erase: bool,
}

/// The reason logged when a record is outside the user's compartments (the access-log page
/// translates it).
pub const OUTSIDE_COMPARTMENTS: &str = "outside the compartments";

/// Refusals waiting to be written to the access log: (user, record code or "", why). A
/// refusal is found where no store is at hand (`Session::require`), so it is queued and the
/// edges write the queue after each request or command.
pub(crate) type Refusals = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>;

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user.name)
            .field("role", &self.user.role)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(
        user: User,
        keys: Keyring,
        opened_with: (String, String),
        refusals: Refusals,
    ) -> AppResult<Self> {
        Ok(Session {
            user,
            keys,
            opened_with,
            refusals,
            after_erase: false,
        })
    }

    pub(crate) fn marked_after_erase(mut self) -> Self {
        self.after_erase = true;
        self
    }

    /// Whether this session was opened by a duress passphrase, which has just erased the
    /// organisation: every other session stands for keys that no longer exist.
    pub fn opened_after_erase(&self) -> bool {
        self.after_erase
    }

    /// Queues a refusal for the access log (written by `App::log_refusals`).
    pub(crate) fn refused(&self, code: &str, why: String) {
        self.refusals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((self.user.name.clone(), code.to_string(), why));
    }

    /// The credential and wrapped key this session was opened with.
    pub(crate) fn opened_with(&self) -> (&str, &str) {
        (&self.opened_with.0, &self.opened_with.1)
    }

    pub fn user(&self) -> &User {
        &self.user
    }

    pub fn role(&self) -> Role {
        self.user.role
    }

    pub(crate) fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// Refuses an action this user's role may not take.
    pub fn require(&self, action: Action) -> AppResult<()> {
        if allowed(self.user.role, action) {
            Ok(())
        } else {
            self.refused("", format!("{}: {}", self.user.role, action.as_str()));
            Err(AppError::Forbidden {
                role: self.user.role,
                action,
            })
        }
    }

    /// Whether people at `location` are inside this user's compartments.
    pub fn sees_location(&self, location: LocationId) -> bool {
        self.user.role != Role::Caseworker || self.user.locations.contains(&location)
    }

    /// The locations this user is limited to, or None for all.
    pub fn compartments(&self) -> Option<Vec<LocationId>> {
        (self.user.role == Role::Caseworker).then(|| self.user.locations.iter().copied().collect())
    }

    pub(crate) fn require_location(&self, location: LocationId, code: &str) -> AppResult<()> {
        if self.sees_location(location) {
            Ok(())
        } else {
            self.refused(code, OUTSIDE_COMPARTMENTS.to_string());
            Err(AppError::OutsideCompartment {
                code: code.to_string(),
            })
        }
    }
}
