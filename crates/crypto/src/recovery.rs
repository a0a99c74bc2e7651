//! The organisation recovery code: 48 digits in 8 groups of 6, each group ending in a check
//! digit, as BitLocker's recovery password is laid out. It is printed once and wraps an escrow
//! copy of the organisation's keys, so that an organisation whose every admin has forgotten
//! their passphrase is not lost.
//!
//! Each group is 5 random digits and a Damm check digit computed over the group's position
//! and its 5 digits: a mistyped digit, two neighbouring digits swapped, or a whole group typed
//! in the wrong place is caught group by group, before any key is tried. The 40 random digits
//! (132 bits) are the secret; a code that passes every check but is not this organisation's
//! fails the wrap's authentication tag.

use crate::CryptoError;
use crate::keys::{SecretKey, random_bytes};
use crate::seal::Revealed;
use crate::token::TokenWrappedKey;
use hkdf::Hkdf;
use sha2::Sha256;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

const RECOVERY_GROUPS: usize = 8;
const RANDOM_DIGITS_PER_GROUP: usize = 5;
const DIGITS_PER_GROUP: usize = RANDOM_DIGITS_PER_GROUP + 1;
/// 48.
const RECOVERY_DIGITS: usize = RECOVERY_GROUPS * DIGITS_PER_GROUP;
/// Bound as associated data of the escrow wrap.
const ESCROW_CONTEXT: &str = "recovery-escrow";

/// Damm's quasigroup of order 10: catches every single-digit error and every swap of two
/// neighbouring digits.
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

fn damm(digits: impl IntoIterator<Item = u8>) -> u8 {
    digits.into_iter().fold(0, |interim, digit| {
        DAMM[usize::from(interim)][usize::from(digit)]
    })
}

/// The check digit of group `position` (0-based) with these random digits.
fn check_digit(position: usize, random: &[u8]) -> u8 {
    // The position is a single digit (0..8), so a group typed in another slot fails too.
    damm(std::iter::once(position as u8).chain(random.iter().copied()))
}

/// A recovery code: no `Clone`, redacted `Debug`, zeroed on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RecoveryCode {
    /// All 48 digits (0..=9), check digits included.
    digits: [u8; RECOVERY_DIGITS],
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(redacted)")
    }
}

impl RecoveryCode {
    /// A fresh code from the operating system's random number generator.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut digits = [0u8; RECOVERY_DIGITS];
        for group in 0..RECOVERY_GROUPS {
            let start = group * DIGITS_PER_GROUP;
            for slot in &mut digits[start..start + RANDOM_DIGITS_PER_GROUP] {
                *slot = random_digit()?;
            }
            digits[start + RANDOM_DIGITS_PER_GROUP] =
                check_digit(group, &digits[start..start + RANDOM_DIGITS_PER_GROUP]);
        }
        Ok(RecoveryCode { digits })
    }

    /// Reads a code as typed: digits, with any spaces or dashes between them. The error says
    /// which group is wrong, never what was typed.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let mut digits = [0u8; RECOVERY_DIGITS];
        let mut count = 0;
        for character in text.chars() {
            if character == '-' || character.is_whitespace() {
                continue;
            }
            let digit = character
                .to_digit(10)
                .ok_or(CryptoError::RecoveryCodeCharacter)?;
            if count < RECOVERY_DIGITS {
                digits[count] = digit as u8;
            }
            count += 1;
        }
        if count != RECOVERY_DIGITS {
            digits.zeroize();
            return Err(CryptoError::RecoveryCodeLength { digits: count });
        }
        let code = RecoveryCode { digits };
        for group in 0..RECOVERY_GROUPS {
            let start = group * DIGITS_PER_GROUP;
            let random = &code.digits[start..start + RANDOM_DIGITS_PER_GROUP];
            if check_digit(group, random) != code.digits[start + RANDOM_DIGITS_PER_GROUP] {
                return Err(CryptoError::RecoveryCodeGroup { group: group + 1 });
            }
        }
        Ok(code)
    }

    /// The code as it is printed: 8 groups of 6 digits joined by dashes.
    pub fn text(&self) -> Revealed {
        let mut text = String::with_capacity(RECOVERY_DIGITS + RECOVERY_GROUPS);
        for (index, digit) in self.digits.iter().enumerate() {
            if index > 0 && index % DIGITS_PER_GROUP == 0 {
                text.push('-');
            }
            text.push(char::from(b'0' + digit));
        }
        Revealed::new(text)
    }

    /// The 256-bit secret derived from the 40 random digits (the check digits add nothing).
    fn secret(&self) -> Result<[u8; 32], CryptoError> {
        let mut random = [0u8; RECOVERY_GROUPS * RANDOM_DIGITS_PER_GROUP];
        for (group, chunk) in self.digits.chunks(DIGITS_PER_GROUP).enumerate() {
            for (offset, digit) in chunk[..RANDOM_DIGITS_PER_GROUP].iter().enumerate() {
                random[group * RANDOM_DIGITS_PER_GROUP + offset] = b'0' + digit;
            }
        }
        let hkdf = Hkdf::<Sha256>::new(Some(b"refuge/recovery/v1"), &random);
        random.zeroize();
        let mut secret = [0u8; 32];
        hkdf.expand(b"refuge/recovery-secret/v1", &mut secret)
            .map_err(|_| CryptoError::Kdf)?;
        Ok(secret)
    }

    /// Wraps `key` (the escrow) under this code. The code has 132 random bits, as strong as a
    /// key, so no slow key derivation is needed.
    pub fn wrap(&self, key: &SecretKey) -> Result<TokenWrappedKey, CryptoError> {
        let mut secret = self.secret()?;
        let wrapped = TokenWrappedKey::wrap(key, &secret, ESCROW_CONTEXT);
        secret.zeroize();
        wrapped
    }

    /// Opens the escrow; a code that is not this organisation's fails.
    pub fn unwrap_key(&self, wrapped: &TokenWrappedKey) -> Result<SecretKey, CryptoError> {
        let mut secret = self.secret()?;
        let key = wrapped.unwrap_key(&secret, ESCROW_CONTEXT);
        secret.zeroize();
        key.map_err(|_| CryptoError::WrongRecoveryCode)
    }
}

/// A uniformly random decimal digit (bytes of 250 and above are drawn again, so no digit is
/// likelier than another).
fn random_digit() -> Result<u8, CryptoError> {
    loop {
        let [byte] = random_bytes::<1>()?;
        if byte < 250 {
            return Ok(byte % 10);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_code_reads_back_and_opens_its_escrow_only() {
        let code = RecoveryCode::generate().unwrap();
        let text = code.text();
        assert_eq!(text.as_str().len(), RECOVERY_DIGITS + RECOVERY_GROUPS - 1);
        assert_eq!(text.as_str().split('-').count(), RECOVERY_GROUPS);
        let key = SecretKey::generate().unwrap();
        let escrow = code.wrap(&key).unwrap();
        let typed = text.as_str().replace('-', " ");
        let again = RecoveryCode::parse(&typed).unwrap();
        assert_eq!(again.unwrap_key(&escrow).unwrap().bytes(), key.bytes());
        let other = RecoveryCode::generate().unwrap();
        assert_eq!(
            other.unwrap_key(&escrow).unwrap_err(),
            CryptoError::WrongRecoveryCode
        );
    }

    #[test]
    fn every_single_digit_typo_and_neighbour_swap_is_caught_in_its_group() {
        let code = RecoveryCode::generate().unwrap();
        let digits: Vec<u8> = code.digits.to_vec();
        let render = |digits: &[u8]| {
            digits
                .iter()
                .map(|d| char::from(b'0' + d))
                .collect::<String>()
        };
        for index in 0..RECOVERY_DIGITS {
            for wrong in 0..10u8 {
                if wrong == digits[index] {
                    continue;
                }
                let mut typo = digits.clone();
                typo[index] = wrong;
                assert_eq!(
                    RecoveryCode::parse(&render(&typo)).unwrap_err(),
                    CryptoError::RecoveryCodeGroup {
                        group: index / DIGITS_PER_GROUP + 1
                    }
                );
            }
            let within_group = index % DIGITS_PER_GROUP != DIGITS_PER_GROUP - 1;
            if within_group && digits[index] != digits[index + 1] {
                let mut swapped = digits.clone();
                swapped.swap(index, index + 1);
                assert!(matches!(
                    RecoveryCode::parse(&render(&swapped)).unwrap_err(),
                    CryptoError::RecoveryCodeGroup { .. }
                ));
            }
        }
    }

    #[test]
    fn groups_in_the_wrong_order_wrong_lengths_and_letters_are_refused() {
        let code = RecoveryCode::generate().unwrap();
        let text = code.text();
        let mut groups: Vec<&str> = text.as_str().split('-').collect();
        if groups[0] != groups[1] {
            groups.swap(0, 1);
            assert!(matches!(
                RecoveryCode::parse(&groups.join("-")).unwrap_err(),
                CryptoError::RecoveryCodeGroup { group: 1 | 2 }
            ));
        }
        assert_eq!(
            RecoveryCode::parse(&text.as_str()[..20]).unwrap_err(),
            CryptoError::RecoveryCodeLength { digits: 18 }
        );
        assert_eq!(
            RecoveryCode::parse(&format!("{}1", text.as_str())).unwrap_err(),
            CryptoError::RecoveryCodeLength { digits: 49 }
        );
        assert_eq!(
            RecoveryCode::parse(&text.as_str().replacen('-', "/", 1)).unwrap_err(),
            CryptoError::RecoveryCodeCharacter
        );
        assert_eq!(
            RecoveryCode::parse("").unwrap_err(),
            CryptoError::RecoveryCodeLength { digits: 0 }
        );
    }

    /// Pins the layout and the derivation: a code printed by an earlier build must still
    /// parse and open its escrow.
    #[test]
    fn recovery_code_golden() {
        let code = RecoveryCode::parse(GOLDEN_CODE).unwrap();
        assert_eq!(code.text().as_str(), GOLDEN_CODE);
        let escrow = TokenWrappedKey::decode(GOLDEN_ESCROW).unwrap();
        assert_eq!(code.unwrap_key(&escrow).unwrap().bytes(), &[42; 32]);
    }

    const GOLDEN_CODE: &str = "753138-795081-622680-203386-286330-161666-614459-983160";
    const GOLDEN_ESCROW: &str = "rt1$o-Whm1m8k83cYzVu30rFRA$NJHTrlQgj5lL4km_bFdceDFHvobY1-aZ$5NlO5-YiMG5F5w7k4qUmGK-ChwEEPsvk2FLmZI_Kp4RJ2p2T_opEsPtARS1BUcxz";

    #[test]
    fn debug_is_redacted() {
        let code = RecoveryCode::generate().unwrap();
        assert_eq!(format!("{code:?}"), "RecoveryCode(redacted)");
    }
}
