//! refuge-crypto: every cryptographic operation of refuge, in one place.
//!
//! - a 256-bit secret per user (their X25519 key pair's, or an older installation's data key),
//!   wrapped under a key-encryption key derived from the passphrase with Argon2id (and per API
//!   token under HKDF), with the duress marker;
//! - X25519 key pairs and envelopes that wrap keys to a public key (compartments, records);
//! - field sealing with XChaCha20-Poly1305 under HKDF-derived keys, bound by associated data
//!   to table, record, field and key version;
//! - an organisation recovery code (48 digits, a check digit per group) over an escrow (the
//!   recovery key pair's secret, or an older installation's data key);
//! - blind indexes (truncated HMAC-SHA256) for exact-match search and duplicate detection;
//! - exchange bundles: age files to the recipients' devices around a payload signed with the
//!   sender's Ed25519 key;
//! - SHA-256 hash chains for the event log and the access log.
//!
//! No `unwrap`, `expect` or `panic` outside tests: every failure is a [`CryptoError`].

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod backup;
mod bundle;
mod chain;
mod compartment;
mod keys;
mod recovery;
mod seal;
mod token;

pub use backup::{Written, decrypt_backup, digest, encrypt_backup};
pub use bundle::{
    BUNDLE_MAGIC, DeviceKeys, DevicePublic, MAX_BUNDLE_BYTES, MAX_HEADER_BYTES, MAX_STANZAS,
    Opened, check_envelope, open_bundle, seal_bundle,
};
pub use chain::{chain_hash, constant_time_eq, sha256_hex};
pub use compartment::{Envelope, Holder, KeyPair, PublicKey};
pub use keys::{
    DuressUnlock, KdfParams, SecretKey, Unlocked, WrappedKey, fill_random, generated_bytes,
    random_bytes,
};
pub use recovery::RecoveryCode;
pub use seal::{FieldContext, KEY_VERSION, Revealed, Sealer};
pub use token::TokenWrappedKey;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The passphrase (or token) did not unwrap the key. Deliberately says nothing more.
    #[error("wrong user name or passphrase")]
    WrongPassphrase,
    #[error(
        "key derivation parameters below the floor (m={m_kib} KiB, t={t}, p={p}; floor m=65536 KiB, t=3, p=4)"
    )]
    WeakParameters { m_kib: u32, t: u32, p: u32 },
    #[error("malformed {what}")]
    Malformed { what: &'static str },
    /// A backup file could not be written or opened (age's reason: altered, cut short, or
    /// for another key).
    #[error("backup: {0}")]
    Backup(String),
    /// An exchange bundle could not be written, or was refused (why, in words that carry no
    /// protected value).
    #[error("{0}")]
    Bundle(String),
    /// A sealed value failed authentication: tampered with, or moved to another record or field.
    #[error("sealed value for {context} failed authentication (tampered with or moved)")]
    Tampered { context: String },
    #[error("sealed with key version {0}, which this installation does not have")]
    UnknownKeyVersion(u32),
    #[error("it has 48 digits in 8 groups of 6; this one has {digits}")]
    RecoveryCodeLength { digits: usize },
    #[error("it is digits only (spaces or dashes between the groups are fine)")]
    RecoveryCodeCharacter,
    #[error("group {group} is mistyped: one of its six digits is wrong")]
    RecoveryCodeGroup { group: usize },
    #[error("this one does not open this organisation")]
    WrongRecoveryCode,
    #[error("must differ from your passphrase")]
    DuressIsPassphrase,
    #[error("is your duress passphrase: choose another")]
    PassphraseIsDuress,
    #[error("the system random number generator failed")]
    Random,
    #[error("key derivation failed")]
    Kdf,
}
