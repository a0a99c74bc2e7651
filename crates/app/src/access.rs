//! Who may do what: the role × action table, in one place.

use refuge_core::Role;

refuge_core::vocabulary!(
    /// What a use case does, for the permission table.
    Action, "action", {
    ManageUsers => "manage_users",
    ManageKeys => "manage_keys",
    ViewUsers => "view_users",
    ManageLocations => "manage_locations",
    ViewLocations => "view_locations",
    RegisterPeople => "register_people",
    ViewPeople => "view_people",
    RevealIdentity => "reveal_identity",
    SearchByName => "search_by_name",
    MovePeople => "move_people",
    FlagPeople => "flag_people",
    HoldPeople => "hold_people",
    WriteNotes => "write_notes",
    SetWelfareSchedule => "set_welfare_schedule",
    RecordIncident => "record_incident",
    ViewIncidents => "view_incidents",
    CloseIncident => "close_incident",
    ViewBacklog => "view_backlog",
    Import => "import",
    Export => "export",
    ViewHistory => "view_history",
    ViewAccessLog => "view_access_log",
    Verify => "verify",
    PlanTransfers => "plan_transfers",
    ViewBatches => "view_batches",
    Forecast => "forecast",
    Purge => "purge",
    Exchange => "exchange",
});

impl Action {
    /// What the action is, in words, for messages ("the analyst role may not reveal
    /// identities").
    pub fn describe(self) -> &'static str {
        match self {
            Action::ManageUsers => "manage users",
            Action::ManageKeys => "manage the organisation's keys",
            Action::ViewUsers => "list users",
            Action::ManageLocations => "manage locations",
            Action::ViewLocations => "list locations",
            Action::RegisterPeople => "register people",
            Action::ViewPeople => "view people",
            Action::RevealIdentity => "reveal identities",
            Action::SearchByName => "search by name",
            Action::MovePeople => "move people",
            Action::FlagPeople => "flag people",
            Action::HoldPeople => "put people on hold",
            Action::WriteNotes => "write case notes",
            Action::SetWelfareSchedule => "set the welfare check schedule",
            Action::RecordIncident => "record incidents",
            Action::ViewIncidents => "view incidents",
            Action::CloseIncident => "close incidents",
            Action::ViewBacklog => "view the backlog",
            Action::Import => "import people",
            Action::Export => "export people",
            Action::ViewHistory => "view the event history",
            Action::ViewAccessLog => "view the access log",
            Action::Verify => "verify the database",
            Action::PlanTransfers => "plan transfers",
            Action::ViewBatches => "view transfer batches",
            Action::Forecast => "run forecasts",
            Action::Purge => "purge the identities of people who have arrived",
            Action::Exchange => "exchange bundles with other installations",
        }
    }
}

refuge_core::vocabulary!(
    /// What an access-log entry records: logins, reveals, exports, changes to who may do what.
    AccessAction, "access-log action", {
    Init => "init",
    Login => "login",
    // The command line opening the database with a passphrase.
    Unlock => "unlock",
    // An API token used (once a day per token: the API never reveals identities).
    TokenUsed => "token_used",
    LoginFailed => "login_failed",
    // An action the role or the compartments did not allow.
    Refused => "refused",
    UserAdded => "user_added",
    UserChanged => "user_changed",
    PassphraseReset => "passphrase_reset",
    RecoveryCodeMade => "recovery_code_made",
    // An admin's passphrase set from the recovery code.
    Recovered => "recovered",
    // A user set or removed their duress passphrase (which of the two is not said).
    DuressChanged => "duress_changed",
    // Compartments turned to a new key generation.
    KeysRotated => "keys_rotated",
    // One data key upgraded to compartments, every sealed value sealed again.
    KeysUpgraded => "keys_upgraded",
    // Compartments given new record keys, every sealed value in them sealed again.
    KeysResealed => "keys_resealed",
    // A backup written (`refuge backup`), or a database restored from one.
    Backup => "backup",
    Restored => "restored",
    // Identities of people who arrived destroyed by the retention policy (`refuge purge`).
    Purged => "purged",
    TokenCreated => "token_created",
    TokenRevoked => "token_revoked",
    Reveal => "reveal",
    Export => "export",
    Import => "import",
    // This installation's device keys made, or a peer added or removed.
    PeerChanged => "peer_changed",
    Batch => "batch",
    Verify => "verify",
    Demo => "demo",
    // An organisation's setting changed (the welfare schedule).
    SettingChanged => "setting_changed",
});

/// The permission table. Caseworkers are further limited to people at their compartments
/// (checked where a person is at hand); analysts and auditors never see identities.
pub fn allowed(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        // The organisation's owner: everything, and every reveal is logged.
        Role::Admin => true,
        Role::Coordinator => !matches!(
            action,
            ManageUsers | ManageKeys | ManageLocations | ViewAccessLog | Purge
        ),
        Role::Caseworker => matches!(
            action,
            ViewLocations
                | RegisterPeople
                | ViewPeople
                | RevealIdentity
                | SearchByName
                | MovePeople
                | FlagPeople
                | HoldPeople
                | WriteNotes
                | RecordIncident
                | ViewIncidents
                | CloseIncident
                | ViewBacklog
        ),
        Role::Analyst => matches!(
            action,
            ViewLocations
                | ViewPeople
                | ViewIncidents
                | ViewBacklog
                | Export
                | ViewBatches
                | Forecast
        ),
        Role::Auditor => matches!(
            action,
            ViewUsers | ViewLocations | ViewHistory | ViewAccessLog | Verify | ViewBacklog
        ),
    }
}
