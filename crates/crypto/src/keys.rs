//! Secret keys, passphrase-derived key-encryption keys and key wrapping.

use crate::CryptoError;
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 256-bit secret key: no `Clone`, redacted `Debug`, zeroed on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(redacted)")
    }
}

impl SecretKey {
    /// A fresh random key from the operating system.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(SecretKey(random_bytes::<32>()?))
    }

    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as base64url text, to travel inside an encrypted exchange bundle only.
    pub fn to_text(&self) -> crate::Revealed {
        use base64::Engine;
        crate::Revealed::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0))
    }

    /// A key read back from `to_text`.
    pub fn from_text(text: &str) -> Result<Self, CryptoError> {
        use base64::Engine;
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| CryptoError::Malformed { what: "record key" })?;
        let key = <[u8; 32]>::try_from(bytes.as_slice())
            .map(SecretKey)
            .map_err(|_| CryptoError::Malformed { what: "record key" });
        bytes.zeroize();
        key
    }

    /// An explicit, deliberate copy (for a second session holding the same key).
    pub fn duplicate(&self) -> SecretKey {
        SecretKey(self.0)
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    fill_random(&mut bytes)?;
    Ok(bytes)
}

/// Fills `bytes` from the operating system in one call (for many codes at once).
pub fn fill_random(bytes: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(bytes).map_err(|_| CryptoError::Random)
}

/// Random bytes from a ChaCha12 generator (rand's `StdRng`) per thread, seeded from the
/// operating system and reseeded after every 64 KiB of output: for nonces and identifiers,
/// never for keys or token secrets (those come straight from the operating system). An import
/// seals millions of fields, and a system call per nonce was a measurable share of it.
pub fn generated_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    const RESEED_AFTER_BYTES: usize = 64 * 1024;
    thread_local! {
        static GENERATOR: RefCell<Option<(StdRng, usize)>> = const { RefCell::new(None) };
    }
    GENERATOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot
            .as_ref()
            .is_none_or(|(_, used)| *used >= RESEED_AFTER_BYTES)
        {
            *slot = Some((StdRng::from_seed(random_bytes::<32>()?), 0));
        }
        let (generator, used) = slot.as_mut().ok_or(CryptoError::Random)?;
        let mut bytes = [0u8; N];
        generator.fill_bytes(&mut bytes);
        *used += N;
        Ok(bytes)
    })
}

/// Argon2id cost parameters, stored with each wrapped key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl KdfParams {
    /// Each parameter at least as strong as in `other`.
    fn max(self, other: KdfParams) -> KdfParams {
        KdfParams {
            m_kib: self.m_kib.max(other.m_kib),
            t: self.t.max(other.t),
            p: self.p.max(other.p),
        }
    }

    /// The floor from the design: anything weaker is refused, on wrap and on unwrap.
    pub const FLOOR: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 4,
    };

    fn check(self) -> Result<Self, CryptoError> {
        if self.m_kib < Self::FLOOR.m_kib || self.t < Self::FLOOR.t || self.p < Self::FLOOR.p {
            return Err(CryptoError::WeakParameters {
                m_kib: self.m_kib,
                t: self.t,
                p: self.p,
            });
        }
        Ok(self)
    }

    fn derive(self, passphrase: &[u8], salt: &[u8]) -> Result<SecretKey, CryptoError> {
        let params =
            Params::new(self.m_kib, self.t, self.p, Some(32)).map_err(|_| CryptoError::Kdf)?;
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, salt, &mut out)
            .map_err(|_| CryptoError::Kdf)?;
        let key = SecretKey::from_bytes(out);
        out.zeroize();
        Ok(key)
    }
}

/// The data key wrapped under one passphrase, with the user's duress marker. Text form:
/// `rk1$m=65536,t=3,p=4$<salt>$<nonce>$<ciphertext>[$<marker nonce>$<marker>]`
/// (base64url, no padding).
///
/// The duress marker is sealed under a key derived from the duress passphrase with the same
/// salt and parameters, so one Argon2id derivation tells the real passphrase, the duress
/// passphrase and a wrong one apart: the duress login costs what a normal one does. A user
/// without a duress passphrase carries a decoy marker under a random key, so the database does
/// not say who has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    pub params: KdfParams,
    salt: [u8; 16],
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
    /// (nonce, ciphertext) of the duress marker; absent in wraps made before duress existed.
    duress: Option<([u8; 24], Vec<u8>)>,
}

/// What a passphrase opened.
pub enum Unlocked {
    /// The real passphrase: the data key.
    Key(SecretKey),
    /// The duress passphrase: no key, but the means to wrap a new one under the same
    /// passphrase without a second key derivation.
    Duress(DuressUnlock),
}

/// The key-encryption key a duress passphrase derived, held only to wrap the new, empty
/// organisation's key for it.
pub struct DuressUnlock {
    kek: SecretKey,
    params: KdfParams,
    salt: [u8; 16],
}

impl DuressUnlock {
    /// Wraps `key` under the duress passphrase (which becomes the user's passphrase), with a
    /// fresh decoy marker.
    pub fn wrap(&self, key: &SecretKey, context: &str) -> Result<WrappedKey, CryptoError> {
        let (nonce, ciphertext) = seal_with(&self.kek, key.bytes(), &wrap_aad(context))?;
        Ok(WrappedKey {
            params: self.params,
            salt: self.salt,
            nonce,
            ciphertext,
            duress: Some(decoy_marker(context)?),
        })
    }
}

fn wrap_aad(context: &str) -> Vec<u8> {
    format!("refuge/key-wrap/v1|{context}").into_bytes()
}

fn duress_aad(context: &str) -> Vec<u8> {
    format!("refuge/duress-marker/v1|{context}").into_bytes()
}

/// What a duress marker seals: nothing secret, only proof that the key opened it.
const DURESS_MARKER: [u8; 16] = *b"refuge duress v1";

fn seal_with(
    kek: &SecretKey,
    plain: &[u8],
    aad: &[u8],
) -> Result<([u8; 24], Vec<u8>), CryptoError> {
    let nonce = random_bytes::<24>()?;
    let ciphertext = XChaCha20Poly1305::new(kek.bytes().into())
        .encrypt(&XNonce::from(nonce), Payload { msg: plain, aad })
        .map_err(|_| CryptoError::Kdf)?;
    Ok((nonce, ciphertext))
}

fn open_with(kek: &SecretKey, nonce: &[u8; 24], ciphertext: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    XChaCha20Poly1305::new(kek.bytes().into())
        .decrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
}

fn decoy_marker(context: &str) -> Result<([u8; 24], Vec<u8>), CryptoError> {
    seal_with(
        &SecretKey::generate()?,
        &DURESS_MARKER,
        &duress_aad(context),
    )
}

impl WrappedKey {
    /// Wraps `key` under `passphrase`. `context` (such as the user id) is bound as associated
    /// data, so a wrapped key copied to another user does not unwrap.
    pub fn wrap(
        key: &SecretKey,
        passphrase: &[u8],
        context: &str,
        params: KdfParams,
    ) -> Result<Self, CryptoError> {
        let params = params.check()?;
        let salt = random_bytes::<16>()?;
        let kek = params.derive(passphrase, &salt)?;
        let (nonce, ciphertext) = seal_with(&kek, key.bytes(), &wrap_aad(context))?;
        Ok(WrappedKey {
            params,
            salt,
            nonce,
            ciphertext,
            duress: Some(decoy_marker(context)?),
        })
    }

    /// Opens with `passphrase`, in one key derivation: the data key for the real passphrase,
    /// `Duress` for the duress passphrase, and `WrongPassphrase` for anything else (a wrong
    /// passphrase fails the AEAD tags: logging in *is* unwrapping).
    pub fn unlock(&self, passphrase: &[u8], context: &str) -> Result<Unlocked, CryptoError> {
        let params = self.params.check()?;
        let kek = params.derive(passphrase, &self.salt)?;
        let opened = open_with(&kek, &self.nonce, &self.ciphertext, &wrap_aad(context));
        // The marker is tried whatever the first result, so that the three outcomes cost
        // the same.
        let marker = self.duress.as_ref().and_then(|(nonce, ciphertext)| {
            open_with(&kek, nonce, ciphertext, &duress_aad(context))
        });
        match (opened, marker) {
            (Some(mut plain), _) => {
                let bytes: Result<[u8; 32], _> = plain.as_slice().try_into();
                plain.zeroize();
                let bytes = bytes.map_err(|_| CryptoError::Malformed {
                    what: "wrapped key",
                })?;
                Ok(Unlocked::Key(SecretKey::from_bytes(bytes)))
            }
            (None, Some(_)) => Ok(Unlocked::Duress(DuressUnlock {
                kek,
                params,
                salt: self.salt,
            })),
            (None, None) => Err(CryptoError::WrongPassphrase),
        }
    }

    /// Unwraps with the real passphrase only: the duress passphrase is a wrong one here.
    pub fn unwrap_key(&self, passphrase: &[u8], context: &str) -> Result<SecretKey, CryptoError> {
        match self.unlock(passphrase, context)? {
            Unlocked::Key(key) => Ok(key),
            Unlocked::Duress(_) => Err(CryptoError::WrongPassphrase),
        }
    }

    /// The same wrap with a duress marker for `duress_passphrase` (same salt and parameters),
    /// or with a decoy marker for None. Refused when the duress passphrase is the real one.
    pub fn with_duress(
        &self,
        duress_passphrase: Option<&[u8]>,
        context: &str,
    ) -> Result<Self, CryptoError> {
        let marker = match duress_passphrase {
            None => decoy_marker(context)?,
            Some(duress) => {
                let kek = self.params.check()?.derive(duress, &self.salt)?;
                if open_with(&kek, &self.nonce, &self.ciphertext, &wrap_aad(context)).is_some() {
                    return Err(CryptoError::DuressIsPassphrase);
                }
                seal_with(&kek, &DURESS_MARKER, &duress_aad(context))?
            }
        };
        Ok(WrappedKey {
            duress: Some(marker),
            ..self.clone()
        })
    }

    /// `key` wrapped under a new passphrase, keeping this wrap's salt, parameters and duress
    /// marker (so a duress passphrase outlives a change of passphrase). Refused when the new
    /// passphrase is the duress passphrase. A wrap made before duress existed gets a fresh
    /// salt and a decoy marker.
    pub fn rewrap(
        &self,
        key: &SecretKey,
        passphrase: &[u8],
        context: &str,
    ) -> Result<Self, CryptoError> {
        let Some((marker_nonce, marker)) = &self.duress else {
            return Self::wrap(key, passphrase, context, self.params.max(KdfParams::FLOOR));
        };
        let kek = self.params.check()?.derive(passphrase, &self.salt)?;
        if open_with(&kek, marker_nonce, marker, &duress_aad(context)).is_some() {
            return Err(CryptoError::PassphraseIsDuress);
        }
        let (nonce, ciphertext) = seal_with(&kek, key.bytes(), &wrap_aad(context))?;
        Ok(WrappedKey {
            nonce,
            ciphertext,
            ..self.clone()
        })
    }

    /// A wrapped key of a random key, for spending the same time on an unknown user as on a
    /// known one.
    pub fn decoy(params: KdfParams) -> Result<Self, CryptoError> {
        let key = SecretKey::generate()?;
        let passphrase = random_bytes::<32>()?;
        Self::wrap(&key, &passphrase, "decoy", params)
    }

    pub fn encode(&self) -> String {
        let mut text = format!(
            "rk1$m={},t={},p={}${}${}${}",
            self.params.m_kib,
            self.params.t,
            self.params.p,
            B64.encode(self.salt),
            B64.encode(self.nonce),
            B64.encode(&self.ciphertext)
        );
        if let Some((nonce, marker)) = &self.duress {
            text.push('$');
            text.push_str(&B64.encode(nonce));
            text.push('$');
            text.push_str(&B64.encode(marker));
        }
        text
    }

    pub fn decode(text: &str) -> Result<Self, CryptoError> {
        let malformed = CryptoError::Malformed {
            what: "wrapped key",
        };
        let parts: Vec<&str> = text.split('$').collect();
        let (version, params, salt, nonce, ciphertext, duress) = match parts.as_slice() {
            [version, params, salt, nonce, ciphertext] => {
                (version, params, salt, nonce, ciphertext, None)
            }
            [
                version,
                params,
                salt,
                nonce,
                ciphertext,
                marker_nonce,
                marker,
            ] => (
                version,
                params,
                salt,
                nonce,
                ciphertext,
                Some((marker_nonce, marker)),
            ),
            _ => return Err(malformed),
        };
        if *version != "rk1" {
            return Err(malformed);
        }
        let mut values = [0u32; 3];
        let names = ["m=", "t=", "p="];
        let fields: Vec<&str> = params.split(',').collect();
        if fields.len() != 3 {
            return Err(malformed);
        }
        for ((slot, name), field) in values.iter_mut().zip(names).zip(fields) {
            *slot = field
                .strip_prefix(name)
                .and_then(|value| value.parse().ok())
                .ok_or(CryptoError::Malformed {
                    what: "wrapped key",
                })?;
        }
        let decode = |text: &str| {
            B64.decode(text).map_err(|_| CryptoError::Malformed {
                what: "wrapped key",
            })
        };
        Ok(WrappedKey {
            params: KdfParams {
                m_kib: values[0],
                t: values[1],
                p: values[2],
            },
            salt: decode(salt)?
                .try_into()
                .map_err(|_| CryptoError::Malformed {
                    what: "wrapped key",
                })?,
            nonce: decode(nonce)?
                .try_into()
                .map_err(|_| CryptoError::Malformed {
                    what: "wrapped key",
                })?,
            ciphertext: decode(ciphertext)?,
            duress: match duress {
                Some((nonce, marker)) => Some((
                    decode(nonce)?
                        .try_into()
                        .map_err(|_| CryptoError::Malformed {
                            what: "wrapped key",
                        })?,
                    decode(marker)?,
                )),
                None => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trip_and_wrong_passphrase() {
        let key = SecretKey::generate().unwrap();
        let wrapped =
            WrappedKey::wrap(&key, b"correct horse battery", "user-1", KdfParams::FLOOR).unwrap();
        let text = wrapped.encode();
        assert!(text.starts_with("rk1$m=65536,t=3,p=4$"));
        assert_eq!(text.split('$').count(), 7, "with its (decoy) duress marker");
        let decoded = WrappedKey::decode(&text).unwrap();
        let unwrapped = decoded
            .unwrap_key(b"correct horse battery", "user-1")
            .unwrap();
        assert_eq!(unwrapped.bytes(), key.bytes());
        assert_eq!(
            decoded
                .unwrap_key(b"correct horse batterx", "user-1")
                .unwrap_err(),
            CryptoError::WrongPassphrase
        );
        assert_eq!(
            decoded
                .unwrap_key(b"correct horse battery", "user-2")
                .unwrap_err(),
            CryptoError::WrongPassphrase,
            "a wrapped key moved to another user does not open"
        );
    }

    #[test]
    fn one_derivation_tells_the_passphrase_the_duress_passphrase_and_a_wrong_one_apart() {
        let key = SecretKey::generate().unwrap();
        let plain =
            WrappedKey::wrap(&key, b"the real passphrase", "user-1", KdfParams::FLOOR).unwrap();
        let armed = plain
            .with_duress(Some(b"the duress passphrase"), "user-1")
            .unwrap();
        let armed = WrappedKey::decode(&armed.encode()).unwrap();
        assert!(matches!(
            armed.unlock(b"the real passphrase", "user-1").unwrap(),
            Unlocked::Key(opened) if opened.bytes() == key.bytes()
        ));
        let Unlocked::Duress(duress) = armed.unlock(b"the duress passphrase", "user-1").unwrap()
        else {
            panic!("the duress passphrase is recognised");
        };
        assert!(matches!(
            armed.unlock(b"neither of them", "user-1"),
            Err(CryptoError::WrongPassphrase)
        ));
        assert!(
            matches!(
                plain.unlock(b"the duress passphrase", "user-1"),
                Err(CryptoError::WrongPassphrase)
            ),
            "a decoy marker opens for nothing"
        );
        // After duress the duress passphrase opens the new key as a normal passphrase.
        let fresh = SecretKey::generate().unwrap();
        let after = duress.wrap(&fresh, "user-1").unwrap();
        assert!(matches!(
            after.unlock(b"the duress passphrase", "user-1").unwrap(),
            Unlocked::Key(opened) if opened.bytes() == fresh.bytes()
        ));
        assert!(after.unlock(b"the real passphrase", "user-1").is_err());
        // The duress passphrase cannot be the passphrase, either way round.
        assert_eq!(
            plain
                .with_duress(Some(b"the real passphrase"), "user-1")
                .unwrap_err(),
            CryptoError::DuressIsPassphrase
        );
        assert_eq!(
            armed
                .rewrap(&key, b"the duress passphrase", "user-1")
                .unwrap_err(),
            CryptoError::PassphraseIsDuress
        );
        // A new passphrase keeps the duress marker working.
        let changed = armed
            .rewrap(&key, b"a new real passphrase", "user-1")
            .unwrap();
        assert!(matches!(
            changed.unlock(b"a new real passphrase", "user-1").unwrap(),
            Unlocked::Key(_)
        ));
        assert!(matches!(
            changed.unlock(b"the duress passphrase", "user-1").unwrap(),
            Unlocked::Duress(_)
        ));
        assert!(changed.unlock(b"the real passphrase", "user-1").is_err());
        // Turned off: a decoy again.
        let disarmed = changed.with_duress(None, "user-1").unwrap();
        assert!(disarmed.unlock(b"the duress passphrase", "user-1").is_err());
    }

    #[test]
    fn a_wrap_from_before_duress_still_opens() {
        let key = SecretKey::from_bytes([42; 32]);
        let old = WrappedKey::wrap(&key, b"x", "u", KdfParams::FLOOR).unwrap();
        let mut parts: Vec<&str> = Vec::new();
        let text = old.encode();
        parts.extend(text.split('$').take(5));
        let without_marker = WrappedKey::decode(&parts.join("$")).unwrap();
        assert_eq!(
            without_marker.unwrap_key(b"x", "u").unwrap().bytes(),
            key.bytes()
        );
        let rewrapped = without_marker.rewrap(&key, b"y", "u").unwrap();
        assert_eq!(rewrapped.encode().split('$').count(), 7);
        assert_eq!(
            rewrapped.unwrap_key(b"y", "u").unwrap().bytes(),
            key.bytes()
        );
    }

    #[test]
    fn weak_parameters_are_refused_both_ways() {
        let key = SecretKey::generate().unwrap();
        let weak = KdfParams {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        };
        assert!(matches!(
            WrappedKey::wrap(&key, b"x", "u", weak),
            Err(CryptoError::WeakParameters { .. })
        ));
        let text = WrappedKey::wrap(&key, b"x", "u", KdfParams::FLOOR)
            .unwrap()
            .encode();
        let lowered = text.replacen("m=65536", "m=1024", 1);
        assert!(matches!(
            WrappedKey::decode(&lowered).unwrap().unwrap_key(b"x", "u"),
            Err(CryptoError::WeakParameters { .. })
        ));
    }

    #[test]
    fn malformed_wrapped_keys_are_errors_not_panics() {
        for text in [
            "",
            "rk1",
            "rk2$m=1,t=1,p=1$a$b$c",
            "rk1$m=x,t=3,p=4$AA$AA$AA",
            "rk1$m=65536,t=3,p=4$AA$AA$AA",
        ] {
            assert!(WrappedKey::decode(text).is_err(), "{text}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", SecretKey::from_bytes([7; 32])),
            "SecretKey(redacted)"
        );
    }
}
