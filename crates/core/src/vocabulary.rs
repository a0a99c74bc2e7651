//! Closed vocabularies: sets of names that are stored, typed and shown as snake_case words.

/// An unknown name for one of the closed vocabularies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{given}' (expected one of: {expected})")]
pub struct UnknownName {
    pub what: &'static str,
    pub given: String,
    pub expected: String,
}

/// What every closed vocabulary has, for code that shows any of them: the vocabulary's name
/// and each word (a page translates it from these, never from an English text).
pub trait Vocabulary: Copy + 'static {
    /// The vocabulary's name, as in its error messages ("stage", "incident kind").
    const NAME: &'static str;
    /// Every word, in declaration order.
    fn all() -> &'static [Self];
    fn word(self) -> &'static str;
}

/// A closed vocabulary stored and typed as snake_case words: the enum, `ALL` in declaration
/// order, `as_str`, `Display` (the word) and `FromStr` (case-insensitive, with an error that
/// lists the words). The one mechanism for every closed set of names in refuge.
#[macro_export]
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$doc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[$doc])* #[serde(rename = $text)] $variant, )*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl $crate::Vocabulary for $name {
            const NAME: &'static str = $what;
            fn all() -> &'static [Self] {
                $name::ALL
            }
            fn word(self) -> &'static str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownName;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let wanted = text.trim().to_ascii_lowercase();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|item| item.as_str() == wanted)
                    .ok_or_else(|| $crate::UnknownName {
                        what: $what,
                        given: text.to_string(),
                        expected: $name::ALL.iter().map(|item| item.as_str()).collect::<Vec<_>>().join(", "),
                    })
            }
        }
    };
}
