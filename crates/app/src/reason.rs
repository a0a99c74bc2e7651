//! Why an input was refused, as a message id with its arguments (crates/app/locales), so the
//! CLI and the API say it in English and the pages in the reader's language, from the same
//! id: a reason is never translated from an English text.

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid, static_loader};
use refuge_core::{UnknownName, Vocabulary};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

static_loader! {
    static REASONS = {
        locales: "./locales",
        fallback_language: "en-US",
        // Fluent wraps arguments in isolation marks by default; terminals and pages do not want them.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The language of the CLI, the API and the logs.
pub static ENGLISH: LanguageIdentifier = langid!("en-US");
/// The other language the pages speak.
pub static KOREAN: LanguageIdentifier = langid!("ko");

/// Why a value was refused: `reason-{key}` in locales/*/reasons.ftl, with its arguments
/// (codes, numbers, field names: never a protected value).
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    key: &'static str,
    args: Vec<(&'static str, Value)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Text(String),
    /// A number, which may choose a plural form.
    Number(f64),
    /// A word of a closed vocabulary (its name, the word): in the reader's language.
    Word(&'static str, &'static str),
}

/// How a page says a word of a closed vocabulary: given the vocabulary's name and the word.
pub type Words<'a> = &'a dyn Fn(&'static str, &'static str) -> String;

impl Reason {
    /// The reason `reason-{key}`. Tests (debug builds) check that both languages have it.
    pub fn new(key: &'static str) -> Reason {
        // Looked up in the files themselves: Fluent finds no message whose variables are
        // not given yet.
        #[cfg(debug_assertions)]
        for (language, text) in [
            ("en-US", include_str!("../locales/en-US/reasons.ftl")),
            ("ko", include_str!("../locales/ko/reasons.ftl")),
        ] {
            let id = format!("reason-{key} =");
            assert!(
                text.lines().any(|line| line.starts_with(&id)),
                "reason-{key} is missing from {language}"
            );
        }
        Reason {
            key,
            args: Vec::new(),
        }
    }

    /// With a text argument (a code, a value the user typed that is not protected).
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl fmt::Display) -> Reason {
        self.args.push((name, Value::Text(value.to_string())));
        self
    }

    /// With a word of a closed vocabulary (a stage, a role), said in the reader's language.
    #[must_use]
    pub fn word<V: Vocabulary>(mut self, name: &'static str, value: V) -> Reason {
        self.args.push((name, Value::Word(V::NAME, value.word())));
        self
    }

    /// With a whole number, which may choose a plural form.
    #[must_use]
    pub fn count(mut self, name: &'static str, value: u64) -> Reason {
        #[expect(clippy::cast_precision_loss, reason = "counts in messages are small")]
        self.args.push((name, Value::Number(value as f64)));
        self
    }

    /// With a number that may have a fraction.
    #[must_use]
    pub fn amount(mut self, name: &'static str, value: f64) -> Reason {
        self.args.push((name, Value::Number(value)));
        self
    }

    /// A word that is not in its vocabulary: the text as given and the vocabulary's words.
    pub fn unknown_word(error: &UnknownName) -> Reason {
        Reason::new("unknown-word")
            .with("what", error.what)
            .with("given", &error.given)
            .with("expected", &error.expected)
    }

    /// The reason in `language`, each vocabulary word as `words` says it.
    pub fn render(&self, language: &LanguageIdentifier, words: Words<'_>) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> = self
            .args
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Value::Text(text) => FluentValue::from(text.clone()),
                    Value::Number(number) => FluentValue::from(*number),
                    Value::Word(vocabulary, word) => FluentValue::from(words(vocabulary, word)),
                };
                (Cow::Borrowed(*name), value)
            })
            .collect();
        REASONS.lookup_with_args(language, &format!("reason-{}", self.key), &args)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The CLI and the API say vocabulary words as they are typed.
        f.write_str(&self.render(&ENGLISH, &|_, word| word.to_string()))
    }
}

/// A field's name in `language` (`field-{name}`, spaces and underscores as dashes); a field
/// with no label of its own (a column of a partner's file) is shown as it is.
pub fn field_label(field: &str, language: &LanguageIdentifier) -> String {
    let key = format!("field-{}", field.replace([' ', '_'], "-"));
    REASONS
        .try_lookup(language, &key)
        .unwrap_or_else(|| field.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<&str> {
        let mut keys: Vec<&str> = text
            .lines()
            .filter(|line| !line.starts_with([' ', '#', '[', '*']))
            .filter_map(|line| line.split_once(" =").map(|(key, _)| key))
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn both_languages_have_every_reason_and_field() {
        let english = keys(include_str!("../locales/en-US/reasons.ftl"));
        let korean = keys(include_str!("../locales/ko/reasons.ftl"));
        assert!(english.len() > 100, "{}", english.len());
        assert_eq!(english, korean);
    }

    #[test]
    fn numbers_choose_the_plural_form_and_fields_their_label() {
        let one = Reason::new("at-most-people-in-incident")
            .count("named", 1)
            .count("most", 1);
        assert_eq!(one.to_string(), "1 person named; at most 1 in one incident");
        assert_eq!(field_label("birth year", &KOREAN), "출생 연도");
        assert_eq!(field_label("birth year", &ENGLISH), "birth year");
        assert_eq!(field_label("someone's column", &KOREAN), "someone's column");
    }
}
