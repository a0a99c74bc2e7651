//! Sealing the organisation again (docs/architecture.md, "Compartments"): the upgrade from
//! one data key to compartment keys (`refuge upgrade-keys`), and a rotation that gives the
//! records of compartments new keys (`refuge key rotate --reseal`, for a key believed
//! stolen). Both re-seal every value concerned, in the event log too, and chain the log
//! again, in one transaction (`Store::reseal`): stopped at any point, nothing has changed.

use crate::compartments::{NextGeneration, holder_wrap, holdings};
use crate::keyring::*;
use crate::keys::{self, META_RECOVERY_ESCROW};
use crate::tokens::{credential_of_token, label_context};
use crate::users::credential_of;
use crate::*;
use refuge_core::{LocationId, SealedSlot, User, UserId};
use refuge_crypto::{Envelope, KeyPair, RecoveryCode, Sealer, SecretKey, TokenWrappedKey};
use refuge_store::{CompartmentKey, RecordKey, Reseal, SideWrite, StoreResult};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;

/// A user's new key pair, wrapped under the data key until their first login after an
/// upgrade (`pending_user_key:` and the user's id).
const META_PENDING_KEY: &str = "pending_user_key:";
/// Record keys read per page when compartments are sealed again.
const RESEAL_PAGE: u32 = 5_000;

fn pending_key(user: UserId) -> String {
    format!("{META_PENDING_KEY}{user}")
}

/// How progress of a re-seal is heard: (events done, events in all).
pub type ResealProgress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

/// What `upgrade_keys` did.
pub struct Upgraded {
    /// The organisation's new recovery code, to be shown once.
    pub code: RecoveryCode,
    pub records: usize,
    pub events: u64,
    /// Active users who have not logged in since (their keys wait under the data key).
    pub pending: Vec<String>,
    pub tokens_revoked: usize,
}

/// What `reseal_keys` did.
pub struct Resealed {
    pub compartments: usize,
    pub records: usize,
    pub events: u64,
}

/// For each record sealed again: the sealer its values are under and the one they go under.
#[derive(Default)]
struct Resealing {
    sealers: HashMap<Uuid, (Arc<Sealer>, Sealer)>,
    /// Every sealed value must belong to a record here (an upgrade), or values of other
    /// records stay as they are (a rotation of some compartments).
    every_record: bool,
}

impl Resealing {
    fn value(&self, slot: SealedSlot<'_>) -> StoreResult<()> {
        let Some((old, new)) = self.sealers.get(&slot.key_of) else {
            if self.every_record {
                return Err(StoreError::Corrupt(format!(
                    "{} {}: a sealed value under no record's key",
                    slot.table, slot.record
                )));
            }
            return Ok(());
        };
        let record = slot.record.to_string();
        let context = FieldContext {
            table: slot.table,
            record: &record,
            field: slot.field,
        };
        let failed = |error: refuge_crypto::CryptoError| StoreError::Corrupt(error.to_string());
        let plain = old.open(&slot.value.0, context).map_err(failed)?;
        slot.value.0 = new.seal(plain.as_str(), context).map_err(failed)?;
        Ok(())
    }
}

impl App {
    /// Upgrades an organisation with one data key to compartment keys: a key pair for the
    /// organisation and each location, one for the recovery code (a new code, returned), one
    /// for each user; a key for each record, wrapped to the compartment it lives in; every
    /// sealed value sealed again under its record's key, in the log too, and the log chained
    /// again. The data key becomes the blind-index key (so the indexes stay valid). The
    /// upgrading admin's passphrase wraps their key pair now; every other user's key pair is
    /// wrapped under the data key until their first login (`claim_pending_key`). API tokens
    /// (which wrap the data key) are revoked. Runs only on a database that verifies.
    pub async fn upgrade_keys(
        &self,
        session: &Session,
        passphrase: &str,
        progress: ResealProgress<'_>,
    ) -> AppResult<Upgraded> {
        session.require(Action::ManageKeys)?;
        if self.compartment_model().await? {
            return Err(AppError::invalid(
                "keys",
                Reason::new("compartment-keys-already"),
            ));
        }
        let Keyring::Single {
            data_key,
            sealer: data_sealer,
            ..
        } = session.keys()
        else {
            return Err(AppError::invalid(
                "keys",
                Reason::new("compartment-keys-already"),
            ));
        };
        let report = self.verify(session).await?;
        if !report.ok() {
            return Err(AppError::invalid(
                "database",
                Reason::new("upgrade-needs-verify").count("problems", report.problems.len() as u64),
            ));
        }
        let state = self.store.load_state().await?;
        let all_locations: Vec<LocationId> = state.locations.keys().copied().collect();
        let mut side_writes = Vec::new();
        let recovery = KeyPair::generate()?;
        let code = RecoveryCode::generate()?;
        let compartments = founding_compartments(&all_locations, &recovery, &mut side_writes)?;

        let (own_sealers, pending) = self
            .upgrade_users(
                session,
                passphrase,
                (&state, &all_locations),
                (&compartments, data_key),
                &mut side_writes,
            )
            .await?;

        let resealing = upgrade_record_keys(
            &state,
            &compartments,
            (data_key, data_sealer),
            &mut side_writes,
        )?;
        let records = resealing.sealers.len();
        drop(state);

        let tokens_revoked = self
            .revoke_data_key_tokens(data_sealer, &own_sealers, &mut side_writes)
            .await?;

        side_writes.extend(self.upgraded_meta(&recovery, &code)?);
        let detail = format!(
            "{records} records, {} users to log in, {tokens_revoked} tokens revoked",
            pending.len()
        );
        let access = self.access_entry(
            &session.user().name,
            AccessAction::KeysUpgraded,
            "organisation",
            &detail,
        );
        let events = self
            .run_reseal(&resealing, side_writes, access, progress)
            .await?;
        Ok(Upgraded {
            code,
            records,
            events,
            pending,
            tokens_revoked,
        })
    }

    /// The settings an upgrade leaves: the recovery recipient and escrow, the day the code
    /// was made, the key model, and a new `keys_sealed` (every session ends).
    fn upgraded_meta(&self, recovery: &KeyPair, code: &RecoveryCode) -> AppResult<[SideWrite; 5]> {
        Ok([
            SideWrite::Meta {
                key: META_RECOVERY_PUBLIC.into(),
                value: recovery.public().encode(),
            },
            SideWrite::Meta {
                key: META_RECOVERY_ESCROW.into(),
                value: code.wrap(&recovery.secret())?.encode(),
            },
            SideWrite::Meta {
                key: keys::META_RECOVERY_MADE.into(),
                value: self.today().to_string(),
            },
            SideWrite::Meta {
                key: META_KEY_MODEL.into(),
                value: COMPARTMENT_MODEL.into(),
            },
            SideWrite::Meta {
                key: META_KEYS_SEALED.into(),
                value: self.new_uuid()?.to_string(),
            },
        ])
    }

    /// For an upgrade, each user's key pair and what their role holds wrapped to it: the
    /// upgrading admin's under their passphrase, every other's under the data key until
    /// their first login. Returns each user's own sealer (for their token labels) and the
    /// names of the active users still to log in.
    async fn upgrade_users(
        &self,
        session: &Session,
        passphrase: &str,
        (state, all_locations): (&State, &[LocationId]),
        (compartments, data_key): (&HashMap<String, KeyPair>, &SecretKey),
        side_writes: &mut Vec<SideWrite>,
    ) -> AppResult<(HashMap<UserId, Sealer>, Vec<String>)> {
        let upgrading = session.user().id;
        let mut own_sealers: HashMap<UserId, Sealer> = HashMap::new();
        let mut pending = Vec::new();
        for user in state.users.values() {
            let pair = KeyPair::generate()?;
            side_writes.push(SideWrite::UserKey {
                user: user.id,
                public_key: pair.public().encode(),
            });
            let holder = user.id.to_string();
            for compartment in holdings(user.role, &user.locations, user.active, all_locations) {
                let secret = compartments
                    .get(&compartment)
                    .map(KeyPair::secret)
                    .ok_or_else(|| corrupt(format!("no compartment {compartment}")))?;
                side_writes.push(holder_wrap(
                    &compartment,
                    1,
                    &holder,
                    &pair.public(),
                    &secret,
                )?);
            }
            if user.id == upgrading {
                side_writes.push(SideWrite::KeyWrap {
                    credential: credential_of(user.id),
                    user: user.id,
                    wrapped: self
                        .rewrapped(user, &pair.secret(), passphrase)
                        .await?
                        .encode(),
                });
            } else {
                let key = pending_key(user.id);
                side_writes.push(SideWrite::Meta {
                    value: TokenWrappedKey::wrap_under(&pair.secret(), data_key, &key)?.encode(),
                    key,
                });
                if user.active {
                    pending.push(user.name.clone());
                }
            }
            own_sealers.insert(user.id, Sealer::new(&pair.secret())?);
        }
        Ok((own_sealers, pending))
    }

    /// Tokens wrap the data key: revoked at an upgrade, their labels sealed again under their
    /// owners' keys. Returns how many were revoked.
    async fn revoke_data_key_tokens(
        &self,
        data_sealer: &Sealer,
        own_sealers: &HashMap<UserId, Sealer>,
        side_writes: &mut Vec<SideWrite>,
    ) -> AppResult<usize> {
        let now = self
            .now()
            .format(&Rfc3339)
            .map_err(|_| AppError::invalid("clock", Reason::new("clock-unformattable")))?;
        let mut tokens_revoked = 0;
        for token in self.store.api_tokens().await? {
            if let Some(own) = own_sealers.get(&token.user)
                && token.label.starts_with("s1.")
            {
                let label = data_sealer.open(&token.label, label_context(&token.id))?;
                side_writes.push(SideWrite::TokenLabel {
                    label: own.seal(label.as_str(), label_context(&token.id))?,
                    id: token.id.clone(),
                });
            }
            if token.revoked.is_none() {
                tokens_revoked += 1;
                side_writes.push(SideWrite::RevokeApiToken {
                    credential: credential_of_token(&token.id),
                    id: token.id,
                    at: now.clone(),
                });
            }
        }
        Ok(tokens_revoked)
    }

    /// At a user's first login after an upgrade: their key pair, waiting under the data key
    /// their passphrase opened, is wrapped under the passphrase instead, and the waiting copy
    /// deleted. Returns the secret the session opens with and the new wrap.
    pub(crate) async fn claim_pending_key(
        &self,
        user: &User,
        unwrapped: SecretKey,
        passphrase: &str,
        wrap_text: String,
    ) -> AppResult<(SecretKey, String)> {
        if !self.compartment_model().await? {
            return Ok((unwrapped, wrap_text));
        }
        let key = pending_key(user.id);
        let Some(waiting) = self.store.meta(&key).await? else {
            return Ok((unwrapped, wrap_text));
        };
        let secret = TokenWrappedKey::decode(&waiting)?.unwrap_under(&unwrapped, &key)?;
        let wrapped = self.rewrapped(user, &secret, passphrase).await?.encode();
        self.commit(Commit {
            side_writes: vec![
                SideWrite::KeyWrap {
                    credential: credential_of(user.id),
                    user: user.id,
                    wrapped: wrapped.clone(),
                },
                SideWrite::DropMeta { key },
            ],
            ..Commit::default()
        })
        .await?;
        Ok((secret, wrapped))
    }

    /// The writes that end a user's wait for their first login after an upgrade (their new
    /// passphrase is set another way, or they are deactivated): the waiting key pair, and
    /// with `drop_wrap` their old wrap of the data key, are deleted.
    pub(crate) async fn end_pending_writes(
        &self,
        user: UserId,
        drop_wrap: bool,
    ) -> AppResult<Vec<SideWrite>> {
        let key = pending_key(user);
        if self.store.meta(&key).await?.is_none() {
            return Ok(Vec::new());
        }
        let mut writes = vec![SideWrite::DropMeta { key }];
        if drop_wrap {
            writes.push(SideWrite::DropKeyWrap {
                credential: credential_of(user),
            });
        }
        Ok(writes)
    }

    /// Names of active users who have not logged in since the upgrade to compartment keys.
    pub async fn users_pending_first_login(&self) -> AppResult<Vec<String>> {
        let waiting: std::collections::BTreeSet<String> = self
            .store
            .all_meta()
            .await?
            .into_iter()
            .filter_map(|(key, _)| key.strip_prefix(META_PENDING_KEY).map(str::to_string))
            .collect();
        Ok(self
            .store
            .users()
            .await?
            .into_iter()
            .filter(|user| user.active && waiting.contains(&user.id.to_string()))
            .map(|user| user.name)
            .collect())
    }

    /// Gives the records of compartments new keys (`refuge key rotate --reseal`): each
    /// compartment turns to a new generation (as `rotate_keys`), each record in it gets a new
    /// key, and every value sealed under the old one, in the log too, is sealed again under
    /// the new. The blind-index key is re-wrapped, not replaced (a new one would mean every
    /// index computed again). The session must hold the compartments.
    pub async fn reseal_keys(
        &self,
        session: &Session,
        location: Option<&str>,
        progress: ResealProgress<'_>,
    ) -> AppResult<Resealed> {
        session.require(Action::ManageKeys)?;
        if !self.compartment_model().await? {
            return Err(AppError::invalid(
                "keys",
                Reason::new("one-data-key-upgrade-first"),
            ));
        }
        let compartments = self.compartments_to_turn(location).await?;
        let mut side_writes = Vec::new();
        let mut resealing = Resealing::default();
        for compartment in &compartments {
            let Some(mut next) = self.next_generation(session, compartment, None).await? else {
                continue;
            };
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .store
                    .record_keys_in(compartment, next.generation, after.as_deref(), RESEAL_PAGE)
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.record.clone());
                for key in page {
                    self.reseal_record(&mut next, &key, &mut resealing)?;
                }
            }
            side_writes.extend(next.finish());
        }
        side_writes.push(SideWrite::Meta {
            key: META_KEYS_SEALED.into(),
            value: self.new_uuid()?.to_string(),
        });
        let records = resealing.sealers.len();
        let detail = format!("{} compartments, {records} records", compartments.len());
        let access = self.access_entry(
            &session.user().name,
            AccessAction::KeysResealed,
            location.unwrap_or("organisation"),
            &detail,
        );
        let events = self
            .run_reseal(&resealing, side_writes, access, progress)
            .await?;
        session.keys().forget_records();
        Ok(Resealed {
            compartments: compartments.len(),
            records,
            events,
        })
    }
}

impl App {
    /// The re-seal itself, then the compaction: the values as they were (under keys now
    /// gone, or under the data key that is every registering user's index key after an
    /// upgrade) stay in freed pages and the write-ahead log until it.
    async fn run_reseal(
        &self,
        resealing: &Resealing,
        side_writes: Vec<SideWrite>,
        access: NewAccessEntry,
        progress: ResealProgress<'_>,
    ) -> AppResult<u64> {
        let events = self
            .store
            .reseal(
                Reseal {
                    value: &|slot| resealing.value(slot),
                    commit: Commit {
                        side_writes,
                        access: vec![access],
                        ..Commit::default()
                    },
                    progress,
                },
                HASHER,
            )
            .await?;
        self.store.scrub_freed().await?;
        Ok(events)
    }

    /// One record of a compartment turning: a new key wrapped to the next generation, and
    /// its old and new sealers kept for the re-seal; the index and the device keep their
    /// keys (the device's identity is what peers know it by).
    fn reseal_record(
        &self,
        next: &mut NextGeneration,
        key: &RecordKey,
        resealing: &mut Resealing,
    ) -> AppResult<()> {
        let old = next.open(key)?;
        if key.record == INDEX_RECORD || key.record == DEVICE_RECORD {
            let moved = next.wrap(&key.record, &old)?;
            next.writes.push(moved);
            return Ok(());
        }
        let record = Uuid::parse_str(&key.record)
            .map_err(|_| corrupt(format!("record key {} is no record", key.record)))?;
        let new = SecretKey::generate()?;
        let moved = next.wrap(&key.record, &new)?;
        next.writes.push(moved);
        resealing
            .sealers
            .insert(record, (Arc::new(Sealer::new(&old)?), Sealer::new(&new)?));
        Ok(())
    }
}

/// For an upgrade, a key for each record (locations, people, incidents), wrapped to the
/// compartment where it lives, with the data key that sealed it to open its values; and the
/// data key itself wrapped to the organisation, as the blind-index key.
fn upgrade_record_keys(
    state: &State,
    compartments: &HashMap<String, KeyPair>,
    (data_key, data_sealer): (&SecretKey, &Arc<Sealer>),
    side_writes: &mut Vec<SideWrite>,
) -> AppResult<Resealing> {
    // A key for each record, wrapped to where it lives; the data key is the index key.
    let envelopes: HashMap<&String, Envelope> = compartments
        .iter()
        .map(|(compartment, pair)| Ok((compartment, Envelope::to(&pair.public())?)))
        .collect::<AppResult<_>>()?;
    let mut resealing = Resealing {
        every_record: true,
        ..Resealing::default()
    };
    let mut record_key = |record: Uuid, compartment: String| -> AppResult<()> {
        let envelope = envelopes
            .get(&compartment)
            .ok_or_else(|| corrupt(format!("no compartment {compartment}")))?;
        let key = SecretKey::generate()?;
        let record_text = record.to_string();
        side_writes.push(SideWrite::RecordKey(RecordKey {
            wrapped: envelope.wrap(&key, &record_context(&record_text, &compartment, 1))?,
            record: record_text,
            compartment,
            generation: 1,
        }));
        resealing
            .sealers
            .insert(record, (data_sealer.clone(), Sealer::new(&key)?));
        Ok(())
    };
    for location in state.locations.values() {
        record_key(location.id.0, location.id.to_string())?;
    }
    for person in state.people.values() {
        record_key(person.id.0, person.location.to_string())?;
    }
    for incident in state.incidents.values() {
        record_key(incident.id.0, incident.location.to_string())?;
    }
    let organisation = envelopes
        .get(&ORGANISATION.to_string())
        .ok_or_else(|| corrupt("no organisation compartment"))?;
    side_writes.push(SideWrite::RecordKey(RecordKey {
        record: INDEX_RECORD.into(),
        compartment: ORGANISATION.into(),
        generation: 1,
        wrapped: organisation.wrap(data_key, &record_context(INDEX_RECORD, ORGANISATION, 1))?,
    }));
    Ok(resealing)
}

/// The compartments of an upgrade (the organisation's and each location's), generation 1,
/// each wrapped to the recovery key pair.
fn founding_compartments(
    all_locations: &[LocationId],
    recovery: &KeyPair,
    side_writes: &mut Vec<SideWrite>,
) -> AppResult<HashMap<String, KeyPair>> {
    let mut compartments: HashMap<String, KeyPair> = HashMap::new();
    compartments.insert(ORGANISATION.to_string(), KeyPair::generate()?);
    for location in all_locations {
        compartments.insert(location.to_string(), KeyPair::generate()?);
    }
    for (compartment, pair) in &compartments {
        side_writes.push(SideWrite::Compartment(CompartmentKey {
            compartment: compartment.clone(),
            generation: 1,
            public_key: pair.public().encode(),
        }));
        side_writes.push(holder_wrap(
            compartment,
            1,
            RECOVERY,
            &recovery.public(),
            &pair.secret(),
        )?);
    }
    Ok(compartments)
}

fn corrupt(what: impl Into<String>) -> AppError {
    AppError::Store(StoreError::Corrupt(what.into()))
}
