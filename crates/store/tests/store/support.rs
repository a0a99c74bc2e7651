//! A small organisation written straight through `Store::commit`: an admin, two shelters (one
//! of a single bed), a household and its two people.

use refuge_core::*;
use refuge_store::testing::TestDb;
use refuge_store::{Commit, DynStore, NewEvent, Store};
use std::collections::BTreeSet;
use time::macros::date;

pub struct World {
    pub store: DynStore,
    pub db: TestDb,
    pub admin: UserId,
    pub roomy: Location,
    pub single_bed: Location,
    pub people: Vec<Person>,
}

pub fn event(actor: UserId, body: EventBody) -> NewEvent {
    NewEvent {
        id: EventId(uuid::Uuid::now_v7()),
        actor,
        body,
    }
}

/// Commits `bodies` as one write by `actor`.
pub async fn commit(
    store: &dyn Store,
    actor: UserId,
    bodies: Vec<EventBody>,
    now_millis: i64,
) -> Result<Vec<Event>, refuge_store::StoreError> {
    let commit = Commit {
        events: bodies.into_iter().map(|body| event(actor, body)).collect(),
        now_millis,
        ..Commit::default()
    };
    store.commit(commit, refuge_crypto::chain_hash).await
}

pub fn location(code: &str, capacity: u32) -> Location {
    Location {
        id: LocationId(uuid::Uuid::now_v7()),
        code: code.to_string(),
        kind: LocationKind::Shelter,
        country: "TH".to_string(),
        capacity,
        name: None,
        address: None,
        version: 0,
    }
}

pub fn person(code: &str, household: HouseholdId, at: LocationId, duplicate_index: i64) -> Person {
    let mut person = Person::registered(
        PersonId(uuid::Uuid::now_v7()),
        code.to_string(),
        household,
        Registration {
            sex: Sex::Female,
            birth_year: Some(1990),
            flags: BTreeSet::new(),
            stage: Stage::Sheltered,
            location: at,
            since: date!(2026 - 10 - 01),
            waiting_since: None,
            entered: date!(2026 - 09 - 20),
        },
    );
    person.duplicate_index = Some(duplicate_index);
    person
}

pub async fn world(db: TestDb) -> World {
    let store = refuge_store::create(&db.url, NodeId(uuid::Uuid::now_v7()))
        .await
        .unwrap();
    let admin = User {
        id: UserId(uuid::Uuid::now_v7()),
        name: "admin".to_string(),
        role: Role::Admin,
        locations: BTreeSet::new(),
        active: true,
        version: 0,
    };
    let roomy = location("SHL-A", 10);
    let single_bed = location("SHL-B", 1);
    let household = Household {
        id: HouseholdId(uuid::Uuid::now_v7()),
        code: "H-ST0R1".to_string(),
        head: None,
        split_allowed: false,
        version: 0,
    };
    let people = vec![
        person("P-ST0R1", household.id, roomy.id, 41),
        person("P-ST0R2", household.id, single_bed.id, 42),
    ];
    let mut bodies = vec![
        EventBody::UserAdded {
            user: admin.clone(),
        },
        EventBody::LocationAdded {
            location: roomy.clone(),
        },
        EventBody::LocationAdded {
            location: single_bed.clone(),
        },
        EventBody::HouseholdAdded { household },
    ];
    bodies.extend(people.iter().map(|person| EventBody::PersonAdded {
        person: person.clone(),
    }));
    commit(store.as_ref(), admin.id, bodies, 1).await.unwrap();
    let mut people_read = Vec::new();
    for person in &people {
        people_read.push(store.person_by_code(&person.code).await.unwrap().unwrap());
    }
    World {
        store,
        db,
        admin: admin.id,
        roomy: store_location(&roomy),
        single_bed: store_location(&single_bed),
        people: people_read,
    }
}

/// A location as the projection keeps it after its first event.
fn store_location(location: &Location) -> Location {
    Location {
        version: 1,
        ..location.clone()
    }
}
