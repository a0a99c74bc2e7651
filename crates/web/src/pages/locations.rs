//! Locations the user may see, with beds and people present; their names on request (logged),
//! for the locations whose compartment the user holds.

use crate::Shared;
use crate::extract::{CsrfForm, NoFields, SignedIn};
use crate::layout::{Cell, Page, PageResult, cell, html};
use askama::Template;
use axum::extract::State;
use refuge_app::{Action, allowed};

#[derive(Template)]
#[template(path = "locations.html")]
struct LocationsTemplate {
    page: Page,
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
    /// The "show names" button: for roles that may reveal, until the names are shown.
    can_reveal: bool,
}

async fn page(shared: &Shared, user: &SignedIn, reveal: bool) -> PageResult {
    let lang = user.lang;
    let views = shared.app.locations(user.session(), reveal).await?;
    // A name this user's keys do not open (another shelter's) shows as a dash.
    let name =
        |text: &Option<refuge_app::Revealed>| cell(text.as_ref().map_or("-", |text| text.as_str()));
    let rows = views
        .iter()
        .map(|view| {
            let mut row = vec![cell(&view.location.code)];
            if reveal {
                row.push(name(&view.name));
                row.push(name(&view.address));
            }
            row.extend([
                cell(lang.word(view.location.kind)),
                cell(&view.location.country),
                cell(view.location.capacity),
                cell(view.present),
            ]);
            row
        })
        .collect();
    let mut headers = vec![lang.t("col-code")];
    if reveal {
        headers.extend([lang.t("col-location-name"), lang.t("col-location-address")]);
    }
    headers.extend([
        lang.t("col-kind"),
        lang.t("col-country"),
        lang.t("col-beds"),
        lang.t("col-present"),
    ]);
    html(LocationsTemplate {
        page: user.titled("locations-title"),
        headers,
        rows,
        can_reveal: !reveal && allowed(user.session().role(), Action::RevealIdentity),
    })
}

pub async fn list(State(shared): State<Shared>, user: SignedIn) -> PageResult {
    page(&shared, &user, false).await
}

/// The same list with the names and addresses the user's keys open (logged as a reveal).
pub async fn reveal(
    State(shared): State<Shared>,
    CsrfForm(user, NoFields {}): CsrfForm<NoFields>,
) -> PageResult {
    page(&shared, &user, true).await
}
