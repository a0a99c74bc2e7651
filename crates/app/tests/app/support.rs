//! What every area of the suite shares: an organisation with two shelters and a user of every
//! role, and what a passphrase opens in the file, found without refuge-app. Fresh databases
//! come from `refuge_store::testing`.

use refuge_app::*;
use refuge_core::*;
use refuge_store::Store;
pub use refuge_store::testing::TestDb;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::macros::datetime;

pub const PASSPHRASE: &str = "synthetic passphrase 1";
pub const NOW: time::OffsetDateTime = datetime!(2026-11-29 09:00 UTC);

pub struct Org {
    pub app: App,
    /// The app's store, to look underneath the use cases.
    pub store: Arc<dyn Store>,
    pub admin: Session,
    pub db: TestDb,
    pub people: BTreeMap<&'static str, String>,
}

pub fn identity(name: &str) -> BTreeMap<PersonField, String> {
    let mut identity = BTreeMap::new();
    identity.insert(PersonField::Name, name.to_string());
    identity.insert(PersonField::Origin, format!("Synthetic origin of {name}"));
    identity
}

/// An organisation with two shelters, a person in each, and a user of every role (the
/// caseworker's compartment is SHL-A).
pub async fn org(db: TestDb) -> Org {
    let store: Arc<dyn Store> = refuge_store::create(&db.url, NodeId(uuid::Uuid::now_v7()))
        .await
        .unwrap()
        .into();
    let app = App::new(store.clone(), Box::new(FixedClock(NOW)));
    let admin = app.init("admin", PASSPHRASE, 1_000).await.unwrap();
    for code in ["SHL-A", "SHL-B"] {
        app.add_location(
            &admin,
            code,
            LocationKind::Shelter,
            "TH",
            3,
            Some("Synthetic Shelter"),
            None,
        )
        .await
        .unwrap();
    }
    let mut people = BTreeMap::new();
    for (key, location, name) in [
        ("a", "SHL-A", "Kim Synthetic-A"),
        ("b", "SHL-B", "Lee Synthetic-B"),
    ] {
        let person = app
            .add_person(
                &admin,
                NewPerson {
                    location: location.into(),
                    birth_year: Some(1990),
                    since: Some(time::macros::date!(2026 - 09 - 01)),
                    identity: identity(name),
                    ..NewPerson::default()
                },
            )
            .await
            .unwrap();
        people.insert(key, person.code);
    }
    let compartment = vec!["SHL-A".to_string()];
    for role in [
        Role::Coordinator,
        Role::Caseworker,
        Role::Analyst,
        Role::Auditor,
    ] {
        app.add_user(
            &admin,
            NewUser {
                name: role.as_str(),
                role,
                location_codes: if role == Role::Caseworker {
                    &compartment
                } else {
                    &[]
                },
                passphrase: PASSPHRASE,
            },
        )
        .await
        .unwrap();
    }
    Org {
        app,
        store,
        admin,
        db,
        people,
    }
}

/// What one user's passphrase opens in the database, found without refuge-app (its formats
/// stated again here): the user's key pair from their key wrap, the compartment secrets
/// wrapped to it, the record keys those open, then every sealed value of every record tried.
/// Returns (table, record id) of each value that opened.
pub async fn what_opens(
    store: &dyn Store,
    user: &str,
    passphrase: &str,
) -> std::collections::BTreeSet<(String, String)> {
    what_opens_to(store, user, passphrase)
        .await
        .into_keys()
        .map(|(table, record, _)| (table, record))
        .collect()
}

/// What `what_opens` opens, value by value: (table, record, field) to the text.
pub async fn what_opens_to(
    store: &dyn Store,
    user: &str,
    passphrase: &str,
) -> BTreeMap<(String, String, String), String> {
    use refuge_crypto::{Holder, KeyPair, Sealer, WrappedKey};
    let user = store.user_by_name(user).await.unwrap().unwrap();
    let credential = format!("user:{}", user.id);
    let (_, wrapped) = store.key_wrap(&credential).await.unwrap().unwrap();
    let secret = WrappedKey::decode(&wrapped)
        .unwrap()
        .unwrap_key(passphrase.as_bytes(), &credential)
        .unwrap();
    let me = Holder::new(KeyPair::from_secret(&secret));
    let holder = user.id.to_string();
    let tables = store.key_tables().await.unwrap();
    let mut compartments = BTreeMap::new();
    for wrap in tables
        .holder_wraps
        .iter()
        .filter(|wrap| wrap.holder == holder)
    {
        let context = format!(
            "compartment:{}:{}|holder:{}",
            wrap.compartment, wrap.generation, wrap.holder
        );
        let secret = me.unwrap(&wrap.wrapped, &context).unwrap();
        compartments.insert(
            (wrap.compartment.clone(), wrap.generation),
            Holder::new(KeyPair::from_secret(&secret)),
        );
    }
    let mut sealers = BTreeMap::new();
    for key in &tables.record_keys {
        if let Some(compartment) = compartments.get(&(key.compartment.clone(), key.generation)) {
            let context = format!(
                "record:{}|compartment:{}:{}",
                key.record, key.compartment, key.generation
            );
            let record = compartment.unwrap(&key.wrapped, &context).unwrap();
            sealers.insert(key.record.clone(), Sealer::new(&record).unwrap());
        }
    }
    open_sealed_values(store, |record| sealers.get(record)).await
}

/// Every sealed value of the records that `sealer_of` (by the record whose key seals it)
/// opens: (table, record, field) to the text. Walks the tables itself, not refuge-core's
/// list of sealed values.
pub async fn open_sealed_values<'a>(
    store: &dyn Store,
    sealer_of: impl Fn(&str) -> Option<&'a refuge_crypto::Sealer>,
) -> BTreeMap<(String, String, String), String> {
    let state = store.load_state().await.unwrap();
    let mut opened = BTreeMap::new();
    let mut attempt = |table: &str, record: String, owner: String, field: &str, sealed: &str| {
        let context = refuge_crypto::FieldContext {
            table,
            record: &record,
            field,
        };
        if let Some(text) = sealer_of(&owner).and_then(|sealer| sealer.open(sealed, context).ok()) {
            opened.insert(
                (table.to_string(), record.clone(), field.to_string()),
                text.as_str().to_string(),
            );
        }
    };
    for person in state.people.values() {
        for (field, sealed) in &person.sealed {
            let id = person.id.to_string();
            attempt("people", id.clone(), id, field.as_str(), &sealed.0);
        }
    }
    for note in state.notes.values() {
        attempt(
            "notes",
            note.id.to_string(),
            note.person.to_string(),
            "text",
            &note.text.0,
        );
    }
    for incident in state.incidents.values() {
        if let Some(sealed) = &incident.narrative {
            let id = incident.id.to_string();
            attempt("incidents", id.clone(), id, "narrative", &sealed.0);
        }
    }
    for location in state.locations.values() {
        let id = location.id.to_string();
        for (field, sealed) in [("name", &location.name), ("address", &location.address)] {
            if let Some(sealed) = sealed {
                attempt("locations", id.clone(), id.clone(), field, &sealed.0);
            }
        }
    }
    opened
}

/// Every sealed record at each shelter, as `what_opens` names them.
pub async fn sealed_records_at(
    store: &dyn Store,
) -> BTreeMap<String, std::collections::BTreeSet<(String, String)>> {
    let state = store.load_state().await.unwrap();
    let code_of: BTreeMap<LocationId, String> = state
        .locations
        .values()
        .map(|location| (location.id, location.code.clone()))
        .collect();
    let mut at: BTreeMap<String, std::collections::BTreeSet<(String, String)>> = BTreeMap::new();
    for person in state.people.values().filter(|p| !p.sealed.is_empty()) {
        at.entry(code_of[&person.location].clone())
            .or_default()
            .insert(("people".into(), person.id.to_string()));
    }
    for note in state.notes.values() {
        let location = state.people[&note.person].location;
        at.entry(code_of[&location].clone())
            .or_default()
            .insert(("notes".into(), note.id.to_string()));
    }
    for incident in state.incidents.values().filter(|i| i.narrative.is_some()) {
        at.entry(code_of[&incident.location].clone())
            .or_default()
            .insert(("incidents".into(), incident.id.to_string()));
    }
    for location in state.locations.values().filter(|l| l.name.is_some()) {
        at.entry(location.code.clone())
            .or_default()
            .insert(("locations".into(), location.id.to_string()));
    }
    at
}

/// An organisation with a note and an incident narrative at each shelter.
pub async fn org_with_case_records(db: TestDb) -> Org {
    let org = org(db).await;
    for (key, location) in [("a", "SHL-A"), ("b", "SHL-B")] {
        org.app
            .add_note(&org.admin, &org.people[key], "Synthetic case note", None)
            .await
            .unwrap();
        let mut incident = NewIncident::new(location, IncidentKind::Conflict, 2);
        incident.narrative = Some("Synthetic narrative");
        org.app.add_incident(&org.admin, incident).await.unwrap();
    }
    org
}

/// Every sealed value's text as stored, by (table, record, field).
pub async fn ciphertexts(store: &dyn Store) -> BTreeMap<(String, String, String), String> {
    let mut state = store.load_state().await.unwrap();
    state
        .sealed_slots()
        .into_iter()
        .map(|slot| {
            (
                (
                    slot.table.to_string(),
                    slot.record.to_string(),
                    slot.field.to_string(),
                ),
                slot.value.0.clone(),
            )
        })
        .collect()
}

pub async fn household_of(app: &App, session: &Session, code: &str) -> String {
    app.show_person(session, code, false)
        .await
        .unwrap()
        .household_code
}
