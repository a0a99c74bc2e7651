//! How values travel between records and rows: dates, ids, vocabularies, flags, JSON
//! columns, and the rows of the two logs and the token table.

use crate::backend::{Fields, Value, corrupt};
use crate::*;
use std::collections::BTreeSet;
use std::str::FromStr;
use time::Date;
use uuid::Uuid;

pub(super) fn text_date(date: Date) -> String {
    date.to_string()
}

/// The start of `day` on the clock of `offset`, in UTC, as the access log's times begin
/// (`2026-12-02T15:00:00`): compared as text with a stored time, later ones are greater.
pub(super) fn day_start_text(day: Date, offset: time::UtcOffset) -> String {
    let start = day
        .midnight()
        .assume_offset(offset)
        .to_offset(time::UtcOffset::UTC);
    format!(
        "{}T{:02}:{:02}:{:02}",
        start.date(),
        start.hour(),
        start.minute(),
        start.second()
    )
}

pub(super) fn parse_date(text: &str) -> StoreResult<Date> {
    parse_day(text).ok_or_else(|| corrupt(format!("bad date '{text}'")))
}

pub(super) fn parse_uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| corrupt(format!("bad id '{text}'")))
}

pub(super) fn parse_word<T: FromStr>(text: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| corrupt(format!("unknown value '{text}'")))
}

pub(super) fn flags_text(flags: &BTreeSet<Flag>) -> String {
    words_text(flags)
}

/// A set of vocabulary words as stored: leading and trailing commas let `LIKE '%,flag,%'`
/// match whole words only.
pub(super) fn words_text<W: Vocabulary>(words: &BTreeSet<W>) -> String {
    let mut text = String::from(",");
    for word in words {
        text.push_str(word.word());
        text.push(',');
    }
    text
}

pub(super) fn parse_flags(text: &str) -> StoreResult<BTreeSet<Flag>> {
    parse_words(text)
}

pub(super) fn parse_words<W>(text: &str) -> StoreResult<BTreeSet<W>>
where
    W: FromStr + Ord,
    W::Err: std::fmt::Display,
{
    text.split(',')
        .filter(|word| !word.is_empty())
        .map(parse_word)
        .collect()
}

/// A nullable date column.
pub(super) fn opt_date<R: Fields>(row: &R, column: &str) -> StoreResult<Option<Date>> {
    row.opt_text(column)?
        .map(|text| parse_date(&text))
        .transpose()
}

pub(super) fn sealed_opt(text: Option<String>) -> Option<Sealed> {
    text.map(Sealed)
}

/// A value that cannot be written as canonical JSON is refused, never hashed as a default.
pub(super) fn canonical_failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("a record could not be encoded: {error}"))
}

pub(super) fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

pub(super) fn count(row: &impl Fields, column: &str) -> StoreResult<u64> {
    u64::try_from(row.int(column)?).map_err(corrupt)
}

pub(super) fn event_from_row<R: Fields>(row: &R) -> StoreResult<Event> {
    let node = row.text("node")?;
    let seq = row.int("seq")?;
    // Name the event, never its contents: a damaged body may hold sealed or stray text.
    let damaged = |what: &str| corrupt(format!("event {node}/{seq}: {what}"));
    Ok(Event {
        id: EventId(parse_uuid(&row.text("id")?).map_err(|_| damaged("bad id"))?),
        node: NodeId(parse_uuid(&node).map_err(|_| damaged("bad node"))?),
        seq,
        hlc: row.int("hlc")?,
        actor: UserId(parse_uuid(&row.text("actor")?).map_err(|_| damaged("bad actor"))?),
        body: serde_json::from_str(&row.text("body")?)
            .map_err(|_| damaged("body does not parse"))?,
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
    })
}

pub(super) fn access_from_row<R: Fields>(row: &R) -> StoreResult<AccessEntry> {
    Ok(AccessEntry {
        seq: row.int("seq")?,
        at: row.text("at")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        subject: row.text("subject")?,
        detail: row.text("detail")?,
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
    })
}

pub(super) fn token_from_row<R: Fields>(row: &R) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: row.text("id")?,
        user: UserId(parse_uuid(&row.text("user_id")?)?),
        label: row.text("label")?,
        created: row.text("created")?,
        revoked: row.opt_text("revoked")?,
    })
}

pub(super) const EVENT_COLUMNS: &[&str] = &[
    "node",
    "seq",
    "id",
    "hlc",
    "actor",
    "kind",
    "subject",
    "body",
    "prev_hash",
    "hash",
];

pub(super) const ACCESS_COLUMNS: &[&str] = &[
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "detail",
    "prev_hash",
    "hash",
];

/// A received event's columns: the stored ones and since when this installation held it.
pub(super) fn received_event_columns() -> Vec<&'static str> {
    [EVENT_COLUMNS, &["received"]].concat()
}

pub(super) fn bind_received_event(
    args: &mut Vec<Value>,
    (event, body_json, received): &(Event, String, Option<i64>),
) {
    bind_event_fields(args, event, body_json);
    args.push(Value::from(*received));
}

pub(super) fn bind_event(args: &mut Vec<Value>, (event, body_json): &(Event, String)) {
    bind_event_fields(args, event, body_json);
}

fn bind_event_fields(args: &mut Vec<Value>, event: &Event, body_json: &str) {
    args.push(Value::from(event.node.to_string()));
    args.push(Value::from(event.seq));
    args.push(Value::from(event.id.to_string()));
    args.push(Value::from(event.hlc));
    args.push(Value::from(event.actor.to_string()));
    args.push(Value::from(event.body.kind()));
    args.push(Value::from(event.body.subject().to_string()));
    args.push(Value::from(body_json));
    args.push(Value::from(event.prev_hash.clone()));
    args.push(Value::from(event.hash.clone()));
}
