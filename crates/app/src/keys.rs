//! The organisation's keys beyond one user's passphrase: the recovery code.

use crate::users::{check_passphrase, credential_of};
use crate::*;
use refuge_core::Role;
use refuge_crypto::{KdfParams, RecoveryCode, TokenWrappedKey, WrappedKey};
use refuge_store::{Commit, SideWrite};

/// The escrow copy of the data key, wrapped under the recovery code.
const META_RECOVERY_ESCROW: &str = "recovery_escrow";
/// The day the current recovery code was made.
const META_RECOVERY_MADE: &str = "recovery_code_made";

impl App {
    /// Makes a new organisation recovery code and stores the escrow copy of the data key
    /// under it; the code before it stops working. The code is returned to be shown once and
    /// is never stored.
    pub async fn new_recovery_code(&self, session: &Session) -> AppResult<RecoveryCode> {
        session.require(Action::ManageKeys)?;
        let code = RecoveryCode::generate()?;
        let escrow = code.wrap(session.data_key())?;
        let commit = Commit {
            side_writes: vec![
                SideWrite::Meta {
                    key: META_RECOVERY_ESCROW.into(),
                    value: escrow.encode(),
                },
                SideWrite::Meta {
                    key: META_RECOVERY_MADE.into(),
                    value: self.today().to_string(),
                },
            ],
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
            .map_err(|error| AppError::invalid("recovery code", error.to_string()))?;
        check_passphrase(new_passphrase)?;
        let admin = self
            .store
            .user_by_name(admin_name)
            .await?
            .filter(|user| user.role == Role::Admin && user.active)
            .ok_or_else(|| {
                AppError::invalid(
                    "admin",
                    format!("'{admin_name}' is not an active admin of this organisation"),
                )
            })?;
        let escrow = self.store.meta(META_RECOVERY_ESCROW).await?;
        let Some(escrow) = escrow.filter(|text| !text.is_empty()) else {
            return Err(AppError::invalid(
                "recovery code",
                "this organisation has no recovery code (an admin makes one with `refuge recovery-code new`)",
            ));
        };
        let data_key = match code.unwrap_key(&TokenWrappedKey::decode(&escrow)?) {
            Ok(key) => key,
            Err(error) => {
                self.log(&admin.name, AccessAction::LoginFailed, "recovery code", "")
                    .await?;
                return Err(AppError::invalid("recovery code", error.to_string()));
            }
        };
        let credential = credential_of(admin.id);
        let wrapped = WrappedKey::wrap(
            &data_key,
            new_passphrase.as_bytes(),
            &credential,
            KdfParams::FLOOR,
        )?;
        let commit = Commit {
            side_writes: vec![SideWrite::KeyWrap {
                credential,
                user: admin.id,
                wrapped: wrapped.encode(),
            }],
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
}
