//! Lookups by code, id, index and kind; the log's order and chain; counts and aggregates.

use crate::support::{World, commit, world};
use refuge_core::*;
use refuge_store::testing::TestDb;
use std::collections::BTreeMap;

async fn records_are_found_by_code_id_index_and_kind(db: TestDb) {
    let organisation = world(db).await;
    let World {
        store,
        people,
        roomy,
        ..
    } = &organisation;
    let codes = store
        .codes_of(&[people[0].id.0, people[1].id.0])
        .await
        .unwrap();
    assert_eq!(codes[&people[0].id.0], "P-ST0R1");
    assert_eq!(codes[&people[1].id.0], "P-ST0R2");
    let taken = store
        .taken_codes(&["P-ST0R2".to_string(), "P-NOONE".to_string()])
        .await
        .unwrap();
    assert_eq!(taken, vec!["P-ST0R2".to_string()]);
    let twins = store.people_by_duplicate_index(&[42]).await.unwrap();
    assert_eq!(
        twins.iter().map(|twin| twin.id).collect::<Vec<_>>(),
        vec![people[1].id]
    );
    assert!(store.person_by_code("P-NOONE").await.unwrap().is_none());
    let found = store.location_by_code("SHL-A").await.unwrap().unwrap();
    assert_eq!(found.id, roomy.id);
    assert_eq!(store.locations().await.unwrap().len(), 2);
    let household = store.household_by_code("H-ST0R1").await.unwrap().unwrap();
    assert_eq!(
        store.household_members(household.id).await.unwrap().len(),
        2
    );
    assert_eq!(
        store
            .events_of_kinds(&["person_added"])
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(store.events_of(people[0].id.0).await.unwrap().len(), 1);
    let meta: BTreeMap<String, String> = store.all_meta().await.unwrap().into_iter().collect();
    assert!(meta.contains_key("node_id"), "{meta:?}");
}

/// Events come back in the order written, each numbered after the last and chained to it;
/// the monthly flow and the aggregates agree with the people.
async fn the_log_keeps_its_order_and_the_counts_follow_it(db: TestDb) {
    let organisation = world(db).await;
    let World {
        store,
        admin,
        people,
        ..
    } = &organisation;
    for (step, flag) in [Flag::Elderly, Flag::Pregnant, Flag::Minor]
        .into_iter()
        .enumerate()
    {
        commit(
            store.as_ref(),
            *admin,
            vec![EventBody::FlagSet {
                person: people[0].id,
                flag,
                on: true,
            }],
            10 + step as i64,
        )
        .await
        .unwrap();
    }
    let events = store.events_page(None, 100).await.unwrap();
    assert_eq!(events.len(), 6 + 3);
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "chained in order");
        assert!(pair[1].seq > pair[0].seq);
    }
    let rest = store
        .events_page(Some(refuge_store::EventCursor::of(&events[4])), 100)
        .await
        .unwrap();
    assert_eq!(rest.len(), 4, "the page after the fifth event");
    let flow = store
        .monthly_flow(time::macros::date!(2026 - 01 - 01))
        .await
        .unwrap();
    assert_eq!(flow.iter().map(|(_, entered, _)| entered).sum::<u64>(), 2);
    assert!(store.aggregate_problems().await.unwrap().is_empty());
    let counts: BTreeMap<String, u64> = store.table_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts["people"], 2);
    assert_eq!(counts["events"], 9);
}

/// Opening an existing database again runs no migration twice and finds everything.
async fn a_database_opens_again_as_it_was(db: TestDb) {
    let organisation = world(db).await;
    let World { store, db, .. } = &organisation;
    let counts = store.table_counts().await.unwrap();
    let meta = store.all_meta().await.unwrap();
    store.close().await;
    let again = refuge_store::open(&db.url).await.unwrap();
    assert_eq!(again.table_counts().await.unwrap(), counts);
    assert_eq!(again.all_meta().await.unwrap(), meta);
    assert!(matches!(
        refuge_store::create(&db.url, NodeId(uuid::Uuid::now_v7())).await,
        Err(refuge_store::StoreError::AlreadyExists(_))
    ));
}

refuge_store::conformance!(
    records_are_found_by_code_id_index_and_kind,
    the_log_keeps_its_order_and_the_counts_follow_it,
    a_database_opens_again_as_it_was,
);
