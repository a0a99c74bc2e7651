//! Errors of the use cases. Messages name records by code and fields by name; they never
//! carry a protected value.

use refuge_crypto::CryptoError;
use refuge_store::StoreError;
use std::fmt;

/// A problem with one row of an import file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub column: String,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("wrong user name or passphrase")]
    BadLogin,
    #[error("the {role} role may not {action}")]
    Forbidden { role: String, action: String },
    #[error("person {code} is at a location outside your compartments")]
    OutsideCompartment { code: String },
    #[error("no {what} with code {code}")]
    NotFound { what: &'static str, code: String },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("the import has {} problem(s); nothing was written:\n{}", .0.len(), list(.0))]
    Import(Vec<RowError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

fn list(errors: &[RowError]) -> String {
    errors
        .iter()
        .map(|error| format!("  {error}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl AppError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
