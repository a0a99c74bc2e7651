//! A commit is all or nothing: guards, unique codes and the projection's refusals leave every
//! table as it was.

use crate::support::{World, commit, event, world};
use refuge_core::*;
use refuge_store::testing::TestDb;
use refuge_store::{Commit, Guard, StoreError};

/// A write guarded by a version someone else has moved past is refused, never applied.
async fn a_stale_version_is_refused_and_nothing_is_written(db: TestDb) {
    let organisation = world(db).await;
    let World {
        store,
        admin,
        people,
        ..
    } = &organisation;
    let person = &people[0];
    let before = store.table_counts().await.unwrap();
    let stale = urgent_at_version(*admin, person, person.version - 1, 2);
    let error = store
        .commit(stale, refuge_crypto::chain_hash)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error}");
    assert!(
        error.to_string().contains("changed by someone else"),
        "{error}"
    );
    assert_eq!(
        store.table_counts().await.unwrap(),
        before,
        "nothing written"
    );

    // The same write at the current version goes through, and moves the version on.
    let current = urgent_at_version(*admin, person, person.version, 3);
    store
        .commit(current, refuge_crypto::chain_hash)
        .await
        .unwrap();
    let after = store.person_by_code(&person.code).await.unwrap().unwrap();
    assert!(after.flags.contains(&Flag::MedicalUrgent));
    assert_eq!(after.version, person.version + 1);
}

/// Flags `person` medically urgent, guarded by `version`.
fn urgent_at_version(admin: UserId, person: &Person, version: i64, now_millis: i64) -> Commit {
    Commit {
        events: vec![event(
            admin,
            EventBody::FlagSet {
                person: person.id,
                flag: Flag::MedicalUrgent,
                on: true,
            },
        )],
        guards: vec![Guard::Version {
            record: RecordRef::Person(person.id),
            version,
        }],
        now_millis,
        ..Commit::default()
    }
}

/// A code already taken is refused by the database itself, whatever else the write holds.
async fn a_taken_code_is_refused_by_the_database(db: TestDb) {
    let organisation = world(db).await;
    let World {
        store,
        admin,
        roomy,
        ..
    } = &organisation;
    let before = store.table_counts().await.unwrap();
    let twin = Location {
        id: LocationId(uuid::Uuid::now_v7()),
        version: 0,
        ..roomy.clone()
    };
    let fresh = crate::support::location("SHL-C", 4);
    let error = commit(
        store.as_ref(),
        *admin,
        vec![
            EventBody::LocationAdded { location: fresh },
            EventBody::LocationAdded { location: twin },
        ],
        2,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, StoreError::Duplicate { ref value, .. } if value == "locations.code"),
        "{error}"
    );
    assert_eq!(
        store.table_counts().await.unwrap(),
        before,
        "nothing written"
    );
    assert!(store.location_by_code("SHL-C").await.unwrap().is_none());
}

/// A move into a full shelter is refused by its guard; one the projection refuses (an
/// unknown person) leaves the first, valid event of the same write unwritten too.
async fn full_shelters_and_refused_events_write_nothing(db: TestDb) {
    let organisation = world(db).await;
    let World {
        store,
        admin,
        single_bed,
        people,
        ..
    } = &organisation;
    let before = store.table_counts().await.unwrap();
    let moving = Commit {
        events: vec![event(
            *admin,
            EventBody::PersonMoved {
                person: people[0].id,
                to: single_bed.id,
                stage: Stage::Sheltered,
                at: time::macros::date!(2026 - 10 - 05),
                over_capacity: false,
            },
        )],
        guards: vec![Guard::LocationHasRoom {
            location: single_bed.id,
            arriving: 1,
        }],
        now_millis: 2,
        ..Commit::default()
    };
    let error = store
        .commit(moving, refuge_crypto::chain_hash)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::AtCapacity {
                present: 1,
                capacity: 1,
                arriving: 1,
                ..
            }
        ),
        "{error}"
    );
    let error = commit(
        store.as_ref(),
        *admin,
        vec![
            EventBody::FlagSet {
                person: people[0].id,
                flag: Flag::Elderly,
                on: true,
            },
            EventBody::FlagSet {
                person: PersonId(uuid::Uuid::now_v7()),
                flag: Flag::Elderly,
                on: true,
            },
        ],
        3,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, StoreError::Rejected(_)), "{error}");
    assert_eq!(
        store.table_counts().await.unwrap(),
        before,
        "nothing written"
    );
    let unchanged = store
        .person_by_code(&people[0].code)
        .await
        .unwrap()
        .unwrap();
    assert!(!unchanged.flags.contains(&Flag::Elderly));
}

refuge_store::conformance!(
    a_stale_version_is_refused_and_nothing_is_written,
    a_taken_code_is_refused_by_the_database,
    full_shelters_and_refused_events_write_nothing,
);
