//! An organisation copied to the other backend (`refuge migrate`).

use crate::support::{World, world};
use refuge_core::*;
use refuge_store::StoreError;
use refuge_store::testing::TestDb;

/// The copy holds the same rows and the same log, and a second copy into it is refused.
async fn an_organisation_copies_whole_to_the_other_backend(db: TestDb) {
    let organisation = world(db).await;
    let World { store, db, .. } = &organisation;
    let copy_db = db.other().await;
    let copy = refuge_store::create(&copy_db.url, NodeId(uuid::Uuid::now_v7()))
        .await
        .unwrap();
    let copied = copy.copy_from(store.as_ref()).await.unwrap();
    let events = store.events_page(None, 10_000).await.unwrap();
    assert_eq!(copied, events.len() as u64);
    assert_eq!(
        copy.table_counts().await.unwrap(),
        store.table_counts().await.unwrap()
    );
    assert_eq!(copy.events_page(None, 10_000).await.unwrap(), events);
    assert_eq!(
        copy.all_meta().await.unwrap(),
        store.all_meta().await.unwrap()
    );
    assert!(matches!(
        copy.copy_from(store.as_ref()).await,
        Err(StoreError::AlreadyExists(_))
    ));
}

refuge_store::conformance!(an_organisation_copies_whole_to_the_other_backend);
