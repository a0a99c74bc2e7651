//! One module per page: its handlers, its form types and its template struct, beside the
//! template in `templates/`. Handlers find who is asking through `extract`, call one use case
//! of refuge-app (which decides what the user may do), and render.

pub mod account;
pub mod audit;
pub mod dashboard;
pub mod exchange;
pub mod forecast;
pub mod incident;
pub mod incidents;
pub mod locations;
pub mod login;
pub mod people;
pub mod person;
pub mod preferences;
pub mod register;
pub mod tokens;
pub mod transfer;
pub mod transfers;
pub mod users;
