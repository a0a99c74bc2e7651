//! Field sealing and blind indexes under keys derived from the data key.

use crate::CryptoError;
use crate::keys::{SecretKey, generated_bytes};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit as MacKeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The data key version new values are sealed under.
pub const KEY_VERSION: u32 = 1;

const SEALED_PREFIX: &str = "s1.";

/// Where a sealed value belongs. Bound as associated data: a ciphertext copied to another
/// table, record or field fails to open.
#[derive(Clone, Copy, Debug)]
pub struct FieldContext<'a> {
    pub table: &'a str,
    pub record: &'a str,
    pub field: &'a str,
}

impl FieldContext<'_> {
    fn aad(&self, key_version: u32) -> Vec<u8> {
        format!(
            "refuge/field/v1|{}|{}|{}|{key_version}",
            self.table, self.record, self.field
        )
        .into_bytes()
    }

    fn describe(&self) -> String {
        format!("{}.{} of {}", self.table, self.field, self.record)
    }
}

/// A revealed protected value: redacted `Debug`, zeroed on drop. Display it on purpose only.
#[derive(Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Revealed(String);

impl Revealed {
    pub(crate) fn new(text: String) -> Self {
        Revealed(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Revealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Revealed(redacted)")
    }
}

/// Seals and opens fields and computes blind indexes. Holds only keys derived from the data
/// key, never the data key itself.
pub struct Sealer {
    field_key: SecretKey,
    index_key: SecretKey,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(redacted)")
    }
}

fn derive(data_key: &SecretKey, purpose: &str) -> Result<SecretKey, CryptoError> {
    let hkdf = Hkdf::<Sha256>::new(Some(b"refuge/hkdf/v1"), data_key.bytes());
    let mut out = [0u8; 32];
    hkdf.expand(purpose.as_bytes(), &mut out)
        .map_err(|_| CryptoError::Kdf)?;
    Ok(SecretKey::from_bytes(out))
}

impl Sealer {
    pub fn new(data_key: &SecretKey) -> Result<Self, CryptoError> {
        Ok(Sealer {
            field_key: derive(data_key, &format!("field-sealing/v{KEY_VERSION}"))?,
            index_key: derive(data_key, "blind-index/v1")?,
        })
    }

    /// Seals `plaintext` for `context`: `s1.` + base64url(key version ‖ nonce ‖ ciphertext).
    pub fn seal(&self, plaintext: &str, context: FieldContext<'_>) -> Result<String, CryptoError> {
        let nonce = generated_bytes::<24>()?;
        let cipher = XChaCha20Poly1305::new(self.field_key.bytes().into());
        let aad = context.aad(KEY_VERSION);
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Kdf)?;
        let mut packed = Vec::with_capacity(4 + 24 + ciphertext.len());
        packed.extend_from_slice(&KEY_VERSION.to_be_bytes());
        packed.extend_from_slice(&nonce);
        packed.extend_from_slice(&ciphertext);
        Ok(format!("{SEALED_PREFIX}{}", B64.encode(packed)))
    }

    /// Opens a sealed value; fails if it was altered or belongs to another context.
    pub fn open(&self, sealed: &str, context: FieldContext<'_>) -> Result<Revealed, CryptoError> {
        let tampered = || CryptoError::Tampered {
            context: context.describe(),
        };
        let packed = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|body| B64.decode(body).ok())
            .ok_or_else(tampered)?;
        if packed.len() < 4 + 24 + 16 {
            return Err(tampered());
        }
        let (version, rest) = packed.split_at(4);
        let (nonce, ciphertext) = rest.split_at(24);
        let version = u32::from_be_bytes(version.try_into().map_err(|_| tampered())?);
        if version != KEY_VERSION {
            return Err(CryptoError::UnknownKeyVersion(version));
        }
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| tampered())?;
        let cipher = XChaCha20Poly1305::new(self.field_key.bytes().into());
        let aad = context.aad(version);
        let mut plain = cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| tampered())?;
        let text = String::from_utf8(std::mem::take(&mut plain)).map_err(|error| {
            let mut bytes = error.into_bytes();
            bytes.zeroize();
            tampered()
        })?;
        Ok(Revealed(text))
    }

    /// Blind index of `value` for `purpose`, truncated to `bits` (1..=62) so that each index
    /// value matches several records: HMAC-SHA256 under a key of its own.
    pub fn blind_index(&self, purpose: &str, value: &str, bits: u32) -> Result<i64, CryptoError> {
        let bits = bits.clamp(1, 62);
        let mut mac = <Hmac<Sha256> as MacKeyInit>::new_from_slice(self.index_key.bytes())
            .map_err(|_| CryptoError::Kdf)?;
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let truncated = u64::from_be_bytes(first) >> (64 - bits);
        i64::try_from(truncated).map_err(|_| CryptoError::Kdf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(&SecretKey::from_bytes([42; 32])).unwrap()
    }

    const CONTEXT: FieldContext<'static> = FieldContext {
        table: "people",
        record: "p1",
        field: "name",
    };

    #[test]
    fn seal_open_round_trip_with_fresh_nonces() {
        let sealer = sealer();
        let first = sealer.seal("김 테스트", CONTEXT).unwrap();
        let second = sealer.seal("김 테스트", CONTEXT).unwrap();
        assert_ne!(first, second, "each seal uses a fresh nonce");
        assert_eq!(sealer.open(&first, CONTEXT).unwrap().as_str(), "김 테스트");
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let sealer = sealer();
        let sealed = sealer.seal("Synthetic Name", CONTEXT).unwrap();
        let packed = B64.decode(&sealed[3..]).unwrap();
        for index in 0..packed.len() {
            let mut altered = packed.clone();
            altered[index] ^= 0x01;
            let text = format!("s1.{}", B64.encode(&altered));
            assert!(sealer.open(&text, CONTEXT).is_err(), "byte {index}");
        }
    }

    #[test]
    fn moving_a_ciphertext_to_another_row_or_field_is_detected() {
        let sealer = sealer();
        let sealed = sealer.seal("Synthetic Name", CONTEXT).unwrap();
        for moved in [
            FieldContext {
                record: "p2",
                ..CONTEXT
            },
            FieldContext {
                field: "notes",
                ..CONTEXT
            },
            FieldContext {
                table: "locations",
                ..CONTEXT
            },
        ] {
            let error = sealer.open(&sealed, moved).unwrap_err();
            assert!(matches!(error, CryptoError::Tampered { .. }));
            assert!(!error.to_string().contains("Synthetic"));
        }
    }

    #[test]
    fn another_data_key_cannot_open() {
        let other = Sealer::new(&SecretKey::from_bytes([43; 32])).unwrap();
        let sealed = sealer().seal("x", CONTEXT).unwrap();
        assert!(other.open(&sealed, CONTEXT).is_err());
    }

    #[test]
    fn blind_index_is_stable_truncated_and_keyed() {
        let sealer = sealer();
        let a = sealer.blind_index("name", "kim test", 16).unwrap();
        assert_eq!(a, sealer.blind_index("name", "kim test", 16).unwrap());
        assert!((0..1 << 16).contains(&a));
        assert_ne!(
            sealer.blind_index("name", "kim test", 40).unwrap(),
            sealer.blind_index("dup", "kim test", 40).unwrap()
        );
        let other = Sealer::new(&SecretKey::from_bytes([43; 32])).unwrap();
        assert_ne!(
            sealer.blind_index("name", "kim test", 40).unwrap(),
            other.blind_index("name", "kim test", 40).unwrap()
        );
    }

    /// Pins the wire format and the key derivation: a value sealed by an earlier build must
    /// still open, and blind indexes must not move (stored indexes would stop matching).
    #[test]
    fn sealed_format_and_blind_index_golden() {
        let sealer = sealer();
        let golden = "s1.AAAAATL5IrRQkuVgELNTyFGab6saEJ8fMJb4l7FeXUQZou8AFM6lpItKl9HS1AQ6Dr4";
        assert_eq!(sealer.open(golden, CONTEXT).unwrap().as_str(), "golden");
        assert_eq!(sealer.blind_index("name", "kim test", 16).unwrap(), 3583);
    }
}
