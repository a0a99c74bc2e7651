//! Who may do what: the role × action table, in one place.

use refuge_core::Role;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    ManageUsers,
    ViewUsers,
    ManageLocations,
    ViewLocations,
    RegisterPeople,
    ViewPeople,
    RevealIdentity,
    SearchByName,
    MovePeople,
    FlagPeople,
    HoldPeople,
    RecordIncident,
    ViewIncidents,
    CloseIncident,
    ViewBacklog,
    Import,
    Export,
    ViewHistory,
    ViewAccessLog,
    Verify,
    PlanTransfers,
    ViewBatches,
    Forecast,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::ManageUsers,
        Action::ViewUsers,
        Action::ManageLocations,
        Action::ViewLocations,
        Action::RegisterPeople,
        Action::ViewPeople,
        Action::RevealIdentity,
        Action::SearchByName,
        Action::MovePeople,
        Action::FlagPeople,
        Action::HoldPeople,
        Action::RecordIncident,
        Action::ViewIncidents,
        Action::CloseIncident,
        Action::ViewBacklog,
        Action::Import,
        Action::Export,
        Action::ViewHistory,
        Action::ViewAccessLog,
        Action::Verify,
        Action::PlanTransfers,
        Action::ViewBatches,
        Action::Forecast,
    ];

    fn describe(self) -> &'static str {
        match self {
            Action::ManageUsers => "manage users",
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
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The permission table. Caseworkers are further limited to people at their compartments
/// (checked where a person is at hand); analysts and auditors never see identities.
pub fn allowed(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        // The organisation's owner: everything, and every reveal is logged.
        Role::Admin => true,
        Role::Coordinator => !matches!(action, ManageUsers | ManageLocations | ViewAccessLog),
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
