//! Typed ids (UUIDv7 newtypes) and short human codes.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    PersonId,
    HouseholdId,
    LocationId,
    IncidentId,
    NoteId,
    BatchId,
    UserId,
    NodeId,
    EventId
);

/// Crockford base32 without I, L, O, U: codes can be read aloud and typed without confusion.
pub const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters after the prefix: 32^5 = 33.5 million codes per kind.
pub const CODE_LEN: usize = 5;

/// The kind of record a short code names, by its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeKind {
    Person,
    Household,
    Incident,
    Batch,
}

impl CodeKind {
    pub fn prefix(self) -> char {
        match self {
            CodeKind::Person => 'P',
            CodeKind::Household => 'H',
            CodeKind::Incident => 'I',
            CodeKind::Batch => 'B',
        }
    }

    /// Builds a code from random bytes supplied by the caller (core owns no randomness).
    pub fn code_from_random(self, random: [u8; CODE_LEN]) -> String {
        let mut code = String::with_capacity(CODE_LEN + 2);
        code.push(self.prefix());
        code.push('-');
        for byte in random {
            code.push(CODE_ALPHABET[usize::from(byte & 31)] as char);
        }
        code
    }

    /// The kind of a code as typed by a user (case-insensitive), if it is well formed. A
    /// record received from another installation whose code is taken here has a local code:
    /// its own, `@` and the peer's name (`P-7K3M9@SHELTER-A`).
    pub fn of_code(code: &str) -> Option<CodeKind> {
        let upper = code.trim().to_ascii_uppercase();
        let (own, peer) = upper.split_once('@').unwrap_or((&upper, "X"));
        let peer_is_a_name = !peer.is_empty()
            && peer
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !peer_is_a_name {
            return None;
        }
        let (prefix, rest) = own.split_once('-')?;
        if rest.len() != CODE_LEN || !rest.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
            return None;
        }
        match prefix {
            "P" => Some(CodeKind::Person),
            "H" => Some(CodeKind::Household),
            "I" => Some(CodeKind::Incident),
            "B" => Some(CodeKind::Batch),
            _ => None,
        }
    }
}

/// Normalises a code as typed (trimmed, upper case).
pub fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_their_kind() {
        let code = CodeKind::Person.code_from_random([0, 1, 30, 31, 255]);
        assert_eq!(code, "P-01YZZ");
        assert_eq!(CodeKind::of_code("p-01yzz"), Some(CodeKind::Person));
        assert_eq!(CodeKind::of_code("P-01YZ"), None);
        assert_eq!(CodeKind::of_code("X-01YZZ"), None);
        assert_eq!(
            CodeKind::of_code("H-0IYZZ"),
            None,
            "I is not in the alphabet"
        );
        assert_eq!(
            CodeKind::of_code("p-01yzz@shelter-a"),
            Some(CodeKind::Person),
            "a local code of a received record"
        );
        assert_eq!(CodeKind::of_code("P-01YZZ@"), None);
        assert_eq!(CodeKind::of_code("P-01YZZ@two words"), None);
    }
}
