//! Korean and English from Fluent resources (crates/web/locales).

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, static_loader};
// The same identifiers the use cases' reasons are rendered under.
use refuge_app::reason::{ENGLISH, KOREAN};
use refuge_core::Vocabulary;
use std::borrow::Cow;
use std::collections::HashMap;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en-US",
        // Fluent wraps arguments in isolation marks by default; pages do not want them.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    English,
    Korean,
}

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Lang::English => "en",
            Lang::Korean => "ko",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::English => Lang::Korean,
            Lang::Korean => Lang::English,
        }
    }

    pub fn from_tag(tag: &str) -> Option<Lang> {
        match tag {
            "en" => Some(Lang::English),
            "ko" => Some(Lang::Korean),
            _ => None,
        }
    }

    /// The first of Korean or English in an Accept-Language header (default English).
    pub fn from_accept_language(header: &str) -> Lang {
        for part in header.split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("ko") {
                return Lang::Korean;
            }
            if tag.starts_with("en") {
                return Lang::English;
            }
        }
        Lang::English
    }

    /// The Fluent language (the use cases' reasons are rendered in it).
    pub fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::English => &ENGLISH,
            Lang::Korean => &KOREAN,
        }
    }

    pub fn t(self, key: &str) -> String {
        LOCALES.lookup(self.id(), key)
    }

    /// A closed-vocabulary word in this language (locales/*/words.ftl): translated from
    /// the word, never from an English text.
    pub fn word<V: Vocabulary>(self, value: V) -> String {
        self.t(&word_key(value))
    }

    /// A destination wish: the country code, or "undecided" / "does not want to move on".
    pub fn wish(self, wish: &refuge_core::DestinationWish) -> String {
        match wish.word() {
            Some(word) => self.t(&format!("wish-{word}")),
            None => wish.to_string(),
        }
    }

    /// A word of the vocabulary named `vocabulary` (as a use case's reason carries it).
    pub fn vocabulary_word(self, vocabulary: &str, word: &str) -> String {
        self.t(&vocabulary_key(vocabulary, word))
    }

    /// Several words, comma-separated ("-" for none).
    pub fn words<V: Vocabulary>(self, values: impl IntoIterator<Item = V>) -> String {
        let words: Vec<String> = values.into_iter().map(|value| self.word(value)).collect();
        if words.is_empty() {
            "-".to_string()
        } else {
            words.join(", ")
        }
    }

    /// A message whose `$count` picks the plural form: passed as a number, since a text
    /// "1" never selects `[one]`.
    pub fn t_count(self, key: &str, count: u64) -> String {
        self.t_numbers(key, &[("count", count)])
    }

    /// A message with numbers (each may pick a plural form).
    pub fn t_numbers(self, key: &str, numbers: &[(&'static str, u64)]) -> String {
        self.t_numbers_and(key, numbers, &[])
    }

    /// A message with numbers and texts.
    pub fn t_numbers_and(
        self,
        key: &str,
        numbers: &[(&'static str, u64)],
        texts: &[(&'static str, String)],
    ) -> String {
        let mut args: HashMap<Cow<'static, str>, FluentValue> = texts
            .iter()
            .map(|(name, value)| (Cow::Borrowed(*name), FluentValue::from(value.clone())))
            .collect();
        for (name, value) in numbers {
            args.insert(Cow::Borrowed(*name), FluentValue::from(*value));
        }
        LOCALES.lookup_with_args(self.id(), key, &args)
    }

    pub fn t_args(self, key: &str, args: &[(&'static str, String)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(name, value)| (Cow::Borrowed(*name), FluentValue::from(value.clone())))
            .collect();
        LOCALES.lookup_with_args(self.id(), key, &args)
    }
}

/// `word-{vocabulary}-{word}`, the vocabulary's name with dashes for spaces: `word-stage-sheltered`,
/// `word-incident-kind-self_harm`.
fn word_key<V: Vocabulary>(value: V) -> String {
    vocabulary_key(V::NAME, value.word())
}

fn vocabulary_key(vocabulary: &str, word: &str) -> String {
    format!("word-{}-{word}", vocabulary.replace(' ', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use refuge_app::{AccessAction, Action};
    use refuge_core::*;

    fn keys_of<V: Vocabulary>() -> Vec<String> {
        V::all().iter().map(|value| word_key(*value)).collect()
    }

    #[test]
    fn every_word_of_every_vocabulary_is_translated() {
        let keys: Vec<String> = [
            keys_of::<Stage>(),
            keys_of::<LocationKind>(),
            keys_of::<Sex>(),
            keys_of::<Flag>(),
            keys_of::<HoldReason>(),
            keys_of::<IncidentKind>(),
            keys_of::<Wellbeing>(),
            keys_of::<Need>(),
            keys_of::<CheckReason>(),
            keys_of::<IncidentStatus>(),
            keys_of::<BatchStatus>(),
            keys_of::<BatchPin>(),
            keys_of::<Role>(),
            keys_of::<PersonField>(),
            keys_of::<AccessAction>(),
            keys_of::<Action>(),
        ]
        .concat();
        for (language, text) in [
            ("en-US", include_str!("../locales/en-US/words.ftl")),
            ("ko", include_str!("../locales/ko/words.ftl")),
        ] {
            let defined: Vec<&str> = text
                .lines()
                .filter_map(|line| line.split_once(" = ").map(|(key, _)| key))
                .collect();
            for key in &keys {
                assert!(defined.contains(&key.as_str()), "{language} lacks {key}");
            }
            assert_eq!(defined.len(), keys.len(), "{language}: no stray words");
        }
        assert_eq!(Lang::Korean.word(Stage::Sheltered), "보호소 대기");
        assert_eq!(Lang::English.word(Flag::SelfHarmRisk), "self-harm risk");
        assert_eq!(
            Lang::Korean.words([Flag::Minor, Flag::Elderly]),
            "미성년자, 고령자"
        );
    }

    #[test]
    fn counts_choose_the_plural_form() {
        assert_eq!(Lang::English.t_count("people-found", 1), "1 person found");
        assert_eq!(Lang::English.t_count("people-found", 2), "2 people found");
        assert_eq!(Lang::English.t_count("days-waited", 1), "1 day");
        assert_eq!(Lang::Korean.t_count("days-waited", 1), "1일");
    }

    #[test]
    fn both_languages_have_every_key() {
        let english = include_str!("../locales/en-US/main.ftl");
        let korean = include_str!("../locales/ko/main.ftl");
        let keys = |text: &str| -> Vec<String> {
            text.lines()
                .filter_map(|line| {
                    line.split_once(" = ")
                        .map(|(key, _)| key.trim().to_string())
                })
                .collect()
        };
        assert_eq!(keys(english), keys(korean));
        assert_eq!(Lang::Korean.t("nav-people"), "사람");
        assert_eq!(
            Lang::English.t_args(
                "signed-in-as",
                &[("user", "ana".into()), ("role", "analyst".into())]
            ),
            "Signed in as ana (analyst)"
        );
    }

    #[test]
    fn accept_language_picks_korean_or_english() {
        assert_eq!(
            Lang::from_accept_language("ko-KR,ko;q=0.9,en;q=0.8"),
            Lang::Korean
        );
        assert_eq!(Lang::from_accept_language("fr-FR,en;q=0.5"), Lang::English);
        assert_eq!(Lang::from_accept_language(""), Lang::English);
    }
}
