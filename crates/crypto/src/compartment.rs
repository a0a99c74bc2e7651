//! Public-key wrapping of keys: X25519 key pairs for users and compartments, and sealed
//! envelopes of 32-byte keys to a public key (an ephemeral X25519 exchange, HKDF-SHA256 and
//! XChaCha20-Poly1305, as age does for a file's key). Anyone may wrap *to* a public key; only
//! the holder of the secret half opens. One envelope serves every key wrapped in one write to
//! one recipient (an import wraps 100,000 record keys after a single exchange), and opening
//! caches the exchange per envelope, so a list sealed in one write costs one exchange.

use crate::CryptoError;
use crate::keys::{SecretKey, random_bytes};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use x25519_dalek::{PublicKey as DalekPublic, StaticSecret};

const WRAPPED_PREFIX: &str = "kw1.";
const PUBLIC_PREFIX: &str = "pk1.";
/// Envelopes a holder keeps exchanges for; beyond it the cache starts again (bounded memory
/// for a long-lived web session).
const MAX_CACHED_EXCHANGES: usize = 4_096;

/// A public key, as stored: `pk1.` + base64url of its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub(crate) [u8; 32]);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.encode())
    }
}

impl PublicKey {
    pub fn encode(&self) -> String {
        format!("{PUBLIC_PREFIX}{}", B64.encode(self.0))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn decode(text: &str) -> Result<Self, CryptoError> {
        let bytes = text
            .strip_prefix(PUBLIC_PREFIX)
            .and_then(|body| B64.decode(body).ok())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or(CryptoError::Malformed { what: "public key" })?;
        Ok(PublicKey(bytes))
    }
}

/// An X25519 key pair: no `Clone`, redacted `Debug`, the secret zeroed on drop.
pub struct KeyPair {
    secret: StaticSecret,
    public: PublicKey,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({:?}, secret redacted)", self.public)
    }
}

impl KeyPair {
    /// A fresh key pair from the operating system's random number generator.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self::from_bytes(random_bytes::<32>()?))
    }

    fn from_bytes(bytes: [u8; 32]) -> Self {
        let secret = StaticSecret::from(bytes);
        let public = PublicKey(DalekPublic::from(&secret).to_bytes());
        KeyPair { secret, public }
    }

    /// The key pair whose secret half is `secret` (as unwrapped from a passphrase, a token,
    /// the recovery code or an envelope).
    pub fn from_secret(secret: &SecretKey) -> Self {
        Self::from_bytes(*secret.bytes())
    }

    /// The secret half, to be wrapped.
    pub fn secret(&self) -> SecretKey {
        SecretKey::from_bytes(self.secret.to_bytes())
    }

    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The key-encryption key of an envelope made with `ephemeral` to this key pair.
    fn exchange(&self, ephemeral: &[u8; 32]) -> Result<SecretKey, CryptoError> {
        envelope_key(
            &self.secret.diffie_hellman(&DalekPublic::from(*ephemeral)),
            ephemeral,
            &self.public,
        )
    }
}

fn envelope_key(
    shared: &x25519_dalek::SharedSecret,
    ephemeral: &[u8; 32],
    recipient: &PublicKey,
) -> Result<SecretKey, CryptoError> {
    // A low-order point gives an all-zero secret that anyone could compute.
    if !shared.was_contributory() {
        return Err(CryptoError::Malformed { what: "envelope" });
    }
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(&recipient.0);
    let hkdf = Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes());
    let mut key = [0u8; 32];
    hkdf.expand(b"refuge/envelope/v1", &mut key)
        .map_err(|_| CryptoError::Kdf)?;
    Ok(SecretKey::from_bytes(key))
}

fn envelope_aad(context: &str) -> Vec<u8> {
    format!("refuge/key-to/v1|{context}").into_bytes()
}

/// One exchange with one recipient, to wrap any number of keys to it.
pub struct Envelope {
    ephemeral: [u8; 32],
    key: SecretKey,
    recipient: PublicKey,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Envelope(to {:?})", self.recipient)
    }
}

impl Envelope {
    pub fn to(recipient: &PublicKey) -> Result<Self, CryptoError> {
        let ephemeral = StaticSecret::from(random_bytes::<32>()?);
        let ephemeral_public = DalekPublic::from(&ephemeral).to_bytes();
        let shared = ephemeral.diffie_hellman(&DalekPublic::from(recipient.0));
        Ok(Envelope {
            key: envelope_key(&shared, &ephemeral_public, recipient)?,
            ephemeral: ephemeral_public,
            recipient: *recipient,
        })
    }

    pub fn recipient(&self) -> PublicKey {
        self.recipient
    }

    /// `key` wrapped to the recipient: `kw1.` + base64url(ephemeral public ‖ nonce ‖
    /// ciphertext+tag). `context` (the record, the holder) is bound as associated data.
    pub fn wrap(&self, key: &SecretKey, context: &str) -> Result<String, CryptoError> {
        let nonce = crate::keys::generated_bytes::<24>()?;
        let ciphertext = XChaCha20Poly1305::new(self.key.bytes().into())
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: key.bytes(),
                    aad: &envelope_aad(context),
                },
            )
            .map_err(|_| CryptoError::Kdf)?;
        let mut packed = Vec::with_capacity(32 + 24 + ciphertext.len());
        packed.extend_from_slice(&self.ephemeral);
        packed.extend_from_slice(&nonce);
        packed.extend_from_slice(&ciphertext);
        Ok(format!("{WRAPPED_PREFIX}{}", B64.encode(packed)))
    }
}

/// A key pair that opens envelopes, remembering each envelope's exchange.
pub struct Holder {
    pair: KeyPair,
    exchanges: Mutex<HashMap<[u8; 32], SecretKey>>,
}

impl fmt::Debug for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Holder({:?})", self.pair.public)
    }
}

impl Holder {
    pub fn new(pair: KeyPair) -> Self {
        Holder {
            pair,
            exchanges: Mutex::new(HashMap::new()),
        }
    }

    pub fn pair(&self) -> &KeyPair {
        &self.pair
    }

    /// Opens a key wrapped to this holder for `context`; anything else (another recipient,
    /// another context, a flipped byte) fails.
    pub fn unwrap(&self, wrapped: &str, context: &str) -> Result<SecretKey, CryptoError> {
        let malformed = CryptoError::Malformed {
            what: "wrapped key",
        };
        let packed = wrapped
            .strip_prefix(WRAPPED_PREFIX)
            .and_then(|body| B64.decode(body).ok())
            .ok_or(malformed)?;
        if packed.len() != 32 + 24 + 32 + 16 {
            return Err(CryptoError::Malformed {
                what: "wrapped key",
            });
        }
        let (ephemeral, rest) = packed.split_at(32);
        let (nonce, ciphertext) = rest.split_at(24);
        let ephemeral: [u8; 32] = ephemeral.try_into().map_err(|_| CryptoError::Kdf)?;
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| CryptoError::Kdf)?;
        let key = {
            let mut exchanges = self
                .exchanges
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(key) = exchanges.get(&ephemeral) {
                key.duplicate()
            } else {
                let key = self.pair.exchange(&ephemeral)?;
                if exchanges.len() >= MAX_CACHED_EXCHANGES {
                    exchanges.clear();
                }
                exchanges.insert(ephemeral, key.duplicate());
                key
            }
        };
        let mut plain = XChaCha20Poly1305::new(key.bytes().into())
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &envelope_aad(context),
                },
            )
            .map_err(|_| CryptoError::Tampered {
                context: context.to_string(),
            })?;
        let bytes: Result<[u8; 32], _> = plain.as_slice().try_into();
        zeroize::Zeroize::zeroize(&mut plain);
        Ok(SecretKey::from_bytes(bytes.map_err(|_| CryptoError::Kdf)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anyone_wraps_to_a_public_key_and_only_its_holder_opens() {
        let recipient = Holder::new(KeyPair::generate().unwrap());
        let stranger = Holder::new(KeyPair::generate().unwrap());
        let key = SecretKey::generate().unwrap();
        let envelope = Envelope::to(&recipient.pair().public()).unwrap();
        let first = envelope.wrap(&key, "record:1").unwrap();
        let second = envelope.wrap(&key, "record:2").unwrap();
        assert_ne!(first, second, "a nonce of its own each");
        assert_eq!(
            recipient.unwrap(&first, "record:1").unwrap().bytes(),
            key.bytes()
        );
        assert_eq!(
            recipient.unwrap(&second, "record:2").unwrap().bytes(),
            key.bytes()
        );
        assert!(stranger.unwrap(&first, "record:1").is_err());
        assert!(
            recipient.unwrap(&first, "record:2").is_err(),
            "bound to its record"
        );
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let recipient = Holder::new(KeyPair::generate().unwrap());
        let key = SecretKey::generate().unwrap();
        let wrapped = Envelope::to(&recipient.pair().public())
            .unwrap()
            .wrap(&key, "r")
            .unwrap();
        let packed = B64.decode(&wrapped[WRAPPED_PREFIX.len()..]).unwrap();
        for index in 0..packed.len() {
            let mut altered = packed.clone();
            altered[index] ^= 1;
            let text = format!("{WRAPPED_PREFIX}{}", B64.encode(&altered));
            let fresh = Holder::new(KeyPair::from_secret(&recipient.pair().secret()));
            assert!(fresh.unwrap(&text, "r").is_err(), "byte {index}");
        }
        for text in ["", "kw1.", "kw1.AAAA", "pk1.AAAA"] {
            assert!(recipient.unwrap(text, "r").is_err());
        }
    }

    #[test]
    fn a_low_order_ephemeral_is_refused() {
        let recipient = Holder::new(KeyPair::generate().unwrap());
        // The all-zero point gives an all-zero shared secret.
        let mut packed = vec![0u8; 32 + 24 + 48];
        packed[40] = 1;
        let text = format!("{WRAPPED_PREFIX}{}", B64.encode(&packed));
        assert!(matches!(
            recipient.unwrap(&text, "r"),
            Err(CryptoError::Malformed { .. })
        ));
    }

    #[test]
    fn a_key_pair_survives_its_secret_being_wrapped_and_unwrapped() {
        let pair = KeyPair::generate().unwrap();
        let again = KeyPair::from_secret(&pair.secret());
        assert_eq!(pair.public(), again.public());
        let public = PublicKey::decode(&pair.public().encode()).unwrap();
        assert_eq!(public, pair.public());
        assert!(PublicKey::decode("pk1.AAAA").is_err());
        assert!(!format!("{pair:?}").contains(&B64.encode(pair.secret().bytes())));
    }

    /// Pins the envelope format and derivation: a key wrapped by an earlier build must open.
    #[test]
    fn envelope_golden() {
        let holder = Holder::new(KeyPair::from_bytes([7; 32]));
        assert_eq!(holder.pair().public().encode(), GOLDEN_PUBLIC);
        assert_eq!(
            holder.unwrap(GOLDEN_WRAPPED, "golden").unwrap().bytes(),
            &[42; 32]
        );
    }

    const GOLDEN_PUBLIC: &str = "pk1.E75P6uryBMf9M1j8nAByGIHRdCeBKCJ-xnTzf3_pe20";
    const GOLDEN_WRAPPED: &str = "kw1.PJ8VLVYk5lMQcOkg3pjdS7sEJxTtuMaWmP5NgZWxOls7xS3bgC7b2aK73yf3Mn0QhG8Px_xIz2pwhlE8LbuYFjsg5pYwJ2wCGD2KODXPt6V1ZmLfLKBQYwf10jOx7n7kTX2yl2ONQYo";
}
