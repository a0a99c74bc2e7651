//! `refuge user`, `refuge token` and `refuge recovery-code`.

use super::*;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user. Their passphrase comes from --new-passphrase-file, REFUGE_NEW_PASSPHRASE,
    /// the terminal, or is generated and shown once.
    Add {
        name: String,
        /// admin, coordinator, caseworker, analyst or auditor.
        #[arg(long)]
        role: Role,
        /// Location compartments (caseworkers see people at these only).
        #[arg(long)]
        location: Vec<String>,
    },
    List,
    /// Change a user's role, location compartments, or whether they may log in.
    Set {
        name: String,
        /// The new role.
        #[arg(long)]
        role: Option<Role>,
        /// The new location compartments (replace the old ones; repeat for several).
        #[arg(long)]
        location: Vec<String>,
        /// yes: may log in; no: may not (their passphrase stays, for re-activation).
        #[arg(long)]
        active: Option<YesNo>,
    },
    /// Set a new passphrase for a user (re-wraps the data key).
    Passwd {
        name: String,
    },
    /// Set your own duress passphrase (or remove it with --off), after your passphrase.
    ///
    /// Typed instead of your passphrase at a later login or command, it first erases
    /// everything this organisation keeps in this database, for every user (records,
    /// colleagues' access, your passphrase), then carries on as if you had logged in, in an
    /// empty organisation that the duress passphrase opens from then on. Copies made before
    /// (backups, a copy of the disk) are not erased; a backup opens again with the recovery
    /// code. The duress passphrase comes from --new-passphrase-file, REFUGE_NEW_PASSPHRASE,
    /// the terminal, or is generated and shown once.
    Duress {
        /// Remove the duress passphrase.
        #[arg(long)]
        off: bool,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token for the user you act as. It is printed this once and never again.
    Create {
        /// What the token is for, e.g. "weekly report script".
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Your tokens (an admin: everyone's), never their secrets.
    List,
    /// Revoke a token: its copy of the data key is deleted at once.
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum RecoveryCodeCommand {
    /// Make a new organisation recovery code (admins), printed this once; the one before it
    /// stops working.
    New,
    /// When the current recovery code was made, or that there is none.
    Status,
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Turn compartments to a new key generation (admins): every location's and the
    /// organisation's, or one location's. Everyone keeps their access; every record key is
    /// re-wrapped (with --reseal: replaced, and every value under it sealed again, in the
    /// event log too); the old generation is dropped. One transaction: stopped, nothing
    /// changed, and it can run again.
    Rotate {
        /// Only this location's compartment.
        #[arg(long)]
        location: Option<String>,
        /// New record keys and every value sealed again: for a key believed stolen.
        #[arg(long)]
        reseal: bool,
    },
}
