//! Installation, login, users and locations.

use crate::compartments::{found_keys, holdings};
use crate::keyring::META_KEYS_SEALED;
use crate::*;
use refuge_core::*;
use refuge_crypto::{KdfParams, KeyPair, RecoveryCode, SecretKey, Unlocked, WrappedKey};
use refuge_store::{Commit, Guard, SideWrite};
use std::collections::BTreeSet;

pub(crate) const META_DECOY_KEY: &str = "decoy_wrapped_key";
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// A user to add.
/// What `change_user` changes; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct UserChange<'a> {
    pub role: Option<Role>,
    /// The new set of location compartments (replaces the old one).
    pub location_codes: Option<&'a [String]>,
    pub active: Option<bool>,
}

pub struct NewUser<'a> {
    pub name: &'a str,
    pub role: Role,
    pub location_codes: &'a [String],
    pub passphrase: &'a str,
}

pub(crate) fn credential_of(user: UserId) -> String {
    format!("user:{user}")
}

/// The longest user name (64 characters of a restricted set).
const MAX_USER_NAME_BYTES: usize = 64;
/// The longest passphrase accepted, at login and when one is set.
pub const MAX_PASSPHRASE_BYTES: usize = 1_024;
/// What the access log says for a failed login under a name that is no account.
const UNKNOWN_USER: &str = "(unknown user)";

pub(crate) fn check_passphrase(passphrase: &str) -> AppResult<()> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(AppError::invalid(
            "passphrase",
            Reason::new("at-least-characters").count("least", MIN_PASSPHRASE_CHARS as u64),
        ));
    }
    if passphrase.len() > MAX_PASSPHRASE_BYTES {
        return Err(AppError::invalid(
            "passphrase",
            Reason::new("at-most-bytes").count("most", MAX_PASSPHRASE_BYTES as u64),
        ));
    }
    Ok(())
}

fn check_user_name(name: &str) -> AppResult<()> {
    // Letters and digits of any script (a Korean staff member's name in Hangul), no spaces,
    // no control or formatting characters.
    let ok = !name.is_empty()
        && name.len() <= MAX_USER_NAME_BYTES
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid(
            "user name",
            Reason::new("user-name-letters").count("most", MAX_USER_NAME_BYTES as u64),
        ))
    }
}

impl App {
    /// Sets up a new organisation in an empty store: the data key, the first admin and the
    /// settings. Returns the admin's session.
    pub async fn init(
        &self,
        admin_name: &str,
        passphrase: &str,
        expected_people: u64,
    ) -> AppResult<Session> {
        check_user_name(admin_name)?;
        check_passphrase(passphrase)?;
        let admin = User {
            id: UserId(self.new_uuid()?),
            name: admin_name.to_string(),
            role: Role::Admin,
            locations: BTreeSet::new(),
            active: true,
            version: 0,
        };
        // The code that wraps the recovery key here is replaced by the one `init`'s callers
        // make and show (`new_recovery_code`).
        let founding = found_keys(&admin, &RecoveryCode::generate()?, None)?;
        let wrapped = WrappedKey::wrap(
            &founding.user.secret(),
            passphrase.as_bytes(),
            &credential_of(admin.id),
            KdfParams::FLOOR,
        )?;
        let decoy = WrappedKey::decoy(KdfParams::FLOOR)?;
        let mut side_writes = founding.writes;
        side_writes.extend([
            SideWrite::KeyWrap {
                credential: credential_of(admin.id),
                user: admin.id,
                wrapped: wrapped.encode(),
            },
            SideWrite::Meta {
                key: META_DECOY_KEY.into(),
                value: decoy.encode(),
            },
            SideWrite::Meta {
                key: META_NAME_INDEX_BITS.into(),
                value: name_index_bits_for(expected_people).to_string(),
            },
            SideWrite::Meta {
                key: META_TARGET_WAIT_DAYS.into(),
                value: DEFAULT_TARGET_WAIT_DAYS.to_string(),
            },
            SideWrite::Meta {
                key: META_DEFAULT_USER.into(),
                value: admin_name.to_string(),
            },
        ]);
        let commit = Commit {
            events: vec![self.new_event_by(
                admin.id,
                EventBody::UserAdded {
                    user: admin.clone(),
                },
            )?],
            side_writes,
            access: vec![self.access_entry(
                admin_name,
                AccessAction::Init,
                "organisation",
                "created",
            )],
            ..Commit::default()
        };
        self.commit(commit).await?;
        let keys = self.open_keyring(admin.id, founding.user.secret()).await?;
        Session::new(
            admin.clone(),
            keys,
            (credential_of(admin.id), wrapped.encode()),
            self.refusals.clone(),
        )
    }

    /// Opens the database on the command line: a login logged as an unlock.
    pub async fn login(&self, name: &str, passphrase: &str) -> AppResult<Session> {
        self.login_on(Channel::CommandLine, name, passphrase).await
    }

    /// Logs in: unwraps the data key with the passphrase. An unknown or inactive user costs
    /// the same key derivation as a known one and fails with the same message. The access
    /// log says which way in it was.
    pub async fn login_on(
        &self,
        channel: Channel,
        name: &str,
        passphrase: &str,
    ) -> AppResult<Session> {
        // Over-long input is never a real account (and a passphrase typed into the user
        // field must not be looked up, let alone stored): the unknown-user path.
        let plausible = name.len() <= MAX_USER_NAME_BYTES;
        // An over-long passphrase is never right: derive from nothing, at the same cost.
        let passphrase = if passphrase.len() <= MAX_PASSPHRASE_BYTES {
            passphrase
        } else {
            ""
        };
        let user = if plausible {
            self.store
                .user_by_name(name)
                .await?
                .filter(|user| user.active)
        } else {
            None
        };
        let wrap = match &user {
            Some(user) => self.store.key_wrap(&credential_of(user.id)).await?,
            None => None,
        };
        let wrap_text = wrap
            .as_ref()
            .map(|(_, text)| text.clone())
            .unwrap_or_default();
        let result = match (&user, wrap) {
            (Some(user), Some((_, text))) => {
                WrappedKey::decode(&text)?.unlock(passphrase.as_bytes(), &credential_of(user.id))
            }
            _ => {
                let decoy = self.store.meta(META_DECOY_KEY).await?.unwrap_or_default();
                match WrappedKey::decode(&decoy) {
                    Ok(decoy) => decoy.unlock(passphrase.as_bytes(), "decoy"),
                    Err(error) => Err(error),
                }
                .and(Err(refuge_crypto::CryptoError::WrongPassphrase))
            }
        };
        match (user, result) {
            (Some(user), Ok(Unlocked::Duress(duress))) => {
                self.erase_under_duress(channel, user, duress).await
            }
            (Some(user), Ok(Unlocked::Key(secret))) => {
                let (secret, wrap_text) = self
                    .claim_pending_key(&user, secret, passphrase, wrap_text)
                    .await?;
                self.log(name, channel.access_action(), &user.name, "")
                    .await?;
                let credential = credential_of(user.id);
                let keys = self.open_keyring(user.id, secret).await?;
                Session::new(user, keys, (credential, wrap_text), self.refusals.clone())
            }
            (known, _) => {
                // A name that is no account is never stored: it may be a passphrase typed
                // into the wrong field.
                let who = match &known {
                    Some(user) => user.name.as_str(),
                    None => UNKNOWN_USER,
                };
                self.log(who, AccessAction::LoginFailed, who, "").await?;
                Err(AppError::BadLogin)
            }
        }
    }

    /// Whether a session still stands for what its user may do: the user is still active,
    /// unchanged since it opened (role, compartments: any change bumps the record's version),
    /// and the key wrap it opened with is still the current one (no new passphrase, no
    /// revoked token). The web asks on every request, so a decision to end access takes
    /// effect at once.
    pub async fn session_is_current(&self, session: &Session) -> AppResult<bool> {
        let opened = session.user();
        let user_unchanged = self
            .store
            .user_by_name(&opened.name)
            .await?
            .is_some_and(|user| {
                user.id == opened.id && user.active && user.version == opened.version
            });
        if !user_unchanged {
            return Ok(false);
        }
        if self.store.meta(META_KEYS_SEALED).await?.as_deref() != session.keys().sealed_at() {
            return Ok(false);
        }
        let (credential, wrapped) = session.opened_with();
        Ok(self
            .store
            .key_wrap(credential)
            .await?
            .is_some_and(|(_, current)| current == wrapped))
    }

    /// `key` wrapped under a user's new passphrase, keeping their duress passphrase working;
    /// refused when the new passphrase is their duress passphrase.
    pub(crate) async fn rewrapped(
        &self,
        user: &User,
        key: &SecretKey,
        passphrase: &str,
    ) -> AppResult<WrappedKey> {
        let credential = credential_of(user.id);
        let rewrapped = match self.store.key_wrap(&credential).await? {
            Some((_, text)) => {
                WrappedKey::decode(&text)?.rewrap(key, passphrase.as_bytes(), &credential)
            }
            None => WrappedKey::wrap(key, passphrase.as_bytes(), &credential, KdfParams::FLOOR),
        };
        rewrapped.map_err(|error| match error {
            refuge_crypto::CryptoError::PassphraseIsDuress => {
                AppError::invalid("passphrase", Reason::new("passphrase-is-duress"))
            }
            other => other.into(),
        })
    }

    pub async fn add_user(&self, session: &Session, new: NewUser<'_>) -> AppResult<User> {
        session.require(Action::ManageUsers)?;
        check_user_name(new.name)?;
        check_passphrase(new.passphrase)?;
        if self.store.user_by_name(new.name).await?.is_some() {
            return Err(AppError::Duplicate {
                what: "user",
                value: new.name.to_string(),
            });
        }
        let mut locations = BTreeSet::new();
        for code in new.location_codes {
            locations.insert(self.location_by_code(code).await?.id);
        }
        if new.role == Role::Caseworker && locations.is_empty() {
            return Err(AppError::invalid(
                "location",
                Reason::new("caseworker-needs-location"),
            ));
        }
        let user = User {
            id: UserId(self.new_uuid()?),
            name: new.name.to_string(),
            role: new.role,
            locations,
            active: true,
            version: 0,
        };
        // Their own key pair, and the compartments their role holds wrapped to it.
        let (secret, mut side_writes) = if self.compartment_model().await? {
            let pair = KeyPair::generate()?;
            let all: Vec<LocationId> = self.store.locations().await?.iter().map(|l| l.id).collect();
            let held = holdings(user.role, &user.locations, true, &all);
            let mut writes = vec![SideWrite::UserKey {
                user: user.id,
                public_key: pair.public().encode(),
            }];
            writes.extend(
                self.grant_writes(session, &user.id.to_string(), &pair.public(), &held)
                    .await?,
            );
            (pair.secret(), writes)
        } else {
            (session.keys().wrapped_secret(), Vec::new())
        };
        let wrapped = WrappedKey::wrap(
            &secret,
            new.passphrase.as_bytes(),
            &credential_of(user.id),
            KdfParams::FLOOR,
        )?;
        let commit = Commit {
            events: vec![self.new_event(session, EventBody::UserAdded { user: user.clone() })?],
            side_writes: {
                side_writes.push(SideWrite::KeyWrap {
                    credential: credential_of(user.id),
                    user: user.id,
                    wrapped: wrapped.encode(),
                });
                side_writes
            },
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::UserAdded,
                &user.name,
                user.role.as_str(),
            )],
            ..Commit::default()
        };
        self.commit(commit).await?;
        Ok(user)
    }

    /// Sets a new passphrase for a user. One's own: the same keys wrapped under it. Someone
    /// else's (an admin): with compartments, a new key pair for them, given what their role
    /// holds by the admin, their API tokens revoked (they wrap the old one); with one data
    /// key, that key wrapped under the new passphrase.
    pub async fn reset_passphrase(
        &self,
        session: &Session,
        name: &str,
        passphrase: &str,
    ) -> AppResult<()> {
        let own = session.user().name == name;
        if !own {
            session.require(Action::ManageUsers)?;
        }
        check_passphrase(passphrase)?;
        let user = self.user_named(name).await?;
        let mut side_writes = Vec::new();
        let secret = if own || session.keys().is_single() {
            session.keys().wrapped_secret()
        } else {
            let (writes, pair) = self.rekey_user_writes(session, &user).await?;
            side_writes.extend(writes);
            side_writes.extend(self.revoke_all_tokens_writes(&user).await?);
            pair.secret()
        };
        let wrapped = self.rewrapped(&user, &secret, passphrase).await?;
        side_writes.push(SideWrite::KeyWrap {
            credential: credential_of(user.id),
            user: user.id,
            wrapped: wrapped.encode(),
        });
        let commit = Commit {
            side_writes,
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::PassphraseReset,
                &user.name,
                "",
            )],
            ..Commit::default()
        };
        self.commit(commit).await?;
        Ok(())
    }

    /// Changes a user's role, location compartments, or whether they may log in. Fields left
    /// `None` keep their value. The last active admin cannot be demoted or deactivated.
    pub async fn change_user(
        &self,
        session: &Session,
        name: &str,
        change: UserChange<'_>,
    ) -> AppResult<User> {
        session.require(Action::ManageUsers)?;
        let user = self.user_named(name).await?;
        let role = change.role.unwrap_or(user.role);
        let active = change.active.unwrap_or(user.active);
        let locations = match change.location_codes {
            Some(codes) => {
                let mut locations = BTreeSet::new();
                for code in codes {
                    locations.insert(self.location_by_code(code).await?.id);
                }
                locations
            }
            None => user.locations.clone(),
        };
        if role == Role::Caseworker && locations.is_empty() {
            return Err(AppError::invalid(
                "location",
                Reason::new("caseworker-needs-location"),
            ));
        }
        if user.role == Role::Admin && user.active && (role != Role::Admin || !active) {
            let other_admins = self
                .store
                .users()
                .await?
                .iter()
                .filter(|other| other.id != user.id && other.role == Role::Admin && other.active)
                .count();
            if other_admins == 0 {
                return Err(AppError::invalid(
                    "role",
                    Reason::new("last-active-admin").with("name", name),
                ));
            }
        }
        let all_codes = self.location_codes().await?;
        let codes: Vec<&str> = locations
            .iter()
            .filter_map(|id| all_codes.get(id).map(String::as_str))
            .collect();
        let detail = format!(
            "role={} active={} locations={}",
            role.as_str(),
            if active { "yes" } else { "no" },
            codes.join(",")
        );
        let commit = Commit {
            events: vec![self.new_event(
                session,
                EventBody::UserChanged {
                    user: user.id,
                    role,
                    locations: locations.iter().copied().collect(),
                    active,
                },
            )?],
            guards: vec![Guard::Version {
                record: RecordRef::User(user.id),
                version: user.version,
            }],
            side_writes: self
                .holding_writes(session, &user, role, &locations, active)
                .await?,
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::UserChanged,
                &user.name,
                &detail,
            )],
            ..Commit::default()
        };
        self.commit(commit).await?;
        self.user_named(name).await
    }

    async fn user_named(&self, name: &str) -> AppResult<User> {
        self.store
            .user_by_name(name)
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "user",
                code: name.to_string(),
            })
    }

    pub async fn users(&self, session: &Session) -> AppResult<Vec<User>> {
        session.require(Action::ViewUsers)?;
        Ok(self.store.users().await?)
    }
}
