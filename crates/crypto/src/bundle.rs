//! Exchange bundles between installations (docs/exchange.md): an age file (X25519 recipients,
//! one per recipient device) around `refuge-bundle/v1`, a manifest, the sender's Ed25519
//! signature and the payload. Size, header and stanza count are checked before any
//! cryptography runs.

use crate::CryptoError;
use crate::backup::{age_identity, age_recipient};
use crate::chain::sha256_hex;
use crate::compartment::{KeyPair, PublicKey};
use crate::keys::SecretKey;
use crate::seal::Revealed;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use sha2::Sha256;
use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;
use zeroize::Zeroize;

/// The first line of a bundle's plaintext.
pub const BUNDLE_MAGIC: &str = "refuge-bundle/v1";
/// More recipient stanzas than this are refused unread (a bundle goes to a few devices).
pub const MAX_STANZAS: usize = 32;
/// An age header longer than this is refused unread (32 X25519 stanzas take about 4 KiB).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// A bundle file larger than this is refused unread.
pub const MAX_BUNDLE_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// The manifest line is at most this long (a manifest lists a few dozen hashes).
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;

const AGE_HEADER: &[u8] = b"age-encryption.org/v1\n";
const PUBLIC_PREFIX: &str = "refuge-device1:";

fn problem(what: impl fmt::Display) -> CryptoError {
    CryptoError::Bundle(what.to_string())
}

/// This installation's exchange identity: an Ed25519 signing key and an X25519 key pair that
/// bundles are encrypted to, both derived from one stored secret (a record key of the
/// organisation compartment, so rotation and duress treat it like every other key).
pub struct DeviceKeys {
    signing: SigningKey,
    exchange: KeyPair,
}

impl fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DeviceKeys({}, secrets redacted)",
            self.public().fingerprint()
        )
    }
}

fn derive(secret: &SecretKey, purpose: &str) -> Result<[u8; 32], CryptoError> {
    let hkdf = Hkdf::<Sha256>::new(Some(b"refuge/device/v1"), secret.bytes());
    let mut out = [0u8; 32];
    hkdf.expand(purpose.as_bytes(), &mut out)
        .map_err(|_| CryptoError::Kdf)?;
    Ok(out)
}

impl DeviceKeys {
    pub fn from_secret(secret: &SecretKey) -> Result<Self, CryptoError> {
        let mut signing = derive(secret, "signing")?;
        let key = SigningKey::from_bytes(&signing);
        signing.zeroize();
        let exchange = SecretKey::from_bytes(derive(secret, "exchange")?);
        Ok(DeviceKeys {
            signing: key,
            exchange: KeyPair::from_secret(&exchange),
        })
    }

    pub fn public(&self) -> DevicePublic {
        DevicePublic {
            signing: self.signing.verifying_key(),
            exchange: self.exchange.public(),
        }
    }

    /// The X25519 identity as age writes it (`AGE-SECRET-KEY-1…`), for opening a bundle with
    /// the standard `age` tool in an emergency.
    pub fn age_identity(&self) -> Result<Revealed, CryptoError> {
        use age::secrecy::ExposeSecret;
        let text = age_identity(&self.exchange)?.to_string();
        Ok(Revealed::new(text.expose_secret().to_string()))
    }
}

/// Another installation's public identity, as `refuge node keys` prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct DevicePublic {
    signing: VerifyingKey,
    exchange: PublicKey,
}

impl fmt::Debug for DevicePublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublic({})", self.fingerprint())
    }
}

impl DevicePublic {
    /// `refuge-device1:<Ed25519 key, base64url>:<age recipient>`.
    pub fn encode(&self) -> Result<String, CryptoError> {
        Ok(format!(
            "{PUBLIC_PREFIX}{}:{}",
            B64.encode(self.signing.as_bytes()),
            age_recipient(&self.exchange)?
        ))
    }

    pub fn decode(text: &str) -> Result<Self, CryptoError> {
        let malformed = || CryptoError::Malformed {
            what: "device key (refuge-device1:…:age1…)",
        };
        let rest = text
            .trim()
            .strip_prefix(PUBLIC_PREFIX)
            .ok_or_else(malformed)?;
        let (signing, recipient) = rest.split_once(':').ok_or_else(malformed)?;
        let signing: [u8; 32] = B64
            .decode(signing)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(malformed)?;
        let signing = VerifyingKey::from_bytes(&signing).map_err(|_| malformed())?;
        let recipient = age::x25519::Recipient::from_str(recipient).map_err(|_| malformed())?;
        Ok(DevicePublic {
            signing,
            exchange: crate::backup::public_of(&recipient)?,
        })
    }

    /// Twenty hex digits in groups of four, to compare aloud: the first 80 bits of the
    /// SHA-256 of the Ed25519 key and the X25519 key.
    pub fn fingerprint(&self) -> String {
        let mut both = self.signing.as_bytes().to_vec();
        both.extend_from_slice(self.exchange.bytes());
        let hex = sha256_hex(&both);
        hex.as_bytes()[..20]
            .chunks(4)
            .map(|group| String::from_utf8_lossy(group).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// What is signed: the magic, the manifest and the payload's SHA-256.
fn signed_message(manifest: &[u8], payload_sha256: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(BUNDLE_MAGIC.len() + manifest.len() + 66);
    message.extend_from_slice(BUNDLE_MAGIC.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(manifest);
    message.push(b'\n');
    message.extend_from_slice(payload_sha256.as_bytes());
    message
}

/// Writes a bundle: `manifest` (one line of JSON) and `payload`, signed by `sender`, encrypted
/// to `recipients`.
pub fn seal_bundle(
    manifest: &[u8],
    payload: &[u8],
    sender: &DeviceKeys,
    recipients: &[DevicePublic],
    out: &mut dyn Write,
) -> Result<(), CryptoError> {
    if recipients.is_empty() || recipients.len() > MAX_STANZAS {
        return Err(problem(format!(
            "a bundle goes to 1 to {MAX_STANZAS} devices, not {}",
            recipients.len()
        )));
    }
    if manifest.contains(&b'\n') || manifest.len() > MAX_MANIFEST_BYTES {
        return Err(problem("the manifest is not one line of at most 1 MiB"));
    }
    let signature = sender
        .signing
        .sign(&signed_message(manifest, &sha256_hex(payload)));
    let recipients = recipients
        .iter()
        .map(|device| age_recipient(&device.exchange))
        .collect::<Result<Vec<_>, _>>()?;
    let encryptor = age::Encryptor::with_recipients(
        recipients
            .iter()
            .map(|recipient| recipient as &dyn age::Recipient),
    )
    .map_err(|e| problem(format!("encrypting: {e}")))?;
    let mut writer = encryptor
        .wrap_output(out)
        .map_err(|e| problem(format!("encrypting: {e}")))?;
    let write = |writer: &mut dyn Write, bytes: &[u8]| {
        writer
            .write_all(bytes)
            .map_err(|e| problem(format!("writing: {e}")))
    };
    write(&mut writer, BUNDLE_MAGIC.as_bytes())?;
    write(&mut writer, b"\n")?;
    write(&mut writer, manifest)?;
    write(&mut writer, b"\n")?;
    write(&mut writer, B64.encode(signature.to_bytes()).as_bytes())?;
    write(&mut writer, b"\n")?;
    write(&mut writer, payload)?;
    writer
        .finish()
        .map_err(|e| problem(format!("encrypting: {e}")))?;
    Ok(())
}

/// The checks that run before any cryptography: the file's size, that it is an age file, the
/// header's length and its number of recipient stanzas.
pub fn check_envelope(file: &[u8]) -> Result<(), CryptoError> {
    if file.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(problem(format!(
            "the file is {} bytes, over the cap of {MAX_BUNDLE_BYTES}",
            file.len()
        )));
    }
    if !file.starts_with(AGE_HEADER) {
        return Err(problem("not a bundle: it does not start as an age file"));
    }
    let window = &file[..file.len().min(MAX_HEADER_BYTES + 1)];
    let end = window
        .windows(4)
        .position(|four| four == b"\n---")
        .ok_or_else(|| {
            problem(format!(
                "the header is over its cap of {MAX_HEADER_BYTES} bytes, or cut short"
            ))
        })?;
    let stanzas = window[..end]
        .split(|byte| *byte == b'\n')
        .filter(|line| line.starts_with(b"-> "))
        .count();
    if stanzas > MAX_STANZAS {
        return Err(problem(format!(
            "{stanzas} recipient stanzas, over the cap of {MAX_STANZAS}"
        )));
    }
    Ok(())
}

/// A bundle decrypted, its signature not checked yet: the manifest tells who the sender
/// claims to be, whose key then checks it (`verify`).
pub struct Opened {
    pub manifest: Vec<u8>,
    signature: Signature,
    pub payload: Vec<u8>,
    pub payload_sha256: String,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Opened({} payload bytes)", self.payload.len())
    }
}

impl Opened {
    /// Whether `sender` signed this manifest and payload.
    pub fn verify(&self, sender: &DevicePublic) -> Result<(), CryptoError> {
        sender
            .signing
            .verify_strict(
                &signed_message(&self.manifest, &self.payload_sha256),
                &self.signature,
            )
            .map_err(|_| {
                problem("the signature does not match the sender's key: altered, or not theirs")
            })
    }
}

/// Checks the envelope, then decrypts `file` with this device's key. Any flipped bit or
/// truncation fails here (age authenticates every chunk and the end) or at `verify`.
pub fn open_bundle(file: &[u8], device: &DeviceKeys) -> Result<Opened, CryptoError> {
    check_envelope(file)?;
    let identity = age_identity(&device.exchange)?;
    let decryptor = age::Decryptor::new_buffered(file)
        .map_err(|e| problem(format!("the header is damaged: {e}")))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => {
                problem("it is not for this installation (no recipient stanza opens with its key)")
            }
            other => problem(format!("it does not decrypt: {other}")),
        })?;
    let mut plain = Vec::new();
    reader
        .read_to_end(&mut plain)
        .map_err(|e| problem(format!("altered or cut short: {e}")))?;
    parse_plain(plain)
}

fn parse_plain(mut plain: Vec<u8>) -> Result<Opened, CryptoError> {
    let mut lines = Vec::with_capacity(3);
    let mut start = 0;
    for _ in 0..3 {
        let end = plain[start..]
            .iter()
            .take(MAX_MANIFEST_BYTES + 1)
            .position(|byte| *byte == b'\n')
            .ok_or_else(|| {
                problem("the contents are not a refuge bundle (magic, manifest, signature)")
            })?;
        lines.push(plain[start..start + end].to_vec());
        start += end + 1;
    }
    if lines[0] != BUNDLE_MAGIC.as_bytes() {
        return Err(problem(format!(
            "not a {BUNDLE_MAGIC} bundle (an unknown format version)"
        )));
    }
    let signature: [u8; 64] = B64
        .decode(&lines[2])
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| problem("the signature line is malformed"))?;
    let payload = plain.split_off(start);
    let payload_sha256 = sha256_hex(&payload);
    Ok(Opened {
        manifest: lines.swap_remove(1),
        signature: Signature::from_bytes(&signature),
        payload,
        payload_sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(byte: u8) -> DeviceKeys {
        DeviceKeys::from_secret(&SecretKey::from_bytes([byte; 32])).unwrap()
    }

    fn sealed(sender: &DeviceKeys, to: &[DevicePublic]) -> Vec<u8> {
        let mut out = Vec::new();
        seal_bundle(
            br#"{"format":1}"#,
            b"synthetic payload",
            sender,
            to,
            &mut out,
        )
        .unwrap();
        out
    }

    #[test]
    fn a_bundle_opens_for_its_recipient_and_verifies_against_its_sender_only() {
        let (sender, reader, stranger) = (device(1), device(2), device(3));
        let file = sealed(&sender, &[reader.public()]);
        let opened = open_bundle(&file, &reader).unwrap();
        assert_eq!(opened.manifest, br#"{"format":1}"#);
        assert_eq!(opened.payload, b"synthetic payload");
        opened.verify(&sender.public()).unwrap();
        assert!(opened.verify(&stranger.public()).is_err());
        let error = open_bundle(&file, &stranger).unwrap_err().to_string();
        assert!(error.contains("not for this installation"), "{error}");
    }

    #[test]
    fn every_flipped_bit_and_every_truncation_is_refused() {
        let (sender, reader) = (device(1), device(2));
        let file = sealed(&sender, &[reader.public()]);
        let opens = |bytes: &[u8]| {
            open_bundle(bytes, &reader).and_then(|opened| opened.verify(&sender.public()))
        };
        for index in 0..file.len() {
            for bit in [0x01, 0x80] {
                let mut flipped = file.clone();
                flipped[index] ^= bit;
                assert!(opens(&flipped).is_err(), "bit {bit:#x} of byte {index}");
            }
        }
        for length in 0..file.len() {
            assert!(opens(&file[..length]).is_err(), "cut at {length}");
        }
    }

    #[test]
    fn too_many_stanzas_or_too_long_a_header_is_refused_before_cryptography() {
        let mut header = AGE_HEADER.to_vec();
        for _ in 0..33 {
            header.extend_from_slice(b"-> X25519 c3ludGhldGlj\nc3ludGhldGlj\n");
        }
        header.extend_from_slice(b"--- mac\n");
        let error = check_envelope(&header).unwrap_err().to_string();
        assert!(error.contains("33 recipient stanzas"), "{error}");
        let mut long = AGE_HEADER.to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_HEADER_BYTES + 10));
        let error = check_envelope(&long).unwrap_err().to_string();
        assert!(error.contains("over its cap"), "{error}");
        assert!(check_envelope(b"synthetic text").is_err());
    }

    #[test]
    fn a_device_key_reads_back_and_its_fingerprint_is_stable() {
        let public = device(7).public();
        let text = public.encode().unwrap();
        assert!(text.starts_with("refuge-device1:"), "{text}");
        assert_eq!(DevicePublic::decode(&text).unwrap(), public);
        assert_eq!(public.fingerprint().len(), 24);
        assert_ne!(public.fingerprint(), device(8).public().fingerprint());
        assert!(DevicePublic::decode("refuge-device1:abc:age1xyz").is_err());
        assert!(DevicePublic::decode(&text.replace("refuge-device1:", "")).is_err());
    }

    /// The format pinned: this file was written by `seal_bundle` for device 2 from device 1
    /// (regenerate with `REFUGE_WRITE_GOLDEN=1`; docs/exchange.md describes it).
    #[test]
    fn the_golden_bundle_still_opens() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/bundle-v1.age");
        if std::env::var_os("REFUGE_WRITE_GOLDEN").is_some() {
            std::fs::write(path, sealed(&device(1), &[device(2).public()])).unwrap();
        }
        let file = std::fs::read(path).unwrap();
        let opened = open_bundle(&file, &device(2)).unwrap();
        opened.verify(&device(1).public()).unwrap();
        assert_eq!(opened.manifest, br#"{"format":1}"#);
        assert_eq!(opened.payload, b"synthetic payload");
    }
}
