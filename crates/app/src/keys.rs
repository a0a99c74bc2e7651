//! The organisation's keys beyond one user's passphrase: the recovery code and the duress
//! passphrase.

use crate::compartments::found_keys;
use crate::keyring::{Keyring, META_RECOVERY_PUBLIC, ORGANISATION, RECOVERY};
use crate::users::{MAX_PASSPHRASE_BYTES, META_DECOY_KEY, check_passphrase, credential_of};
use crate::*;
use refuge_core::{EventBody, Role, User};
use refuge_crypto::{
    CryptoError, DuressUnlock, KeyPair, RecoveryCode, TokenWrappedKey, Unlocked, WrappedKey,
};
use refuge_store::{Commit, SideWrite};
use std::collections::BTreeSet;

/// The escrow wrapped under the recovery code: the data key, or with compartments the
/// recovery key pair's secret half.
pub(crate) const META_RECOVERY_ESCROW: &str = "recovery_escrow";
/// The day the current recovery code was made.
pub(crate) const META_RECOVERY_MADE: &str = "recovery_code_made";
/// The settings an erase under duress keeps: how the empty organisation behaves, nothing about
/// the one that was.
const KEPT_THROUGH_DURESS: &[&str] = &[META_NAME_INDEX_BITS, META_TARGET_WAIT_DAYS, META_DECOY_KEY];

impl App {
    /// Makes a new organisation recovery code and stores the escrow copy of the data key
    /// under it; the code before it stops working. The code is returned to be shown once and
    /// is never stored.
    pub async fn new_recovery_code(&self, session: &Session) -> AppResult<RecoveryCode> {
        session.require(Action::ManageKeys)?;
        let code = RecoveryCode::generate()?;
        let mut side_writes = Vec::new();
        let escrow = if session.keys().is_single() {
            code.wrap(&session.keys().wrapped_secret())?
        } else {
            // A new recovery key pair, given every compartment there is.
            let recovery = KeyPair::generate()?;
            let mut every: BTreeSet<String> = self
                .store
                .locations()
                .await?
                .iter()
                .map(|location| location.id.to_string())
                .collect();
            every.insert(ORGANISATION.to_string());
            side_writes.push(SideWrite::DropHolderWraps {
                holder: RECOVERY.into(),
            });
            side_writes.extend(
                self.grant_writes(session, RECOVERY, &recovery.public(), &every)
                    .await?,
            );
            side_writes.push(SideWrite::Meta {
                key: META_RECOVERY_PUBLIC.into(),
                value: recovery.public().encode(),
            });
            code.wrap(&recovery.secret())?
        };
        side_writes.extend([
            SideWrite::Meta {
                key: META_RECOVERY_ESCROW.into(),
                value: escrow.encode(),
            },
            SideWrite::Meta {
                key: META_RECOVERY_MADE.into(),
                value: self.today().to_string(),
            },
        ]);
        let commit = Commit {
            side_writes,
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::RecoveryCodeMade,
                "organisation",
                "",
            )],
            ..Commit::default()
        };
        self.commit(commit).await?;
        Ok(code)
    }

    /// The day the current recovery code was made, or None when the organisation has none
    /// (made before recovery codes existed).
    pub async fn recovery_code_made(&self) -> AppResult<Option<String>> {
        Ok(self
            .store
            .meta(META_RECOVERY_MADE)
            .await?
            .filter(|day| !day.is_empty()))
    }

    /// Sets a new passphrase for an admin from the recovery code, for an organisation whose
    /// admins cannot log in. Needs no session: the code is the credential. A mistyped group
    /// is named before any key is tried; every attempt is in the access log.
    pub async fn recover(
        &self,
        code_text: &str,
        admin_name: &str,
        new_passphrase: &str,
    ) -> AppResult<()> {
        let code = RecoveryCode::parse(code_text)
            .map_err(|error| AppError::invalid("recovery code", recovery_code_reason(&error)))?;
        check_passphrase(new_passphrase)?;
        let admin = self
            .store
            .user_by_name(admin_name)
            .await?
            .filter(|user| user.role == Role::Admin && user.active)
            .ok_or_else(|| {
                AppError::invalid(
                    "admin",
                    Reason::new("not-an-active-admin").with("name", admin_name),
                )
            })?;
        let escrow = self.store.meta(META_RECOVERY_ESCROW).await?;
        let Some(escrow) = escrow.filter(|text| !text.is_empty()) else {
            return Err(AppError::invalid(
                "recovery code",
                Reason::new("no-recovery-code"),
            ));
        };
        let escrowed = match code.unwrap_key(&TokenWrappedKey::decode(&escrow)?) {
            Ok(key) => key,
            Err(error) => {
                self.log(&admin.name, AccessAction::LoginFailed, "recovery code", "")
                    .await?;
                return Err(AppError::invalid(
                    "recovery code",
                    recovery_code_reason(&error),
                ));
            }
        };
        let credential = credential_of(admin.id);
        let mut side_writes = Vec::new();
        let secret = if self.compartment_model().await? {
            // The admin's old key pair went with the passphrase: a new one, given every
            // compartment by the recovery key pair; their tokens wrapped the old one.
            let recovery = Session::new(
                admin.clone(),
                Keyring::holder(RECOVERY, KeyPair::from_secret(&escrowed))?,
                (RECOVERY.into(), String::new()),
                self.refusals.clone(),
            )?;
            let (writes, pair) = self.rekey_user_writes(&recovery, &admin).await?;
            side_writes.extend(writes);
            side_writes.extend(self.revoke_all_tokens_writes(&admin).await?);
            pair.secret()
        } else {
            escrowed
        };
        let wrapped = self.rewrapped(&admin, &secret, new_passphrase).await?;
        side_writes.push(SideWrite::KeyWrap {
            credential,
            user: admin.id,
            wrapped: wrapped.encode(),
        });
        let commit = Commit {
            side_writes,
            access: vec![self.access_entry(
                &admin.name,
                AccessAction::Recovered,
                &admin.name,
                "new passphrase from the recovery code",
            )],
            ..Commit::default()
        };
        self.commit(commit).await?;
        Ok(())
    }

    /// Sets (or with None, removes) the session's own user's duress passphrase, after their
    /// current passphrase is typed again: someone at an unlocked screen cannot arm an erase.
    /// Entered at a later login, the duress passphrase erases the organisation
    /// (`erase_under_duress`). The key wrap changes, so the session ends: log in again.
    pub async fn set_duress_passphrase(
        &self,
        session: &Session,
        current_passphrase: &str,
        duress_passphrase: Option<&str>,
    ) -> AppResult<()> {
        if let Some(duress) = duress_passphrase {
            check_passphrase(duress).map_err(|error| retitled(error, "duress passphrase"))?;
        }
        let user = session.user();
        let credential = credential_of(user.id);
        let wrap = self.current_wrap(session, current_passphrase).await?;
        let armed = wrap
            .with_duress(duress_passphrase.map(str::as_bytes), &credential)
            .map_err(|error| match error {
                CryptoError::DuressIsPassphrase => {
                    AppError::invalid("duress passphrase", Reason::new("duress-is-passphrase"))
                }
                other => other.into(),
            })?;
        let commit = Commit {
            side_writes: vec![SideWrite::KeyWrap {
                credential,
                user: user.id,
                wrapped: armed.encode(),
            }],
            access: vec![self.access_entry(
                &user.name,
                AccessAction::DuressChanged,
                &user.name,
                "",
            )],
            ..Commit::default()
        };
        self.commit(commit).await?;
        Ok(())
    }

    /// Changes the session's own user's passphrase, after the current one is typed again
    /// (someone at an unlocked screen cannot lock its owner out). The old wrap is replaced;
    /// the session ends: log in with the new one.
    pub async fn change_own_passphrase(
        &self,
        session: &Session,
        current_passphrase: &str,
        new_passphrase: &str,
    ) -> AppResult<()> {
        check_passphrase(new_passphrase).map_err(|error| retitled(error, "new passphrase"))?;
        self.current_wrap(session, current_passphrase).await?;
        if new_passphrase == current_passphrase {
            return Err(AppError::invalid(
                "new passphrase",
                Reason::new("passphrase-unchanged"),
            ));
        }
        let name = session.user().name.clone();
        self.reset_passphrase(session, &name, new_passphrase)
            .await
            .map_err(|error| retitled(error, "new passphrase"))
    }

    /// The session's user's key wrap, once `current_passphrase` has been checked against it.
    async fn current_wrap(
        &self,
        session: &Session,
        current_passphrase: &str,
    ) -> AppResult<WrappedKey> {
        let credential = credential_of(session.user().id);
        let not_yours =
            || AppError::invalid("current passphrase", Reason::new("not-your-passphrase"));
        let Some((_, text)) = self.store.key_wrap(&credential).await? else {
            return Err(not_yours());
        };
        let wrap = WrappedKey::decode(&text)?;
        if current_passphrase.len() > MAX_PASSPHRASE_BYTES {
            return Err(not_yours());
        }
        match wrap.unlock(current_passphrase.as_bytes(), &credential) {
            Ok(Unlocked::Key(_)) => Ok(wrap),
            Ok(Unlocked::Duress(_)) | Err(CryptoError::WrongPassphrase) => Err(not_yours()),
            Err(other) => Err(other.into()),
        }
    }

    /// The duress passphrase was entered: erases the whole organisation (every key wrap, the
    /// recovery escrow, tokens, records, events, the access log) and opens an empty one in
    /// its place, with this user alone in it, under the same name and role, whose passphrase
    /// is now the one just typed. It returns a session as a login does: same pages, and one
    /// key derivation, as a login.
    pub(crate) async fn erase_under_duress(
        &self,
        channel: Channel,
        user: User,
        duress: DuressUnlock,
    ) -> AppResult<Session> {
        // Refusals queued before belong to the organisation that is going.
        self.refusals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
        self.store.erase_organisation(KEPT_THROUGH_DURESS).await?;
        let credential = credential_of(user.id);
        let user = User {
            locations: BTreeSet::new(),
            active: true,
            version: 0,
            ..user
        };
        // Keys of a new organisation, with compartments whatever the old one had. An
        // organisation always has a recovery code; this one's is thrown away (an empty
        // organisation with none would stand out).
        let founding = found_keys(&user, &RecoveryCode::generate()?, None)?;
        let wrapped = duress.wrap(&founding.user.secret(), &credential)?.encode();
        let mut side_writes = founding.writes;
        side_writes.extend([
            SideWrite::KeyWrap {
                credential: credential.clone(),
                user: user.id,
                wrapped: wrapped.clone(),
            },
            SideWrite::Meta {
                key: META_DEFAULT_USER.into(),
                value: user.name.clone(),
            },
            SideWrite::Meta {
                key: META_RECOVERY_MADE.into(),
                value: self.today().to_string(),
            },
        ]);
        let commit = Commit {
            events: vec![self.new_event_by(user.id, EventBody::UserAdded { user: user.clone() })?],
            side_writes,
            access: vec![self.access_entry(&user.name, channel.access_action(), &user.name, "")],
            ..Commit::default()
        };
        self.commit(commit).await?;
        // The session carries the user as stored, so that it stays current.
        let stored = self.store.user_by_name(&user.name).await?.unwrap_or(user);
        let keys = self.open_keyring(stored.id, founding.user.secret()).await?;
        Ok(
            Session::new(stored, keys, (credential, wrapped), self.refusals.clone())?
                .marked_after_erase(),
        )
    }
}

impl App {
    /// After a duress login has answered: rewrites the database without the pages the erase
    /// freed (the events and records, sealed but with their operational facts in plain text)
    /// and empties SQLite's write-ahead log (where the pages with the key wraps were before
    /// the erase), so that a copy of the disk taken afterwards holds none of them. The web
    /// server runs it beside the first page; the command line before the command.
    pub async fn compact_after_erase(&self) -> AppResult<()> {
        Ok(self.store.compact().await?)
    }
}

/// What is wrong with a typed recovery code, group by group.
pub(crate) fn recovery_code_reason(error: &CryptoError) -> Reason {
    match error {
        CryptoError::RecoveryCodeLength { digits } => {
            Reason::new("recovery-code-length").count("digits", *digits as u64)
        }
        CryptoError::RecoveryCodeCharacter => Reason::new("recovery-code-character"),
        CryptoError::RecoveryCodeGroup { group } => {
            Reason::new("recovery-code-group").count("group", *group as u64)
        }
        _ => Reason::new("wrong-recovery-code"),
    }
}

/// The same problem, said of another field (a duress passphrase is checked as a passphrase).
fn retitled(error: AppError, field: &str) -> AppError {
    match error {
        AppError::Invalid { reason, .. } => AppError::invalid(field, reason),
        other => other,
    }
}
