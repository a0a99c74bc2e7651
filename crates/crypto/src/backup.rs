//! Backup files: age files (X25519 recipients) to the organisation's recovery key pair, so a
//! backup opens with the recovery code and nothing on the laptop. The key pairs of refuge are
//! plain X25519, as age's are; they cross over as age's Bech32 texts.

use crate::CryptoError;
use crate::compartment::{KeyPair, PublicKey};
use bech32::{Bech32, Hrp};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::str::FromStr;
use zeroize::Zeroize;

fn failed(what: &str) -> impl Fn(&dyn std::fmt::Display) -> CryptoError + '_ {
    move |error| CryptoError::Backup(format!("{what}: {error}"))
}

pub(crate) fn age_recipient(public: &PublicKey) -> Result<age::x25519::Recipient, CryptoError> {
    let hrp = Hrp::parse("age").map_err(|e| failed("recipient")(&e))?;
    let text =
        bech32::encode::<Bech32>(hrp, public.bytes()).map_err(|e| failed("recipient")(&e))?;
    age::x25519::Recipient::from_str(&text).map_err(|e| failed("recipient")(&e))
}

pub(crate) fn age_identity(pair: &KeyPair) -> Result<age::x25519::Identity, CryptoError> {
    let hrp = Hrp::parse("age-secret-key-").map_err(|e| failed("identity")(&e))?;
    let secret = pair.secret();
    let mut text = bech32::encode::<Bech32>(hrp, secret.bytes())
        .map_err(|e| failed("identity")(&e))?
        .to_uppercase();
    let parsed = age::x25519::Identity::from_str(&text).map_err(|e| failed("identity")(&e));
    text.zeroize();
    parsed
}

/// The X25519 public key an age recipient (`age1…`) stands for.
pub(crate) fn public_of(recipient: &age::x25519::Recipient) -> Result<PublicKey, CryptoError> {
    let malformed = || CryptoError::Malformed {
        what: "age recipient",
    };
    let (hrp, bytes) = bech32::decode(&recipient.to_string()).map_err(|_| malformed())?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| malformed())?;
    if hrp.as_str() != "age" {
        return Err(malformed());
    }
    Ok(PublicKey(bytes))
}

/// What `encrypt_backup` wrote: how many bytes, and their SHA-256 (hex), to check the file
/// read back against.
#[derive(Debug, PartialEq, Eq)]
pub struct Written {
    pub bytes: u64,
    pub sha256: String,
}

/// Writes `header` (a line in the clear), then `plain` encrypted to `recipients` (an age
/// file).
pub fn encrypt_backup(
    header: &[u8],
    plain: &mut dyn Read,
    out: &mut dyn Write,
    recipients: &[PublicKey],
) -> Result<Written, CryptoError> {
    let recipients = recipients
        .iter()
        .map(age_recipient)
        .collect::<Result<Vec<_>, _>>()?;
    let encryptor = age::Encryptor::with_recipients(
        recipients
            .iter()
            .map(|recipient| recipient as &dyn age::Recipient),
    )
    .map_err(|e| failed("encrypting")(&e))?;
    let mut counting = Counting {
        inner: out,
        bytes: 0,
        hash: Sha256::new(),
    };
    counting
        .write_all(header)
        .map_err(|e| failed("writing")(&e))?;
    let mut writer = encryptor
        .wrap_output(&mut counting)
        .map_err(|e| failed("encrypting")(&e))?;
    std::io::copy(plain, &mut writer).map_err(|e| failed("encrypting")(&e))?;
    writer.finish().map_err(|e| failed("encrypting")(&e))?;
    Ok(Written {
        bytes: counting.bytes,
        sha256: hex(&counting.hash.finalize()),
    })
}

/// The size and SHA-256 of what `input` holds (a backup read back).
pub fn digest(input: &mut dyn Read) -> Result<Written, CryptoError> {
    let mut counting = Counting {
        inner: &mut std::io::sink(),
        bytes: 0,
        hash: Sha256::new(),
    };
    std::io::copy(input, &mut counting).map_err(|e| failed("reading back")(&e))?;
    Ok(Written {
        bytes: counting.bytes,
        sha256: hex(&counting.hash.finalize()),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Decrypts an age file made by `encrypt_backup` with the key pair it was made for. Any
/// altered or missing byte fails (age authenticates every chunk and the end).
pub fn decrypt_backup(
    encrypted: &mut dyn Read,
    out: &mut dyn Write,
    pair: &KeyPair,
) -> Result<u64, CryptoError> {
    let identity = age_identity(pair)?;
    let decryptor =
        age::Decryptor::new(encrypted).map_err(|e| failed("the backup's header")(&e))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| failed("opening the backup")(&e))?;
    std::io::copy(&mut reader, out).map_err(|e| failed("reading the backup")(&e))
}

/// Passes writes on, counting and hashing them.
struct Counting<'a> {
    inner: &'a mut dyn Write,
    bytes: u64,
    hash: Sha256,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.bytes += written as u64;
        self.hash.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_opens_with_its_key_pair_only_and_whole() {
        let pair = KeyPair::generate().unwrap();
        let plain = b"synthetic database bytes ".repeat(10_000);
        let mut encrypted = Vec::new();
        let written =
            encrypt_backup(b"", &mut &plain[..], &mut encrypted, &[pair.public()]).unwrap();
        assert_eq!(digest(&mut &encrypted[..]).unwrap(), written);
        let mut opened = Vec::new();
        decrypt_backup(&mut &encrypted[..], &mut opened, &pair).unwrap();
        assert_eq!(opened, plain);

        let other = KeyPair::generate().unwrap();
        assert!(decrypt_backup(&mut &encrypted[..], &mut Vec::new(), &other).is_err());
        let mut flipped = encrypted.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 1;
        assert!(decrypt_backup(&mut &flipped[..], &mut Vec::new(), &pair).is_err());
        let truncated = &encrypted[..encrypted.len() - 10];
        assert!(decrypt_backup(&mut &truncated[..], &mut Vec::new(), &pair).is_err());
    }
}
