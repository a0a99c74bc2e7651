use super::*;

#[test]
fn index_width_follows_the_population() {
    for people in [1_000u64, 10_000, 300_000, 3_000_000] {
        let bits = name_index_bits_for(people);
        let per_value = people as f64 / 2f64.powi(bits as i32);
        assert!(per_value >= 2.0, "{people}: {per_value}");
        assert!(per_value < (people as f64).sqrt(), "{people}: {per_value}");
    }
}

#[test]
fn ids_rise_within_a_millisecond_and_stay_version_7() {
    let first = uuid::Builder::from_unix_timestamp_millis(1_000, &[0xFF; 10])
        .into_uuid()
        .as_u128();
    let mut previous = first;
    for step in [1u128, 7, 1 << 32, 1 << 70] {
        let next = uuid_v7_after(previous, step);
        assert!(next > previous);
        let id = Uuid::from_u128(next);
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        previous = next;
    }
    // All 74 random bits were ones: the first step carries into the next millisecond.
    let carried = Uuid::from_u128(uuid_v7_after(first, 1));
    let (seconds, nanos) = carried.get_timestamp().unwrap().to_unix();
    assert_eq!(seconds * 1_000 + u64::from(nanos) / 1_000_000, 1_001);
}

#[test]
fn slots_refuse_work_beyond_their_limit_and_free_on_drop() {
    let slots = Slots::new("the forecast", 1);
    let first = slots.take().unwrap();
    assert!(matches!(slots.take(), Err(AppError::Busy { .. })));
    drop(first);
    assert!(slots.take().is_ok());
}

#[test]
fn names_normalise() {
    assert_eq!(normalize_name("  Kim   Demo-Seo "), "kim demo-seo");
    assert_eq!(normalize_name("김  데모"), "김 데모");
}
