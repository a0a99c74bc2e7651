//! Errors of the use cases. Messages name records by code and fields by name; they never
//! carry a protected value.
//!
//! Every error says what kind of failure it is ([`ErrorKind`]) and carries a stable code
//! ([`AppError::code`]) that staff can quote and clients can match on. The edges map kinds,
//! never variants: refuge-web to HTTP statuses (`errors.rs`, one match), the CLI to exit
//! codes (one match).

use crate::Action;
use crate::reason::Reason;
use refuge_core::Role;
use refuge_crypto::CryptoError;
use refuge_store::StoreError;
use std::fmt;
use time::Date;

/// A problem with one row of an import file.
#[derive(Clone, Debug, PartialEq)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub column: String,
    pub message: Reason,
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

/// The most import problems listed; the rest are counted.
pub const MAX_LISTED_PROBLEMS: usize = 100;

/// The problems an import found: the first `MAX_LISTED_PROBLEMS`, and how many more.
#[derive(Debug, Default)]
pub struct ImportProblems {
    listed: Vec<RowError>,
    more: u64,
}

impl ImportProblems {
    pub fn add(&mut self, problem: RowError) {
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            self.listed.push(problem);
        } else {
            self.more += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// Problems found but not listed.
    pub fn more(&self) -> u64 {
        self.more
    }

    pub(crate) fn sort(&mut self) {
        self.listed.sort_by_key(|problem| problem.line);
    }
}

impl std::ops::Deref for ImportProblems {
    type Target = [RowError];
    fn deref(&self) -> &[RowError] {
        &self.listed
    }
}

impl From<Vec<RowError>> for ImportProblems {
    fn from(problems: Vec<RowError>) -> Self {
        let mut all = ImportProblems::default();
        for problem in problems {
            all.add(problem);
        }
        all
    }
}

/// What kind of failure an error is: all an edge needs to choose a status or an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input is wrong; the message names the field.
    Invalid,
    /// Not logged in, or the credentials did not open a session.
    Unauthenticated,
    /// Logged in, but the role or the compartments do not allow it.
    Forbidden,
    /// No record with that code.
    NotFound,
    /// The data changed meanwhile, or the change does not fit what is there now (a full
    /// location, a transition the record's stage refuses).
    Conflict,
    /// A value that must be unique is already taken.
    Duplicate,
    /// Too much of one kind of heavy work is running: try again shortly.
    Busy,
    /// Anything the user cannot act on: storage, corruption, the system.
    Internal,
}

impl ErrorKind {
    /// A stable name for the kind (logs, the API's `kind` field).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::Busy => "busy",
            ErrorKind::Internal => "internal",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("wrong user name or passphrase")]
    BadLogin,
    #[error("the {role} role may not {}", action.describe())]
    Forbidden { role: Role, action: Action },
    #[error("person {code} is at a location outside your compartments")]
    OutsideCompartment { code: String },
    #[error("no {what} with code {code}")]
    NotFound { what: &'static str, code: String },
    /// A duplicate record merged into another: changes go to the kept record.
    #[error("person {code} was merged into {into}")]
    Merged { code: String, into: String },
    /// A person whose identity the retention policy destroyed: nothing sealed opens.
    #[error("person {code}: their identity was destroyed on {on} (purge)")]
    Purged { code: String, on: Date },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: Reason },
    #[error("{what} is busy (another one is running); try again in a minute")]
    Busy { what: &'static str },
    /// Someone with the same name and birth year is registered where the user may see: their
    /// codes (never a name).
    #[error(
        "likely registered already (same name and birth year): {}; check, then confirm to register anyway",
        .codes.join(", ")
    )]
    LikelyDuplicate { codes: Vec<String> },
    /// `value` is shown to the user: only codes and names that are not protected values.
    #[error("{what} {value} already exists")]
    Duplicate { what: &'static str, value: String },
    #[error("the import has {} problem(s); nothing was written:\n{}", .0.len() as u64 + .0.more(), list(.0))]
    Import(ImportProblems),
    /// Writing the output failed (a closed pipe, a full disk).
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

fn list(problems: &ImportProblems) -> String {
    let mut lines: Vec<String> = problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect();
    if problems.more() > 0 {
        lines.push(format!(
            "  … and {} more (the first {MAX_LISTED_PROBLEMS} are listed)",
            problems.more()
        ));
    }
    lines.join("\n")
}

impl AppError {
    /// An input error: `field` names the input (its label is `field-…` in the reasons'
    /// resources), `reason` says what is wrong with it.
    pub fn invalid(field: impl Into<String>, reason: Reason) -> Self {
        AppError::Invalid {
            field: field.into(),
            reason,
        }
    }

    /// A CSV writer's failure: the underlying I/O error when there is one (so an edge can
    /// tell a closed pipe by its kind), otherwise bad output for `field`.
    pub(crate) fn csv_output(field: &str, error: csv::Error) -> Self {
        if error.is_io_error()
            && let csv::ErrorKind::Io(io) = error.into_kind()
        {
            return AppError::Output(io);
        }
        AppError::invalid(field, Reason::new("not-writable-as-csv"))
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::BadLogin | AppError::Crypto(CryptoError::WrongPassphrase) => {
                ErrorKind::Unauthenticated
            }
            AppError::Forbidden { .. } | AppError::OutsideCompartment { .. } => {
                ErrorKind::Forbidden
            }
            AppError::NotFound { .. } | AppError::Store(StoreError::NotFound(_)) => {
                ErrorKind::NotFound
            }
            AppError::Invalid { .. }
            | AppError::Import(_)
            | AppError::Store(StoreError::BadUrl(_) | StoreError::NotRefuge(_)) => {
                ErrorKind::Invalid
            }
            AppError::Duplicate { .. }
            | AppError::LikelyDuplicate { .. }
            | AppError::Store(StoreError::Duplicate { .. }) => ErrorKind::Duplicate,
            AppError::Busy { .. } => ErrorKind::Busy,
            AppError::Merged { .. }
            | AppError::Purged { .. }
            | AppError::Store(
                StoreError::Conflict { .. }
                | StoreError::AtCapacity { .. }
                | StoreError::Rejected(_)
                | StoreError::AlreadyExists(_),
            ) => ErrorKind::Conflict,
            AppError::Store(
                StoreError::Unreachable(..) | StoreError::Corrupt(_) | StoreError::Database(_),
            )
            | AppError::Output(_)
            | AppError::Crypto(_) => ErrorKind::Internal,
        }
    }

    /// A stable code for this failure, finer than the kind: staff quote it, clients match on
    /// it. Never changes meaning once released.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadLogin | AppError::Crypto(CryptoError::WrongPassphrase) => "bad_login",
            AppError::Forbidden { .. } => "forbidden_role",
            AppError::OutsideCompartment { .. } => "outside_compartment",
            AppError::NotFound { .. } => "not_found",
            AppError::Merged { .. } => "merged",
            AppError::Purged { .. } => "purged",
            AppError::Invalid { .. } => "invalid_input",
            AppError::Duplicate { .. } => "duplicate",
            AppError::LikelyDuplicate { .. } => "likely_duplicate",
            AppError::Busy { .. } => "busy",
            AppError::Import(_) => "import_rejected",
            AppError::Output(_) => "output_failed",
            AppError::Store(error) => match error {
                StoreError::NotFound(_) => "no_database",
                StoreError::AlreadyExists(_) => "database_exists",
                StoreError::BadUrl(_) => "bad_database_url",
                StoreError::NotRefuge(_) => "not_a_refuge_database",
                StoreError::Unreachable(..) => "database_unreachable",
                StoreError::Rejected(_) => "transition_refused",
                StoreError::AtCapacity { .. } => "at_capacity",
                StoreError::Conflict { .. } => "changed_meanwhile",
                StoreError::Duplicate { .. } => "duplicate",
                StoreError::Corrupt(_) => "corrupt_data",
                StoreError::Database(_) => "database_error",
            },
            AppError::Crypto(_) => "crypto_error",
        }
    }

    /// The field the problem is in, for input errors.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_one_kind_whether_the_app_or_the_store_finds_them() {
        let found_by_app = AppError::Duplicate {
            what: "user",
            value: "caseworker-2".into(),
        };
        let found_by_store = AppError::Store(StoreError::Duplicate {
            what: "a unique value",
            value: "users.name".into(),
        });
        assert_eq!(found_by_app.kind(), ErrorKind::Duplicate);
        assert_eq!(found_by_store.kind(), ErrorKind::Duplicate);
        assert_eq!(found_by_app.code(), found_by_store.code());
        assert_eq!(found_by_app.to_string(), "user caseworker-2 already exists");
    }

    #[test]
    fn failures_a_user_cannot_act_on_are_internal() {
        for error in [
            AppError::Store(StoreError::Database("disk I/O error".into())),
            AppError::Store(StoreError::Corrupt("events".into())),
            AppError::Crypto(CryptoError::Random),
        ] {
            assert_eq!(error.kind(), ErrorKind::Internal, "{error}");
        }
    }
}
