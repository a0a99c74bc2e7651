//! The data key (or a user's secret) wrapped under an API token's secret.

use crate::CryptoError;
use crate::keys::{SecretKey, random_bytes};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroize;

/// The data key wrapped under an API token's 256-bit random secret. A token is as strong as
/// a key, so the key-encryption key comes from HKDF-SHA256 rather than Argon2id: unwrapping
/// costs microseconds, which lets every API request carry the token. Text form:
/// `rt1$<salt>$<nonce>$<ciphertext>` (base64url, no padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenWrappedKey {
    salt: [u8; 16],
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

fn token_cipher(secret: &[u8; 32], salt: &[u8; 16]) -> Result<XChaCha20Poly1305, CryptoError> {
    let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), secret);
    let mut kek = [0u8; 32];
    hkdf.expand(b"refuge/token-kek/v1", &mut kek)
        .map_err(|_| CryptoError::Kdf)?;
    let cipher = XChaCha20Poly1305::new((&kek).into());
    kek.zeroize();
    Ok(cipher)
}

fn token_aad(context: &str) -> Vec<u8> {
    format!("refuge/token-wrap/v1|{context}").into_bytes()
}

impl TokenWrappedKey {
    /// Wraps `key` under a token secret; `context` (the token's id) is bound as associated
    /// data.
    pub fn wrap(key: &SecretKey, secret: &[u8; 32], context: &str) -> Result<Self, CryptoError> {
        let salt = random_bytes::<16>()?;
        let nonce = random_bytes::<24>()?;
        let ciphertext = token_cipher(secret, &salt)?
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: key.bytes(),
                    aad: &token_aad(context),
                },
            )
            .map_err(|_| CryptoError::Kdf)?;
        Ok(TokenWrappedKey {
            salt,
            nonce,
            ciphertext,
        })
    }

    /// Wraps `key` under another key (a user's new key pair, under the data key, until their
    /// first login after a key upgrade).
    pub fn wrap_under(
        key: &SecretKey,
        under: &SecretKey,
        context: &str,
    ) -> Result<Self, CryptoError> {
        Self::wrap(key, under.bytes(), context)
    }

    /// Unwraps what `wrap_under` wrapped.
    pub fn unwrap_under(&self, under: &SecretKey, context: &str) -> Result<SecretKey, CryptoError> {
        self.unwrap_key(under.bytes(), context)
    }

    /// Unwraps with the token's secret; a wrong secret fails the AEAD tag.
    pub fn unwrap_key(&self, secret: &[u8; 32], context: &str) -> Result<SecretKey, CryptoError> {
        let mut plain = token_cipher(secret, &self.salt)?
            .decrypt(
                &XNonce::from(self.nonce),
                Payload {
                    msg: &self.ciphertext,
                    aad: &token_aad(context),
                },
            )
            .map_err(|_| CryptoError::WrongPassphrase)?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Malformed {
                what: "wrapped key",
            })?;
        plain.zeroize();
        Ok(SecretKey::from_bytes(bytes))
    }

    pub fn encode(&self) -> String {
        format!(
            "rt1${}${}${}",
            B64.encode(self.salt),
            B64.encode(self.nonce),
            B64.encode(&self.ciphertext)
        )
    }

    pub fn decode(text: &str) -> Result<Self, CryptoError> {
        let malformed = || CryptoError::Malformed {
            what: "wrapped key",
        };
        let parts: Vec<&str> = text.split('$').collect();
        let ["rt1", salt, nonce, ciphertext] = parts.as_slice() else {
            return Err(malformed());
        };
        let decode = |text: &str| B64.decode(text).map_err(|_| malformed());
        Ok(TokenWrappedKey {
            salt: decode(salt)?.try_into().map_err(|_| malformed())?,
            nonce: decode(nonce)?.try_into().map_err(|_| malformed())?,
            ciphertext: decode(ciphertext)?,
        })
    }
}

#[cfg(test)]
mod token_tests {
    use super::*;

    #[test]
    fn a_token_unwraps_its_own_copy_only() {
        let key = SecretKey::generate().unwrap();
        let secret = random_bytes::<32>().unwrap();
        let wrapped = TokenWrappedKey::wrap(&key, &secret, "token:AAAA").unwrap();
        let decoded = TokenWrappedKey::decode(&wrapped.encode()).unwrap();
        assert_eq!(decoded, wrapped);
        assert_eq!(
            decoded.unwrap_key(&secret, "token:AAAA").unwrap().bytes(),
            key.bytes()
        );
        let mut wrong = secret;
        wrong[0] ^= 1;
        assert_eq!(
            decoded.unwrap_key(&wrong, "token:AAAA").unwrap_err(),
            CryptoError::WrongPassphrase
        );
        assert_eq!(
            decoded.unwrap_key(&secret, "token:BBBB").unwrap_err(),
            CryptoError::WrongPassphrase,
            "bound to its id"
        );
        assert!(TokenWrappedKey::decode("rk1$x$y$z").is_err());
    }
}
