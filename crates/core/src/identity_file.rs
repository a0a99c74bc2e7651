//! The text of an identity file (`refuge person add --identity-file`, `person correct`): one
//! `field=value` per line, blank lines and `#` comments skipped.

use crate::{PersonField, UnknownName};
use std::collections::BTreeMap;

/// A line of an identity file that cannot be read: its number and what is wrong, never what
/// it holds (the text before `=` may be a protected value typed in the wrong place).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityLineError {
    pub line: usize,
    pub problem: String,
}

/// The protected fields of an identity file's text, or the first line that is wrong.
pub fn parse_identity_text(text: &str) -> Result<BTreeMap<PersonField, String>, IdentityLineError> {
    let mut identity = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let wrong = |problem: String| IdentityLineError {
            line: index + 1,
            problem,
        };
        let Some((field, value)) = line.split_once('=') else {
            return Err(wrong("expected field=value".into()));
        };
        let field: PersonField = field.trim().parse().map_err(|_: UnknownName| {
            let expected: Vec<&str> = PersonField::ALL.iter().map(|f| f.as_str()).collect();
            wrong(format!(
                "unknown field (expected one of: {})",
                expected.join(", ")
            ))
        })?;
        identity.insert(field, value.trim().to_string());
    }
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_by_line_and_problems_by_number_only() {
        let identity =
            parse_identity_text("# synthetic\n\nname = Synthetic Person\norigin=Nowhere\n")
                .unwrap();
        assert_eq!(identity[&PersonField::Name], "Synthetic Person");
        assert_eq!(identity[&PersonField::Origin], "Nowhere");
        let wrong = parse_identity_text("name=A\nSecret Name\n").unwrap_err();
        assert_eq!(wrong.line, 2);
        assert!(!wrong.problem.contains("Secret"));
        let unknown = parse_identity_text("Secret Name=x").unwrap_err();
        assert!(unknown.problem.starts_with("unknown field"));
        assert!(!unknown.problem.contains("Secret"));
    }
}
