//! Where a person wants to go after the transit country: a country, not decided yet, or
//! nowhere (not every defector wants to settle in the South). Recorded as a fact of the
//! person, with the day it was said; the planner seats a household only on a transfer going
//! where its members want to go.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A destination wish. Stored and typed as text: a two-letter ISO 3166-1 country code
/// ("KR"), `undecided`, or `stay` (does not want to move on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DestinationWish {
    /// The country, as two upper-case ASCII letters.
    Country([u8; 2]),
    Undecided,
    Stay,
}

/// Text that is not a destination wish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a destination wish (expected a two-letter country code such as KR, \
     undecided, or stay)"
)]
pub struct NotAWish(pub String);

impl DestinationWish {
    /// The country wished for, as "KR"; `None` when undecided or staying.
    pub fn country(&self) -> Option<&str> {
        match self {
            // Two ASCII letters by construction.
            DestinationWish::Country(code) => std::str::from_utf8(code).ok(),
            DestinationWish::Undecided | DestinationWish::Stay => None,
        }
    }

    /// The country `text` names ("kr" is KR); `None` for anything else, `undecided` and
    /// `stay` included (a transfer or a forecast goes to a country).
    pub fn parse_country(text: &str) -> Option<DestinationWish> {
        text.parse::<DestinationWish>()
            .ok()
            .filter(|wish| wish.country().is_some())
    }

    /// Whether a transfer going to `country` (ISO alpha-2, any case) takes this person.
    pub fn allows(&self, country: &str) -> bool {
        self.country()
            .is_some_and(|wanted| wanted.eq_ignore_ascii_case(country.trim()))
    }

    /// The word for the two wishes that are not a country (for translations), else `None`.
    pub fn word(&self) -> Option<&'static str> {
        match self {
            DestinationWish::Country(_) => None,
            DestinationWish::Undecided => Some("undecided"),
            DestinationWish::Stay => Some("stay"),
        }
    }
}

impl fmt::Display for DestinationWish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.country().or(self.word()).unwrap_or_default())
    }
}

impl FromStr for DestinationWish {
    type Err = NotAWish;

    fn from_str(text: &str) -> Result<Self, NotAWish> {
        let trimmed = text.trim();
        match trimmed.to_ascii_lowercase().as_str() {
            "undecided" => return Ok(DestinationWish::Undecided),
            "stay" => return Ok(DestinationWish::Stay),
            _ => {}
        }
        match trimmed.as_bytes() {
            [first, second] if first.is_ascii_alphabetic() && second.is_ascii_alphabetic() => {
                Ok(DestinationWish::Country([
                    first.to_ascii_uppercase(),
                    second.to_ascii_uppercase(),
                ]))
            }
            _ => Err(NotAWish(text.chars().take(40).collect())),
        }
    }
}

impl Serialize for DestinationWish {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DestinationWish {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wishes_read_as_they_are_typed_and_are_written_one_way() {
        assert_eq!(
            " kr ".parse::<DestinationWish>(),
            Ok(DestinationWish::Country(*b"KR"))
        );
        assert_eq!("Undecided".parse(), Ok(DestinationWish::Undecided));
        assert_eq!("STAY".parse(), Ok(DestinationWish::Stay));
        for wish in ["KR", "undecided", "stay"] {
            let parsed: DestinationWish = wish.parse().unwrap();
            assert_eq!(parsed.to_string(), wish);
            assert_eq!(
                serde_json::to_string(&parsed).unwrap(),
                format!("\"{wish}\"")
            );
        }
        for wrong in ["", "K", "KOR", "K1", "한국", "maybe"] {
            let error = wrong.parse::<DestinationWish>().unwrap_err().to_string();
            assert!(error.contains("two-letter country code"), "{error}");
        }
    }

    #[test]
    fn only_a_country_is_a_destination_country() {
        assert_eq!(
            DestinationWish::parse_country(" kr"),
            Some(DestinationWish::Country(*b"KR"))
        );
        for not_a_country in ["undecided", "stay", "KOR", ""] {
            assert_eq!(DestinationWish::parse_country(not_a_country), None);
        }
    }

    #[test]
    fn only_the_country_wished_for_allows_a_transfer() {
        let korea: DestinationWish = "KR".parse().unwrap();
        assert!(korea.allows("kr"));
        assert!(!korea.allows("CA"));
        assert!(!DestinationWish::Undecided.allows("KR"));
        assert!(!DestinationWish::Stay.allows("KR"));
    }
}
