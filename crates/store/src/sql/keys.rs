//! Reads of the compartment model's keys: public keys, wrapped secrets and record keys.

use super::{MAX_PARAMS, SqlStore};
use crate::backend::{Backend, Fields, Value};
use crate::*;

fn compartment_key(row: &impl Fields) -> StoreResult<CompartmentKey> {
    Ok(CompartmentKey {
        compartment: row.text("compartment")?,
        generation: row.int("generation")?,
        public_key: row.text("public_key")?,
    })
}

fn holder_wrap(row: &impl Fields) -> StoreResult<HolderWrap> {
    Ok(HolderWrap {
        compartment: row.text("compartment")?,
        generation: row.int("generation")?,
        holder: row.text("holder")?,
        wrapped: row.text("wrapped")?,
    })
}

fn record_key(row: &impl Fields) -> StoreResult<RecordKey> {
    Ok(RecordKey {
        record: row.text("id")?,
        compartment: row.text("compartment")?,
        generation: row.int("generation")?,
        wrapped: row.text("wrapped")?,
    })
}

impl<B: Backend> SqlStore<B> {
    pub(super) async fn read_user_public_key(&self, user: UserId) -> StoreResult<Option<String>> {
        self.one(
            "SELECT public_key FROM user_keys WHERE user_id = ?",
            &user.to_string(),
            |row| row.text("public_key"),
        )
        .await
    }

    pub(super) async fn read_current_compartments(&self) -> StoreResult<Vec<CompartmentKey>> {
        self.all(
            "SELECT c.compartment, c.generation, c.public_key FROM compartments c \
             WHERE c.generation = (SELECT MAX(generation) FROM compartments n \
             WHERE n.compartment = c.compartment) ORDER BY c.compartment",
            vec![],
            compartment_key,
        )
        .await
    }

    pub(super) async fn read_holder_wrap(
        &self,
        compartment: &str,
        generation: i64,
        holder: &str,
    ) -> StoreResult<Option<String>> {
        let rows = self
            .rows(
                "SELECT wrapped FROM compartment_wraps \
                 WHERE compartment = ? AND generation = ? AND holder = ?",
                vec![compartment.into(), Value::Int(generation), holder.into()],
            )
            .await?;
        rows.first().map(|row| row.text("wrapped")).transpose()
    }

    pub(super) async fn read_holders(
        &self,
        compartment: &str,
        generation: i64,
    ) -> StoreResult<Vec<String>> {
        let rows = self
            .rows(
                "SELECT holder FROM compartment_wraps WHERE compartment = ? AND generation = ? \
                 ORDER BY holder",
                vec![compartment.into(), Value::Int(generation)],
            )
            .await?;
        rows.iter().map(|row| row.text("holder")).collect()
    }

    pub(super) async fn read_record_keys(&self, records: &[String]) -> StoreResult<Vec<RecordKey>> {
        let mut keys = Vec::with_capacity(records.len());
        for chunk in records.chunks(MAX_PARAMS) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let rows = self
                .rows(
                    &format!("SELECT * FROM record_keys WHERE id IN ({placeholders})"),
                    chunk.iter().map(|id| id.as_str().into()).collect(),
                )
                .await?;
            for row in &rows {
                keys.push(record_key(row)?);
            }
        }
        Ok(keys)
    }

    pub(super) async fn read_record_keys_in(
        &self,
        compartment: &str,
        generation: i64,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<RecordKey>> {
        self.all(
            "SELECT * FROM record_keys WHERE compartment = ? AND generation = ? AND id > ? \
             ORDER BY id LIMIT ?",
            vec![
                compartment.into(),
                Value::Int(generation),
                after.unwrap_or("").into(),
                Value::Int(i64::from(limit)),
            ],
            record_key,
        )
        .await
    }

    pub(super) async fn read_key_tables(&self) -> StoreResult<KeyTables> {
        let user_keys = self
            .rows(
                "SELECT user_id, public_key FROM user_keys ORDER BY user_id",
                vec![],
            )
            .await?
            .iter()
            .map(|row| {
                Ok((
                    UserId(super::codec::parse_uuid(&row.text("user_id")?)?),
                    row.text("public_key")?,
                ))
            })
            .collect::<StoreResult<_>>()?;
        Ok(KeyTables {
            user_keys,
            compartments: self
                .all(
                    "SELECT * FROM compartments ORDER BY compartment, generation",
                    vec![],
                    compartment_key,
                )
                .await?,
            holder_wraps: self
                .all(
                    "SELECT * FROM compartment_wraps ORDER BY compartment, generation, holder",
                    vec![],
                    holder_wrap,
                )
                .await?,
            record_keys: self
                .all("SELECT * FROM record_keys ORDER BY id", vec![], record_key)
                .await?,
        })
    }
}
