//! API tokens: credentials for programs, like a passphrase for a person. A token belongs to a
//! user and acts with that user's role and compartments; it unwraps its own wrapped copy of
//! the data key (so the server keeps no key outside live sessions), is shown once at
//! creation, and can be listed (without its secret, which is never stored) and revoked
//! (which deletes its copy of the key).
//!
//! Text form: `rft1_<id>_<64 hex digits>`; the id is public (lists, revocation, the access
//! log), the 256-bit secret is not.

use crate::*;
use refuge_crypto::TokenWrappedKey;
use refuge_store::{ApiToken, SideWrite};
use time::format_description::well_known::Rfc3339;

const TOKEN_PREFIX: &str = "rft1";
const TOKEN_ID_LENGTH: usize = 10;
const MAX_LABEL: usize = 80;

pub(crate) fn label_context(id: &str) -> FieldContext<'_> {
    FieldContext {
        table: "api_tokens",
        record: id,
        field: "label",
    }
}

/// A token with its label opened (labels written before they were sealed show as stored;
/// with compartments, another user's label is theirs alone and shows empty).
fn open_label(session: &Session, token: ApiToken) -> AppResult<ApiToken> {
    if !token.label.starts_with("s1.") {
        return Ok(token);
    }
    if !session.keys().is_single() && token.user != session.user().id {
        return Ok(ApiToken {
            label: String::new(),
            ..token
        });
    }
    // A label sealed under the user's key pair before an admin gave them a new one (their
    // tokens were revoked then) no longer opens: it shows empty, like another user's.
    let label = match session
        .keys()
        .own_sealer()
        .open(&token.label, label_context(&token.id))
    {
        Ok(label) => label.as_str().to_string(),
        Err(refuge_crypto::CryptoError::Tampered { .. }) if !session.keys().is_single() => {
            String::new()
        }
        Err(error) => return Err(error.into()),
    };
    Ok(ApiToken { label, ..token })
}

pub(crate) fn credential_of_token(id: &str) -> String {
    format!("token:{id}")
}

/// The id and secret of a token's text, if it has the token's shape.
fn parse_token(text: &str) -> Option<(&str, [u8; 32])> {
    let rest = text.trim().strip_prefix(TOKEN_PREFIX)?.strip_prefix('_')?;
    let (id, hex) = rest.split_once('_')?;
    if id.len() != TOKEN_ID_LENGTH || !id.bytes().all(|byte| CODE_ALPHABET.contains(&byte)) {
        return None;
    }
    if hex.len() != 64 {
        return None;
    }
    let mut secret = [0u8; 32];
    for (slot, pair) in secret.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *slot = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some((id, secret))
}

impl App {
    /// Creates a token for the signed-in user. Returns its public facts and its text, which is
    /// shown this once and never again.
    pub async fn create_token(
        &self,
        session: &Session,
        label: &str,
    ) -> AppResult<(ApiToken, String)> {
        let label = label.trim();
        if label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "label",
                Reason::new("label-at-most").count("most", MAX_LABEL as u64),
            ));
        }
        let random = refuge_crypto::random_bytes::<TOKEN_ID_LENGTH>()?;
        let id: String = random
            .iter()
            .map(|byte| CODE_ALPHABET[usize::from(byte & 31)] as char)
            .collect();
        let secret = refuge_crypto::random_bytes::<32>()?;
        let credential = credential_of_token(&id);
        let wrapped =
            TokenWrappedKey::wrap(&session.keys().wrapped_secret(), &secret, &credential)?;
        // The label is free text: sealed like any other, so the file shows no purpose (with
        // compartments, under the user's own key: only they read it).
        let sealed_label = if label.is_empty() {
            String::new()
        } else {
            seal(&session.keys().own_sealer(), label, label_context(&id))?.0
        };
        let token = ApiToken {
            id: id.clone(),
            user: session.user().id,
            label: sealed_label,
            created: self
                .now()
                .format(&Rfc3339)
                .map_err(|_| AppError::invalid("clock", Reason::new("clock-unformattable")))?,
            revoked: None,
        };
        let commit = Commit {
            side_writes: vec![
                SideWrite::KeyWrap {
                    credential,
                    user: session.user().id,
                    wrapped: wrapped.encode(),
                },
                SideWrite::ApiToken(token.clone()),
            ],
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::TokenCreated,
                &id,
                "",
            )],
            ..Commit::default()
        };
        self.commit(commit).await?;
        let hex: String = secret.iter().map(|byte| format!("{byte:02x}")).collect();
        let token = ApiToken {
            label: label.to_string(),
            ..token
        };
        Ok((token, format!("{TOKEN_PREFIX}_{id}_{hex}")))
    }

    /// The signed-in user's tokens; an admin sees everyone's.
    pub async fn tokens(&self, session: &Session) -> AppResult<Vec<ApiToken>> {
        let all = allowed(session.role(), Action::ManageUsers);
        self.store
            .api_tokens()
            .await?
            .into_iter()
            .filter(|token| all || token.user == session.user().id)
            .map(|token| open_label(session, token))
            .collect()
    }

    /// Revokes one of the user's own tokens (an admin: anyone's). Its copy of the key is
    /// deleted in the same transaction.
    pub async fn revoke_token(&self, session: &Session, id: &str) -> AppResult<ApiToken> {
        let token = self
            .store
            .api_tokens()
            .await?
            .into_iter()
            .find(|token| token.id == id.trim())
            .ok_or_else(|| AppError::NotFound {
                what: "token",
                code: id.to_string(),
            })?;
        if token.user != session.user().id {
            session.require(Action::ManageUsers)?;
        }
        if token.revoked.is_some() {
            return Err(AppError::invalid(
                "token",
                Reason::new("token-already-revoked").with("token", &token.id),
            ));
        }
        let at = self
            .now()
            .format(&Rfc3339)
            .map_err(|_| AppError::invalid("clock", Reason::new("clock-unformattable")))?;
        let commit = Commit {
            side_writes: vec![SideWrite::RevokeApiToken {
                id: token.id.clone(),
                credential: credential_of_token(&token.id),
                at: at.clone(),
            }],
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::TokenRevoked,
                &token.id,
                "",
            )],
            ..Commit::default()
        };
        self.commit(commit).await?;
        Ok(ApiToken {
            revoked: Some(at),
            ..token
        })
    }

    /// A session from a token's text. Anything wrong (malformed, unknown, revoked, a user who
    /// may no longer log in) is the same `BadLogin`. Costs one key unwrap by HKDF: cheap
    /// enough for every API request.
    pub async fn login_token(&self, text: &str) -> AppResult<Session> {
        let (id, secret) = parse_token(text).ok_or(AppError::BadLogin)?;
        let credential = credential_of_token(id);
        let (user_id, wrapped) = self
            .store
            .key_wrap(&credential)
            .await?
            .ok_or(AppError::BadLogin)?;
        let unwrapped = TokenWrappedKey::decode(&wrapped)
            .and_then(|wrapped| wrapped.unwrap_key(&secret, &credential))
            .map_err(|_| AppError::BadLogin)?;
        let user = self
            .store
            .users()
            .await?
            .into_iter()
            .find(|user| user.id == user_id && user.active)
            .ok_or(AppError::BadLogin)?;
        // Once a day per token: the API reveals no identity, and a line per request would
        // bury the reveals an auditor looks for.
        let today = self.today();
        let first_today = {
            let mut used = self
                .tokens_used
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            used.insert(id.to_string(), today) != Some(today)
        };
        if first_today {
            self.log(
                &user.name,
                AccessAction::TokenUsed,
                &user.name,
                &format!("token {id}"),
            )
            .await?;
        }
        let keys = self.open_keyring(user.id, unwrapped).await?;
        Session::new(user, keys, (credential, wrapped), self.refusals.clone())
    }

    /// Revokes every live token of `user` (a new key pair for them: the tokens wrap the old
    /// one).
    pub(crate) async fn revoke_all_tokens_writes(&self, user: &User) -> AppResult<Vec<SideWrite>> {
        let at = self
            .now()
            .format(&Rfc3339)
            .map_err(|_| AppError::invalid("clock", Reason::new("clock-unformattable")))?;
        Ok(self
            .store
            .api_tokens()
            .await?
            .into_iter()
            .filter(|token| token.user == user.id && token.revoked.is_none())
            .map(|token| SideWrite::RevokeApiToken {
                credential: credential_of_token(&token.id),
                id: token.id,
                at: at.clone(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_parse() {
        let hex = "ab".repeat(32);
        let text = format!("rft1_0123456789_{hex}");
        let (id, secret) = parse_token(&text).unwrap();
        assert_eq!(id, "0123456789");
        assert_eq!(secret, [0xab; 32]);
        for bad in [
            format!("rft2_0123456789_{hex}"),
            format!("rft1_012345678_{hex}"),
            format!("rft1_01234567IL_{hex}"),
            format!("rft1_0123456789_{}", "zz".repeat(32)),
            "rft1_0123456789_ab".to_string(),
            String::new(),
        ] {
            assert!(parse_token(&bad).is_none(), "{bad}");
        }
    }
}
