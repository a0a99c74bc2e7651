//! The seven `Record` impls: users, locations, households, people, notes, incidents and
//! transfer batches.

use super::Record;
use crate::backend::{Fields, Value, corrupt};
use crate::sql::codec::*;
use crate::*;
use std::collections::BTreeMap;

impl Record for User {
    type Id = UserId;
    const KIND: &'static str = "user";
    const TABLE: &'static str = "users";
    const COLUMNS: &'static [&'static str] =
        &["id", "name", "role", "locations", "active", "version"];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.name
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.name.clone()));
        args.push(Value::from(self.role.as_str()));
        args.push(Value::from(json_text(&self.locations)));
        args.push(Value::from(self.active));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
        Ok(User {
            id: UserId(parse_uuid(&row.text("id")?)?),
            name: row.text("name")?,
            role: parse_word(&row.text("role")?)?,
            locations: serde_json::from_str(&row.text("locations")?).map_err(corrupt)?,
            active: row.boolean("active")?,
            version: row.int("version")?,
        })
    }
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.users
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.users
    }
}

impl Record for Location {
    type Id = LocationId;
    const KIND: &'static str = "location";
    const TABLE: &'static str = "locations";
    const COLUMNS: &'static [&'static str] = &[
        "id", "code", "kind", "country", "capacity", "name", "address", "version",
    ];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.code
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.code.clone()));
        args.push(Value::from(self.kind.as_str()));
        args.push(Value::from(self.country.clone()));
        args.push(Value::from(i64::from(self.capacity)));
        args.push(Value::from(
            self.name.as_ref().map(|sealed| sealed.0.clone()),
        ));
        args.push(Value::from(
            self.address.as_ref().map(|sealed| sealed.0.clone()),
        ));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
        Ok(Location {
            id: LocationId(parse_uuid(&row.text("id")?)?),
            code: row.text("code")?,
            kind: parse_word(&row.text("kind")?)?,
            country: row.text("country")?,
            capacity: u32::try_from(row.int("capacity")?).map_err(corrupt)?,
            name: sealed_opt(row.opt_text("name")?),
            address: sealed_opt(row.opt_text("address")?),
            version: row.int("version")?,
        })
    }
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.locations
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.locations
    }
}

impl Record for Household {
    type Id = HouseholdId;
    const KIND: &'static str = "household";
    const TABLE: &'static str = "households";
    const COLUMNS: &'static [&'static str] = &["id", "code", "head", "split_allowed", "version"];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.code
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.code.clone()));
        args.push(Value::from(self.head.map(|id| id.to_string())));
        args.push(Value::from(self.split_allowed));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
        Ok(Household {
            id: HouseholdId(parse_uuid(&row.text("id")?)?),
            code: row.text("code")?,
            head: row
                .opt_text("head")?
                .map(|id| parse_uuid(&id).map(PersonId))
                .transpose()?,
            split_allowed: row.boolean("split_allowed")?,
            version: row.int("version")?,
        })
    }
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.households
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.households
    }
}

impl Record for Person {
    type Id = PersonId;
    const KIND: &'static str = "person";
    const TABLE: &'static str = "people";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "code",
        "household",
        "sex",
        "birth_year",
        "flags",
        "stage",
        "location",
        "since",
        "waiting_since",
        // Derived (the list order), written with every change, never read back.
        "queue_since",
        "entered",
        "documents_ready",
        "screening_done",
        "hold",
        "sealed",
        "name_index",
        "duplicate_index",
        "merged_into",
        "purged",
        "wish",
        "wish_recorded",
        "checked_in",
        "self_harm_unchecked",
        "version",
    ];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.code
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.code.clone()));
        args.push(Value::from(self.household.to_string()));
        args.push(Value::from(self.sex.as_str()));
        args.push(Value::from(self.birth_year.map(i64::from)));
        args.push(Value::from(flags_text(&self.flags)));
        args.push(Value::from(self.stage.as_str()));
        args.push(Value::from(self.location.to_string()));
        args.push(Value::from(text_date(self.since)));
        args.push(Value::from(self.waiting_since.map(text_date)));
        args.push(Value::from(text_date(self.queue_since())));
        args.push(Value::from(text_date(self.entered)));
        args.push(Value::from(self.documents_ready));
        args.push(Value::from(self.screening_done));
        args.push(Value::from(
            self.hold.map(|reason| reason.as_str().to_string()),
        ));
        args.push(Value::from(json_text(&self.sealed)));
        args.push(Value::from(self.name_index));
        args.push(Value::from(self.duplicate_index));
        args.push(Value::from(self.merged_into.map(|id| id.to_string())));
        args.push(Value::from(self.purged.map(text_date)));
        args.push(Value::from(self.wish.map(|wish| wish.to_string())));
        args.push(Value::from(self.wish_recorded.map(text_date)));
        args.push(Value::from(self.checked_in.map(text_date)));
        args.push(Value::from(self.self_harm_unchecked.map(text_date)));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
        Ok(Person {
            id: PersonId(parse_uuid(&row.text("id")?)?),
            code: row.text("code")?,
            household: HouseholdId(parse_uuid(&row.text("household")?)?),
            sex: parse_word(&row.text("sex")?)?,
            birth_year: row
                .opt_int("birth_year")?
                .map(|year| i32::try_from(year).map_err(corrupt))
                .transpose()?,
            flags: parse_flags(&row.text("flags")?)?,
            stage: parse_word(&row.text("stage")?)?,
            location: LocationId(parse_uuid(&row.text("location")?)?),
            since: parse_date(&row.text("since")?)?,
            waiting_since: row
                .opt_text("waiting_since")?
                .map(|text| parse_date(&text))
                .transpose()?,
            entered: parse_date(&row.text("entered")?)?,
            documents_ready: row.boolean("documents_ready")?,
            screening_done: row.boolean("screening_done")?,
            hold: row
                .opt_text("hold")?
                .map(|text| parse_word(&text))
                .transpose()?,
            sealed: serde_json::from_str(&row.text("sealed")?).map_err(corrupt)?,
            name_index: row.opt_int("name_index")?,
            duplicate_index: row.opt_int("duplicate_index")?,
            merged_into: row
                .opt_text("merged_into")?
                .map(|text| parse_uuid(&text).map(PersonId))
                .transpose()?,
            purged: row
                .opt_text("purged")?
                .map(|text| parse_date(&text))
                .transpose()?,
            wish: row
                .opt_text("wish")?
                .map(|text| text.parse().map_err(corrupt))
                .transpose()?,
            wish_recorded: opt_date(row, "wish_recorded")?,
            checked_in: opt_date(row, "checked_in")?,
            self_harm_unchecked: opt_date(row, "self_harm_unchecked")?,
            version: row.int("version")?,
        })
    }
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.people
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.people
    }
}

impl Record for Note {
    type Id = NoteId;
    const KIND: &'static str = "note";
    const TABLE: &'static str = "notes";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "person",
        "author",
        "written",
        "text",
        "follow_up",
        "follow_up_done",
        "wellbeing",
        "needs",
        "version",
    ];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        // Notes have no code of their own; they are named through their person.
        "on a person"
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.person.to_string()));
        args.push(Value::from(self.author.to_string()));
        args.push(Value::from(text_date(self.written)));
        args.push(Value::from(self.text.0.clone()));
        args.push(Value::from(self.follow_up.map(text_date)));
        args.push(Value::from(self.follow_up_done.map(text_date)));
        args.push(Value::from(
            self.check_in
                .as_ref()
                .map(|check_in| check_in.wellbeing.as_str().to_string()),
        ));
        args.push(Value::from(
            self.check_in
                .as_ref()
                .map(|check_in| words_text(&check_in.needs)),
        ));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
        let date = |column: &str| opt_date(row, column);
        let check_in = match row.opt_text("wellbeing")? {
            Some(wellbeing) => Some(CheckIn {
                wellbeing: parse_word(&wellbeing)?,
                needs: parse_words(&row.opt_text("needs")?.unwrap_or_default())?,
            }),
            None => None,
        };
        Ok(Note {
            id: NoteId(parse_uuid(&row.text("id")?)?),
            person: PersonId(parse_uuid(&row.text("person")?)?),
            author: UserId(parse_uuid(&row.text("author")?)?),
            written: parse_date(&row.text("written")?)?,
            text: Sealed(row.text("text")?),
            follow_up: date("follow_up")?,
            follow_up_done: date("follow_up_done")?,
            check_in,
            version: row.int("version")?,
        })
    }
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.notes
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.notes
    }
}

impl Record for Incident {
    type Id = IncidentId;
    const KIND: &'static str = "incident";
    const TABLE: &'static str = "incidents";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "code",
        "location",
        "kind",
        "severity",
        "people",
        "status",
        "occurred",
        "occurred_time",
        "closed",
        "narrative",
        "version",
    ];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.code
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.code.clone()));
        args.push(Value::from(self.location.to_string()));
        args.push(Value::from(self.kind.as_str()));
        args.push(Value::from(i64::from(self.severity)));
        args.push(Value::from(json_text(&self.people)));
        args.push(Value::from(self.status.as_str()));
        args.push(Value::from(text_date(self.occurred)));
        args.push(Value::from(self.occurred_time.map(time_of_day_text)));
        args.push(Value::from(self.closed.map(text_date)));
        args.push(Value::from(
            self.narrative.as_ref().map(|sealed| sealed.0.clone()),
        ));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
        Ok(Incident {
            id: IncidentId(parse_uuid(&row.text("id")?)?),
            code: row.text("code")?,
            location: LocationId(parse_uuid(&row.text("location")?)?),
            kind: parse_word(&row.text("kind")?)?,
            severity: u8::try_from(row.int("severity")?).map_err(corrupt)?,
            people: serde_json::from_str(&row.text("people")?).map_err(corrupt)?,
            status: parse_word(&row.text("status")?)?,
            occurred: parse_date(&row.text("occurred")?)?,
            occurred_time: row
                .opt_text("occurred_time")?
                .map(|text| parse_time_of_day(&text).ok_or_else(|| corrupt("a time of day")))
                .transpose()?,
            closed: row
                .opt_text("closed")?
                .map(|text| parse_date(&text))
                .transpose()?,
            narrative: sealed_opt(row.opt_text("narrative")?),
            version: row.int("version")?,
        })
    }
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.incidents
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.incidents
    }
}

impl Record for TransferBatch {
    type Id = BatchId;
    const KIND: &'static str = "batch";
    const TABLE: &'static str = "batches";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "code",
        "departure",
        "seats",
        "origins",
        "destination",
        "status",
        "manifest",
        "pins",
        "version",
    ];

    fn id(&self) -> Self::Id {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn label(&self) -> &str {
        &self.code
    }
    fn bind(&self, args: &mut Vec<Value>) {
        args.push(Value::from(self.id.to_string()));
        args.push(Value::from(self.code.clone()));
        args.push(Value::from(text_date(self.departure)));
        args.push(Value::from(i64::from(self.seats)));
        args.push(Value::from(json_text(&self.origins)));
        args.push(Value::from(self.destination.to_string()));
        args.push(Value::from(self.status.as_str()));
        args.push(Value::from(json_text(&self.manifest)));
        args.push(Value::from(json_text(&self.pins)));
        args.push(Value::from(self.version));
    }
    fn decode<R: Fields>(row: &R) -> StoreResult<Self> {
        Ok(TransferBatch {
            id: BatchId(parse_uuid(&row.text("id")?)?),
            code: row.text("code")?,
            departure: parse_date(&row.text("departure")?)?,
            seats: u32::try_from(row.int("seats")?).map_err(corrupt)?,
            origins: serde_json::from_str(&row.text("origins")?).map_err(corrupt)?,
            destination: LocationId(parse_uuid(&row.text("destination")?)?),
            status: parse_word(&row.text("status")?)?,
            manifest: serde_json::from_str(&row.text("manifest")?).map_err(corrupt)?,
            pins: serde_json::from_str(&row.text("pins")?).map_err(corrupt)?,
            version: row.int("version")?,
        })
    }
    fn of(state: &State) -> &BTreeMap<Self::Id, Self> {
        &state.batches
    }
    fn of_mut(state: &mut State) -> &mut BTreeMap<Self::Id, Self> {
        &mut state.batches
    }
}
